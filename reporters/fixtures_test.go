package reporters

import (
	"encoding/json"
	"strings"
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

// scenarioJSON is v as a record's Scenario.
func scenarioJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
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
		Scenario:      scenarioJSON(sc),
		ScenarioName:  sc.Name,
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
			ByClass: map[results.Class]int64{results.ClassOK: 100}, ByRevision: map[string]int64{rev: 100},
			P50: 8, P99: 20 + float64(i%7),
		})
	}
	run.Totals = results.Totals{Requests: 6000, ByClass: map[results.Class]int64{results.ClassOK: 6000}, ByStatus: map[string]int64{"200": 6000}}
	return run
}

// failRun is a cutover on the local cloud at time scale 10 (a 6 s metric
// period, 60 s simulated): 60 s at 200/s, ten periods. The new revision
// takes traffic at +24.5s, Cloud NAT runs out of ports in periods 5–8
// (+24s..+48s) and the service answers 502 (its outbound fetch failed) and
// 504 (upstream request timeout); a last burst of 504s in period 10 has no
// NAT signal beside it.
const (
	failWindows  = 60      // 1 s windows
	failRate     = 200     // requests per window
	failPeriod   = 6       // seconds per metric period
	failScale    = 10      // the local cloud's time scale
	failErrors   = 90      // in all
	failP99Burst = 10000.5 // p99 of the windows with connect timeouts
)

// failPeriodErrors are failRun's errors per metric period (0-based: index 4
// is the fifth period, +24s..+30s), spread over seconds 1–5 of the period.
var failPeriodErrors = map[int]map[results.Class]int64{
	4: {results.ClassStatus502: 16, results.ClassStatus504: 2},
	5: {results.ClassStatus502: 20, results.ClassStatus504: 8},
	6: {results.ClassStatus502: 8, results.ClassStatus504: 10},
	7: {results.ClassStatus504: 6, results.ClassConnectTimeout: 4},
	9: {results.ClassStatus504: 16},
}

// failSignals are the metric values per period of failRun, by signal key;
// NAT drops are in periods 5–8 (index 4–7).
var failSignals = map[string][]float64{
	"nat_dropped_sent{reason=OUT_OF_RESOURCES}": {0, 0, 0, 0, 310, 1240, 860, 120, 0, 0},
	"nat_allocated_ports":                       {1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024},
	"nat_port_usage":                            {180, 190, 230, 410, 1008, 1024, 1024, 760, 320, 240},
	"nat_open_connections":                      {640, 650, 900, 1500, 3900, 4100, 4000, 2600, 1100, 800},
	"nat_new_connections":                       {1100, 1150, 1600, 2900, 4800, 6200, 5100, 2300, 1400, 1200},
	"run_request_count{response_code_class=5xx,revision_name=web-00002-xyz}": {0, 0, 0, 0, 18, 28, 18, 6, 0, 16},
	"run_instance_count{revision_name=web-00001-abc,state=active}":           {2, 2, 2, 2, 1, 0, 0, 0, 0, 0},
	"run_instance_count{revision_name=web-00002-xyz,state=active}":           {0, 0, 0, 1, 4, 6, 6, 5, 4, 3},
}

// failSignalOrder is the report order of failSignals.
var failSignalOrder = []string{
	"nat_dropped_sent{reason=OUT_OF_RESOURCES}", "nat_allocated_ports", "nat_port_usage", "nat_open_connections",
	"nat_new_connections", "run_request_count{response_code_class=5xx,revision_name=web-00002-xyz}",
	"run_instance_count{revision_name=web-00001-abc,state=active}", "run_instance_count{revision_name=web-00002-xyz,state=active}",
}

// failRun is the nat-exhaustion run the golden reports render: a cutover
// whose errors NAT port exhaustion explains, with its diagnosis.
func failRun() *results.Run {
	run := failRecord()
	failTimeline(run)
	run.Verdict = failVerdict()
	phases := []string{"before", "before", "during", "during", "during", "during", "during", "during", "after", "after"}
	run.Diagnosis = failDiagnosis(run.Timeline, phases)
	run.Series = seriesOf(failSignalOrder, failSignals, failPeriod*time.Second, len(phases))
	run.Findings = failFindings()
	return run
}

// failRecord is failRun's record before its timeline: the scenario, the
// load, the cutover and its events.
func failRecord() *results.Run {
	return &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-nat-exhaustion-9c1e",
		ScenarioName:  "nat-exhaustion",
		Scenario: scenarioJSON(map[string]any{
			"version": 1,
			"name":    "nat-exhaustion",
			"target":  map[string]any{"url": "https://api.example.test"},
			"load": map[string]any{
				"rate": "200/s", "duration": "1m",
				"requests": []any{map[string]any{
					"method": "GET", "path": "/checkout",
					"headers": map[string]any{"Authorization": "Bearer sekrit-header-value", "Accept": "application/json"},
				}},
			},
		}),
		ToolVersion: "v0.1.0",
		State:       results.StateComplete,
		StartedAt:   start,
		EndedAt:     at(70 * time.Second),
		Load: results.LoadInfo{Model: "open", AskedRate: 200, AchievedRate: 199.4, Duration: 60, Workers: 512,
			Sessions: 50, SessionRepins: 12},
		Latency: results.Latency{P50: 22.5, P90: 48, P95: 310, P99: 2400, Max: 10012, Mean: 61.25},
		Cutover: &results.Cutover{
			Service:           "projects/demo/locations/asia-northeast1/services/web",
			BaselineRevision:  "web-00001-abc",
			TrafficBefore:     "LATEST=100%",
			RestoreTo:         "web: web-00001-abc=100%",
			DeployedRevisions: []string{"web-00002-xyz"},
			Rollback:          "on-failure",
			Restored:          true,
			Left:              results.LeftRestored,
			Target:            results.PlatformTarget{Platform: "cloudrun", Project: "demo", Region: "asia-northeast1"},
			Services: []results.ServiceRestore{{Name: "web", Resource: "projects/demo/locations/asia-northeast1/services/web",
				Split: []results.TrafficTarget{{Revision: "web-00001-abc", Percent: 100}}, Changed: true}},
		},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(12 * time.Second), Details: map[string]string{"image": "api:v2", "revision_suffix": "v2"}},
			{Kind: "revision-ready", At: at(20500 * time.Millisecond), Details: map[string]string{"revision": "web-00002-xyz"}},
			{Kind: "traffic-applied", At: at(24500 * time.Millisecond), Details: map[string]string{"revision": "web-00002-xyz", "percent": "100"}},
			{Kind: "note", At: at(40 * time.Second), Details: map[string]string{"message": "probe https://h.test/?token=sekrit-event-value failed", "api_token": "sekrit-token"}},
			{Kind: "rollback-done", At: at(61 * time.Second), Details: map[string]string{"restored": "web-00001-abc=100%"}},
		},
	}
}

// failTimeline adds failRun's windows and totals: failRate requests a
// second, failPeriodErrors spread over each period's seconds 1–5.
func failTimeline(run *results.Run) {
	totals := map[results.Class]int64{}
	for i := range failWindows {
		w := results.Window{Start: at(time.Duration(i) * time.Second), Requests: failRate, ByClass: map[results.Class]int64{}, P50: 22, P99: 45}
		k, sec := i/failPeriod, i%failPeriod
		for class, n := range failPeriodErrors[k] {
			// Spread n over seconds 1–5 of the period, the remainder first.
			if sec == 0 {
				continue
			}
			share := n / (failPeriod - 1)
			if int64(sec) <= n%(failPeriod-1) {
				share++
			}
			if share == 0 {
				continue
			}
			w.ByClass[class] += share
			w.Errors += share
			switch class {
			case results.ClassStatus502:
				w.ByClass[results.AppFetchFailed] += share
				w.P99 = max(w.P99, 3000)
			case results.ClassStatus504:
				w.ByClass[results.UpstreamTimeout] += share
				w.P99 = max(w.P99, 5000)
			case results.ClassConnectTimeout:
				w.ByClass[results.FetchFailed] += share
				w.P99 = failP99Burst
			}
		}
		addWindow(run, totals, w)
	}
	run.Totals.ByClass = totals
}

// failVerdict is failRun's verdict: a fail with three broken thresholds.
func failVerdict() results.Verdict {
	return results.Verdict{
		Status: results.StatusFail,
		Reasons: []string{
			"90 errors in the verdict window (max_errors 0)",
			"3 thresholds failed",
			"cause: nat-port-exhaustion (high confidence, primary cause of 74 of 90 errors)",
			"cause: upstream-timeout (medium confidence, primary cause of 16 of 90 errors)",
		},
		ErrorRateUpper95: 0.00921,
		Thresholds: []results.ThresholdResult{
			{Expr: "p99 < 800ms", Actual: 2400, Pass: false},
			{Expr: "status_504 == 0", Actual: 42, Pass: false},
			{Expr: "fetch_failed == 0", Actual: 4, Pass: false},
			{Expr: "p50 < 100ms", Actual: 22.5, Pass: true},
		},
	}
}

// failDiagnosis is failRun's diagnosis over its timeline, with the
// affinity finding ruled out.
func failDiagnosis(timeline []results.Window, phases []string) *results.Diagnosis {
	return &results.Diagnosis{
		Metrics: results.MetricsCovered, Period: failPeriod, TimeScale: failScale, Settle: 18, Waited: 24,
		Signals: failSignalOrder,
		Buckets: bucketsOf(timeline, failPeriod*time.Second, phases, failSignals),
		RuledOut: []results.Finding{{
			Cause: "affinity-broken", Confidence: "medium",
			RuledOut: "it explains no client error",
			Evidence: []string{
				"12 of 50 sessions with an affinity cookie (24%) were re-pinned to another instance during the run (their X-Instance changed); the new revision took traffic at 23:37:18 UTC (deploy-start +9s): affinity is best effort and a revision switch breaks it.",
				"No 4xx beyond the pre-cutover rate during the cutover; the errors there were: status_502 44, status_504 26, connect_timeout 4; of them app_fetch_failed 44, upstream_timeout 26, fetch_failed 4.",
				"Confidence medium: sessions were re-pinned, but no session error (4xx) rose with it.",
			},
		}},
	}
}

// failFindings are failRun's causes: NAT port exhaustion, then the upstream
// timeouts it mostly explains.
func failFindings() []results.Finding {
	return []results.Finding{
		{
			Cause: "nat-port-exhaustion", Confidence: "high", Explained: 74, Primary: 74,
			AlsoConsistent: []string{"upstream-timeout"},
			Evidence: []string{
				"Cloud NAT dropped 2,530 packets with reason OUT_OF_RESOURCES during the cutover, in 4 of its 6 periods of 6 s (23:37:22–23:37:46 UTC, deploy-start +12s to +36s); 0 before the first deploy-start.",
				"74 of the 90 client errors (82%) fell in periods with drops; per period, errors and drops correlate with r = 0.93 at lag 0 and best r = 0.93 at lag 0 (of ±2 periods; a positive lag means the metric moves after the errors).",
				"During the cutover, 74 errors fell in periods with drops (status_502 44, status_504 26, connect_timeout 4; of them app_fetch_failed 44, upstream_timeout 26, fetch_failed 4), all above the pre-cutover rate of 0%.",
				"nat_port_usage peaked at 1,024 ports on one endpoint in those periods, with 1,024 allocated.",
				"Cloud NAT counted 2,250 new connections and 0 dropped packets (connection attempts) against 2,400 requests before the cutover, 0.94 per request: a new outbound connection for most requests, as without keep-alive.",
				"Confidence high: co-occurrence 82% ≥ 80% and correlation 0.93 ≥ 0.60 at lag 0 (within ±1).",
			},
			Remedy: []string{
				"Connect to Cloud SQL / the database by its private IP, so that traffic does not leave through Cloud NAT (a private vs public destination is what matters, not socket vs host).",
				"Use Direct VPC egress with private-ranges-only instead of all-traffic, so only internet-bound traffic uses NAT.",
				"Make self-calls (the service calling its own public URL or a proxy in front of it) on 127.0.0.1 instead, so no traffic hairpins through NAT.",
				"Give NAT more room: more min ports per VM, dynamic port allocation, more NAT IPs, or a shorter TCP TIME_WAIT timeout (e.g. 30 s).",
				"Reuse outbound connections: turn on keep-alive with a pooled HTTP agent instead of a new connection per call, so each call does not take a NAT port for TIME_WAIT.",
			},
		},
		{
			Cause: "upstream-timeout", Confidence: "medium", Explained: 42, Primary: 16,
			Evidence: []string{
				"42 responses were 504 upstream request timeout (47% of all errors), 23:37:22–23:37:58 UTC, deploy-start +12s to +48s.",
				"62% of them fell in or next to periods with Cloud NAT drops or allocation failures: most likely the same cause, an outbound connection that stalled until the request timed out.",
				"Confidence medium: the timeouts are measured, the slow dependency is not named.",
				"It is the primary cause of 16 of the 42 errors its evidence covers; the other 26 are attributed first to nat-port-exhaustion, a stronger or more specific cause.",
			},
			Remedy: []string{
				"Find the slow or failing dependency first: outbound calls through Cloud NAT, the database, the service's own self-calls; it is often the same NAT cause.",
				"Raise the route / request timeout only after the dependency is fixed; set outbound connect timeouts below the request timeout so failures are fast.",
			},
		},
	}
}

// bucketsOf buckets a timeline into metric periods from the start of the
// run, as the diagnosis does, with the given phases and signal values.
func bucketsOf(timeline []results.Window, period time.Duration, phases []string, signals map[string][]float64) []results.Bucket {
	buckets := make([]results.Bucket, len(phases))
	for k := range buckets {
		b := &buckets[k]
		b.Start, b.End, b.Phase = at(time.Duration(k)*period), at(time.Duration(k+1)*period), phases[k]
		for key, vals := range signals {
			if k < len(vals) && vals[k] != 0 {
				if b.Signals == nil {
					b.Signals = map[string]float64{}
				}
				b.Signals[key] = vals[k]
			}
		}
	}
	for _, w := range timeline {
		k := int(w.Start.Sub(start) / period)
		if k < 0 || k >= len(buckets) {
			continue
		}
		b := &buckets[k]
		b.Requests += w.Requests
		b.Errors += w.Errors
		for c, n := range w.ByClass {
			if c != results.ClassOK && n > 0 {
				if b.ByClass == nil {
					b.ByClass = map[results.Class]int64{}
				}
				b.ByClass[c] += n
			}
		}
	}
	return buckets
}

// seriesOf makes the fetched series behind signal values: one series per
// key, a point per period for the first n periods.
func seriesOf(keys []string, signals map[string][]float64, period time.Duration, n int) []results.Series {
	var out []results.Series
	for _, key := range keys {
		query, labels, _ := strings.Cut(key, "{")
		s := results.Series{Query: results.Query(query), MetricType: "test.example/" + query}
		if labels != "" {
			s.Labels = map[string]string{}
			for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				s.Labels[k] = v
			}
		}
		for k := 0; k < n && k < len(signals[key]); k++ {
			s.Points = append(s.Points, results.Point{Start: at(time.Duration(k) * period), End: at(time.Duration(k+1) * period), Value: signals[key][k]})
		}
		out = append(out, s)
	}
	return out
}

// missingSignals are what metrics arrived for missingRun: NAT up to the
// end of period 2, Cloud Run up to the end of period 3, of five.
var missingSignals = map[string][]float64{
	"nat_port_usage":      {120, 340},
	"nat_new_connections": {900, 2100},
	"run_instance_count{revision_name=web-00007-def,state=active}": {3, 2, 0},
	"run_instance_count{revision_name=web-00008-ghi,state=active}": {0, 3, 5},
}

// missingRun is a 5-minute cutover against a real cloud (60 s periods)
// whose metrics never reached the end of the run: errors at the cutover,
// and nothing to explain them with.
func missingRun() *results.Run {
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-egress-check-51d2",
		Scenario:      scenarioJSON(map[string]any{"version": 1, "name": "egress-check"}),
		ScenarioName:  "egress-check",
		ToolVersion:   "v0.1.0",
		State:         results.StateComplete,
		StartedAt:     start,
		EndedAt:       at(9*time.Minute + 20*time.Second),
		Load:          results.LoadInfo{Model: "open", AskedRate: 50, AchievedRate: 50, Duration: 300, Workers: 128},
		Latency:       results.Latency{P50: 31, P90: 52, P95: 70, P99: 240, Max: 3050, Mean: 36.5},
		Cutover: &results.Cutover{
			Service:           "projects/demo/locations/europe-west1/services/web",
			BaselineRevision:  "web-00007-def",
			TrafficBefore:     "LATEST=100%",
			RestoreTo:         "web: web-00007-def=100%",
			DeployedRevisions: []string{"web-00008-ghi"},
			Rollback:          "never",
			Left:              results.LeftAsSet,
		},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(time.Minute), Details: map[string]string{"image": "web:v8"}},
			{Kind: "revision-ready", At: at(95 * time.Second), Details: map[string]string{"revision": "web-00008-ghi"}},
			{Kind: "traffic-applied", At: at(100 * time.Second), Details: map[string]string{"revision": "web-00008-ghi", "percent": "100"}},
		},
	}
	totals := map[results.Class]int64{}
	for i := range 300 {
		w := results.Window{Start: at(time.Duration(i) * time.Second), Requests: 50, ByClass: map[results.Class]int64{}, P50: 31, P99: 60}
		if i >= 100 && i < 111 {
			w.ByClass[results.ClassStatus503] = 3
			w.Errors = 3
			w.P99 = 240
		}
		if i == 105 {
			w.ByClass[results.ClassConnReset] = 4
			w.ByClass[results.FetchFailed] = 4
			w.Errors += 4
		}
		addWindow(run, totals, w)
	}
	run.Totals.ByClass = totals
	run.Verdict = results.Verdict{
		Status: results.StatusInconclusive,
		Reasons: []string{
			"37 errors in the verdict window (max_errors 0)",
			"metrics missing: the errors cannot be explained without the platform's metrics",
		},
		ErrorRateUpper95: 0.0034,
		Thresholds:       []results.ThresholdResult{{Expr: "p99 < 800ms", Actual: 240, Pass: true}},
	}
	keys := []string{
		"nat_port_usage", "nat_new_connections",
		"run_instance_count{revision_name=web-00007-def,state=active}", "run_instance_count{revision_name=web-00008-ghi,state=active}",
	}
	run.Diagnosis = &results.Diagnosis{
		Metrics: results.MetricsMissing,
		Note:    "not covered after 4m10s: the newest nat_port_usage point ends 23:38:58 UTC, the load ended 23:41:58 UTC",
		Period:  60, Settle: 150, Waited: 250,
		Signals:     keys,
		Unexplained: 37, // no finding without the metrics
		Buckets:     bucketsOf(run.Timeline, time.Minute, []string{"before", "during", "during", "during", "after"}, missingSignals),
	}
	for _, key := range keys {
		run.Series = append(run.Series, seriesOf([]string{key}, missingSignals, time.Minute, len(missingSignals[key]))...)
	}
	return run
}

// inconclusiveRun is a 10-minute run whose generator could not keep up, with
// errors scattered too widely for an exact timeline, and 2 s windows.
func inconclusiveRun() *results.Run {
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-ramp-to-1000-0b7d",
		Scenario:      scenarioJSON(map[string]any{"version": 1, "name": "ramp-to-1000"}),
		ScenarioName:  "ramp-to-1000",
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
	totals := map[results.Class]int64{}
	for i := range 300 {
		w := results.Window{Start: at(time.Duration(i) * 2 * time.Second), Requests: 1225, ByClass: map[results.Class]int64{}, P50: 300, P99: 900 + float64(i%11)*10}
		if i%13 == 5 {
			w.ByClass[results.ClassStatus503] = 2
			w.Errors = 2
		}
		if i%29 == 7 {
			w.ByClass[results.ClassConnReset]++
			w.ByClass[results.FetchFailed]++
			w.Errors++
		}
		addWindow(run, totals, w)
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

// imageMissingRun is S4 without churn on the local cloud (time scale 10,
// 6 s periods): the deploy's image was deleted, the new revision never
// became ready, the old one kept serving and no client saw an error. The
// run fails on the action alone.
func imageMissingRun() *results.Run {
	const image = "europe-docker.pkg.dev/demo/web/web@sha256:0bad"
	failed := `deploy to service "web": revision "web-00003-img" failed: Image '` + image + `' not found.`
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-image-missing-77aa",
		Scenario:      scenarioJSON(map[string]any{"version": 1, "name": "image-missing"}),
		ScenarioName:  "image-missing",
		ToolVersion:   "v0.1.0",
		State:         results.StateComplete,
		StartedAt:     start,
		EndedAt:       at(40 * time.Second),
		Load:          results.LoadInfo{Model: "open", AskedRate: 100, AchievedRate: 100, Duration: 30, Workers: 64},
		Latency:       results.Latency{P50: 12, P90: 20, P95: 24, P99: 40, Max: 95, Mean: 13.5},
		Cutover: &results.Cutover{
			Service:          "projects/demo/locations/europe-west1/services/web",
			BaselineRevision: "web-00002-abc",
			TrafficBefore:    "LATEST=100%",
			RestoreTo:        "web: web-00002-abc=100%",
			FailedAction:     "deploy web: " + failed,
			Rollback:         "on-failure",
			Left:             results.LeftUnchanged,
		},
		Events: []results.Event{
			{Kind: "deploy-start", At: at(6 * time.Second), Details: map[string]string{"image": image}},
			{Kind: "action-failed", At: at(12500 * time.Millisecond), Details: map[string]string{"action": "0", "error": failed}},
		},
		Verdict: results.Verdict{
			Status: results.StatusFail,
			Reasons: []string{
				"action failed: deploy web: " + failed,
				"0 errors in 3,000 requests in the verdict window (min_requests 1000)",
				"cause: revision-not-ready (high confidence)",
			},
			ErrorRateUpper95: 0.001,
		},
	}
	totals := map[results.Class]int64{}
	for i := range 30 {
		addWindow(run, totals, results.Window{Start: at(time.Duration(i) * time.Second), Requests: 100, ByClass: map[results.Class]int64{}, P50: 12, P99: 30})
	}
	run.Totals.ByClass = totals
	signals := map[string][]float64{
		"nat_dropped_sent{reason=OUT_OF_RESOURCES}": {0, 0, 0, 0, 0},
		"nat_port_usage": {40, 42, 41, 40, 40},
		"run_instance_count{revision_name=web-00002-abc,state=active}": {2, 2, 2, 2, 2},
	}
	keys := []string{"nat_dropped_sent{reason=OUT_OF_RESOURCES}", "nat_port_usage", "run_instance_count{revision_name=web-00002-abc,state=active}"}
	run.Diagnosis = &results.Diagnosis{
		Metrics: results.MetricsCovered, Period: 6, TimeScale: 10, Settle: 18, Waited: 18,
		Signals: keys,
		Buckets: bucketsOf(run.Timeline, 6*time.Second, []string{"before", "during", "during", "during", "during"}, signals),
	}
	run.Series = seriesOf(keys, signals, 6*time.Second, 5)
	run.Findings = []results.Finding{{
		Cause: "revision-not-ready", Confidence: "high",
		Evidence: []string{
			"Action 0 failed at 23:37:10 UTC (deploy-start +7s): " + strings.TrimSuffix(failed, ".") + ".",
			"No client saw an error: the old revision kept serving. The failed action, not the clients, failed the run.",
			"Confidence high: the platform reported the failure.",
		},
		Remedy: []string{
			"The image is missing: redeploy with an image that exists (pin the digest of one that is still in the registry).",
			"Keep more images: a lifecycle policy that keeps the last N images can delete the one production runs; tag production images so only unused ones expire, and keep builds for each environment apart.",
			"Deploy to production more often, so the image it runs is never the oldest.",
		},
	}}
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
	{"metrics-missing", missingRun},
	{"image-missing", imageMissingRun},
	{"ecr-image-expired", ecsImageExpiredRun},
}

// addWindow counts w's remaining requests as ok and appends it to the
// fixture's timeline and totals.
func addWindow(run *results.Run, totals map[results.Class]int64, w results.Window) {
	w.ByClass[results.ClassOK] = w.Requests - w.Errors
	for c, n := range w.ByClass {
		totals[c] += n
	}
	run.Totals.Requests += w.Requests
	run.Totals.Errors += w.Errors
	run.Timeline = append(run.Timeline, w)
}
