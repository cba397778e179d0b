package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const lcHeader = `version: 1
name: lc
load:
  requests: [{path: /}]
  rate: 10/s
  duration: 5s
`

func TestLocalCloudDefaults(t *testing.T) {
	s, err := Parse("lc.yaml", []byte(lcHeader+`localcloud:
  services:
    - name: api
      image: api:v1
      app:
        calls:
          - to: external_api
          - {to: self, via: loopback, keepalive: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	lc := s.LocalCloud
	if !lc.Enabled() || lc.TimeScale != 1 || lc.Project != "local-project" || lc.NAT.IPs != 1 ||
		lc.NAT.TCPTimeWait != Duration(120*time.Second) || lc.Metrics.LagNAT != Duration(225*time.Second) ||
		lc.ExternalAPI.Latency != Duration(150*time.Millisecond) {
		t.Errorf("section defaults: %+v", lc)
	}
	svc := lc.Services[0]
	if svc.Concurrency != 80 || svc.MaxInstances != 100 || svc.TargetUtilization != 60 || svc.Egress != EgressAllTraffic ||
		svc.RequestTimeout != Duration(300*time.Second) || svc.App.ConnectTimeout != Duration(10*time.Second) {
		t.Errorf("service defaults: %+v", svc)
	}
	calls := svc.App.Calls
	if !calls[0].KeepAlive || calls[0].Count != 1 || calls[0].Path != "/" || calls[1].KeepAlive || calls[1].Via != ViaLoopback {
		t.Errorf("call defaults: %+v", calls)
	}
	if minP, maxP := lc.NAT.PortsPerVM(); minP != 64 || maxP != 64 {
		t.Errorf("static ports per VM %d..%d, want 64", minP, maxP)
	}
	lc.NAT.Dynamic = true
	if minP, maxP := lc.NAT.PortsPerVM(); minP != 32 || maxP != 65536 {
		t.Errorf("dynamic ports per VM %d..%d, want 32..65536", minP, maxP)
	}

	// Without the section nothing changes: it stays zero and out of JSON.
	plain, err := Parse("plain.yaml", []byte(lcHeader+"target: {url: http://127.0.0.1:8080}\n"))
	if err != nil || plain.LocalCloud.Enabled() || !plain.LocalCloud.IsZero() {
		t.Errorf("a scenario without localcloud: %v, %+v", err, plain.LocalCloud)
	}
}

func TestLocalCloudInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // each a substring of one problem, in order
	}{
		{"no services", `localcloud: {time_scale: 20}`,
			[]string{"localcloud.services: at least one service is required"}},
		{"unknown key", `localcloud:
  services: [{name: api, image: a, concurency: 5}]`,
			[]string{`8:36: localcloud.services[0].concurency: unknown key (did you mean "concurrency"?)`}},
		{"bad values", `localcloud:
  time_scale: 2000
  services:
    - name: Api_1
      image: ""
      min_instances: 5
      max_instances: 2
      concurrency: 2000
      egress: vpc
      app:
        calls:
          - {to: cache}
          - {to: external_api, via: loopback}
          - {to: self, via: private-ip, count: 0}
          - {to: "service:nope"}
  nat: {ips: 0, min_ports_per_vm: 100, max_ports_per_vm: 128, syn_schedule: [3s, 1s]}
`, []string{
			"localcloud.time_scale: must be between 1 and 1000",
			`localcloud.services[0].name: "Api_1": a service name is lower-case`,
			"localcloud.services[0].image: required",
			"localcloud.services[0].min_instances: 5 is more than max_instances (2)",
			"localcloud.services[0].concurrency: must be between 1 and 1000, got 2000",
			`localcloud.services[0].egress: "vpc": must be all-traffic or private-ranges-only`,
			`localcloud.services[0].app.calls[0].to: "cache": must be external_api, self, database or service:NAME`,
			`localcloud.services[0].app.calls[1].via: "loopback": a call to external_api can go via public-url`,
			`localcloud.services[0].app.calls[2].via: "private-ip": a call to self can go via public-url or loopback`,
			"localcloud.services[0].app.calls[2].count: must be between 1 and 100, got 0",
			`localcloud.services[0].app.calls[3].to: "service:nope": no service called "nope"`,
			"localcloud.nat.min_ports_per_vm: must be a power of two up to 65536, got 100",
			"localcloud.nat.max_ports_per_vm: only used with dynamic: true",
			"localcloud.nat.syn_schedule[1]: must be later than the retransmission before it (3s)",
		}},
		{"duplicate service", `localcloud:
  services: [{name: api, image: a}, {name: api, image: b}]`,
			[]string{`localcloud.services[1].name: "api": duplicate service name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lc.yaml", []byte(lcHeader+tt.yaml))
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want *Problems", err)
			}
			got := strings.Split(err.Error(), "\n")
			i := 0
			for _, line := range got {
				if i < len(tt.want) && strings.Contains(line, tt.want[i]) {
					i++
				}
			}
			if i != len(tt.want) {
				t.Errorf("problems:\n%s\nwant, in order, lines containing:\n%s", err, strings.Join(tt.want, "\n"))
			}
			for _, p := range ps.List {
				if p.Line == 0 {
					t.Errorf("problem without a position: %s", p)
				}
			}
		})
	}
}

func TestLocalCloudValidateInCode(t *testing.T) {
	var svc CloudService
	svc.Defaults()
	svc.Name, svc.Image = "api", "api:v1"
	lc := LocalCloud{Services: []CloudService{svc}}
	lc.Defaults()
	if err := lc.Validate(); err != nil {
		t.Errorf("a defaulted section built in code: %v", err)
	}
	lc.Services[0].App.Calls = []CloudCall{{To: "database", Via: "loopback", Count: 1, Path: "/"}}
	if err := lc.Validate(); err == nil || !strings.Contains(err.Error(), "localcloud.services[0].app.calls[0].via") {
		t.Errorf("Validate: %v, want a problem at the call's via", err)
	}
}
