package runner

import (
	"math"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

func TestErrorRateUpper95(t *testing.T) {
	tests := []struct {
		errors, requests int64
		want             float64
		tol              float64
	}{
		{0, 1000, 1 - math.Pow(0.05, 1.0/1000), 1e-9}, // exact zero-failure bound
		{0, 3000, 0.001, 0.00002},                     // ≈ 3/N, the rule of three
		{0, 0, 1, 0},                                  // nothing known
		{10, 10, 1, 0},
		{5, 1000, 0.0105, 0.0005}, // Clopper–Pearson one-sided 95%
	}
	for _, tt := range tests {
		got := ErrorRateUpper95(tt.errors, tt.requests)
		if math.Abs(got-tt.want) > tt.tol {
			t.Errorf("ErrorRateUpper95(%d, %d) = %g, want %g ± %g", tt.errors, tt.requests, got, tt.want, tt.tol)
		}
	}
}

func mustThreshold(t *testing.T, expr string) scenarios.Threshold {
	t.Helper()
	th, err := scenarios.ParseThreshold(expr)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	return th
}

func TestJudge(t *testing.T) {
	lat := results.Latency{P50: 10, P90: 20, P95: 30, P99: 900, Max: 1200, Mean: 12}
	totals := func(requests int64, byClass map[results.Class]int64) results.Totals {
		var errs int64
		for c, n := range byClass {
			if c != results.ClassOK && c != results.FetchFailed && c != results.UpstreamTimeout {
				errs += n
			}
		}
		return results.Totals{Requests: requests, Errors: errs, ByClass: byClass}
	}
	tests := []struct {
		name       string
		verdict    scenarios.Verdict
		totals     results.Totals
		info       results.LoadInfo
		thresholds []string
		want       string
		reason     string
	}{
		{
			name:   "clean run passes",
			totals: totals(1000, map[results.Class]int64{"ok": 1000}),
			want:   results.StatusPass,
		},
		{
			name:   "one error over max_errors 0 fails",
			totals: totals(1000, map[results.Class]int64{"ok": 999, "status_504": 1}),
			want:   results.StatusFail,
			reason: "1 errors in 1000 requests",
		},
		{
			name:    "errors within max_errors pass",
			verdict: scenarios.Verdict{MaxErrors: 5},
			totals:  totals(1000, map[results.Class]int64{"ok": 995, "connect_timeout": 5}),
			want:    results.StatusPass,
		},
		{
			name:       "broken latency threshold fails",
			totals:     totals(1000, map[results.Class]int64{"ok": 1000}),
			thresholds: []string{"p99 < 800ms"},
			want:       results.StatusFail,
			reason:     `threshold "p99 < 800ms" broken: actual 900.0ms`,
		},
		{
			name:       "class threshold on an absent class holds",
			totals:     totals(1000, map[results.Class]int64{"ok": 1000}),
			thresholds: []string{"status_504 == 0", "fetch_failed == 0"},
			want:       results.StatusPass,
		},
		{
			name:       "error_rate threshold",
			verdict:    scenarios.Verdict{MaxErrors: 100},
			totals:     totals(1000, map[results.Class]int64{"ok": 998, "status_503": 2}),
			thresholds: []string{"error_rate < 0.1%"},
			want:       results.StatusFail,
			reason:     "actual 0.2%",
		},
		{
			name:    "too few requests is inconclusive",
			verdict: scenarios.Verdict{MinRequests: 5000},
			totals:  totals(1000, map[results.Class]int64{"ok": 1000}),
			want:    results.StatusInconclusive,
			reason:  "too few requests: 1000 < min_requests 5000",
		},
		{
			name:   "saturated generator is inconclusive, never a false fail",
			totals: totals(1000, map[results.Class]int64{"ok": 900, "connect_timeout": 100}),
			info:   results.LoadInfo{Saturated: true, SaturationReason: "achieved 40% of the asked rate"},
			want:   results.StatusInconclusive,
			reason: "load generator saturated: achieved 40% of the asked rate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.verdict
			for _, e := range tt.thresholds {
				v.Thresholds = append(v.Thresholds, mustThreshold(t, e))
			}
			got, err := Judge(v, tt.totals, lat, tt.info)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("status = %q, want %q (reasons %q)", got.Status, tt.want, got.Reasons)
			}
			if tt.reason != "" && !strings.Contains(strings.Join(got.Reasons, "\n"), tt.reason) {
				t.Errorf("reasons %q lack %q", got.Reasons, tt.reason)
			}
			if len(got.Thresholds) != len(tt.thresholds) {
				t.Errorf("%d threshold results, want %d", len(got.Thresholds), len(tt.thresholds))
			}
		})
	}
}

// Every metric a scenario may name in a threshold must be one the runner
// can evaluate: a vocabulary drift would turn a threshold into a run error.
func TestEveryThresholdMetricIsEvaluable(t *testing.T) {
	for _, m := range scenarios.ThresholdMetrics {
		if _, err := metricValue(m.Name, results.Totals{ByClass: map[results.Class]int64{}}, results.Latency{}); err != nil {
			t.Errorf("metric %q: %v", m.Name, err)
		}
	}
}
