package localcloud

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

var (
	testGateway  = Resource{Type: ResourceNATGateway, Labels: map[string]string{"gateway_name": "gw"}}
	testRevision = Resource{Type: ResourceRunRevision, Labels: map[string]string{"revision_name": "api-00001-abc"}}
)

func TestRecorderPeriodsAndLag(t *testing.T) {
	// Scale 10: a 60 s period is 6 s of wall time; lags 225 s and 180 s
	// are 22.5 s and 18 s.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start, 10)
	rec := NewRecorder(f, RecorderOptions{Period: time.Minute, LagNAT: 225 * time.Second, LagRun: 180 * time.Second, Retention: 6 * time.Hour})
	drops := map[string]string{"ip_protocol": "TCP", "reason": ReasonOutOfResources}
	ok := map[string]string{"response_code": "200", "response_code_class": "2xx"}

	rec.AddDelta(MetricNATDroppedSent, testGateway, drops, 2)
	rec.AddDelta(MetricRunRequestCount, testRevision, ok, 5)
	rec.SetGauge(MetricNATAllocFailed, testGateway, nil, 1)
	f.Advance(3 * time.Second)
	rec.AddDelta(MetricNATDroppedSent, testGateway, drops, 3) // same period
	f.Advance(4 * time.Second)                                // period 1
	rec.AddDelta(MetricNATDroppedSent, testGateway, drops, 7)
	rec.SetGauge(MetricNATAllocFailed, testGateway, nil, 0)

	all := func(metric string) []Series { return rec.Query(metric, start.Add(-time.Hour), start.Add(time.Hour)) }
	if s := all(MetricNATDroppedSent); len(s) != 0 {
		t.Fatalf("points visible before the lag: %+v", s)
	}
	// Period 0 ends at 6 s; its NAT point shows at 6 + 22.5 s, its Run
	// point at 6 + 18 s.
	f.Advance(24*time.Second + 100*time.Millisecond - 7*time.Second) // now 24.1 s
	if s := all(MetricRunRequestCount); len(s) != 1 || len(s[0].Points) != 1 || s[0].Points[0].Value != 5 {
		t.Fatalf("request_count at 24.1 s: %+v, want one point of 5", s)
	}
	if s := all(MetricNATDroppedSent); len(s) != 0 {
		t.Fatalf("NAT drops visible at 24.1 s, before 28.5 s: %+v", s)
	}
	f.Advance(5 * time.Second) // 29.1 s: period 0 of NAT visible, period 1 not (ends 12 + 22.5)
	s := all(MetricNATDroppedSent)
	if len(s) != 1 || len(s[0].Points) != 1 {
		t.Fatalf("NAT drops at 29.1 s: %+v, want one point", s)
	}
	p := s[0].Points[0]
	if p.Value != 5 || !p.Start.Equal(start) || !p.End.Equal(start.Add(6*time.Second)) {
		t.Errorf("point %+v, want 5 over [0 s, 6 s)", p)
	}
	if s[0].Kind != KindDelta || s[0].ValueType != ValueInt64 || s[0].MetricLabels["reason"] != ReasonOutOfResources ||
		s[0].Resource.Type != ResourceNATGateway {
		t.Errorf("series %+v: want DELTA INT64 on nat_gateway with reason", s[0])
	}
	f.Advance(10 * time.Second) // 39.1 s: periods 0..2 visible (period 2 ends 18 s; 18 + 22.5 = 40.5 not yet)
	s = all(MetricNATDroppedSent)
	if len(s) != 1 || len(s[0].Points) != 2 || s[0].Points[1].Value != 7 {
		t.Errorf("NAT drops at 39.1 s: %+v, want points 5 and 7", s)
	}
	// A gauge has a point per period, carried forward, at the period's end.
	g := all(MetricNATAllocFailed)
	if len(g) != 1 || g[0].Kind != KindGauge || g[0].ValueType != ValueBool {
		t.Fatalf("gauge series %+v", g)
	}
	if pts := g[0].Points; len(pts) != 2 || pts[0].Value != 1 || pts[1].Value != 0 || !pts[0].Start.Equal(pts[0].End) {
		t.Errorf("gauge points %+v, want 1 then 0, each at its period's end", pts)
	}
	// The interval selects periods by their end: (start, end].
	if s := rec.Query(MetricNATDroppedSent, start.Add(6*time.Second), start.Add(12*time.Second)); len(s) != 1 || len(s[0].Points) != 1 || s[0].Points[0].Value != 7 {
		t.Errorf("query (6 s, 12 s]: %+v, want the point of period 1 only", s)
	}
	if got := rec.MetricTypes(); len(got) != 3 {
		t.Errorf("metric types %v, want 3", got)
	}
}

func TestRecorderRetention(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start, 1)
	rec := NewRecorder(f, RecorderOptions{Period: time.Minute, LagNAT: -1, Retention: 10 * time.Minute})
	rec.SetGauge(MetricNATOpenConns, testGateway, nil, 42) // set once, carried forward
	for range 100 {
		rec.AddDelta(MetricNATNewConns, testGateway, nil, 1)
		f.Advance(time.Minute)
	}
	s := rec.Query(MetricNATNewConns, start, f.Now())
	if len(s) != 1 || len(s[0].Points) > 11 || len(s[0].Points) < 10 {
		t.Fatalf("kept %d points, want the last 10 minutes", len(s[0].Points))
	}
	g := rec.Query(MetricNATOpenConns, start, f.Now())
	if len(g) != 1 || len(g[0].Points) < 10 || len(g[0].Points) > 11 || g[0].Points[len(g[0].Points)-1].Value != 42 {
		t.Errorf("gauge: %+v, want the last 10 minutes carried forward from one write", g)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, s := range rec.series {
		if len(s.buckets) > 11 {
			t.Errorf("series %s keeps %d buckets", s.MetricType, len(s.buckets))
		}
	}
}
