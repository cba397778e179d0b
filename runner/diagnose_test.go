package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
	"github.com/cutover-dev/cutover/scenarios"
)

// fakeMetrics is a MetricSource whose coverage and series are scripted.
type fakeMetrics struct {
	fetches      atomic.Int64
	coveredAfter int64 // the fetch that first reports covered; 0: never
	err          error
	series       func(start, end time.Time, period time.Duration) []results.Series
}

func (f *fakeMetrics) Fetch(ctx context.Context, start, end time.Time, period time.Duration) ([]results.Series, bool, error) {
	n := f.fetches.Add(1)
	if f.err != nil {
		return nil, false, f.err
	}
	var s []results.Series
	if f.series != nil {
		s = f.series(start, end, period)
	}
	return s, f.coveredAfter > 0 && n >= f.coveredAfter, nil
}

func TestAwaitMetrics(t *testing.T) {
	rejected := fmt.Errorf("%w: bad filter", ErrMetricsRejected)
	tests := []struct {
		name       string
		src        *fakeMetrics
		plan       metricsPlan
		covered    bool
		minFetches int64
		maxFetches int64
		noteHas    string
	}{
		{name: "covered at once", src: &fakeMetrics{coveredAfter: 1},
			plan: metricsPlan{period: 10 * time.Millisecond, maxWait: time.Minute}, covered: true, minFetches: 1, maxFetches: 1},
		{name: "re-queries every period until covered", src: &fakeMetrics{coveredAfter: 3},
			plan:    metricsPlan{settle: 5 * time.Millisecond, period: 10 * time.Millisecond, maxWait: time.Minute},
			covered: true, minFetches: 3, maxFetches: 3},
		// The queries stand on the grid settle+k·period and the last is at
		// max_wait exactly: 0, 20, 40, 60, 80, 100 ms.
		{name: "gives up after the query at max_wait", src: &fakeMetrics{},
			plan:       metricsPlan{period: 20 * time.Millisecond, maxWait: 100 * time.Millisecond},
			minFetches: 6, maxFetches: 6, noteHas: "after the load (metrics.max_wait 100ms): the points do not reach"},
		{name: "covered by the query at max_wait", src: &fakeMetrics{coveredAfter: 6},
			plan:    metricsPlan{period: 20 * time.Millisecond, maxWait: 100 * time.Millisecond},
			covered: true, minFetches: 6, maxFetches: 6},
		{name: "a transient fetch error is retried", src: &fakeMetrics{err: errors.New("unavailable")},
			plan:       metricsPlan{period: 20 * time.Millisecond, maxWait: 100 * time.Millisecond},
			minFetches: 6, maxFetches: 6, noteHas: "fetch failed: unavailable"},
		{name: "a rejected query stops the wait", src: &fakeMetrics{err: rejected},
			plan:       metricsPlan{period: 10 * time.Millisecond, maxWait: 5 * time.Second},
			minFetches: 1, maxFetches: 1, noteHas: "metrics query rejected: bad filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end := time.Now()
			var phases []Progress
			got := awaitMetrics(context.Background(), tt.src, tt.plan, end.Add(-time.Minute), end, time.Now,
				func(p Progress) { phases = append(phases, p) })
			if got.covered != tt.covered {
				t.Errorf("covered %v, want %v (note %q)", got.covered, tt.covered, got.note)
			}
			if n := tt.src.fetches.Load(); n < tt.minFetches || n > tt.maxFetches {
				t.Errorf("%d fetches, want %d..%d", n, tt.minFetches, tt.maxFetches)
			}
			if !strings.Contains(got.note, tt.noteHas) {
				t.Errorf("note %q, want it to contain %q", got.note, tt.noteHas)
			}
			if len(phases) == 0 || phases[0].Phase != PhaseMetrics || phases[len(phases)-1].Total != tt.plan.maxWait {
				t.Errorf("progress %+v, want metrics-phase updates against max_wait", phases)
			}
		})
	}
}

func TestWaitInPlatformTime(t *testing.T) {
	for _, tt := range []struct {
		plan metricsPlan
		d    time.Duration
		want string
	}{
		{metricsPlan{}, 4 * time.Minute, "4m0s"},
		{metricsPlan{timeScale: 10}, 24 * time.Second, "24s (4m0s simulated)"},
		{metricsPlan{timeScale: 20}, 1234 * time.Millisecond, "1.2s (24s simulated)"},
	} {
		if got := tt.plan.platform(tt.d); got != tt.want {
			t.Errorf("platform(%s) at scale %d = %q, want %q", tt.d, tt.plan.timeScale, got, tt.want)
		}
	}
}

func TestAwaitMetricsStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &fakeMetrics{coveredAfter: 1}
	end := time.Now()
	got := awaitMetrics(ctx, src, metricsPlan{settle: time.Hour, maxWait: 2 * time.Hour, period: time.Minute},
		end.Add(-time.Minute), end, time.Now, func(Progress) { cancel() })
	if got.covered || src.fetches.Load() != 0 || !strings.Contains(got.note, "interrupted") {
		t.Errorf("covered %v after %d fetches, note %q; want an interrupted wait with no fetch", got.covered, src.fetches.Load(), got.note)
	}
}

// errorServer answers 200 until the deploy switches it to 502 "fetch
// failed" for a while; it remembers when it sent each error.
type errorServer struct {
	mu     sync.Mutex
	until  time.Time
	errors []time.Time
}

func (s *errorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Before(s.until) {
		s.errors = append(s.errors, now)
		http.Error(w, "TypeError: fetch failed", http.StatusBadGateway)
	}
}

func (s *errorServer) failFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.until = time.Now().Add(d)
}

// drops returns a NAT drop series that is non-zero exactly in the periods
// the server sent errors: what Cloud NAT reports when it causes them.
func (s *errorServer) drops(start, end time.Time, period time.Duration) []results.Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	ser := results.Series{Query: results.QueryNATDroppedSent, MetricType: "router.googleapis.com/nat/dropped_sent_packets_count",
		Labels: map[string]string{"reason": results.DropOutOfResources}}
	for t := start.Truncate(period); t.Before(end); t = t.Add(period) {
		var n float64
		for _, e := range s.errors {
			if !e.Before(t) && e.Before(t.Add(period)) {
				n += 7
			}
		}
		ser.Points = append(ser.Points, results.Point{Start: t, End: t.Add(period), Value: n})
	}
	return []results.Series{ser}
}

// A run whose clients fail while NAT drops packets fails and names the cause.
func TestRunDiagnosesTheCauseFromTheMetrics(t *testing.T) {
	es := &errorServer{}
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	p := &fakePlatform{svc: baseline(), deploy: func(spec DeploySpec, report func(Event)) (string, error) {
		es.failFor(1500 * time.Millisecond)
		return okDeploy("api-00002-xyz")(spec, report)
	}}
	sc, err := scenarios.Parse("t.yaml", []byte(`version: 1
name: t
target: {url: "`+srv.URL+`", platform: cloudrun, project: p, region: r, service: api}
load: {requests: [{path: /}], rate: 50/s, duration: 6s}
actions: [{at: 2s, deploy: {image: x}}]
rollback: never
localcloud: {time_scale: 60, services: [{name: api, image: api:v1}]}
metrics: {settle: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeMetrics{coveredAfter: 1, series: es.drops}
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(),
		Platforms: map[string]Platform{"api": p}, Metrics: src})
	if err != nil {
		t.Fatal(err)
	}
	run := out.Run
	if run.Totals.Errors == 0 {
		t.Fatal("the server sent no errors; the test proves nothing")
	}
	if run.Verdict.Status != results.StatusFail || len(run.Findings) == 0 || run.Findings[0].Cause != correlate.CauseNATPortExhaustion {
		t.Fatalf("verdict %s %q, findings %+v; want fail with nat-port-exhaustion first", run.Verdict.Status, run.Verdict.Reasons, run.Findings)
	}
	if !strings.Contains(strings.Join(run.Verdict.Reasons, "\n"), "cause: nat-port-exhaustion") {
		t.Errorf("reasons %q do not name the cause", run.Verdict.Reasons)
	}
	d := run.Diagnosis
	if d == nil || d.Metrics != results.MetricsCovered || d.Period != 1 || d.TimeScale != 60 || len(d.Buckets) < 5 {
		t.Fatalf("diagnosis %+v", d)
	}
	// Each error is the primary error of at most one finding.
	primary := d.Unexplained
	for _, f := range run.Findings {
		primary += f.Primary
	}
	if primary != run.Totals.Errors {
		t.Errorf("primary errors of the findings + %d unexplained = %d, want the run's %d errors", d.Unexplained, primary, run.Totals.Errors)
	}
	var withDrops, errs int64
	for _, b := range d.Buckets {
		if b.Signals["nat_dropped_sent{reason=OUT_OF_RESOURCES}"] > 0 {
			withDrops++
			errs += b.Errors
		}
	}
	// The drops stand where the server sent its errors; a client window
	// that straddles a period boundary may put a few in the next bucket.
	if withDrops == 0 || errs < run.Totals.Errors*8/10 {
		t.Errorf("%d buckets with drops hold %d of %d errors; want nearly all of them", withDrops, errs, run.Totals.Errors)
	}
	if len(run.Series) != 1 {
		t.Errorf("series %d, want the fetched one", len(run.Series))
	}
	// run.json holds the same.
	back, err := results.Read(out.Dir)
	if err != nil || back.Diagnosis == nil || len(back.Findings) != len(run.Findings) {
		t.Errorf("record read back: %v, %+v", err, back)
	}
}

// Metrics that never cover the run make it inconclusive, never a pass.
func TestRunWithMissingMetricsIsInconclusive(t *testing.T) {
	sc := scenarioWith(t, okServer(t), "metrics: {settle: 0s, max_wait: 0s}\n")
	sc.Verdict.MinRequests = 10
	src := &fakeMetrics{}
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(), Metrics: src})
	if err != nil {
		t.Fatal(err)
	}
	v := out.Run.Verdict
	if v.Status != results.StatusInconclusive || !strings.HasPrefix(v.Reasons[0], "metrics missing: not covered") {
		t.Errorf("verdict %s %q, want inconclusive for missing metrics", v.Status, v.Reasons)
	}
	if out.Run.Totals.Errors != 0 || src.fetches.Load() != 1 || out.Run.Diagnosis.Metrics != results.MetricsMissing {
		t.Errorf("errors %d, fetches %d, diagnosis %+v", out.Run.Totals.Errors, src.fetches.Load(), out.Run.Diagnosis)
	}
}

// fastCutover is a scenario with a deploy at 1s of a 4s load, metric
// periods of 1 s (a local cloud section at time scale 60; nothing is
// started, the target is srvURL) and metrics settling at once.
func fastCutover(t *testing.T, srvURL, metrics string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("t.yaml", []byte(`version: 1
name: t
target: {url: "`+srvURL+`", platform: cloudrun, project: p, region: r, service: api}
load: {requests: [{path: /}], rate: 50/s, duration: 4s}
verdict: {min_requests: 50}
actions: [{at: 1s, deploy: {image: x}}]
localcloud: {time_scale: 60, services: [{name: api, image: api:v1}]}
metrics: `+metrics+`
`))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// Missing metrics do not turn a failed run into an inconclusive one: the
// clients' errors are facts. They stand among the reasons, and no finding
// rests on NAT data that never arrived.
func TestMissingMetricsLeaveAFailAFail(t *testing.T) {
	es := &errorServer{}
	srv := httptest.NewServer(es)
	t.Cleanup(srv.Close)
	p := &fakePlatform{svc: baseline(), deploy: func(spec DeploySpec, report func(Event)) (string, error) {
		es.failFor(time.Second)
		return okDeploy("api-00002-xyz")(spec, report)
	}}
	// The NAT series came back flat and partial: not covered.
	src := &fakeMetrics{series: func(start, end time.Time, period time.Duration) []results.Series {
		return []results.Series{{Query: results.QueryNATDroppedSent, Labels: map[string]string{"reason": results.DropOutOfResources},
			Points: []results.Point{{Start: start.Truncate(period), End: start.Truncate(period).Add(period)}}}}
	}}
	out, err := Run(context.Background(), Options{Scenario: fastCutover(t, srv.URL, "{settle: 0s, max_wait: 0s}"),
		ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p}, Metrics: src})
	if err != nil {
		t.Fatal(err)
	}
	run := out.Run
	if run.Totals.Errors == 0 {
		t.Fatal("the server sent no errors; the test proves nothing")
	}
	reasons := strings.Join(run.Verdict.Reasons, "\n")
	if run.Verdict.Status != results.StatusFail || !strings.Contains(reasons, "metrics missing") {
		t.Errorf("verdict %s %q, want fail with the missing metrics named", run.Verdict.Status, run.Verdict.Reasons)
	}
	for _, f := range run.Findings {
		if ev := strings.Join(f.Evidence, " "); strings.Contains(ev, "not NAT exhaustion") || f.Confidence == correlate.ConfidenceHigh && strings.Contains(ev, "Cloud NAT reported no") {
			t.Errorf("finding %s rests on NAT data that never covered the run: %s", f.Cause, ev)
		}
	}
	if d := run.Diagnosis; d.Metrics != results.MetricsMissing || len(run.Series) != 1 {
		t.Errorf("diagnosis %+v, series %d; want missing, with the partial series kept", d, len(run.Series))
	}
}

// While the run waits for the metrics the record on disk says so: still
// running, no end time, and not a pass.
func TestRecordWhileWaitingForMetricsIsNotAPass(t *testing.T) {
	root := t.TempDir()
	var seen *results.Run
	var readErr error
	src := &fakeMetrics{coveredAfter: 1, series: func(start, end time.Time, period time.Duration) []results.Series {
		dirs, _ := filepath.Glob(filepath.Join(root, "*"))
		if len(dirs) != 1 {
			readErr = fmt.Errorf("run directories %v", dirs)
			return nil
		}
		seen, readErr = results.Read(dirs[0])
		return nil
	}}
	sc := scenarioWith(t, okServer(t), "metrics: {settle: 0s}\n")
	sc.Verdict.MinRequests = 10
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: root, Metrics: src})
	if err != nil || readErr != nil {
		t.Fatal(err, readErr)
	}
	if seen.State != results.StateRunning || !seen.EndedAt.IsZero() || seen.Verdict.Status != results.StatusInconclusive ||
		!strings.HasPrefix(seen.Verdict.Reasons[0], "metrics pending") || seen.Diagnosis.Metrics != results.MetricsPending {
		t.Errorf("record during the wait: state %s, ended %v, verdict %s %q, diagnosis %+v",
			seen.State, seen.EndedAt, seen.Verdict.Status, seen.Verdict.Reasons, seen.Diagnosis)
	}
	if out.Run.State != results.StateComplete || out.Run.Verdict.Status != results.StatusPass {
		t.Errorf("final record: state %s, verdict %s %q; want complete and pass", out.Run.State, out.Run.Verdict.Status, out.Run.Verdict.Reasons)
	}
}

// An interrupt while waiting for the metrics ends the wait; it does not
// undo a cutover whose load and actions finished without errors.
func TestInterruptDuringTheWaitKeepsACutoverThatHeld(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &fakeMetrics{coveredAfter: 1}
	progress := func(pr Progress) {
		if pr.Phase == PhaseMetrics {
			cancel()
		}
	}
	sc := fastCutover(t, okServer(t), "{settle: 10m, max_wait: 20m}")
	out, err := Run(ctx, Options{Scenario: sc, ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p},
		Metrics: src, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	run := out.Run
	if run.State != results.StateAborted || run.Totals.Errors != 0 || src.fetches.Load() != 0 {
		t.Errorf("state %s, %d errors, %d fetches; want aborted in the wait with a clean load", run.State, run.Totals.Errors, src.fetches.Load())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, split := range p.applied {
		if FormatSplit(split) == "api-00001-abc=100%" {
			t.Errorf("the interrupt restored the baseline (%v): the cutover had held", p.applied)
		}
	}
	if run.Cutover.Restored {
		t.Error("record says restored")
	}
}
