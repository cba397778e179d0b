package monitoring

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/runner"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/results"
	"google.golang.org/genproto/googleapis/api/distribution"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var t0 = time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC) // on the minute

func TestAlignWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		start, end    time.Time
		period        time.Duration
		wantF, wantTo time.Time
	}{
		{"inside one minute", t0.Add(10 * time.Second), t0.Add(50 * time.Second), time.Minute, t0, t0.Add(time.Minute)},
		{"on the grid stays", t0, t0.Add(3 * time.Minute), time.Minute, t0, t0.Add(3 * time.Minute)},
		{"a nanosecond past rounds up", t0.Add(-time.Nanosecond), t0.Add(2*time.Minute + time.Nanosecond), time.Minute,
			t0.Add(-time.Minute), t0.Add(3 * time.Minute)},
		{"scaled period", t0.Add(1500 * time.Millisecond), t0.Add(4200 * time.Millisecond), time.Second,
			t0.Add(time.Second), t0.Add(5 * time.Second)},
		{"non-UTC location", t0.In(time.FixedZone("JST", 9*3600)).Add(30 * time.Second), t0.Add(90 * time.Second), time.Minute,
			t0, t0.Add(2 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to := alignWindow(tt.start, tt.end, tt.period)
			if !from.Equal(tt.wantF) || !to.Equal(tt.wantTo) {
				t.Errorf("alignWindow = [%v, %v], want [%v, %v]", from, to, tt.wantF, tt.wantTo)
			}
			// Google's minutes are Unix-epoch minutes.
			if from.Unix()%int64(tt.period/time.Second) != 0 {
				t.Errorf("from %v is not on the epoch grid of %v", from, tt.period)
			}
		})
	}
}

func TestDefaultQueries(t *testing.T) {
	t.Parallel()
	qs := DefaultQueries(Config{Project: "p", Region: "asia-northeast1", Service: "api", Router: "r1", Gateway: `g"1`})
	var names []results.Query
	byName := map[results.Query]Query{}
	for _, q := range qs {
		names = append(names, q.Name)
		byName[q.Name] = q
		if _, err := compile(q); err != nil {
			t.Errorf("default query %q does not compile: %v", q.Name, err)
		}
	}
	want := []results.Query{results.QueryNATDroppedSent, results.QueryNATAllocationFailed, results.QueryNATAllocatedPorts, results.QueryNATPortUsage,
		results.QueryNATOpenConnections, results.QueryNATNewConnections, results.QueryRunRequestCount, results.QueryRunInstanceCount}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	drops := byName[results.QueryNATDroppedSent]
	wantFilter := `resource.type = "nat_gateway" AND resource.labels.gateway_name = "g\"1" AND ` +
		`resource.labels.router_id = "r1" AND resource.labels.region = "asia-northeast1"`
	if drops.Filter != wantFilter || drops.Aligner != "ALIGN_DELTA" || drops.Reducer != "REDUCE_SUM" ||
		!reflect.DeepEqual(drops.GroupBy, []string{"metric.label.reason"}) {
		t.Errorf("nat_dropped_sent = %+v", drops)
	}
	rc := byName[results.QueryRunRequestCount]
	if rc.Filter != `resource.type = "cloud_run_revision" AND resource.labels.service_name = "api" AND resource.labels.location = "asia-northeast1"` ||
		!reflect.DeepEqual(rc.GroupBy, []string{"metric.label.response_code_class", "resource.label.revision_name"}) {
		t.Errorf("run_request_count = %+v", rc)
	}
	if ic := byName[results.QueryRunInstanceCount]; !reflect.DeepEqual(ic.GroupBy, []string{"metric.label.state", "resource.label.revision_name"}) ||
		ic.Aligner != "ALIGN_MAX" || ic.Reducer != "REDUCE_SUM" {
		t.Errorf("run_instance_count = %+v", ic)
	}

	// Nothing named: every gateway and every service of the project.
	for _, q := range DefaultQueries(Config{Project: "p"}) {
		if strings.Contains(q.Filter, "labels.") {
			t.Errorf("%s filter %q narrows by a label nobody named", q.Name, q.Filter)
		}
	}
}

func TestCompile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		q           Query
		wantFilter  string
		wantAligner monitoringpb.Aggregation_Aligner
		wantReducer monitoringpb.Aggregation_Reducer
		wantErr     string
	}{
		{name: "full names", q: Query{Name: "a", MetricType: "x.com/m", Filter: ` resource.type = "r" `, Aligner: "ALIGN_RATE", Reducer: "REDUCE_MEAN"},
			wantFilter: `metric.type = "x.com/m" AND resource.type = "r"`, wantAligner: monitoringpb.Aggregation_ALIGN_RATE,
			wantReducer: monitoringpb.Aggregation_REDUCE_MEAN},
		{name: "short lower-case names", q: Query{Name: "a", MetricType: "x.com/m", Aligner: "delta", Reducer: "sum"},
			wantFilter: `metric.type = "x.com/m"`, wantAligner: monitoringpb.Aggregation_ALIGN_DELTA,
			wantReducer: monitoringpb.Aggregation_REDUCE_SUM},
		{name: "raw", q: Query{Name: "a", MetricType: "x.com/m"}, wantFilter: `metric.type = "x.com/m"`},
		{name: "no name", q: Query{MetricType: "x.com/m"}, wantErr: `query of "x.com/m": no name`},
		{name: "no metric", q: Query{Name: "a"}, wantErr: `query "a": no metric type`},
		{name: "quote in metric", q: Query{Name: "a", MetricType: `x" OR "y`}, wantErr: "quote"},
		{name: "bad aligner", q: Query{Name: "a", MetricType: "m", Aligner: "ALIGN_AVERAGE"}, wantErr: `query "a": aligner: unknown value "ALIGN_AVERAGE"`},
		{name: "bad reducer", q: Query{Name: "a", MetricType: "m", Aligner: "max", Reducer: "median"}, wantErr: `query "a": reducer: unknown value "median"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := compile(tt.q)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("compile error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.filter != tt.wantFilter || c.aligner != tt.wantAligner || c.reducer != tt.wantReducer {
				t.Errorf("compile = %q %v %v, want %q %v %v", c.filter, c.aligner, c.reducer, tt.wantFilter, tt.wantAligner, tt.wantReducer)
			}
		})
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()
	s := &Source{name: "projects/p"}
	c, err := compile(Query{Name: "a", MetricType: "m", Aligner: "ALIGN_DELTA", Reducer: "REDUCE_SUM", GroupBy: []string{"metric.label.reason"}})
	if err != nil {
		t.Fatal(err)
	}
	req := s.request(c, t0, t0.Add(5*time.Minute), time.Minute)
	if req.GetName() != "projects/p" || req.GetFilter() != `metric.type = "m"` ||
		!req.GetInterval().GetStartTime().AsTime().Equal(t0) || !req.GetInterval().GetEndTime().AsTime().Equal(t0.Add(5*time.Minute)) {
		t.Errorf("request %v", req)
	}
	agg := req.GetAggregation()
	if agg.GetAlignmentPeriod().AsDuration() != time.Minute || agg.GetPerSeriesAligner() != monitoringpb.Aggregation_ALIGN_DELTA ||
		agg.GetCrossSeriesReducer() != monitoringpb.Aggregation_REDUCE_SUM || !reflect.DeepEqual(agg.GetGroupByFields(), []string{"metric.label.reason"}) {
		t.Errorf("aggregation %v", agg)
	}
	raw, _ := compile(Query{Name: "raw", MetricType: "m"})
	if req := s.request(raw, t0, t0.Add(time.Minute), time.Minute); req.GetAggregation() != nil {
		t.Errorf("raw query has aggregation %v", req.GetAggregation())
	}
}

func point(end time.Time, startOff time.Duration, v *monitoringpb.TypedValue) *monitoringpb.Point {
	return &monitoringpb.Point{
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(end.Add(-startOff)), EndTime: timestamppb.New(end)},
		Value:    v,
	}
}

func i64(v int64) *monitoringpb.TypedValue {
	return &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: v}}
}

func TestConvert(t *testing.T) {
	t.Parallel()
	q, _ := compile(Query{Name: "drops", MetricType: "m"})
	ts := &monitoringpb.TimeSeries{
		Metric:     &metricpb.Metric{Type: "m", Labels: map[string]string{"reason": "OUT_OF_RESOURCES"}},
		Resource:   &monitoredres.MonitoredResource{Type: "nat_gateway", Labels: map[string]string{"gateway_name": "g"}},
		MetricKind: metricpb.MetricDescriptor_GAUGE,
		Points: []*monitoringpb.Point{ // newest first, as the API answers
			point(t0.Add(3*time.Minute), 0, &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_BoolValue{BoolValue: true}}),
			point(t0.Add(2*time.Minute), 0, &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: 0.25}}),
			point(t0.Add(time.Minute), 0, i64(7)),
			point(t0, 0, &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DistributionValue{
				DistributionValue: &distribution.Distribution{Count: 2, Mean: 12.5}}}),
		},
	}
	s, err := convert(q, ts, true, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := results.Series{
		Query: "drops", MetricType: "m",
		Labels:   map[string]string{"reason": "OUT_OF_RESOURCES"},
		Resource: map[string]string{"gateway_name": "g"},
		Points: []results.Point{
			{Start: t0.Add(-time.Minute), End: t0, Value: 12.5},
			{Start: t0, End: t0.Add(time.Minute), Value: 7},
			{Start: t0.Add(time.Minute), End: t0.Add(2 * time.Minute), Value: 0.25},
			{Start: t0.Add(2 * time.Minute), End: t0.Add(3 * time.Minute), Value: 1},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("convert =\n%+v\nwant\n%+v", s, want)
	}
	// Changing the answer afterwards does not reach the series.
	ts.Metric.Labels["reason"] = "changed"
	if s.Labels["reason"] != "OUT_OF_RESOURCES" {
		t.Error("series shares its labels with the answer")
	}

	// A raw (unaligned) gauge point stays an instant; a delta keeps its start.
	raw := &monitoringpb.TimeSeries{Metric: &metricpb.Metric{Type: "m"}, Points: []*monitoringpb.Point{
		point(t0.Add(time.Minute), 0, i64(1)), point(t0, 10*time.Second, i64(2)),
	}}
	s, err = convert(q, raw, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if s.Labels != nil || s.Resource != nil || len(s.Points) != 2 ||
		!s.Points[0].Start.Equal(t0.Add(-10*time.Second)) || !s.Points[1].Start.Equal(t0.Add(time.Minute)) {
		t.Errorf("raw convert = %+v", s)
	}

	bad := &monitoringpb.TimeSeries{Metric: &metricpb.Metric{Type: "m"}, Points: []*monitoringpb.Point{
		point(t0, 0, &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_StringValue{StringValue: "x"}}),
	}}
	if _, err := convert(q, bad, true, time.Minute); err == nil || !strings.Contains(err.Error(), "not numeric") {
		t.Errorf("string value: err %v, want not numeric", err)
	}
	if _, err := convert(q, &monitoringpb.TimeSeries{Points: []*monitoringpb.Point{point(t0, 0, nil)}}, true, time.Minute); err == nil {
		t.Error("a point without a value converted without error")
	}
}

func TestCoverage(t *testing.T) {
	t.Parallel()
	end := t0.Add(10 * time.Minute)
	const (
		nat = "router.googleapis.com/nat/x"
		run = "run.googleapis.com/request_count"
	)
	type add struct {
		metric string
		gauge  bool
		newest time.Time
	}
	tests := []struct {
		name string
		adds []add
		want bool
	}{
		{"no data", nil, false},
		{"queries without data", []add{{nat, true, time.Time{}}, {run, false, time.Time{}}}, false},
		{"gauges reach end", []add{{nat, true, end}, {nat, true, end.Add(time.Minute)}}, true},
		{"one gauge short", []add{{nat, true, end}, {nat, true, end.Add(-time.Minute)}}, false},
		{"a second short", []add{{nat, true, end.Add(-time.Second)}}, false},
		{"a sparse delta does not hold back its domain's gauges", []add{{nat, true, end}, {nat, false, end.Add(-5 * time.Minute)}}, true},
		{"deltas decide a domain without gauges", []add{{run, false, end}, {run, false, end.Add(-time.Minute)}}, false},
		{"deltas reaching end", []add{{run, false, end}}, true},
		{"every domain must reach end", []add{{nat, true, end}, {run, false, end.Add(-time.Minute)}}, false},
		{"two domains covered", []add{{nat, true, end}, {run, false, end}, {"run.googleapis.com/container/instance_count", true, end}}, true},
		{"a gauge of the domain short, its delta on time", []add{{run, false, end}, {"run.googleapis.com/container/instance_count", true, end.Add(-time.Minute)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := runner.Coverage{End: end}
			for _, a := range tt.adds {
				c.Add(metricDomain(a.metric), a.gauge, a.newest)
			}
			if got := c.Covered(); got != tt.want {
				t.Errorf("covered = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{"no project", Config{}, []string{"project not set"}},
		{"no queries", Config{Project: "p", Queries: []Query{}}, []string{"no queries"}},
		{"every bad query", Config{Project: "p", Queries: []Query{
			{Name: "a", MetricType: "m", Aligner: "ALIGN_WHATEVER"},
			{Name: "b", MetricType: "m"},
			{Name: "b", MetricType: "m"},
			{Name: "c"},
		}}, []string{`query "a": aligner`, `query "b": name used twice`, `query "c": no metric type`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(ctx, tt.cfg, gcp.ClientOptions("127.0.0.1:1")...)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFetchRejectsWindow(t *testing.T) {
	t.Parallel()
	s, err := New(context.Background(), Config{Project: "p"}, gcp.ClientOptions("127.0.0.1:1")...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Queries(); len(got) != 8 || got[0] != results.QueryNATDroppedSent {
		t.Errorf("Queries() = %v, want the 8 defaults", got)
	}
	for _, tt := range []struct {
		start, end time.Time
		period     time.Duration
		want       string
	}{
		{t0, t0.Add(time.Minute), 0, "period 0s is not positive"},
		{t0, t0, time.Minute, "is empty"},
		{t0.Add(time.Minute), t0, time.Minute, "is empty"},
	} {
		_, covered, err := s.Fetch(context.Background(), tt.start, tt.end, tt.period)
		if err == nil || covered || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Fetch(%v, %v, %v) = %v, %v; want an error containing %q", tt.start, tt.end, tt.period, covered, err, tt.want)
		}
	}
}
