package scenarios

import (
	"slices"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		expr    string
		metric  MetricName
		op      string
		value   float64
		wantErr string // a substring of the error; "" for none
	}{
		{expr: "p99 < 800ms", metric: "p99", op: "<", value: 800},
		{expr: "p50 <= 1.5s", metric: "p50", op: "<=", value: 1500},
		{expr: "p95 < 250", metric: "p95", op: "<", value: 250},
		{expr: "max<2s", metric: "max", op: "<", value: 2000},
		{expr: "  mean  >=  0.5ms ", metric: "mean", op: ">=", value: 0.5},
		{expr: "p90 > 100us", metric: "p90", op: ">", value: 0.1},
		{expr: "error_rate < 0.1%", metric: "error_rate", op: "<", value: 0.001},
		{expr: "error_rate <= 0.001", metric: "error_rate", op: "<=", value: 0.001},
		{expr: "error_rate == 100%", metric: "error_rate", op: "==", value: 1},
		{expr: "requests >= 1000", metric: "requests", op: ">=", value: 1000},
		{expr: "errors == 0", metric: "errors", op: "==", value: 0},
		{expr: "fetch_failed != 0", metric: "fetch_failed", op: "!=", value: 0},
		{expr: "upstream_timeout == 0", metric: "upstream_timeout", op: "==", value: 0},
		{expr: "status_504 == 0", metric: "status_504", op: "==", value: 0},
		{expr: "connect_timeout < 1e3", metric: "connect_timeout", op: "<", value: 1000},

		{expr: "p99 < 800xs", wantErr: `"p99 < 800xs": 800xs is not a latency; write a duration (800ms, 1.5s) or a number of milliseconds`},
		{expr: "p999 < 1s", wantErr: `unknown metric "p999" (did you mean "p99"?); metrics are p50, p90`},
		{expr: "status_540 == 0", wantErr: `unknown metric "status_540" (did you mean "status_500"?)`},
		{expr: "latency < 1s", wantErr: `unknown metric "latency"; metrics are p50`},
		{expr: "p99 800ms", wantErr: `"p99 800ms": no comparison operator; write METRIC OP VALUE`},
		{expr: "p99 = 800ms", wantErr: `unknown operator "="`},
		{expr: "p99 =< 800ms", wantErr: `unknown operator "=<"`},
		{expr: "p99 !800ms", wantErr: `unknown operator "!800ms"`},
		{expr: "< 800ms", wantErr: "no metric before <"},
		{expr: "p99 <", wantErr: "no value after <"},
		{expr: "p99 < -1ms", wantErr: "not negative"},
		{expr: "p99 < NaN", wantErr: "not a latency"},
		{expr: "error_rate < 150%", wantErr: "out of range"},
		{expr: "error_rate < -0.1", wantErr: "out of range"},
		{expr: "error_rate < 1ms", wantErr: "not an error rate"},
		{expr: "errors < 0.5", wantErr: "0.5 is not a count"},
		{expr: "errors < -1", wantErr: "not a count"},
		{expr: "requests > 10ms", wantErr: "not a count"},
		{expr: "errors < Inf", wantErr: "not a count"},
		{expr: "", wantErr: "no comparison operator"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseThreshold(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseThreshold(%q) error = %v, want one containing %q", tt.expr, err, tt.wantErr)
				}
				return
			}
			want := Threshold{Expr: tt.expr, Metric: tt.metric, Op: tt.op, Value: tt.value}
			if err != nil || got != want {
				t.Fatalf("ParseThreshold(%q) = %+v, %v; want %+v", tt.expr, got, err, want)
			}
		})
	}
}

func TestThresholdString(t *testing.T) {
	tests := []struct {
		t    Threshold
		want string
	}{
		{Threshold{Expr: "p99<1s", Metric: "p99", Op: "<", Value: 1000}, "p99<1s"},
		{Threshold{Metric: "p99", Op: "<", Value: 1500}, "p99 < 1500ms"},
		{Threshold{Metric: "error_rate", Op: "<=", Value: 0.001}, "error_rate <= 0.001"},
		{Threshold{Metric: "status_504", Op: "==", Value: 0}, "status_504 == 0"},
	}
	for _, tt := range tests {
		got := tt.t.String()
		if got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.t, got, tt.want)
		}
		// What String writes parses back to the same metric, op and value.
		back, err := ParseThreshold(got)
		if err != nil || back.Metric != tt.t.Metric || back.Op != tt.t.Op || back.Value != tt.t.Value {
			t.Errorf("ParseThreshold(%q) = %+v, %v", got, back, err)
		}
	}
}

func TestThresholdMetricsDocumented(t *testing.T) {
	seen := map[MetricName]bool{}
	for _, m := range ThresholdMetrics {
		if seen[m.Name] {
			t.Errorf("metric %q listed twice", m.Name)
		}
		seen[m.Name] = true
		if m.Doc == "" {
			t.Errorf("metric %q has no Doc", m.Name)
		}
		switch m.Unit {
		case UnitMillis, UnitFraction, UnitCount:
		default:
			t.Errorf("metric %q has unit %q", m.Name, m.Unit)
		}
	}
	for _, c := range append(slices.Clone(results.Classes), results.Derived...) {
		if m, ok := lookupMetric(ClassMetric(c)); !ok || m.Unit != UnitCount {
			t.Errorf("class or derived counter %q is not a count metric", c)
		}
	}
}
