package scenarios

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Metrics says which of the platform's own metrics a run reads after the
// load, and how long it waits for them to arrive.
//
// Durations here are platform time: on the local cloud they are simulated
// and divided by its time_scale, like every other local cloud duration, so
// the same numbers describe Google and its replay.
type Metrics struct {
	// Enabled reads metrics after the run. It defaults to true when the
	// target is on a platform, and is false for a plain load test.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Settle is the wait after the load before the first fetch: metrics
	// arrive after an ingestion lag (Cloud NAT's up to 210 s). Default 4m.
	Settle Duration `yaml:"settle" json:"settle"`
	// MaxWait bounds the whole wait: after Settle the runner re-queries
	// every period until the run's window is covered, and past MaxWait
	// the metrics are missing and the verdict is inconclusive. Default 8m.
	MaxWait Duration `yaml:"max_wait" json:"max_wait"`
	// Period is the alignment period of every query and the width of the
	// diagnosis buckets. Default 60s (Google's smallest), or the local
	// cloud's metric period.
	Period Duration `yaml:"period" json:"period"`
	// NAT names the Cloud NAT gateway whose metrics are read; empty names
	// read every gateway of the project (in the target's region). On the
	// local cloud they default to its gateway.
	NAT MetricsNAT `yaml:"nat" json:"nat,omitzero"`
	// Extra queries run beside the defaults; one named like a default
	// query replaces it.
	Extra []MetricQuery `yaml:"extra" json:"extra,omitempty"`
}

// MetricsNAT names a Cloud NAT gateway (resource labels router_id,
// gateway_name and region of nat_gateway).
type MetricsNAT struct {
	Router  string `yaml:"router" json:"router,omitempty"`
	Gateway string `yaml:"gateway" json:"gateway,omitempty"`
	Region  string `yaml:"region" json:"region,omitempty"`
}

// MetricQuery is one Cloud Monitoring ListTimeSeries query.
type MetricQuery struct {
	// Name names the query's series in the run record.
	Name string `yaml:"name" json:"name"`
	// Type is the metric type, e.g. router.googleapis.com/nat/port_usage.
	Type string `yaml:"type" json:"type"`
	// Filter holds further conditions in the Monitoring filter language,
	// AND-ed to the metric type (resource.type = "nat_gateway").
	Filter string `yaml:"filter" json:"filter,omitempty"`
	// Aligner and Reducer are Monitoring's (ALIGN_DELTA, REDUCE_SUM; the
	// prefix and case are optional). No aligner reads raw points.
	Aligner string `yaml:"aligner" json:"aligner,omitempty"`
	Reducer string `yaml:"reducer" json:"reducer,omitempty"`
	// GroupBy lists the labels the reducer keeps (metric.label.reason).
	GroupBy []string `yaml:"group_by" json:"group_by,omitempty"`
}

// Metrics defaults.
const (
	DefaultMetricsSettle  = 4 * time.Minute
	DefaultMetricsMaxWait = 8 * time.Minute
	DefaultMetricsPeriod  = time.Minute
)

// resolveMetrics fills in the metrics defaults. set reports whether the
// file wrote a field (by its path under metrics).
func resolveMetrics(s *Scenario, set func(path string) bool) {
	m := &s.Metrics
	if !set("metrics.enabled") {
		// A metrics section on a plain load test is a mistake to report
		// (Validate: metrics need a platform), not something to ignore.
		m.Enabled = s.Target.Platform != "" || set("metrics")
	}
	if !m.Enabled {
		return
	}
	lc := &s.LocalCloud
	if m.Settle == 0 && !set("metrics.settle") {
		m.Settle = Duration(DefaultMetricsSettle)
	}
	if m.MaxWait == 0 && !set("metrics.max_wait") {
		m.MaxWait = Duration(DefaultMetricsMaxWait)
	}
	if m.Period == 0 && !set("metrics.period") {
		m.Period = Duration(DefaultMetricsPeriod)
		if lc.Present() {
			m.Period = lc.Metrics.Period
		}
	}
	if lc.Enabled() {
		if m.NAT.Router == "" {
			m.NAT.Router = lc.NAT.Router
		}
		if m.NAT.Gateway == "" {
			m.NAT.Gateway = lc.NAT.Gateway
		}
		if m.NAT.Region == "" {
			m.NAT.Region = lc.Region
		}
	}
}

// Wall converts a metrics duration (platform time) into wall-clock time:
// divided by the local cloud's time scale when there is one.
func (s *Scenario) Wall(d Duration) time.Duration {
	if s.LocalCloud.Present() {
		return WallDuration(d.D(), s.LocalCloud.TimeScale)
	}
	return d.D()
}

var (
	queryNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	metricTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*\.[a-z]+/[A-Za-z0-9_/.-]+$`)
	groupByRE    = regexp.MustCompile(`^(metric|resource)\.labels?\.[a-z][a-z0-9_]*$`)
)

func (v *validator) metrics(s *Scenario) {
	m := &s.Metrics
	if !m.Enabled {
		// A plain load test (or metrics: {enabled: false}) reads nothing.
		return
	}
	v.durationIn("metrics.settle", m.Settle, 0, maxSettle)
	v.durationIn("metrics.max_wait", m.MaxWait, 0, maxMaxWait)
	if m.Period <= 0 || m.Period.D() > maxPeriod {
		v.addf("metrics.period", "must be positive and at most %s, got %s", Duration(maxPeriod), m.Period)
	}
	if m.MaxWait < m.Settle {
		v.addf("metrics.max_wait", "%s is shorter than metrics.settle (%s); the wait is at least the settle", m.MaxWait, m.Settle)
	}
	if lc := &s.LocalCloud; lc.Present() {
		if m.Period > 0 && m.Period < lc.Metrics.Period {
			v.addf("metrics.period", "%s is shorter than the local cloud's metric period (%s)", m.Period, lc.Metrics.Period)
		}
	} else if m.Period > 0 && m.Period.D() < DefaultMetricsPeriod {
		v.addf("metrics.period", "%s: Cloud Monitoring aligns to at least 60s", m.Period)
	}
	if s.Target.Platform == "" {
		v.addf("metrics", "metrics need a platform: set target.platform with project, region and service, or add a localcloud section")
	}
	v.listMax("metrics.extra", len(m.Extra), maxExtraQuery, "queries")
	names := map[string]bool{}
	for i, q := range m.Extra {
		p := fmt.Sprintf("metrics.extra[%d]", i)
		switch {
		case q.Name == "":
			v.addf(p+".name", "required; name the query's series, e.g. name: nat_port_usage")
		case !queryNameRE.MatchString(q.Name):
			v.addf(p+".name", "%q: lower case letters, digits and underscores, starting with a letter", q.Name)
		case names[q.Name]:
			v.addf(p+".name", "%q: used by an earlier query", q.Name)
		}
		names[q.Name] = true
		switch {
		case q.Type == "":
			v.addf(p+".type", "required; the metric type, e.g. router.googleapis.com/nat/port_usage")
		case !metricTypeRE.MatchString(q.Type):
			v.addf(p+".type", "%q: not a metric type; write it as SERVICE/PATH, e.g. router.googleapis.com/nat/port_usage", q.Type)
		}
		v.listMax(p+".group_by", len(q.GroupBy), maxGroupBy, "labels")
		for j, g := range q.GroupBy {
			if !groupByRE.MatchString(g) {
				v.addf(fmt.Sprintf("%s.group_by[%d]", p, j), "%q: a label is metric.label.NAME or resource.label.NAME", g)
			}
		}
		if q.Aligner == "" && (q.Reducer != "" || len(q.GroupBy) > 0) {
			v.addf(p+".aligner", "required with a reducer or group_by: Cloud Monitoring reduces aligned points only")
		}
		if strings.ContainsAny(q.Aligner+q.Reducer, " \"'") {
			v.addf(p, "aligner and reducer are single names such as ALIGN_DELTA and REDUCE_SUM")
		}
	}
}
