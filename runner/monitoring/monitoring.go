// Package monitoring is the runner's MetricSource over Cloud Monitoring
// (cloud.google.com/go/monitoring/apiv3/v2, ListTimeSeries): it runs a set of
// queries — by default the Cloud NAT gateway's drops, allocation failures,
// ports and connections, and the Cloud Run service's request and instance
// counts — over an explicit window aligned to the metric period, and turns
// the answers into results.Series, oldest point first. It also says whether
// the answers cover the whole window yet: Cloud Monitoring shows a period's
// points only minutes after it ends.
//
// It does not wait for the metrics to settle, correlate them with the
// client's errors or judge them: the runner and runner/correlate do. The same
// code talks to Google (Application Default Credentials) or to the local
// cloud's control plane (plain gRPC on loopback): which one is in the client
// options New takes, built by the caller (cmd/cutover builds them once for
// every driver).
package monitoring

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	monitoringapi "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Config names what a Source observes and how to reach the API.
type Config struct {
	// Project is the project whose metrics are read (projects/PROJECT).
	Project string
	// Region narrows the NAT queries (resource label region) and the Cloud
	// Run queries (resource label location); empty: every region.
	Region string
	// Service is the Cloud Run service (resource label service_name);
	// empty: every service.
	Service string
	// NATRegion narrows the NAT queries instead of Region when set (a
	// gateway in another region than the service).
	NATRegion string
	// Router and Gateway name the Cloud NAT gateway (resource labels
	// router_id and gateway_name); empty: every router or gateway.
	Router, Gateway string
	// Queries are run by Fetch; nil means DefaultQueries(cfg).
	Queries []Query
}

// Source is a runner.MetricSource over Cloud Monitoring. Its methods are
// safe for concurrent use.
type Source struct {
	name    string // projects/PROJECT
	client  *monitoringapi.MetricClient
	queries []compiled
}

var _ runner.MetricSource = (*Source)(nil)

// New checks cfg's queries and connects to the Cloud Monitoring API with the
// client options opts (none: Google's endpoint with Application Default
// Credentials).
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Source, error) {
	if cfg.Project == "" {
		return nil, fmt.Errorf("connect to cloud monitoring: project not set")
	}
	name := "projects/" + cfg.Project
	qs := cfg.Queries
	if qs == nil {
		qs = DefaultQueries(cfg)
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("connect to cloud monitoring for %s: no queries", name)
	}
	s := &Source{name: name}
	seen := map[results.Query]bool{}
	var errs []error
	for _, q := range qs {
		c, err := compile(q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[q.Name] {
			errs = append(errs, fmt.Errorf("query %q: name used twice", q.Name))
			continue
		}
		seen[q.Name] = true
		s.queries = append(s.queries, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("connect to cloud monitoring for %s: %w", name, err)
	}
	client, err := monitoringapi.NewMetricClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to cloud monitoring for %s: %w", name, err)
	}
	s.client = client
	return s, nil
}

// Close closes the connection to the API.
func (s *Source) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close cloud monitoring client: %w", err)
	}
	return nil
}

// Queries returns the names of the queries Fetch runs, in order.
func (s *Source) Queries() []results.Query {
	out := make([]results.Query, len(s.queries))
	for i, q := range s.queries {
		out[i] = q.Name
	}
	return out
}

// Fetch runs every query over the whole periods that hold [start, end): the
// interval runs from start rounded down to a multiple of period to end
// rounded up to one, and aligned points are the periods ending at
// multiples of period, as Cloud Monitoring's per-minute samples do. Each
// Series carries its query's name; points are oldest first, each over
// [Start, End) with End the end of its period; values are float64
// (integers as they are, booleans 0 or 1, distributions their mean).
//
// Covered reports whether the answers reach end: metrics become visible
// minutes after their period, so a fetch right after a run usually is not
// covered yet. A query covers end when its newest point's End is at or
// after end. Delta counters have no point in periods without events (NAT
// drops stop when the ports free up), so they cannot show that data has
// arrived: within a metric domain (router.googleapis.com,
// run.googleapis.com), whose metrics share an ingestion lag, the gauge
// queries with data decide, and only a domain without such a gauge falls
// back to its delta queries. Queries without data are left out; when no
// query has data, Fetch is not covered.
//
// Every query is run even when one fails (until ctx ends): the series of
// those that succeeded come back with an error joining each failure, which
// names its query, and covered is false.
func (s *Source) Fetch(ctx context.Context, start, end time.Time, period time.Duration) ([]results.Series, bool, error) {
	if period <= 0 {
		return nil, false, fmt.Errorf("fetch metrics: period %v is not positive", period)
	}
	if !start.Before(end) {
		return nil, false, fmt.Errorf("fetch metrics: window [%s, %s) is empty",
			start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	from, to := alignWindow(start, end, period)
	var (
		out   []results.Series
		errs  []error
		cover = runner.Coverage{End: end}
	)
	for _, q := range s.queries {
		series, gauge, err := s.run(ctx, q, from, to, period)
		if err != nil {
			errs = append(errs, fmt.Errorf("fetch metrics: query %q: %w", q.Name, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		cover.Add(metricDomain(q.MetricType), gauge, newestEnd(series))
		out = append(out, series...)
	}
	if err := errors.Join(errs...); err != nil {
		return out, false, err
	}
	return out, cover.Covered(), nil
}

// run runs one query over [from, to] and reports whether its output is a
// gauge.
func (s *Source) run(ctx context.Context, q compiled, from, to time.Time, period time.Duration) ([]results.Series, bool, error) {
	req := s.request(q, from, to, period)
	it := s.client.ListTimeSeries(ctx, req)
	var (
		out      []results.Series
		gauge    bool
		lastPage *monitoringpb.ListTimeSeriesResponse
		errs     []error
	)
	for {
		ts, err := it.Next()
		if page, ok := it.Response.(*monitoringpb.ListTimeSeriesResponse); ok && page != lastPage {
			lastPage = page
			for _, e := range page.GetExecutionErrors() {
				errs = append(errs, fmt.Errorf("partial failure: %s (code %d)", e.GetMessage(), e.GetCode()))
			}
		}
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			if rejected(err) {
				err = fmt.Errorf("%w: %w", runner.ErrMetricsRejected, err)
			}
			return nil, false, fmt.Errorf("list time series of %s: %w", q.MetricType, err)
		}
		series, err := convert(q, ts, req.GetAggregation() != nil, period)
		if err != nil {
			return nil, false, err
		}
		gauge = gauge || ts.GetMetricKind() == metricpb.MetricDescriptor_GAUGE
		out = append(out, series)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, false, fmt.Errorf("list time series of %s: %w", q.MetricType, err)
	}
	return out, gauge, nil
}

// rejected reports whether the API refused a query in a way no retry
// mends: a bad filter or aggregation, a missing project or permission.
func rejected(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition:
		return true
	}
	return false
}

// request builds the ListTimeSeries request of q over [from, to].
func (s *Source) request(q compiled, from, to time.Time, period time.Duration) *monitoringpb.ListTimeSeriesRequest {
	req := &monitoringpb.ListTimeSeriesRequest{
		Name:     s.name,
		Filter:   q.filter,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)},
		View:     monitoringpb.ListTimeSeriesRequest_FULL,
	}
	if q.aligner != monitoringpb.Aggregation_ALIGN_NONE || q.reducer != monitoringpb.Aggregation_REDUCE_NONE || len(q.GroupBy) > 0 {
		req.Aggregation = &monitoringpb.Aggregation{
			AlignmentPeriod:    durationpb.New(period),
			PerSeriesAligner:   q.aligner,
			CrossSeriesReducer: q.reducer,
			GroupByFields:      slices.Clone(q.GroupBy),
		}
	}
	return req
}

// alignWindow returns the whole periods holding [start, end): start rounded
// down and end rounded up to multiples of period (since the zero time,
// which for whole minutes or seconds is the same as since the Unix epoch).
func alignWindow(start, end time.Time, period time.Duration) (from, to time.Time) {
	from = start.Truncate(period)
	to = end.Truncate(period)
	if to.Before(end) {
		to = to.Add(period)
	}
	return from, to
}

// convert turns one answered time series into a results.Series, points
// oldest first. Aligned points are given their whole period even when the
// API reports a gauge's as an instant.
func convert(q compiled, ts *monitoringpb.TimeSeries, aligned bool, period time.Duration) (results.Series, error) {
	s := results.Series{
		Query:      q.Name,
		MetricType: ts.GetMetric().GetType(),
		Labels:     cloneLabels(ts.GetMetric().GetLabels()),
		Resource:   cloneLabels(ts.GetResource().GetLabels()),
		Points:     make([]results.Point, 0, len(ts.GetPoints())),
	}
	if s.MetricType == "" {
		s.MetricType = q.MetricType
	}
	for _, p := range ts.GetPoints() {
		end := p.GetInterval().GetEndTime().AsTime()
		start := end
		if st := p.GetInterval().GetStartTime(); st != nil {
			start = st.AsTime()
		}
		if aligned && !start.Before(end) {
			start = end.Add(-period)
		}
		v, err := value(p.GetValue())
		if err != nil {
			return s, fmt.Errorf("point at %s of %s %v: %w", end.Format(time.RFC3339Nano), s.MetricType, s.Labels, err)
		}
		s.Points = append(s.Points, results.Point{Start: start, End: end, Value: v})
	}
	// The API answers newest first; sort rather than reverse, so the order
	// holds whatever the server does.
	slices.SortStableFunc(s.Points, func(a, b results.Point) int { return a.End.Compare(b.End) })
	return s, nil
}

// value returns a typed value as a float64.
func value(tv *monitoringpb.TypedValue) (float64, error) {
	switch v := tv.GetValue().(type) {
	case *monitoringpb.TypedValue_Int64Value:
		return float64(v.Int64Value), nil
	case *monitoringpb.TypedValue_DoubleValue:
		return v.DoubleValue, nil
	case *monitoringpb.TypedValue_BoolValue:
		if v.BoolValue {
			return 1, nil
		}
		return 0, nil
	case *monitoringpb.TypedValue_DistributionValue:
		return v.DistributionValue.GetMean(), nil
	case nil:
		return 0, errors.New("point has no value")
	default:
		return 0, fmt.Errorf("value of type %T is not numeric", v)
	}
}

func cloneLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

// newestEnd returns the latest point End among series (zero if none).
func newestEnd(series []results.Series) time.Time {
	var t time.Time
	for _, s := range series {
		for _, p := range s.Points {
			if p.End.After(t) {
				t = p.End
			}
		}
	}
	return t
}

// metricDomain is a metric type's domain (router.googleapis.com), by
// which coverage is decided.
func metricDomain(metricType string) string {
	domain, _, _ := strings.Cut(metricType, "/")
	return domain
}
