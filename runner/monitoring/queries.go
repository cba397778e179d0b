package monitoring

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/cutover-dev/cutover/results"
)

// Metric and monitored-resource types of the default queries, as Cloud
// Monitoring names them.
const (
	MetricNATDroppedSent     = "router.googleapis.com/nat/dropped_sent_packets_count"
	MetricNATAllocFailed     = "router.googleapis.com/nat/nat_allocation_failed"
	MetricNATAllocatedPorts  = "router.googleapis.com/nat/allocated_ports"
	MetricNATPortUsage       = "router.googleapis.com/nat/port_usage"
	MetricNATOpenConnections = "router.googleapis.com/nat/open_connections"
	MetricNATNewConnections  = "router.googleapis.com/nat/new_connections_count"
	MetricRunRequestCount    = "run.googleapis.com/request_count"
	MetricRunInstanceCount   = "run.googleapis.com/container/instance_count"

	ResourceNATGateway  = "nat_gateway"
	ResourceRunRevision = "cloud_run_revision"
)

// Query is one ListTimeSeries request, run over each Fetch window.
type Query struct {
	// Name identifies the query's series in the run record
	// (results.Series.Query); unique within a Source.
	Name results.Query
	// MetricType is the one metric type the query reads.
	MetricType string
	// Filter holds further conditions, AND-ed to metric.type = MetricType,
	// in the Monitoring filter language (resource.type = "nat_gateway" AND
	// resource.labels.gateway_name = "g"). Empty: none.
	Filter string
	// Aligner and Reducer name the per-series aligner and the cross-series
	// reducer (ALIGN_DELTA, REDUCE_SUM; the prefix and case are optional:
	// "delta", "sum"). An empty Aligner (or ALIGN_NONE) reads the raw
	// points, unaligned; an empty Reducer keeps every series.
	Aligner, Reducer string
	// GroupBy lists the labels kept by the reducer
	// (metric.label.reason, resource.label.revision_name).
	GroupBy []string
}

// DefaultQueries returns the queries a run makes unless its scenario says
// otherwise: the Cloud NAT gateway's drops by reason, allocation failures,
// allocated ports, port usage, open and new connections; the Cloud Run
// service's request count by response code class and revision, and its
// instance count by state and revision.
//
// The NAT queries select the gateway cfg names (gateway_name, and
// router_id and region when set); without a gateway they read every
// gateway of the project (in cfg.Region when set). The Cloud Run queries
// select cfg.Service (and location cfg.Region); without a service, every
// service.
//
// nat_allocation_failed is a BOOL gauge, which ALIGN_MAX does not accept:
// it is aligned with ALIGN_FRACTION_TRUE (the share of the period the
// gateway failed to allocate, 0 to 1) and reduced with REDUCE_MAX.
func DefaultQueries(cfg Config) []Query {
	nat := []string{`resource.type = "` + ResourceNATGateway + `"`}
	if cfg.Gateway != "" {
		nat = append(nat, "resource.labels.gateway_name = "+strconv.Quote(cfg.Gateway))
	}
	if cfg.Router != "" {
		nat = append(nat, "resource.labels.router_id = "+strconv.Quote(cfg.Router))
	}
	if r := cmp.Or(cfg.NATRegion, cfg.Region); r != "" {
		nat = append(nat, "resource.labels.region = "+strconv.Quote(r))
	}
	run := []string{`resource.type = "` + ResourceRunRevision + `"`}
	if cfg.Service != "" {
		run = append(run, "resource.labels.service_name = "+strconv.Quote(cfg.Service))
	}
	if cfg.Region != "" {
		run = append(run, "resource.labels.location = "+strconv.Quote(cfg.Region))
	}
	natFilter, runFilter := strings.Join(nat, " AND "), strings.Join(run, " AND ")
	return []Query{
		{Name: results.QueryNATDroppedSent, MetricType: MetricNATDroppedSent, Filter: natFilter,
			Aligner: "ALIGN_DELTA", Reducer: "REDUCE_SUM", GroupBy: []string{"metric.label.reason"}},
		{Name: results.QueryNATAllocationFailed, MetricType: MetricNATAllocFailed, Filter: natFilter,
			Aligner: "ALIGN_FRACTION_TRUE", Reducer: "REDUCE_MAX"},
		{Name: results.QueryNATAllocatedPorts, MetricType: MetricNATAllocatedPorts, Filter: natFilter,
			Aligner: "ALIGN_MAX", Reducer: "REDUCE_SUM"},
		{Name: results.QueryNATPortUsage, MetricType: MetricNATPortUsage, Filter: natFilter,
			Aligner: "ALIGN_MAX", Reducer: "REDUCE_MAX"},
		{Name: results.QueryNATOpenConnections, MetricType: MetricNATOpenConnections, Filter: natFilter,
			Aligner: "ALIGN_MAX", Reducer: "REDUCE_SUM"},
		{Name: results.QueryNATNewConnections, MetricType: MetricNATNewConnections, Filter: natFilter,
			Aligner: "ALIGN_DELTA", Reducer: "REDUCE_SUM"},
		{Name: results.QueryRunRequestCount, MetricType: MetricRunRequestCount, Filter: runFilter,
			Aligner: "ALIGN_DELTA", Reducer: "REDUCE_SUM",
			GroupBy: []string{"metric.label.response_code_class", "resource.label.revision_name"}},
		{Name: results.QueryRunInstanceCount, MetricType: MetricRunInstanceCount, Filter: runFilter,
			Aligner: "ALIGN_MAX", Reducer: "REDUCE_SUM",
			GroupBy: []string{"metric.label.state", "resource.label.revision_name"}},
	}
}

// compiled is a validated Query, ready to become requests.
type compiled struct {
	Query
	filter  string
	aligner monitoringpb.Aggregation_Aligner
	reducer monitoringpb.Aggregation_Reducer
}

// compile validates q and builds its full filter.
func compile(q Query) (compiled, error) {
	c := compiled{Query: q}
	if q.Name == "" {
		return c, fmt.Errorf("query of %q: no name", q.MetricType)
	}
	if q.MetricType == "" {
		return c, fmt.Errorf("query %q: no metric type", q.Name)
	}
	if strings.ContainsAny(q.MetricType, "\"\\") {
		return c, fmt.Errorf("query %q: metric type %q contains a quote or backslash", q.Name, q.MetricType)
	}
	var err error
	if c.aligner, err = parseEnum[monitoringpb.Aggregation_Aligner](q.Aligner, "ALIGN_", monitoringpb.Aggregation_Aligner_value); err != nil {
		return c, fmt.Errorf("query %q: aligner: %w", q.Name, err)
	}
	if c.reducer, err = parseEnum[monitoringpb.Aggregation_Reducer](q.Reducer, "REDUCE_", monitoringpb.Aggregation_Reducer_value); err != nil {
		return c, fmt.Errorf("query %q: reducer: %w", q.Name, err)
	}
	c.filter = `metric.type = "` + q.MetricType + `"`
	if f := strings.TrimSpace(q.Filter); f != "" {
		c.filter += " AND " + f
	}
	return c, nil
}

// parseEnum parses an enum value name, with or without its prefix, in any
// case; empty is the zero value (ALIGN_NONE, REDUCE_NONE).
func parseEnum[E ~int32](s, prefix string, values map[string]int32) (E, error) {
	if s == "" {
		return 0, nil
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(name, prefix) {
		name = prefix + name
	}
	v, ok := values[name]
	if !ok {
		return 0, fmt.Errorf("unknown value %q (want %sNAME, e.g. %sMAX)", s, prefix, prefix)
	}
	return E(v), nil
}
