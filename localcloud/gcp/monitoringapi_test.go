package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/localcloud/internal/lctest"
	"github.com/cutover-dev/cutover/scenarios"
	"google.golang.org/api/iterator"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// jumpClock is wall-clock time plus an offset a test moves forward, so a
// test can step over a period or an ingestion lag without waiting for it.
type jumpClock struct {
	off atomic.Int64
	c   *clock.Scaled
}

func newJumpClock(scale int) *jumpClock {
	j := &jumpClock{}
	j.c = clock.NewScaled(scale, func() time.Time { return time.Now().Add(time.Duration(j.off.Load())) })
	return j
}

// jumpTo moves the clock forward to t (never back).
func (j *jumpClock) jumpTo(t time.Time) {
	if d := t.Sub(j.c.Now()); d > 0 {
		j.off.Add(int64(d))
	}
}

func startCloudClock(t *testing.T, cfg scenarios.LocalCloud, clk clock.Clock) *localcloud.Cloud {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := localcloud.Start(ctx, cfg, localcloud.Options{Clock: clk, Logf: t.Logf})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// listTS runs ListTimeSeries through the client and collects every page.
func (a *apiClients) listTS(ctx context.Context, req *monitoringpb.ListTimeSeriesRequest) ([]*monitoringpb.TimeSeries, error) {
	var out []*monitoringpb.TimeSeries
	for ts, err := range a.met.ListTimeSeries(ctx, req).All() {
		if err != nil {
			return out, err
		}
		out = append(out, ts)
	}
	return out, nil
}

func tsRequest(c *localcloud.Cloud, filter string, start, end time.Time, agg *monitoringpb.Aggregation) *monitoringpb.ListTimeSeriesRequest {
	return &monitoringpb.ListTimeSeriesRequest{
		Name:        "projects/" + c.Project(),
		Filter:      filter,
		Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)},
		Aggregation: agg,
	}
}

// pointValues renders a series' points as "END:VALUE" with END relative to
// origin in periods, newest first.
func pointValues(ts *monitoringpb.TimeSeries, origin time.Time, period time.Duration) string {
	var parts []string
	for _, p := range ts.GetPoints() {
		end := p.GetInterval().GetEndTime().AsTime().Sub(origin)
		var v string
		switch x := p.GetValue().GetValue().(type) {
		case *monitoringpb.TypedValue_Int64Value:
			v = fmt.Sprint(x.Int64Value)
		case *monitoringpb.TypedValue_DoubleValue:
			v = fmt.Sprintf("%.3f", x.DoubleValue)
		case *monitoringpb.TypedValue_BoolValue:
			v = fmt.Sprint(x.BoolValue)
		}
		parts = append(parts, fmt.Sprintf("%gP:%s", float64(end)/float64(period), v))
	}
	return strings.Join(parts, " ")
}

func seriesSum(ts *monitoringpb.TimeSeries) int64 {
	var n int64
	for _, p := range ts.GetPoints() {
		n += p.GetValue().GetInt64Value()
	}
	return n
}

func alignAgg(period time.Duration, aligner monitoringpb.Aggregation_Aligner, reducer monitoringpb.Aggregation_Reducer, groupBy ...string) *monitoringpb.Aggregation {
	return &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(period), PerSeriesAligner: aligner,
		CrossSeriesReducer: reducer, GroupByFields: groupBy}
}

// ListTimeSeries aligns, reduces, groups and pages recorded points as
// Cloud Monitoring does; the data is written straight into the recorder at
// known periods.
func TestListTimeSeriesAggregation(t *testing.T) {
	t.Parallel()
	j := newJumpClock(10)
	c := startCloudClock(t, lctest.Config(10, lctest.Service("api")), j.c)
	a := startAPI(t, c)
	ctx := testCtx(t)
	rec := c.Recorder()
	origin, P := rec.Origin(), rec.Period()
	if got := c.Clock().Simulated(P); got != time.Minute {
		t.Fatalf("sample period %v simulated, want 1m", got)
	}
	// The test's periods start at the first whole period still ahead: on a
	// slow machine the start may take more than a period, and the clock only
	// jumps forward.
	origin = origin.Add((c.Clock().Now().Sub(origin)/P + 1) * P)
	gw := func(name string) localcloud.Resource {
		return localcloud.Resource{Type: localcloud.ResourceNATGateway, Labels: map[string]string{"project_id": c.Project(), "region": c.Region(),
			"router_id": "r", "gateway_name": name}}
	}
	oor := map[string]string{"ip_protocol": "TCP", "reason": localcloud.ReasonOutOfResources}
	eic := map[string]string{"ip_protocol": "UDP", "reason": localcloud.ReasonEIMConflict}
	at := func(k int) { j.jumpTo(origin.Add(time.Duration(k)*P + P/2)) }
	at(0)
	rec.AddDelta(localcloud.MetricNATDroppedSent, gw("g1"), oor, 3)
	rec.SetGauge(localcloud.MetricNATAllocFailed, gw("g1"), nil, 1)
	at(1)
	rec.AddDelta(localcloud.MetricNATDroppedSent, gw("g1"), oor, 4)
	rec.AddDelta(localcloud.MetricNATDroppedSent, gw("g1"), eic, 10)
	at(2)
	rec.AddDelta(localcloud.MetricNATDroppedSent, gw("g1"), oor, 5)
	rec.AddDelta(localcloud.MetricNATDroppedSent, gw("g2"), oor, 7)
	rec.SetGauge(localcloud.MetricNATAllocFailed, gw("g1"), nil, 0)
	end := origin.Add(3 * P)
	j.jumpTo(end.Add(rec.Lag(localcloud.MetricNATDroppedSent) + P/10))

	drops := `metric.type = "` + localcloud.MetricNATDroppedSent + `" AND resource.type = "nat_gateway"`
	const (
		delta   = monitoringpb.Aggregation_ALIGN_DELTA
		sum     = monitoringpb.Aggregation_ALIGN_SUM
		rate    = monitoringpb.Aggregation_ALIGN_RATE
		mean    = monitoringpb.Aggregation_ALIGN_MEAN
		maxA    = monitoringpb.Aggregation_ALIGN_MAX
		none    = monitoringpb.Aggregation_REDUCE_NONE
		rSum    = monitoringpb.Aggregation_REDUCE_SUM
		rMax    = monitoringpb.Aggregation_REDUCE_MAX
		gaugeK  = metricpb.MetricDescriptor_GAUGE
		deltaK  = metricpb.MetricDescriptor_DELTA
		int64T  = metricpb.MetricDescriptor_INT64
		doubleT = metricpb.MetricDescriptor_DOUBLE
		boolT   = metricpb.MetricDescriptor_BOOL
	)
	tests := []struct {
		name   string
		filter string
		end    time.Time
		agg    *monitoringpb.Aggregation
		kind   metricpb.MetricDescriptor_MetricKind
		vt     metricpb.MetricDescriptor_ValueType
		// want is one line per series: its labels, then its points.
		want []string
	}{
		{"raw points newest first", drops + ` AND metric.labels.reason = "OUT_OF_RESOURCES"`, end, nil, deltaK, int64T,
			[]string{"g1 ip_protocol=TCP,reason=OUT_OF_RESOURCES 3P:5 2P:4 1P:3", "g2 ip_protocol=TCP,reason=OUT_OF_RESOURCES 3P:7"}},
		{"delta per period summed by reason", drops, end, alignAgg(P, delta, rSum, "metric.label.reason"), deltaK, int64T,
			[]string{" reason=ENDPOINT_INDEPENDENCE_CONFLICT 2P:10", " reason=OUT_OF_RESOURCES 3P:12 2P:4 1P:3"}},
		{"sum over two periods anchored at the end", drops + ` AND resource.label.gateway_name = "g1" AND metric.label.reason = "OUT_OF_RESOURCES"`,
			end, alignAgg(2*P, sum, none), deltaK, int64T,
			[]string{"g1 ip_protocol=TCP,reason=OUT_OF_RESOURCES 3P:9 1P:3"}},
		{"an aligned point ends where its period ends", drops + ` AND resource.labels.gateway_name = "g1" AND metric.labels.reason = "OUT_OF_RESOURCES"`,
			origin.Add(5 * P / 2), alignAgg(P, delta, none), deltaK, int64T,
			[]string{"g1 ip_protocol=TCP,reason=OUT_OF_RESOURCES 2.5P:4 1.5P:3"}},
		{"rate per second", drops + ` AND resource.labels.gateway_name = "g1" AND metric.labels.reason = "OUT_OF_RESOURCES"`,
			end, alignAgg(P, rate, none), gaugeK, doubleT,
			[]string{fmt.Sprintf("g1 ip_protocol=TCP,reason=OUT_OF_RESOURCES 3P:%.3f 2P:%.3f 1P:%.3f", 5/P.Seconds(), 4/P.Seconds(), 3/P.Seconds())}},
		{"mean", drops + ` AND resource.labels.gateway_name = "g1" AND metric.labels.reason = "OUT_OF_RESOURCES"`,
			end, alignAgg(3*P, mean, none), gaugeK, doubleT,
			[]string{"g1 ip_protocol=TCP,reason=OUT_OF_RESOURCES 3P:4.000"}},
		{"max by gateway", drops + ` AND metric.labels.reason = "OUT_OF_RESOURCES"`,
			end, alignAgg(3*P, maxA, rMax, "resource.labels.gateway_name"), gaugeK, int64T,
			[]string{"g1  3P:5", "g2  3P:7"}},
		{"not equal", drops + ` AND metric.labels.reason != "OUT_OF_RESOURCES"`, end, alignAgg(P, delta, rSum), deltaK, int64T,
			[]string{"  2P:10"}},
		{"bool gauge raw", `metric.type = "` + localcloud.MetricNATAllocFailed + `" AND resource.labels.gateway_name = "g1"`, end, nil, gaugeK, boolT,
			[]string{"g1  3P:false 2P:true 1P:true"}},
		{"bool gauge count true", `metric.type = "` + localcloud.MetricNATAllocFailed + `" AND resource.labels.gateway_name = "g1"`, end,
			alignAgg(3*P, monitoringpb.Aggregation_ALIGN_COUNT_TRUE, none), gaugeK, int64T,
			[]string{"g1  3P:2"}},
		{"nothing before the interval", drops, origin.Add(P / 2), nil, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.listTS(ctx, tsRequest(c, tt.filter, origin, tt.end, tt.agg))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, ts := range got {
				if ts.GetMetricKind() != tt.kind || ts.GetValueType() != tt.vt || ts.GetResource().GetType() != localcloud.ResourceNATGateway {
					t.Errorf("series %v: kind %v type %v resource %q, want %v %v nat_gateway",
						ts.GetMetric().GetLabels(), ts.GetMetricKind(), ts.GetValueType(), ts.GetResource().GetType(), tt.kind, tt.vt)
				}
				var labels []string
				for _, k := range []string{"ip_protocol", "reason"} {
					if v, ok := ts.GetMetric().GetLabels()[k]; ok {
						labels = append(labels, k+"="+v)
					}
				}
				for _, p := range ts.GetPoints() {
					iv := p.GetInterval()
					length := iv.GetEndTime().AsTime().Sub(iv.GetStartTime().AsTime())
					if tt.kind == gaugeK && length != 0 || tt.kind == deltaK && tt.agg != nil && length != tt.agg.GetAlignmentPeriod().AsDuration() {
						t.Errorf("point interval %v long in a %v series aligned to %v", length, tt.kind, tt.agg.GetAlignmentPeriod().AsDuration())
					}
				}
				lines = append(lines, strings.TrimSpace(ts.GetResource().GetLabels()["gateway_name"]+" "+strings.Join(labels, ",")+" "+pointValues(ts, origin, P)))
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.TrimSpace(w)
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		req := tsRequest(c, drops, origin, end, nil)
		req.PageSize = 1 // point; a page holds at least one whole series
		it := a.met.ListTimeSeries(ctx, req)
		var n int
		var tokens int
		for {
			_, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			if r, ok := it.Response.(*monitoringpb.ListTimeSeriesResponse); ok && r.GetNextPageToken() != "" {
				tokens++
			}
		}
		if n != 3 || tokens != 2 {
			t.Errorf("%d series over pages with %d next tokens, want 3 series on 3 pages", n, tokens)
		}
	})
	t.Run("headers view", func(t *testing.T) {
		req := tsRequest(c, drops, origin, end, nil)
		req.View = monitoringpb.ListTimeSeriesRequest_HEADERS
		got, err := a.listTS(ctx, req)
		if err != nil || len(got) != 3 {
			t.Fatalf("%d series, %v", len(got), err)
		}
		for _, ts := range got {
			if len(ts.GetPoints()) != 0 {
				t.Errorf("HEADERS view returned %d points", len(ts.GetPoints()))
			}
		}
	})
}

// A point stays invisible until its period has ended and the metric's
// simulated ingestion lag has passed after that.
func TestListTimeSeriesIngestionLag(t *testing.T) {
	t.Parallel()
	j := newJumpClock(10)
	c := startCloudClock(t, lctest.Config(10, lctest.Service("api")), j.c)
	a := startAPI(t, c)
	ctx := testCtx(t)
	rec := c.Recorder()
	origin, P := rec.Origin(), rec.Period()
	lag := rec.Lag(localcloud.MetricRunRequestCount)
	if got, want := c.Clock().Simulated(lag), c.Config().Metrics.LagRun.D(); got != want {
		t.Fatalf("request_count lag %v simulated, want %v", got, want)
	}
	// periodEnd is the end of the sample period t falls in.
	periodEnd := func(t time.Time) time.Time {
		return origin.Add((t.Sub(origin)/P + 1) * P)
	}
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	before := c.Clock().Now()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the service answered %d", resp.StatusCode)
	}
	after := c.Clock().Now()
	filter := `metric.type = "` + localcloud.MetricRunRequestCount + `" AND resource.labels.service_name = "api"`
	visible := func() []*monitoringpb.TimeSeries {
		t.Helper()
		now := c.Clock().Now()
		raw, err := a.listTS(ctx, tsRequest(c, filter, origin, now.Add(time.Hour), nil))
		if err != nil {
			t.Fatal(err)
		}
		aligned, err := a.listTS(ctx, tsRequest(c, filter, origin, now, alignAgg(P, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM)))
		if err != nil {
			t.Fatal(err)
		}
		if (len(raw) == 0) != (len(aligned) == 0) {
			t.Errorf("raw %d series, aligned %d: visibility differs", len(raw), len(aligned))
		}
		return raw
	}
	if got := visible(); len(got) != 0 {
		t.Fatalf("the request is visible at once: %v", got)
	}
	// The earliest the point can become visible, minus a margin: still not.
	j.jumpTo(periodEnd(before).Add(lag - P/4))
	if got := visible(); len(got) != 0 {
		t.Errorf("visible %v before its period end + lag: %v", lag-P/4, got)
	}
	// The latest the point must be visible.
	j.jumpTo(periodEnd(after).Add(lag + time.Millisecond))
	got := visible()
	if len(got) != 1 || seriesSum(got[0]) != 1 {
		t.Fatalf("after its period end + lag: %v, want one series with one request", got)
	}
	p := got[0].GetPoints()[0].GetInterval()
	if e := p.GetEndTime().AsTime(); !e.Equal(periodEnd(before)) && !e.Equal(periodEnd(after)) || e.Add(lag).After(c.Clock().Now()) {
		t.Errorf("point ends at %v, want the end of the request's period (%v), at least the lag before now", e.Sub(origin), periodEnd(before).Sub(origin))
	}
	if got[0].GetMetric().GetLabels()["response_code_class"] != "2xx" || got[0].GetResource().GetType() != localcloud.ResourceRunRevision {
		t.Errorf("series %v", got[0])
	}
}

// Every invalid ListTimeSeries request is INVALID_ARGUMENT (NOT_FOUND for
// another project), never ignored.
func TestListTimeSeriesInvalidRequests(t *testing.T) {
	t.Parallel()
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	P := c.Recorder().Period()
	now := c.Clock().Now()
	mt := `metric.type = "` + localcloud.MetricRunRequestCount + `"`
	req := func(edit func(*monitoringpb.ListTimeSeriesRequest)) *monitoringpb.ListTimeSeriesRequest {
		r := tsRequest(c, mt, now.Add(-time.Hour), now, nil)
		edit(r)
		return r
	}
	filter := func(f string) *monitoringpb.ListTimeSeriesRequest {
		return req(func(r *monitoringpb.ListTimeSeriesRequest) { r.Filter = f })
	}
	agg := func(g *monitoringpb.Aggregation) *monitoringpb.ListTimeSeriesRequest {
		return req(func(r *monitoringpb.ListTimeSeriesRequest) { r.Aggregation = g })
	}
	tests := []struct {
		name string
		req  *monitoringpb.ListTimeSeriesRequest
		want codes.Code
	}{
		{"valid", req(func(*monitoringpb.ListTimeSeriesRequest) {}), codes.OK},
		{"valid at the shortest alignment period", agg(alignAgg(P, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_SUM)), codes.OK},
		{"other project", req(func(r *monitoringpb.ListTimeSeriesRequest) { r.Name = "projects/other" }), codes.NotFound},
		{"malformed name", req(func(r *monitoringpb.ListTimeSeriesRequest) { r.Name = "folders/1" }), codes.InvalidArgument},
		{"empty filter", filter(""), codes.InvalidArgument},
		{"no metric type", filter(`resource.type = "nat_gateway"`), codes.InvalidArgument},
		{"two metric types", filter(mt + ` AND metric.type = "x"`), codes.InvalidArgument},
		{"metric type not equal", filter(`metric.type != "x"`), codes.InvalidArgument},
		{"OR", filter(mt + ` OR resource.type = "x"`), codes.InvalidArgument},
		{"NOT", filter(mt + ` AND NOT resource.type = "x"`), codes.InvalidArgument},
		{"lower-case and", filter(mt + ` and resource.type = "x"`), codes.InvalidArgument},
		{"no AND between conditions", filter(mt + ` resource.type = "x"`), codes.InvalidArgument},
		{"parentheses", filter(`(` + mt + `)`), codes.InvalidArgument},
		{"starts_with", filter(mt + ` AND resource.labels.service_name = starts_with("a")`), codes.InvalidArgument},
		{"function as field", filter(`starts_with(metric.type, "x")`), codes.InvalidArgument},
		{"unsupported field", filter(mt + ` AND metadata.user_labels.team = "a"`), codes.InvalidArgument},
		{"project field", filter(mt + ` AND project = "p"`), codes.InvalidArgument},
		{"has operator", filter(mt + ` AND metric.labels.reason : "a"`), codes.InvalidArgument},
		{"greater than", filter(mt + ` AND metric.labels.response_code > 499`), codes.InvalidArgument},
		{"unterminated string", filter(`metric.type = "x`), codes.InvalidArgument},
		{"unquoted word", filter(`metric.type = x`), codes.InvalidArgument},
		{"trailing AND", filter(mt + ` AND`), codes.InvalidArgument},
		{"no interval", req(func(r *monitoringpb.ListTimeSeriesRequest) { r.Interval = nil }), codes.InvalidArgument},
		{"start after end", req(func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Interval.StartTime = timestamppb.New(now.Add(time.Hour))
		}), codes.InvalidArgument},
		{"alignment period below the sample period", agg(alignAgg(P-time.Millisecond, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_NONE)), codes.InvalidArgument},
		{"aligner without a period", agg(&monitoringpb.Aggregation{PerSeriesAligner: monitoringpb.Aggregation_ALIGN_SUM}), codes.InvalidArgument},
		{"reducer without an aligner", agg(alignAgg(P, monitoringpb.Aggregation_ALIGN_NONE, monitoringpb.Aggregation_REDUCE_SUM)), codes.InvalidArgument},
		{"delta of a gauge", req(func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Filter = `metric.type = "` + localcloud.MetricRunInstanceCount + `"`
			r.Aggregation = alignAgg(P, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_NONE)
		}), codes.InvalidArgument},
		{"sum of a bool gauge", req(func(r *monitoringpb.ListTimeSeriesRequest) {
			r.Filter = `metric.type = "` + localcloud.MetricNATAllocFailed + `"`
			r.Aggregation = alignAgg(P, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_NONE)
		}), codes.InvalidArgument},
		{"unsupported aligner", agg(alignAgg(P, monitoringpb.Aggregation_ALIGN_PERCENTILE_99, monitoringpb.Aggregation_REDUCE_NONE)), codes.InvalidArgument},
		{"unsupported reducer", agg(alignAgg(P, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_PERCENTILE_99)), codes.InvalidArgument},
		{"bad group-by field", agg(alignAgg(P, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_SUM, "reason")), codes.InvalidArgument},
		{"secondary aggregation", req(func(r *monitoringpb.ListTimeSeriesRequest) {
			r.SecondaryAggregation = alignAgg(P, monitoringpb.Aggregation_ALIGN_SUM, monitoringpb.Aggregation_REDUCE_SUM)
		}), codes.InvalidArgument},
		{"order by", req(func(r *monitoringpb.ListTimeSeriesRequest) { r.OrderBy = "time" }), codes.InvalidArgument},
		{"bad page token", req(func(r *monitoringpb.ListTimeSeriesRequest) { r.PageToken = "garbage" }), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.listTS(ctx, tt.req)
			if got := status.Code(err); got != tt.want {
				t.Errorf("code %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseFilter(t *testing.T) {
	series := localcloud.Series{
		MetricType:   localcloud.MetricNATDroppedSent,
		MetricLabels: map[string]string{"reason": "OUT_OF_RESOURCES", "ip_protocol": "TCP"},
		Resource:     localcloud.Resource{Type: "nat_gateway", Labels: map[string]string{"gateway_name": "g1"}},
	}
	tests := []struct {
		filter string
		match  bool
	}{
		{`metric.type = "router.googleapis.com/nat/dropped_sent_packets_count"`, true},
		{`metric.type="router.googleapis.com/nat/dropped_sent_packets_count" AND resource.type="nat_gateway"`, true},
		{`metric.type = 'router.googleapis.com/nat/dropped_sent_packets_count' AND metric.label.reason = 'OUT_OF_RESOURCES'`, true},
		{"metric.type = \"x\"\n  AND metric.labels.reason = \"OUT_OF_RESOURCES\"\n  AND resource.labels.gateway_name = \"g1\"", true},
		{`metric.type = "x" AND resource.label.gateway_name = "g2"`, false},
		{`metric.type = "x" AND resource.type != "nat_gateway"`, false},
		{`metric.type = "x" AND metric.labels.absent != "v"`, true},
		{`metric.type = "x" AND metric.labels.absent = "v"`, false},
		{`metric.type = "x" AND metric.labels.reason = "OUT_OF_\"RESOURCES\""`, false},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.filter)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.filter, err)
			continue
		}
		if got := f.match(series); got != tt.match {
			t.Errorf("parseFilter(%q).match = %v, want %v", tt.filter, got, tt.match)
		}
	}
	f, err := parseFilter(`metric.type = "a/b" AND metric.labels.response_code = 500`)
	if err != nil || f.metricType != "a/b" || f.conds[0].value != "500" {
		t.Errorf("integer value: %+v %v", f, err)
	}
}

// After an S1-like run (cold instances with more concurrency than NAT
// ports, a deploy through the API mid-load), the unmodified Monitoring
// client reads the NAT drops and the request counts the run produced,
// aligned per simulated minute.
func TestControlPlaneMetricsAfterS1(t *testing.T) {
	t.Parallel()
	svc := lctest.Service("web", lctest.Call(scenarios.CallExternalAPI))
	svc.MinInstances, svc.MaxInstances, svc.Concurrency = 1, 5, 20
	svc.ColdStart = scenarios.Duration(4 * time.Second)
	svc.App.ServerTime = scenarios.Duration(time.Second)
	svc.App.KeepAliveTimeout = scenarios.Duration(60 * time.Second)
	cfg := lctest.Config(50, svc)
	cfg.NAT.MinPortsPerVM = 8 // S1 has 64 ports and 80 concurrent requests; the same mechanism, smaller
	cfg.ExternalAPI.Latency = scenarios.Duration(5 * time.Second)
	cfg.Metrics.LagNAT = scenarios.Duration(time.Minute) // visible soon, so the test reads them
	cfg.Metrics.LagRun = scenarios.Duration(time.Minute)
	c := startCloud(t, cfg)
	a := startAPI(t, c)
	ctx := testCtx(t)
	rec := c.Recorder()
	P := rec.Period()
	if c.Clock().Simulated(P) != time.Minute {
		t.Fatalf("period %v is not a simulated minute", P)
	}
	name := serviceResource(c, "web")
	url, _ := c.ServiceURL("web")

	l := startLoad(ctx, url, 150, 3*time.Second)
	select {
	case <-time.After(time.Second):
	case <-l.done:
		t.Fatal("load ended before the deploy")
	}
	deployed, err := a.deployEnv(ctx, t, name, "next")
	if err != nil {
		t.Fatalf("deploy mid-load: %v", err)
	}
	cutover := time.Now()
	newRev := shortName(deployed.GetLatestReadyRevision())
	<-l.done

	ok, sentAfter := 0, 0
	for _, r := range l.results {
		if r.status == 200 {
			ok++
		}
		if !r.sent.Before(cutover) && r.status != 0 {
			sentAfter++
			if r.revision != newRev {
				t.Errorf("a request sent %v after the operation completed was answered by %q (status %d), want %s",
					r.sent.Sub(cutover), r.revision, r.status, newRev)
				break
			}
		}
	}
	drops := c.NAT().Stats().Drops[localcloud.ReasonOutOfResources]
	t.Logf("%d requests, %d ok, %d sent after the cutover; %d NAT drops", len(l.results), ok, sentAfter, drops)
	if drops == 0 || ok == 0 || sentAfter == 0 {
		t.Fatalf("the run produced %d NAT drops, %d ok requests, %d after the cutover; want some of each", drops, ok, sentAfter)
	}

	checkS1Metrics(ctx, t, c, a, s1Run{newRev: newRev, drops: drops, ok: ok, sentAfter: sentAfter})
}

// s1Run is what a replay counted: the new revision, the NAT drops, the
// requests that succeeded and those sent after the cutover.
type s1Run struct {
	newRev        string
	drops         int64
	ok, sentAfter int
}

// checkS1Metrics polls ListTimeSeries until the drops and the 2xx count of
// the run are visible, then checks their series, labels and alignment.
func checkS1Metrics(ctx context.Context, t *testing.T, c *localcloud.Cloud, a *apiClients, run s1Run) {
	t.Helper()
	cfg, rec := c.Config(), c.Recorder()
	P := rec.Period()
	newRev, drops, ok, sentAfter := run.newRev, run.drops, run.ok, run.sentAfter
	var err error
	dropsReq := func() *monitoringpb.ListTimeSeriesRequest {
		return tsRequest(c, `metric.type = "`+localcloud.MetricNATDroppedSent+`" AND resource.type = "nat_gateway" AND resource.labels.gateway_name = "`+
			cfg.NAT.Gateway+`" AND metric.labels.reason = "OUT_OF_RESOURCES"`, rec.Origin(), c.Clock().Now(),
			alignAgg(P, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM, "metric.label.reason"))
	}
	countReq := func() *monitoringpb.ListTimeSeriesRequest {
		return tsRequest(c, `metric.type = "`+localcloud.MetricRunRequestCount+`" AND resource.type = "cloud_run_revision" AND resource.labels.service_name = "web"`,
			rec.Origin(), c.Clock().Now(),
			alignAgg(P, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM, "metric.label.response_code_class"))
	}
	// Every point of the run becomes visible once its period and the lag
	// have passed: poll until the totals match the run's (bounded).
	var gotDrops, got2xx []*monitoringpb.TimeSeries
	deadline := time.Now().Add(10*P + 2*rec.Lag(localcloud.MetricNATDroppedSent) + 5*time.Second)
	tick := time.NewTicker(P / 4)
	defer tick.Stop()
	for {
		gotDrops, err = a.listTS(ctx, dropsReq())
		if err != nil {
			t.Fatal(err)
		}
		got2xx, err = a.listTS(ctx, countReq())
		if err != nil {
			t.Fatal(err)
		}
		if len(gotDrops) == 1 && seriesSum(gotDrops[0]) == drops && classSum(got2xx, "2xx") == int64(ok) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never matched the run: drops %v (want %d), request_count 2xx %d (want %d)",
				gotDrops, drops, classSum(got2xx, "2xx"), ok)
		}
		<-tick.C
	}
	s := gotDrops[0]
	if s.GetMetric().GetType() != localcloud.MetricNATDroppedSent || len(s.GetMetric().GetLabels()) != 1 ||
		s.GetMetric().GetLabels()["reason"] != localcloud.ReasonOutOfResources || s.GetMetricKind() != metricpb.MetricDescriptor_DELTA ||
		s.GetValueType() != metricpb.MetricDescriptor_INT64 {
		t.Errorf("drops series %v", s)
	}
	checkAligned(t, s, P)
	for _, ts := range got2xx {
		cls := ts.GetMetric().GetLabels()["response_code_class"]
		if len(ts.GetMetric().GetLabels()) != 1 || !strings.HasSuffix(cls, "xx") {
			t.Errorf("request_count group labels %v, want only response_code_class", ts.GetMetric().GetLabels())
		}
		checkAligned(t, ts, P)
	}
	// The revisions are the real resource labels.
	byRev, err := a.listTS(ctx, tsRequest(c, `metric.type = "`+localcloud.MetricRunRequestCount+`" AND resource.labels.revision_name = "`+newRev+`"`,
		rec.Origin(), c.Clock().Now(), alignAgg(P, monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_REDUCE_SUM, "resource.label.revision_name")))
	if err != nil || len(byRev) != 1 || byRev[0].GetResource().GetLabels()["revision_name"] != newRev || seriesSum(byRev[0]) < int64(sentAfter)/2 {
		t.Errorf("request_count of %s: %v (%v), want at least half of the %d requests sent after the cutover", newRev, byRev, err, sentAfter)
	}
}

func classSum(series []*monitoringpb.TimeSeries, class string) int64 {
	for _, ts := range series {
		if ts.GetMetric().GetLabels()["response_code_class"] == class {
			return seriesSum(ts)
		}
	}
	return 0
}

// checkAligned checks points are newest first, each one period long and on
// the period grid anchored at the newest.
func checkAligned(t *testing.T, ts *monitoringpb.TimeSeries, period time.Duration) {
	t.Helper()
	pts := ts.GetPoints()
	if len(pts) == 0 {
		t.Errorf("series %v has no points", ts.GetMetric())
		return
	}
	newest := pts[0].GetInterval().GetEndTime().AsTime()
	for i, p := range pts {
		start, end := p.GetInterval().GetStartTime().AsTime(), p.GetInterval().GetEndTime().AsTime()
		k := float64(newest.Sub(end)) / float64(period)
		if end.Sub(start) != period || k != math.Trunc(k) || i > 0 && !end.Before(pts[i-1].GetInterval().GetEndTime().AsTime()) {
			t.Errorf("point %d of %v: [%v, %v] is not a period on the grid, newest first", i, ts.GetMetric().GetLabels(), start, end)
			return
		}
	}
}

// loadResult is one request of a test load.
type loadResult struct {
	sent     time.Time
	status   int // 0 for a transport error
	revision string
}

// testLoad is an open-model load on loopback: one request every 1/rate,
// each in its own goroutine, for a while.
type testLoad struct {
	done    chan struct{} // closed when every request has ended
	results []loadResult  // read after done
}

// startLoad sends GET url at rate per wall second for d.
func startLoad(ctx context.Context, url string, rate float64, d time.Duration) *testLoad {
	l := &testLoad{done: make(chan struct{})}
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 300}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	one := func() {
		defer wg.Done()
		r := loadResult{sent: time.Now()}
		if resp, err := client.Get(url + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			r.status, r.revision = resp.StatusCode, resp.Header.Get("X-Revision")
		}
		mu.Lock()
		l.results = append(l.results, r)
		mu.Unlock()
	}
	go func() {
		defer close(l.done)
		defer client.CloseIdleConnections()
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		end := time.After(d)
		for {
			select {
			case <-ctx.Done():
			case <-end:
			case <-tick.C:
				wg.Add(1)
				go one()
				continue
			}
			break
		}
		wg.Wait()
	}()
	return l
}

// startCloud starts a local cloud on its scaled wall clock, closed at cleanup.
func startCloud(t *testing.T, cfg scenarios.LocalCloud) *localcloud.Cloud {
	t.Helper()
	return startCloudClock(t, cfg, nil)
}
