package compare

import (
	"math/rand/v2"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// synth describes a synthetic run record: windows of 1 s, each with
// perWindow requests whose latencies latency draws, and errors(i) of them
// failing with 502.
type synth struct {
	windows, perWindow int
	seed               uint64
	latency            func(rng *rand.Rand, i int) time.Duration
	errors             func(i int) int64
	// deployAt, when > 0, puts a deploy of service "api" at that window,
	// ready 2 s and traffic 3 s later.
	deployAt int
	findings []results.Finding
	// saturated marks the load generator saturated.
	saturated bool
}

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func (s synth) run(tb testing.TB) *results.Run {
	tb.Helper()
	rng := rand.New(rand.NewPCG(s.seed, 7))
	r := &results.Run{
		SchemaVersion: 1, RunID: "synth", ScenarioName: "synth", State: results.StateComplete,
		Scenario:  []byte(`{"name":"synth"}`),
		StartedAt: t0,
		Totals:    results.Totals{ByClass: map[results.Class]int64{}},
		Findings:  s.findings,
		Load:      results.LoadInfo{Saturated: s.saturated},
	}
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	for i := range s.windows {
		h.Reset()
		for range s.perWindow {
			if err := h.RecordValue(s.latency(rng, i).Microseconds()); err != nil {
				tb.Fatal(err)
			}
		}
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			tb.Fatal(err)
		}
		var errs int64
		if s.errors != nil {
			errs = min(s.errors(i), int64(s.perWindow))
		}
		w := results.Window{
			Start: t0.Add(time.Duration(i) * time.Second), Requests: int64(s.perWindow), Errors: errs,
			ByClass: map[results.Class]int64{results.ClassOK: int64(s.perWindow) - errs}, Histogram: string(enc),
		}
		if errs > 0 {
			w.ByClass[results.ClassStatus502] = errs
		}
		r.Timeline = append(r.Timeline, w)
		r.Totals.Requests += w.Requests
		r.Totals.Errors += errs
		for c, n := range w.ByClass {
			r.Totals.ByClass[c] += n
		}
	}
	if s.deployAt > 0 {
		at := t0.Add(time.Duration(s.deployAt) * time.Second)
		svc := map[string]string{"service": "api"}
		r.Events = []results.Event{
			{Kind: results.EventDeployStart, At: at, Details: svc},
			{Kind: results.EventRevisionReady, At: at.Add(2 * time.Second), Details: svc},
			{Kind: results.EventTrafficApplied, At: at.Add(3 * time.Second), Details: svc},
		}
	}
	return r
}

// normalLatency draws around mean with a 10% spread and a 0.5% tail at 3×.
func normalLatency(mean time.Duration) func(*rand.Rand, int) time.Duration {
	return func(rng *rand.Rand, _ int) time.Duration {
		d := time.Duration(float64(mean) * (1 + 0.1*rng.NormFloat64()))
		if rng.IntN(200) == 0 {
			d *= 3
		}
		return max(d, time.Microsecond)
	}
}

func limits() scenarios.Compare {
	c := scenarios.DefaultCompare(0)
	c.Settle = scenarios.Duration(5 * time.Second)
	return c
}
