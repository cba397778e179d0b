package reporters

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

var start = time.Date(2026, 11, 23, 23, 36, 58, 0, time.UTC)

// testScenario stands in for scenarios.Scenario: a struct the reporters know
// only through its JSON.
type testScenario struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Load    struct {
		Rate     string            `json:"rate"`
		Duration string            `json:"duration"`
		Headers  map[string]string `json:"headers"`
	} `json:"load"`
}

func at(d time.Duration) time.Time { return start.Add(d) }

// passRun is a clean 60 s cutover at 100/s.
func passRun() *results.Run {
	sc := testScenario{Version: 1, Name: "smoke"}
	sc.Load.Rate, sc.Load.Duration = "100/s", "1m"
	sc.Load.Headers = map[string]string{"Content-Type": "application/json"}
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-smoke-3f9a",
		Scenario:      sc,
		ToolVersion:   "v0.1.0",
		State:         results.StateComplete,
		StartedAt:     start,
		EndedAt:       at(65 * time.Second),
		Load:          results.LoadInfo{Model: "open", AskedRate: 100, AchievedRate: 100, Duration: 60, Workers: 512},
		Latency:       results.Latency{P50: 8.25, P90: 14.5, P95: 19.5, P99: 31.75, Max: 120.5, Mean: 9.125},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(20 * time.Second), Details: map[string]string{"image": "api:v2"}},
			{Kind: "revision-ready", At: at(34500 * time.Millisecond), Details: map[string]string{"revision": "api-00042"}},
			{Kind: "traffic-serving", At: at(35 * time.Second), Details: map[string]string{"revision": "api-00042", "percent": "100"}},
		},
		Verdict: results.Verdict{
			Status:           results.StatusPass,
			Reasons:          []string{"0 errors in 6,000 requests in the verdict window (min_requests 1000)"},
			ErrorRateUpper95: 3.0 / 6000,
			Thresholds: []results.ThresholdResult{
				{Expr: "p99 < 800ms", Actual: 31.75, Pass: true},
				{Expr: "errors == 0", Actual: 0, Pass: true},
			},
		},
	}
	for i := range 60 {
		rev := "api-00041"
		if i >= 35 {
			rev = "api-00042"
		}
		run.Timeline = append(run.Timeline, results.Window{
			Start: at(time.Duration(i) * time.Second), Requests: 100,
			ByClass: map[string]int64{results.ClassOK: 100}, ByRevision: map[string]int64{rev: 100},
			P50: 8, P99: 20 + float64(i%7),
		})
	}
	run.Totals = results.Totals{Requests: 6000, ByClass: map[string]int64{results.ClassOK: 6000}}
	return run
}

// Windows of failRun's error bursts.
const (
	connectTimeoutFrom, connectTimeoutTo = 62, 71  // connect_timeout, 20 per window
	gatewayFrom, gatewayTo               = 95, 99  // status_504 upstream timeouts, 15 per window
	stray504                             = 130     // one stray 504
	failWindows                          = 180     // 3 minutes at 200/s
	failRate                             = 200     // requests per window
	failP99Burst                         = 10000.5 // p99 during the connect timeouts
)

// failRun is a NAT-exhaustion cutover: connect timeouts right after the new
// revision takes traffic, then a few upstream 504s.
func failRun() *results.Run {
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-nat-exhaustion-9c1e",
		Scenario: map[string]any{
			"version": 1,
			"name":    "nat-exhaustion",
			"target":  map[string]any{"url": "https://api.example.test"},
			"load": map[string]any{
				"rate": "200/s", "duration": "3m",
				"requests": []any{map[string]any{
					"method": "GET", "path": "/checkout",
					"headers": map[string]any{"Authorization": "Bearer sekrit-header-value", "Accept": "application/json"},
				}},
			},
		},
		ToolVersion: "v0.1.0",
		State:       results.StateComplete,
		StartedAt:   start,
		EndedAt:     at(190 * time.Second),
		Load:        results.LoadInfo{Model: "open", AskedRate: 200, AchievedRate: 199.4, Duration: 180, Workers: 512, Sessions: 50},
		Latency:     results.Latency{P50: 22.5, P90: 48, P95: 310, P99: 2400, Max: 10012, Mean: 61.25},
		Cutover: &results.Cutover{
			Service:           "projects/demo/locations/asia-northeast1/services/web",
			BaselineRevision:  "web-00001-abc",
			TrafficBefore:     "LATEST=100%",
			RestoreTo:         "web: web-00001-abc=100%",
			DeployedRevisions: []string{"web-00002-xyz"},
			Rollback:          "on-failure",
			Restored:          true,
		},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(45 * time.Second), Details: map[string]string{"image": "api:v2", "revision_suffix": "v2"}},
			{Kind: "revision-ready", At: at(58 * time.Second), Details: map[string]string{"revision": "api-00042"}},
			{Kind: "traffic-serving", At: at(61 * time.Second), Details: map[string]string{"revision": "api-00042", "percent": "100"}},
			{Kind: "note", At: at(100 * time.Second), Details: map[string]string{"message": "probe sent Authorization: Bearer sekrit-event-value", "api_token": "sekrit-token"}},
		},
	}
	totals := map[string]int64{}
	for i := range failWindows {
		w := results.Window{Start: at(time.Duration(i) * time.Second), Requests: failRate, ByClass: map[string]int64{}, P50: 22, P99: 45}
		switch {
		case i >= connectTimeoutFrom && i < connectTimeoutTo:
			w.ByClass[results.ClassConnectTimeout] = 20
			w.ByClass[results.FetchFailed] = 20
			w.P99 = failP99Burst
		case i >= gatewayFrom && i < gatewayTo:
			w.ByClass[results.ClassStatus504] = 15
			w.ByClass[results.UpstreamTimeout] = 15
			w.P99 = 5000
		case i == stray504:
			w.ByClass[results.ClassStatus504] = 1
		}
		for c, n := range w.ByClass {
			if c != results.FetchFailed && c != results.UpstreamTimeout {
				w.Errors += n
			}
		}
		w.ByClass[results.ClassOK] = w.Requests - w.Errors
		for c, n := range w.ByClass {
			totals[c] += n
		}
		run.Totals.Requests += w.Requests
		run.Totals.Errors += w.Errors
		run.Timeline = append(run.Timeline, w)
	}
	run.Totals.ByClass = totals
	run.Verdict = results.Verdict{
		Status: results.StatusFail,
		Reasons: []string{
			"241 errors in the verdict window (max_errors 0)",
			"3 thresholds failed",
		},
		ErrorRateUpper95: 0.00755,
		Thresholds: []results.ThresholdResult{
			{Expr: "p99 < 800ms", Actual: 2400, Pass: false},
			{Expr: "status_504 == 0", Actual: 61, Pass: false},
			{Expr: "fetch_failed == 0", Actual: 180, Pass: false},
			{Expr: "p50 < 100ms", Actual: 22.5, Pass: true},
		},
	}
	return run
}

// inconclusiveRun is a 10-minute run whose generator could not keep up, with
// errors scattered too widely for an exact timeline, and 2 s windows.
func inconclusiveRun() *results.Run {
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-ramp-to-1000-0b7d",
		Scenario:      map[string]any{"version": 1, "name": "ramp-to-1000"},
		ToolVersion:   "v0.1.0",
		State:         results.StateAborted,
		StartedAt:     start,
		EndedAt:       at(10*time.Minute + 2*time.Second),
		Load: results.LoadInfo{
			Model: "open", AskedRate: 1000, AchievedRate: 612.5, Duration: 600, Workers: 512,
			Saturated: true, SaturationReason: "achieved 612.5/s of 1000/s asked; all 512 workers busy",
		},
		Latency: results.Latency{P50: 310, P90: 790, P95: 1100, P99: 1500, Max: 30000, Mean: 402.5},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(2 * time.Minute)},
			{Kind: "aborted", At: at(10 * time.Minute), Details: map[string]string{"signal": "interrupt"}},
		},
	}
	totals := map[string]int64{}
	for i := range 300 {
		w := results.Window{Start: at(time.Duration(i) * 2 * time.Second), Requests: 1225, ByClass: map[string]int64{}, P50: 300, P99: 900 + float64(i%11)*10}
		if i%13 == 5 {
			w.ByClass[results.ClassStatus503] = 2
			w.Errors = 2
		}
		if i%29 == 7 {
			w.ByClass[results.ClassConnReset]++
			w.ByClass[results.FetchFailed]++
			w.Errors++
		}
		w.ByClass[results.ClassOK] = w.Requests - w.Errors
		for c, n := range w.ByClass {
			totals[c] += n
		}
		run.Totals.Requests += w.Requests
		run.Totals.Errors += w.Errors
		run.Timeline = append(run.Timeline, w)
	}
	run.Totals.ByClass = totals
	run.Verdict = results.Verdict{
		Status:           results.StatusInconclusive,
		Reasons:          []string{"load generator saturated: achieved 61% of the asked rate"},
		ErrorRateUpper95: 0.00031,
		Thresholds: []results.ThresholdResult{
			{Expr: "p99 < 800ms", Actual: 1500, Pass: false},
			{Expr: "status_429 == 0", Actual: 0, Pass: true},
		},
	}
	return run
}

// fixtures are the runs rendered into golden files.
var fixtures = []struct {
	name string
	run  func() *results.Run
}{
	{"pass", passRun},
	{"fail", failRun},
	{"inconclusive", inconclusiveRun},
}
