package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const lcMetricsCloud = `localcloud:
  time_scale: 10
  region: asia-northeast1
  services:
    - {name: api, image: api:v1}
  nat: {router: r1, gateway: g1}
`

func TestMetricsDefaults(t *testing.T) {
	tests := []struct {
		name       string
		yaml       string
		enabled    bool
		settle     time.Duration // wall-clock
		maxWait    time.Duration // wall-clock
		period     time.Duration // wall-clock
		nat        MetricsNAT
		extraNames []string
	}{
		{name: "plain load test reads nothing", yaml: "target: {url: http://127.0.0.1:8080}\n"},
		{name: "Google", yaml: "target: {platform: cloudrun, project: p, region: r, service: s}\n",
			enabled: true, settle: 4 * time.Minute, maxWait: 8 * time.Minute, period: time.Minute},
		{name: "local cloud scales and names its gateway", yaml: lcMetricsCloud, enabled: true,
			settle: 24 * time.Second, maxWait: 48 * time.Second, period: 6 * time.Second,
			nat: MetricsNAT{Router: "r1", Gateway: "g1", Region: "asia-northeast1"}},
		{name: "explicit values and an extra query", yaml: lcMetricsCloud + `metrics:
  settle: 100s
  max_wait: 300s
  period: 120s
  nat: {gateway: other}
  extra:
    - {name: nat_received, type: router.googleapis.com/nat/received_packets_count, aligner: delta, reducer: sum, group_by: [metric.label.ip_protocol]}
`, enabled: true, settle: 10 * time.Second, maxWait: 30 * time.Second, period: 12 * time.Second,
			nat: MetricsNAT{Router: "r1", Gateway: "other", Region: "asia-northeast1"}, extraNames: []string{"nat_received"}},
		{name: "turned off", yaml: lcMetricsCloud + "metrics: {enabled: false}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("m.yaml", []byte(lcHeader+tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			m := s.Metrics
			if m.Enabled != tt.enabled {
				t.Fatalf("enabled %v, want %v", m.Enabled, tt.enabled)
			}
			if !tt.enabled {
				return
			}
			if got := s.Wall(m.Settle); got != tt.settle {
				t.Errorf("settle %s wall, want %s", got, tt.settle)
			}
			if got := s.Wall(m.MaxWait); got != tt.maxWait {
				t.Errorf("max_wait %s wall, want %s", got, tt.maxWait)
			}
			if got := s.Wall(m.Period); got != tt.period {
				t.Errorf("period %s wall, want %s", got, tt.period)
			}
			if m.NAT != tt.nat {
				t.Errorf("nat %+v, want %+v", m.NAT, tt.nat)
			}
			var names []string
			for _, q := range m.Extra {
				names = append(names, q.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.extraNames, ",") {
				t.Errorf("extra %v, want %v", names, tt.extraNames)
			}
		})
	}
}

func TestMetricsInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"negative settle", lcMetricsCloud + "metrics: {settle: -1s}\n",
			[]string{"m.yaml:13:11: metrics.settle: must not be negative"}},
		{"max wait under settle", lcMetricsCloud + "metrics: {settle: 5m, max_wait: 1m}\n",
			[]string{"metrics.max_wait: 1m is shorter than metrics.settle (5m)"}},
		{"period under the local cloud's", lcMetricsCloud + "metrics: {period: 10s}\n",
			[]string{"metrics.period: 10s is shorter than the local cloud's metric period (1m)"}},
		{"period under Google's minimum", "target: {platform: cloudrun, project: p, region: r, service: s}\nmetrics: {period: 30s}\n",
			[]string{"metrics.period: 30s: Cloud Monitoring aligns to at least 60s"}},
		{"metrics without a platform", "target: {url: http://127.0.0.1:1}\nmetrics: {enabled: true}\n",
			[]string{"m.yaml:8:1: metrics: metrics need a platform"}},
		{"a metrics section without a platform", "target: {url: http://127.0.0.1:1}\nmetrics: {settle: 1m}\n",
			[]string{"m.yaml:8:1: metrics: metrics need a platform"}},
		{"bad extra queries", lcMetricsCloud + `metrics:
  extra:
    - {type: router.googleapis.com/nat/port_usage}
    - {name: Bad-Name, type: "nat port usage"}
    - {name: q, type: router.googleapis.com/nat/port_usage, reducer: sum, group_by: [reason]}
    - {name: q, type: run.googleapis.com/request_count}
`, []string{
			"metrics.extra[0].name: required",
			`metrics.extra[1].name: "Bad-Name": lower case letters`,
			`metrics.extra[1].type: "nat port usage": not a metric type`,
			`metrics.extra[2].group_by[0]: "reason": a label is metric.label.NAME or resource.label.NAME`,
			"metrics.extra[2].aligner: required with a reducer or group_by",
			`metrics.extra[3].name: "q": used by an earlier query`,
		}},
		{"unknown key", lcMetricsCloud + "metrics: {settel: 1m}\n",
			[]string{`metrics.settel: unknown key (did you mean "settle"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(lcHeader+tt.yaml))
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse error %v, want *Problems", err)
			}
			got := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems:\n%s\nwant a line containing %q", got, w)
				}
			}
		})
	}
}
