package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// withDefaults returns the defaulted scenario named name with edit applied.
func withDefaults(name string, edit func(s *Scenario)) *Scenario {
	s := defaultScenario()
	s.Version = 1
	s.Name = name
	s.File = name + ".yaml"
	edit(s)
	resolveCompare(&s.Compare, s.Name, s.Verdict.MinRequests)
	return s
}

func getRoot() Request { return Request{Method: "GET", Path: "/", Weight: 1} }

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Scenario
	}{
		{
			name: "minimal",
			yaml: `
version: 1
name: minimal
target: {url: "http://127.0.0.1:8080"}
load:
  requests: [{path: /}]
  rate: 500/s
  duration: 30s
`,
			want: withDefaults("minimal", func(s *Scenario) {
				s.Target.URL = "http://127.0.0.1:8080"
				s.Load.Requests = []Request{getRoot()}
				s.Load.Rate = Rate{500, time.Second}
				s.Load.Duration = Duration(30 * time.Second)
			}),
		},
		{
			name: "stages",
			yaml: `
version: 1
name: stages
load:
  requests:
    - url: https://127.0.0.1:8443/a
      weight: 3
    - url: http://127.0.0.1:8080/b
      method: POST
      headers: {Content-Type: application/json, X-Count: 5}
      body: '{"a": 1}'
  start_rate: 10/s
  stages:
    - {for: 30s, rate: 100/s}
    - {for: 1m30s, rate: 10/500ms}
    - {for: 10s, rate: 0/s}
`,
			want: withDefaults("stages", func(s *Scenario) {
				s.Load.Requests = []Request{
					{Method: "GET", URL: "https://127.0.0.1:8443/a", Weight: 3},
					{Method: "POST", URL: "http://127.0.0.1:8080/b", Weight: 1, Body: `{"a": 1}`,
						Headers: map[string]string{"Content-Type": "application/json", "X-Count": "5"}},
				}
				s.Load.StartRate = Rate{10, time.Second}
				s.Load.Stages = []Stage{
					{For: Duration(30 * time.Second), Rate: Rate{100, time.Second}},
					{For: Duration(90 * time.Second), Rate: Rate{10, 500 * time.Millisecond}},
					{For: Duration(10 * time.Second), Rate: Rate{0, time.Second}},
				}
				s.Load.Duration = Duration(130 * time.Second) // the sum of the stages
			}),
		},
		{
			name: "closed",
			yaml: `
version: 1
name: closed
description: every default overridden
target:
  url: http://127.0.0.1:8080/base/
load:
  requests: [{path: /items, method: DELETE}]
  concurrency: 20
  duration: 2m
  timeout: 5s
  keepalive: false
  http2: false
  sessions: {count: 20, cookies: true}
  max_workers: 64
  connections: 8
  window: 5s
  revision_header: X-Served-By
verdict:
  max_errors: 3
  min_requests: 1000
  thresholds: ["p99 < 800ms", "error_rate <= 0.1%", "status_504 == 0"]
`,
			want: withDefaults("closed", func(s *Scenario) {
				s.Description = "every default overridden"
				s.Target.URL = "http://127.0.0.1:8080/base/"
				s.Load = Load{
					Requests:       []Request{{Method: "DELETE", Path: "/items", Weight: 1}},
					Concurrency:    20,
					Duration:       Duration(2 * time.Minute),
					Timeout:        Duration(5 * time.Second),
					Sessions:       Sessions{Count: 20, Cookies: true},
					MaxWorkers:     64,
					Connections:    8,
					Window:         Duration(5 * time.Second),
					RevisionHeader: "X-Served-By",
				}
				s.Verdict = Verdict{MaxErrors: 3, MinRequests: 1000, ObserveAfterAbort: Duration(30 * time.Second), Thresholds: []Threshold{
					{Expr: "p99 < 800ms", Metric: "p99", Op: "<", Value: 800},
					{Expr: "error_rate <= 0.1%", Metric: "error_rate", Op: "<=", Value: 0.001},
					{Expr: "status_504 == 0", Metric: "status_504", Op: "==", Value: 0},
				}}
			}),
		},
		{
			name: "abort",
			yaml: `
version: 1
name: abort
target: {url: "http://127.0.0.1:8080"}
load:
  requests: [{path: /}]
  rate: 100/s
  duration: 5m
verdict:
  abort: {error_rate: 5%, for: 10s}
  observe_after_abort: 1m
  thresholds:
    - "p99 < 800ms"
    - {expr: "status_504 == 0", abort: true}
    - {expr: "errors < 10"}
`,
			want: withDefaults("abort", func(s *Scenario) {
				s.Target.URL = "http://127.0.0.1:8080"
				s.Load.Requests = []Request{getRoot()}
				s.Load.Rate = Rate{100, time.Second}
				s.Load.Duration = Duration(5 * time.Minute)
				s.Verdict.Abort = &AbortRule{ErrorRate: 0.05, For: Duration(10 * time.Second), MinRequests: 20}
				s.Verdict.ObserveAfterAbort = Duration(time.Minute)
				s.Verdict.Thresholds = []Threshold{
					{Expr: "p99 < 800ms", Metric: "p99", Op: "<", Value: 800},
					{Expr: "status_504 == 0", Metric: "status_504", Op: "==", Value: 0, Abort: true},
					{Expr: "errors < 10", Metric: "errors", Op: "<", Value: 10},
				}
			}),
		},
		{
			name: "abort-fraction",
			yaml: `
version: 1
name: abort-fraction
target: {url: "http://127.0.0.1:8080"}
load: {requests: [{path: /}], rate: 100/s, duration: 1m, window: 5s}
verdict: {abort: {error_rate: 0.5, for: 1m, min_requests: 100}}
`,
			want: withDefaults("abort-fraction", func(s *Scenario) {
				s.Target.URL = "http://127.0.0.1:8080"
				s.Load.Requests = []Request{getRoot()}
				s.Load.Rate = Rate{100, time.Second}
				s.Load.Duration = Duration(time.Minute)
				s.Load.Window = Duration(5 * time.Second)
				s.Verdict.Abort = &AbortRule{ErrorRate: 0.5, For: Duration(time.Minute), MinRequests: 100}
			}),
		},
		{
			name: "nulls-and-aliases",
			yaml: `
version: 1
name: nulls-and-aliases
target:
  url: http://127.0.0.1:8080
load:
  requests:
    - &home {path: /}
    - *home
  rate: 1/m
  duration: 1h
  timeout:
  sessions: ~
verdict:
`,
			want: withDefaults("nulls-and-aliases", func(s *Scenario) {
				s.Target.URL = "http://127.0.0.1:8080"
				s.Load.Requests = []Request{getRoot(), getRoot()}
				s.Load.Rate = Rate{1, time.Minute}
				s.Load.Duration = Duration(time.Hour)
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.name+".yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of a parsed scenario: %v", err)
			}

			// The resolved scenario goes into run.json: it must read back
			// the same.
			data, err := json.Marshal(got)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var back Scenario
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("json.Unmarshal(%s): %v", data, err)
			}
			back.File = got.File
			if !reflect.DeepEqual(&back, got) {
				t.Errorf("JSON round trip:\n got %+v\nwant %+v\njson %s", &back, got, data)
			}
		})
	}
}

func TestScenarioJSONIsReadable(t *testing.T) {
	s, err := Parse("closed.yaml", []byte(`
version: 1
name: readable
target: {url: "http://127.0.0.1:8080"}
load:
  requests: [{path: /}]
  start_rate: 5/s
  stages: [{for: 15m, rate: 10/500ms}]
verdict:
  thresholds: ["p99 < 1.5s"]
`))
	if err != nil {
		t.Fatal(err)
	}
	// run.json is written with HTML escaping off, so "<" stays readable.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(buf.String())
	want := `{"version":1,"name":"readable","target":{"url":"http://127.0.0.1:8080"},` +
		`"load":{"requests":[{"method":"GET","path":"/","weight":1}],"start_rate":"5/s",` +
		`"stages":[{"for":"15m","rate":"10/500ms"}],"duration":"15m","timeout":"30s","keepalive":true,"http2":true,` +
		`"sessions":{},"max_workers":128,"window":"1s","revision_header":"X-Revision"},` +
		`"verdict":{"max_errors":0,"min_requests":0,"thresholds":["p99 < 1.5s"],"observe_after_abort":"30s"},"rollback":"on-failure","preflight":"warn",` +
		`"compare":{"as":"readable","max_p50_increase":0.1,"max_p90_increase":0.1,"max_p99_increase":0.1,"max_error_increase":0,` +
		`"max_error_rate_increase":0,"min_requests":100,"settle":"30s"}}`
	if got != want {
		t.Errorf("json.Marshal:\n got %s\nwant %s", got, want)
	}
}

// invalidFixtures maps each file in testdata/invalid to the exact problems
// Parse reports for it.
var invalidFixtures = map[string][]string{
	"four-problems.yaml": {
		`four-problems.yaml:5:1: descripton: unknown key (did you mean "description"?); allowed keys are version, name, description, target, load, verdict, localcloud, actions, rollback, metrics, preflight, compare`,
		`four-problems.yaml:11:9: load.rate: "-5/s": rate must be positive`,
		`four-problems.yaml:12:13: load.duration: "30 seconds": not a duration; write a Go duration such as 30s, 1m30s or 500ms`,
		`four-problems.yaml:14:3: load.timeout: duplicate key; first set on line 13`,
	},
	"bounds.yaml": {
		`bounds.yaml:6:24: load.requests[0].weight: must be between 1 and 10000, got 100000`,
		`bounds.yaml:7:3: load.rate: "1000000000000/s": at most 100000/s, the most one generator sends`,
		`bounds.yaml:8:3: load.duration: must be between 1ms and 24h, got 100000h`,
		`bounds.yaml:9:3: load.timeout: must be between 1ms and 10m, got 1ns`,
		`bounds.yaml:10:3: load.window: must be between 100ms and 1m, got 1ns`,
		`bounds.yaml:11:3: load.max_workers: must be between 1 and 10000, got 1000000`,
		`bounds.yaml:12:3: load.connections: must be at most 10000, got 20000 (0 means no bound)`,
		`bounds.yaml:14:5: load.sessions.count: must be at most 100000, got 1000000000`,
		`bounds.yaml:16:3: verdict.max_errors: must be at most 10000000000, got 100000000000`,
		`bounds.yaml:17:16: verdict.thresholds[0]: "p99 < 2h": 2h is beyond the latencies measured; at most 1h`,
		`bounds.yaml:17:28: verdict.thresholds[1]: "requests > 1e12": 1e12 is not a count a run can reach; at most 10000000000`,
		`bounds.yaml:18:3: verdict.observe_after_abort: must be at most 10m, got 1h`,
	},
	"load-bounds.yaml": {
		`load-bounds.yaml:5:1: load.duration: must be between 1ms and 24h, got 25h1m0.000000001s`,
		`load-bounds.yaml:7:3: load.start_rate: "10/1ns": the time after / must be at least 1ms`,
		`load-bounds.yaml:9:8: load.stages[0].for: must be between 100ms and 24h, got 1ns`,
		`load-bounds.yaml:9:18: load.stages[0].rate: "200000/s": at most 100000/s, the most one generator sends`,
		`load-bounds.yaml:10:8: load.stages[1].for: must be between 100ms and 24h, got 25h`,
		`load-bounds.yaml:10:18: load.stages[1].rate: "0/1ns": the time after / must be at least 1ms`,
		`load-bounds.yaml:11:17: load.stages[2].rate: "1/48h": the time after / must be at most 24h`,
	},
	"closed-bounds.yaml": {
		`closed-bounds.yaml:7:3: load.concurrency: must be at most 10000, got 100000000`,
		`closed-bounds.yaml:10:3: load.window: 100ms over a load of 24h is 864000 windows; at most 86400 (widen the window to 1s)`,
		`closed-bounds.yaml:10:3: load.window: 100ms with a timeout of 2m keeps up to 1200 windows open; at most 600 (widen the window to 200ms or shorten the timeout)`,
	},
	"paths.yaml": {
		`paths.yaml:9:7: load.requests[0].path: "items": must start with /, e.g. /items`,
		`paths.yaml:10:7: load.requests[1].path: "./items": must start with /, e.g. /items`,
		`paths.yaml:11:7: load.requests[2].path: "/a/../../etc/passwd": has a .. segment; write the path it means`,
		`paths.yaml:12:7: load.requests[3].path: "/a/%2e%2e/b": has a .. segment; write the path it means`,
		`paths.yaml:13:7: load.requests[4].path: "/a/.%2E/b": has a .. segment; write the path it means`,
		`paths.yaml:15:7: load.requests[6].path: "?q=1": must start with /, e.g. /?q=1`,
		`paths.yaml:16:7: load.requests[7].url: "http://127.0.0.1:8080/x/../y": the path has a .. segment; write the path it means`,
		"paths.yaml:19:9: load.requests[8].headers.X-A\\r\\nX-B: \"X-A\\r\\nX-B\": not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
		`paths.yaml:20:9: load.requests[8].headers.X-C: "a\r\nInjected: yes": the value must not contain line breaks or other control characters`,
		"paths.yaml:22:9: load.requests[8].headers.X-\\x1b[2J: \"X-\\x1b[2J\": not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
	},
	"abort.yaml": {
		`abort.yaml:10:23: verdict.abort.error_rate: error rate 150% is out of range; write 0% to 100%, or a fraction from 0 to 1`,
		`abort.yaml:10:29: verdict.abort.for: must be between the load window (1s) and the load duration (1m), got 2m`,
		`abort.yaml:10:38: verdict.abort.min_requests: must be between 1 and 10000000000, got 0`,
		`abort.yaml:14:14: verdict.thresholds[2].expr: "p999 < 1s": unknown metric "p999" (did you mean "p99"?); metrics are ` + allMetrics,
		`abort.yaml:15:7: verdict.thresholds[3].expr: required; the expression, e.g. expr: "status_504 == 0"`,
		`abort.yaml:16:36: verdict.thresholds[4].abort: expected true or false, got "yes"`,
		`abort.yaml:16:41: verdict.thresholds[4].stop: unknown key; allowed keys are expr, abort`,
		`abort.yaml:17:14: verdict.thresholds[5].expr: expected a string, got a list`,
		`abort.yaml:18:7: verdict.thresholds[6]: "max < 2s": abort: true needs a metric known while the run goes: a count, error_rate, p50 or p99 (of the last window), not max`,
		`abort.yaml:19:3: verdict.observe_after_abort: must not be negative, got -1s`,
	},
	"abort-required.yaml": {
		`abort-required.yaml:10:3: verdict.abort.error_rate: required, above 0%: the error rate that stops the run, e.g. error_rate: 5%`,
		`abort-required.yaml:10:3: verdict.abort.for: required; how long the error rate must stay above it, e.g. for: 10s`,
	},
	"abort-types.yaml": {
		`abort-types.yaml:11:23: verdict.abort.error_rate: lots is not an error rate; write a percentage (0.1%) or a fraction (0.001)`,
		`abort-types.yaml:11:29: verdict.abort.for: must be between the load window (5s) and the load duration (1m), got 1s`,
		`abort-types.yaml:11:38: verdict.abort.extra: unknown key; allowed keys are error_rate, for, min_requests`,
	},
	"empty.yaml": {
		`empty.yaml:1: empty scenario; start with version: 1`,
	},
	"load-models.yaml": {
		`load-models.yaml:9:3: load.stages: cannot be combined with load.rate; use rate for a constant load or stages for a ramp`,
		`load-models.yaml:12:3: load.concurrency: cannot be combined with load.rate or load.stages; choose the open model (rate, stages) or the closed one (concurrency)`,
	},
	"no-load-model.yaml": {
		`no-load-model.yaml:1:1: version: required; start the file with version: 1`,
		`no-load-model.yaml:1:1: name: required; name the scenario in lower case with dashes, e.g. name: checkout-cutover`,
		`no-load-model.yaml:2:1: load.requests: at least one request is required, e.g. requests: [{path: /}]`,
		`no-load-model.yaml:2:1: load: no load model; set rate (e.g. rate: 100/s), stages (a ramp) or concurrency (a closed model)`,
	},
	"not-a-mapping.yaml": {
		`not-a-mapping.yaml:1:1: a scenario is a mapping with keys version, name, description, target, load, verdict, localcloud, actions, rollback, metrics, preflight, compare; got a list`,
	},
	"ranges.yaml": {
		`ranges.yaml:7:3: load.concurrency: must not be negative, got -4`,
		`ranges.yaml:8:3: load.duration: must be between 1ms and 24h, got -1m`,
		`ranges.yaml:9:3: load.timeout: must be between 1ms and 10m, got 0s`,
		`ranges.yaml:10:3: load.window: must be between 100ms and 1m, got -1s`,
		`ranges.yaml:11:3: load.max_workers: must be between 1 and 10000, got 0`,
		`ranges.yaml:12:3: load.connections: must not be negative, got -1 (0 means no bound)`,
		`ranges.yaml:14:5: load.sessions.count: must not be negative, got -1`,
		`ranges.yaml:15:5: load.sessions.cookies: needs sessions.count of at least 1: each session has its own cookie jar`,
		`ranges.yaml:17:3: verdict.max_errors: must not be negative, got -1`,
		`ranges.yaml:18:3: verdict.min_requests: must not be negative, got -10`,
	},
	"rates.yaml": {
		`rates.yaml:7:15: load.start_rate: "fast": not a rate; write N/s, N/m, N/h or N/<duration>, e.g. 500/s or 10/500ms`,
		`rates.yaml:10:13: load.stages[0].rate: "100": not a rate; write N/s, N/m, N/h or N/<duration>, e.g. 500/s or 10/500ms`,
		`rates.yaml:11:12: load.stages[1].for: "1 minute": not a duration; write a Go duration such as 30s, 1m30s or 500ms`,
		`rates.yaml:12:13: load.stages[1].rate: "1.5/s": the count must be a whole number (write 3/2s, not 1.5/s)`,
		`rates.yaml:13:7: load.stages[2].for: required; how long this ramp lasts, e.g. for: 30s`,
		`rates.yaml:13:13: load.stages[2].rate: "10/0s": the time after / must be positive`,
		`rates.yaml:14:7: load.stages[3].rate: required; the rate this stage ramps to, e.g. rate: 100/s`,
	},
	"requests.yaml": {
		`requests.yaml:7:7: load.requests[0]: set url or path, not both`,
		`requests.yaml:8:7: load.requests[0].path: needs target.url to resolve against (or write an absolute url instead)`,
		`requests.yaml:9:7: load.requests[1]: set url (absolute) or path (resolved against target.url)`,
		`requests.yaml:10:7: load.requests[2].url: "/relative": must be an absolute http:// or https:// URL`,
		`requests.yaml:11:7: load.requests[3].path: needs target.url to resolve against (or write an absolute url instead)`,
		`requests.yaml:12:7: load.requests[4].url: "ftp://127.0.0.1/file": must be an absolute http:// or https:// URL`,
		`requests.yaml:13:7: load.requests[4].method: "GET /": not a valid HTTP method`,
		`requests.yaml:14:7: load.requests[4].weight: must be between 1 and 10000, got 0`,
		"requests.yaml:17:9: load.requests[5].headers.Bad Header: \"Bad Header\": not a valid header name (letters, digits and !#$%&'*+-.^_`|~)",
		`requests.yaml:19:9: load.requests[5].headers.X-Ok: duplicate key; first set on line 18`,
	},
	"syntax-first-line.yaml": {
		`syntax-first-line.yaml:1: invalid YAML: mapping values are not allowed in this context`,
	},
	"syntax-tab.yaml": {
		`syntax-tab.yaml:4: invalid YAML: found character that cannot start any token (tabs cannot indent YAML; use spaces)`,
	},
	"syntax-unclosed.yaml": {
		`syntax-unclosed.yaml:3: invalid YAML: did not find expected ',' or ']'`,
	},
	"thresholds.yaml": {
		`thresholds.yaml:11:7: verdict.thresholds[0]: "p99 < 800xs": 800xs is not a latency; write a duration (800ms, 1.5s) or a number of milliseconds`,
		`thresholds.yaml:12:7: verdict.thresholds[1]: "p999 < 1s": unknown metric "p999" (did you mean "p99"?); metrics are ` + allMetrics,
		`thresholds.yaml:13:7: verdict.thresholds[2]: "status_540 == 0": unknown metric "status_540" (did you mean "status_500"?); metrics are ` + allMetrics,
		`thresholds.yaml:14:7: verdict.thresholds[3]: "p99 800ms": no comparison operator; write METRIC OP VALUE, e.g. "p99 < 800ms", with OP one of < <= > >= == !=`,
		`thresholds.yaml:15:7: verdict.thresholds[4]: "error_rate < 150%": error rate 150% is out of range; write 0% to 100%, or a fraction from 0 to 1`,
		`thresholds.yaml:16:7: verdict.thresholds[5]: "errors = 0": unknown operator "="; write METRIC OP VALUE, e.g. "p99 < 800ms", with OP one of < <= > >= == !=`,
		`thresholds.yaml:17:7: verdict.thresholds[6]: "requests >= 1.5": 1.5 is not a count; write a whole number, 0 or more`,
	},
	"two-documents.yaml": {
		`two-documents.yaml:3:1: a second YAML document; a scenario file holds exactly one (remove the ---)`,
	},
	"version.yaml": {
		`version.yaml:1:1: version: unsupported version 2; this cutover reads version 1`,
		`version.yaml:4:3: target.url: "127.0.0.1:8080": must be an absolute http:// or https:// URL`,
		`version.yaml:7:3: load.rate: "0/s": rate must be positive`,
		`version.yaml:8:3: load.start_rate: only used with stages; remove it or add stages`,
		`version.yaml:10:3: load.revision_header: "X Revision": not a valid header name`,
	},
	"wrong-types.yaml": {
		`wrong-types.yaml:1:10: version: expected an integer, got "1"`,
		`wrong-types.yaml:2:7: name: expected a string, got a list`,
		`wrong-types.yaml:3:9: target: expected a mapping, got "http://127.0.0.1:8080"`,
		`wrong-types.yaml:4:1: load.duration: required; how long load runs, e.g. duration: 5m`,
		`wrong-types.yaml:6:5: load.requests: expected a list, got a mapping`,
		`wrong-types.yaml:7:16: load.concurrency: expected an integer, got "ten"`,
		`wrong-types.yaml:8:14: load.keepalive: expected true or false, got "yes"`,
		`wrong-types.yaml:9:16: load.max_workers: expected an integer, got 1.5`,
		`wrong-types.yaml:10:12: load.timeout: expected a duration such as 30s, got a mapping`,
		`wrong-types.yaml:11:13: load.sessions: expected a mapping, got 100`,
		`wrong-types.yaml:13:15: verdict.thresholds: expected a list, got "p99 < 1s"`,
	},
}

const allMetrics = "p50, p90, p95, p99, max, mean, error_rate, requests, errors, fetch_failed, upstream_timeout, app_fetch_failed, " +
	"ok, status_429, status_500, status_502, status_503, status_504, status_other, " +
	"connect_timeout, connect_refused, conn_reset, eof, response_timeout, tls, dns, transport_other"

func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := invalidFixtures[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected problems in invalidFixtures", f)
		}
	}
	for name, want := range invalidFixtures {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/invalid", name))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(name, data)
			if s != nil {
				t.Errorf("Parse returned a scenario for an invalid file")
			}
			var problems *Problems
			if !errors.As(fmt.Errorf("wrapped: %w", err), &problems) {
				t.Fatalf("Parse error %v (%T) is not a *Problems", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(problems.List) != len(want) {
				t.Errorf("len(Problems.List) = %d, want %d", len(problems.List), len(want))
			}
		})
	}
}

func TestFourProblemsFields(t *testing.T) {
	_, err := LoadFile("testdata/invalid/four-problems.yaml")
	var problems *Problems
	if !errors.As(err, &problems) {
		t.Fatalf("LoadFile: %v, want *Problems", err)
	}
	want := []Problem{
		{File: "testdata/invalid/four-problems.yaml", Line: 5, Col: 1, Path: "descripton"},
		{File: "testdata/invalid/four-problems.yaml", Line: 11, Col: 9, Path: "load.rate"},
		{File: "testdata/invalid/four-problems.yaml", Line: 12, Col: 13, Path: "load.duration"},
		{File: "testdata/invalid/four-problems.yaml", Line: 14, Col: 3, Path: "load.timeout"},
	}
	if len(problems.List) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(problems.List), len(want), err)
	}
	for i, p := range problems.List {
		p.Msg = ""
		if p != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, p, want[i])
		}
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v, want os.ErrNotExist", err)
	}
	var problems *Problems
	if errors.As(err, &problems) {
		t.Errorf("a missing file is not an invalid scenario, got *Problems")
	}
}

func TestValidateInCode(t *testing.T) {
	valid := func() *Scenario {
		s := defaultScenario()
		s.Version, s.Name = 1, "in-code"
		s.Load.Requests = []Request{{Method: "GET", URL: "http://127.0.0.1:9/", Weight: 1}}
		s.Load.Rate = Rate{10, time.Second}
		s.Load.Duration = Duration(time.Second)
		return s
	}
	tests := []struct {
		name string
		edit func(s *Scenario)
		want []string
	}{
		{"valid", func(s *Scenario) {}, nil},
		{"no stage duration", func(s *Scenario) {
			s.Load.Rate = Rate{}
			s.Load.Stages = []Stage{{Rate: Rate{5, time.Second}}}
		}, []string{"load.stages[0].for: required; how long this ramp lasts, e.g. for: 30s"}},
		{"negative rate", func(s *Scenario) { s.Load.Rate = Rate{-1, time.Second} }, []string{
			`load.rate: "-1/s": rate must be positive`,
		}},
		{"bad threshold", func(s *Scenario) {
			s.Verdict.Thresholds = []Threshold{{Metric: "p98", Op: "~", Value: 1}}
		}, []string{
			`verdict.thresholds[0]: "p98 ~ 1": unknown metric "p98" (did you mean "p90"?); metrics are ` + allMetrics,
			`verdict.thresholds[0]: "p98 ~ 1": unknown operator "~"; write METRIC OP VALUE, e.g. "p99 < 800ms", with OP one of < <= > >= == !=`,
		}},
		{"file named", func(s *Scenario) { s.File = "x.yaml"; s.Name = " " }, []string{
			"x.yaml: name: required; name the scenario in lower case with dashes, e.g. name: checkout-cutover",
		}},
		{"cookies without sessions", func(s *Scenario) { s.Load.Sessions.Cookies = true }, []string{
			"load.sessions.cookies: needs sessions.count of at least 1: each session has its own cookie jar",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.edit(s)
			err := s.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var problems *Problems
			if !errors.As(err, &problems) {
				t.Fatalf("Validate: %v, want *Problems", err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.yaml", Line: 3, Col: 5, Path: "load.rate", Msg: "bad"}, "a.yaml:3:5: load.rate: bad"},
		{Problem{File: "a.yaml", Line: 3, Msg: "invalid YAML: x"}, "a.yaml:3: invalid YAML: x"},
		{Problem{File: "a.yaml", Path: "name", Msg: "required"}, "a.yaml: name: required"},
		{Problem{Line: 2, Col: 1, Path: "name", Msg: "required"}, "2:1: name: required"},
		{Problem{Path: "name", Msg: "required"}, "name: required"},
		// One problem is one line, whatever the file held.
		{Problem{File: "a.yaml", Line: 7, Col: 9, Path: "load.requests[0].headers.X-A\r\nX-B", Msg: "\"X-A\\r\\nX-B\": not a valid header name"},
			`a.yaml:7:9: load.requests[0].headers.X-A\r\nX-B: "X-A\r\nX-B": not a valid header name`},
		{Problem{File: "evil\x1b[2J.yaml", Line: 1, Msg: "tab\there, bidi \u202e, bad \xff, nul \x00, fine … é \ufffd"},
			`evil\x1b[2J.yaml:1: tab\there, bidi \u202e, bad \xff, nul \x00, fine … é ` + "\ufffd"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"version", "name", "description", "target", "load", "verdict"}
	tests := map[string]string{
		"descripton": ` (did you mean "description"?)`,
		"Name":       ` (did you mean "name"?)`,
		"verison":    ` (did you mean "version"?)`,
		"timeline":   "",
		"x":          "",
	}
	for in, want := range tests {
		if got := didYouMean(in, keys); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeKinds(t *testing.T) {
	// The Scenario types have no float field yet; this checks the decoder's
	// number handling, and that `yaml:"-"` fields are not keys.
	type sample struct {
		F      float64 `yaml:"f"`
		Hidden string  `yaml:"-"`
		U      uint    `yaml:"u"`
	}
	tests := []struct {
		yaml string
		want sample
		errs []string
	}{
		{yaml: "f: 1.5", want: sample{F: 1.5}},
		{yaml: "f: 2", want: sample{F: 2}},
		{yaml: "f: fast", errs: []string{`x.yaml:1:4: f: expected a number, got "fast"`}},
		{yaml: "hidden: x", errs: []string{`x.yaml:1:1: hidden: unknown key; allowed keys are f, u`}},
		{yaml: "u: 1", errs: []string{`x.yaml:1:4: u: cutover cannot decode a uint here (a bug: the decoder lacks this type)`}},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			d := &decoder{file: "x.yaml", written: map[string]*yaml.Node{}}
			root := d.parseYAML([]byte(tt.yaml))
			var got sample
			d.decode(root, reflect.ValueOf(&got).Elem(), "")
			var msgs []string
			for _, p := range d.problems {
				msgs = append(msgs, p.String())
			}
			if !reflect.DeepEqual(msgs, tt.errs) || got != tt.want {
				t.Errorf("decode(%q) = %+v, %q; want %+v, %q", tt.yaml, got, msgs, tt.want, tt.errs)
			}
		})
	}
	if _, err := Parse("x.yaml", []byte("version: 1\nfile: x.yaml\n")); err == nil ||
		!strings.Contains(err.Error(), "x.yaml:2:1: file: unknown key") {
		t.Errorf(`Parse with a "file" key: %v, want an unknown key problem`, err)
	}
}
