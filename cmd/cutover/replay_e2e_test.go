package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
	"github.com/cutover-dev/cutover/scenarios"
)

// cutoverOrder returns the cutover's event kinds in first-occurrence order.
func cutoverOrder(run *results.Run) []string {
	var order []string
	for _, k := range eventKinds(run) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	return order
}

// replay is one built-in scenario of the incident replay pack and what
// its run must conclude.
type replay struct {
	scenario string
	// edit, when set, changes the built-in's text before the run, and
	// variant names the edit (replays are shared by scenario and variant).
	edit    func(string) string
	variant string
	code    ExitCode
	// cause is the expected top finding; "" expects none at all.
	cause string
	// second, when set, is the expected second finding.
	second string
	// noNAT forbids any NAT finding: NAT shows no drop in this incident.
	noNAT bool
	// heavy marks the nat-exhaustion family (three services deep at
	// 100/s): no two heavy replays run at the same time.
	heavy bool
	// check, when set, checks what is particular to this replay.
	check func(t *testing.T, got *replayed)
}

// replayPack is in start order, at most replayConcurrency at once. The
// three heavy replays sit four places apart (0, 4, 8), each followed by
// the longest light ones, so the next heavy one is due about when the
// last one ends; the heavy slot in TestReplayPack makes sure of it.
// Replays are shared (replayOnce): later tests read the pack's runs.
var replayPack = []replay{
	{scenario: "nat-exhaustion", code: ExitFail, cause: correlate.CauseNATPortExhaustion, heavy: true,
		check: func(t *testing.T, got *replayed) { checkDemo(t, &got.run, got.report) }},
	{scenario: "trickle-and-burst", code: ExitFail, cause: correlate.CauseNATPortExhaustion,
		second: correlate.CausePreExistingErrors, check: checkTrickleAndBurst},
	{scenario: "nat-ip-plateau", code: ExitFail, cause: correlate.CauseNATAllocationFailure},
	{scenario: "nat-ip-plateau-fixed", code: ExitPass},
	{scenario: "late-deploy", code: ExitFail, cause: correlate.CauseNATPortExhaustion, heavy: true, check: checkLateDeploy},
	{scenario: "egress-not-ready", code: ExitFail, cause: correlate.CauseEgressNotReady, noNAT: true},
	{scenario: "affinity-cutover", code: ExitFail, cause: correlate.CauseAffinityBroken, noNAT: true},
	{scenario: "connection-churn", code: ExitFail, cause: correlate.CausePreExistingErrors},
	// The fix carries the abort brake that the incident trips
	// (TestAbortBrakeTripsOnTheNATIncident): the fix must not.
	{scenario: "nat-exhaustion-fixed", code: ExitPass, heavy: true, check: checkFixCarriesTheBrake},
	// The fix again, for TestCompareTheNATIncidentWithItsFix (the fix
	// against itself). Beside the fix's first run: neither exhausts NAT,
	// so the two may overlap.
	{scenario: "nat-exhaustion-fixed", variant: "again", code: ExitPass},
	{scenario: "image-deleted-quiet", code: ExitFail, cause: correlate.CauseRevisionNotReady, noNAT: true, check: checkImageDeletedQuiet},
	// Incident 001 on AWS, and its lasting fix.
	{scenario: "ecr-image-expired", code: ExitFail, cause: correlate.CauseImageMissing, noNAT: true, check: checkECRImageExpired},
	{scenario: "ecr-image-expired-fixed", code: ExitPass, noNAT: true, check: checkECRFixed},
}

// checkECRImageExpired checks incident 001's replay: the preflight warns
// first; then the task stop, the failed starts with the seed's text and
// the healthy hosts falling; the clients' 504s after them; image-missing
// on top with the incident's remedies.
func checkECRImageExpired(t *testing.T, got *replayed) {
	t.Helper()
	run := &got.run
	if len(run.Preflight) == 0 || run.Preflight[0].Cause != correlate.CauseImageMissing {
		t.Errorf("preflight findings %+v, want image-missing", run.Preflight)
	}
	const seed = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/xxxxx-app-prod@sha256:"
	var warned, chaos, failedStart time.Time
	for _, e := range run.Events {
		switch {
		case e.Kind == results.EventPreflightFinding && warned.IsZero():
			warned = e.At
		case e.Kind == results.EventChaos && chaos.IsZero():
			chaos = e.At
		case e.Kind == results.EventTaskStopped && e.Details["stop_code"] == "TaskFailedToStart" && failedStart.IsZero():
			if !strings.HasPrefix(e.Details["stopped_reason"], seed) {
				t.Errorf("failed start's reason %q, want the seed's", e.Details["stopped_reason"])
			}
			failedStart = e.At
		}
	}
	if warned.IsZero() || chaos.IsZero() || failedStart.IsZero() || !warned.Before(chaos) || failedStart.Before(chaos) {
		t.Errorf("events: preflight warning %s, task stop %s, failed start %s; want them in that order\n%v", warned, chaos, failedStart, eventKinds(run))
	}
	if !healthyHostsFell(run) {
		t.Errorf("the ALB's healthy hosts never fell below 3: %+v", run.Series)
	}
	var first504 time.Time
	for _, w := range run.Timeline {
		if w.ByClass[results.ClassStatus504] > 0 {
			first504 = w.Start
			break
		}
	}
	if first504.IsZero() || first504.Before(failedStart.Add(-time.Second)) {
		t.Errorf("first 504 at %s, want some after the failed start at %s (classes %v)", first504, failedStart, run.Totals.ByClass)
	}
	top := run.Findings[0]
	if !slices.ContainsFunc(top.Remedy, func(r string) bool { return strings.Contains(r, "Tag production images") }) {
		t.Errorf("image-missing's remedies %q lack the incident's lasting fix", top.Remedy)
	}
	for _, w := range []string{"PREFLIGHT", "image-missing", "CannotPullContainerError"} {
		if !strings.Contains(got.report, w) {
			t.Errorf("report.txt lacks %q", w)
		}
	}
}

// healthyHostsFell reports whether CloudWatch's HealthyHostCount went
// below the three tasks the service runs.
func healthyHostsFell(run *results.Run) bool {
	for _, s := range run.Series {
		if s.Query != results.QueryALBHealthyHosts {
			continue
		}
		for _, p := range s.Points {
			if p.Value < 3 {
				return true
			}
		}
	}
	return false
}

// checkECRFixed checks the fix: the same task stop, replacements that
// start, and a guard that finds nothing.
func checkECRFixed(t *testing.T, got *replayed) {
	t.Helper()
	run := &got.run
	if len(run.Preflight) != 0 {
		t.Errorf("preflight findings on the fix: %+v", run.Preflight)
	}
	kinds := eventKinds(run)
	if !slices.Contains(kinds, string(results.EventChaos)) || !slices.Contains(kinds, string(results.EventTaskStopped)) {
		t.Errorf("events %v: want the task stop", kinds)
	}
	for _, e := range run.Events {
		if e.Kind == results.EventTaskStopped && e.Details["stop_code"] == "TaskFailedToStart" {
			t.Errorf("a task failed to start on the fix: %v", e.Details)
		}
	}
}

// replayed is the outcome of one replay run by the built binary.
type replayed struct {
	inv      invocation
	err      error
	run      results.Run
	report   string // report.txt of the run
	markdown string // report.md of the run
	dir      string // the run directory
}

// sharedReplays holds each replay run so far, by replay.key: a replay
// runs once per test process, in a directory next to the binary, for
// every test that reads it (the pack, the demo's HTML page, compare).
var sharedReplays struct {
	sync.Mutex
	byKey map[string]*sharedReplay
}

type sharedReplay struct {
	once sync.Once
	got  replayed
}

// key names a replay's scenario and edit.
func (r replay) key() string {
	if r.variant == "" {
		return r.scenario
	}
	return r.scenario + "+" + r.variant
}

// replayOnce runs r with the built binary the first time its key is
// asked for and returns that outcome, read-only, to every caller; callers
// of a replay under way wait for it. It is safe for concurrent use.
func replayOnce(r replay) *replayed {
	sharedReplays.Lock()
	if sharedReplays.byKey == nil {
		sharedReplays.byKey = map[string]*sharedReplay{}
	}
	s, ok := sharedReplays.byKey[r.key()]
	if !ok {
		s = &sharedReplay{}
		sharedReplays.byKey[r.key()] = s
	}
	sharedReplays.Unlock()
	s.once.Do(func() {
		dir, err := os.MkdirTemp(filepath.Dir(binary), "replay-")
		if err != nil {
			s.got.err = err
			return
		}
		s.got = runReplay(dir, r.scenario, r.edit)
	})
	return &s.got
}

// replayConcurrency is how many replays run at once: each spends most of
// its minute waiting (simulated time, the metrics' ingestion lag), using
// at most a third of a core, and the local cloud's own tests run beside.
const replayConcurrency = 3

// Each built-in incident replay, run end to end by the built binary,
// yields its expected cause as the top finding (and no NAT finding where
// NAT drops nothing); the fixed variants pass. In every one the findings
// account for each error exactly once, no cause explains nothing, and the
// reports count in whole numbers. The README's main command (make demo:
// nat-exhaustion) gets the closest look.
func TestReplayPack(t *testing.T) {
	if testing.Short() {
		t.Skip("ten replays of 20-60 s of load each")
	}
	out := make([]replayed, len(replayPack))
	var wg sync.WaitGroup
	slots := make(chan struct{}, replayConcurrency)
	heavySlot := make(chan struct{}, 1)
	for i, r := range replayPack {
		slots <- struct{}{} // start in order, at most replayConcurrency at once
		wg.Go(func() {
			defer func() { <-slots }()
			if r.heavy {
				heavySlot <- struct{}{}
				defer func() { <-heavySlot }()
			}
			out[i] = *replayOnce(r)
		})
	}
	wg.Wait()
	for i, r := range replayPack {
		t.Run(r.key(), func(t *testing.T) {
			got := out[i]
			if got.err != nil {
				t.Fatalf("run %s: %v\nstderr:\n%s", r.scenario, got.err, got.inv.stderr)
			}
			run := &got.run
			if got.inv.code != r.code {
				t.Fatalf("exit %d, want %d; verdict %s %q\nstderr:\n%s", got.inv.code, r.code, run.Verdict.Status, run.Verdict.Reasons, got.inv.stderr)
			}
			if d := run.Diagnosis; d == nil || d.Metrics != results.MetricsCovered || len(d.Buckets) == 0 {
				t.Fatalf("diagnosis %+v, want the metrics covered and bucketed", d)
			}
			var causes []string
			for _, f := range run.Findings {
				causes = append(causes, f.Cause)
			}
			switch {
			case r.cause == "" && len(causes) > 0:
				t.Errorf("findings %v on a run that passed", causes)
			case r.cause != "" && (len(causes) == 0 || causes[0] != r.cause):
				t.Errorf("findings %v, want %s first", causes, r.cause)
			case r.second != "" && (len(causes) < 2 || causes[1] != r.second):
				t.Errorf("findings %v, want %s second", causes, r.second)
			}
			if r.noNAT {
				for _, c := range causes {
					if strings.HasPrefix(c, "nat-") {
						t.Errorf("finding %s, but NAT dropped nothing in this incident (findings %v)", c, causes)
					}
				}
			}
			if r.cause != "" && !strings.Contains(got.report, "1. "+r.cause) {
				t.Errorf("report.txt does not lead its findings with %s:\n%s", r.cause, got.report)
			}
			if r.code == ExitPass && run.Totals.Errors != 0 {
				t.Errorf("the fix left %d errors: %v", run.Totals.Errors, run.Totals.ByClass)
			}
			checkAccounting(t, run)
			checkWholeCounts(t, "report.txt", got.report)
			checkWholeCounts(t, "report.md", got.markdown)
			if r.check != nil {
				r.check(t, &got)
			}
			if slices.Contains(eventKinds(run), string(results.EventAbortTriggered)) {
				t.Errorf("the abort brake tripped: %q", run.Verdict.Reasons)
			}
		})
	}
}

// runReplay runs one built-in scenario with the built binary in dir; it is
// safe to call from several goroutines.
func runReplay(dir, scenario string, edit func(string) string) replayed {
	var r replayed
	if edit != nil {
		_, data, err := scenarios.Resolve(scenario)
		if err != nil {
			r.err = err
			return r
		}
		scenario = filepath.Join(dir, scenario+".yaml")
		if r.err = os.WriteFile(scenario, []byte(edit(string(data))), 0o644); r.err != nil {
			return r
		}
	}
	cmd := exec.Command(binary, "run", scenario, "--out", "out", "--format", "json")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.inv = invocation{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.inv.code = ExitCode(exit.ExitCode())
	case err != nil:
		r.err = err
		return r
	}
	if r.err = json.Unmarshal(stdout.Bytes(), &r.run); r.err != nil {
		return r
	}
	runs, err := filepath.Glob(filepath.Join(dir, "out", "*", "report.txt"))
	if err != nil || len(runs) != 1 {
		r.err = errors.Join(err, errors.New("want one report.txt"))
		return r
	}
	b, err := os.ReadFile(runs[0])
	if r.report, r.err = string(b), err; err != nil {
		return r
	}
	r.dir = filepath.Dir(runs[0])
	b, err = os.ReadFile(filepath.Join(r.dir, "report.md"))
	r.markdown, r.err = string(b), err
	return r
}

// accounting returns each finding's primary count (the errors it is the
// primary cause of) and the errors no finding claims. It is the one
// place that reads those fields of the record.
func accounting(run *results.Run) (primary []int64, unexplained int64) {
	for _, f := range run.Findings {
		primary = append(primary, f.Primary)
	}
	if run.Diagnosis != nil {
		unexplained = run.Diagnosis.Unexplained
	}
	return primary, unexplained
}

// explainsTheVerdict lists the causes that can stand with no error of
// their own: a failed action, a generator that could not keep up, and the
// ECS mechanisms (how the errors came about) whose errors their root
// cause, image-missing, took.
var explainsTheVerdict = []string{correlate.CauseRevisionNotReady, correlate.CauseLoadGeneratorSaturated,
	correlate.CauseOverloadedTarget, correlate.CauseNoHealthyTargets}

// checkAccounting checks that every error is accounted for exactly once:
// the findings' primary counts plus the unexplained ones add up to the
// run's errors, and no finding among the causes explains nothing.
func checkAccounting(t *testing.T, run *results.Run) {
	t.Helper()
	primary, unexplained := accounting(run)
	sum := unexplained
	var parts []string
	for i, f := range run.Findings {
		sum += primary[i]
		parts = append(parts, fmt.Sprintf("%s %d", f.Cause, primary[i]))
		if primary[i] <= 0 && !slices.Contains(explainsTheVerdict, f.Cause) {
			t.Errorf("finding %s is the primary cause of %d errors: a cause that explains nothing", f.Cause, primary[i])
		}
	}
	if sum != run.Totals.Errors {
		t.Errorf("primary counts (%s) plus %d unexplained add up to %d, want the run's %d errors",
			strings.Join(parts, ", "), unexplained, sum, run.Totals.Errors)
	}
}

// fractionalCount matches a count with decimals in prose ("54.9 errors");
// a rate such as "57.2 requests/s" is not a count.
var fractionalCount = regexp.MustCompile(`\b\d+\.\d+ (errors?|requests?|periods?)\b([^/]|$)`)

// checkWholeCounts checks that a rendered report states counts of errors,
// requests and periods as whole numbers. Prose is unwrapped first, so a
// count split over two lines is found too.
func checkWholeCounts(t *testing.T, name, report string) {
	t.Helper()
	text := strings.Join(strings.Fields(report), " ")
	for _, loc := range fractionalCount.FindAllStringIndex(text, -1) {
		from, to := max(loc[0]-60, 0), min(loc[1]+20, len(text))
		t.Errorf("%s has a fractional count %q in: …%s…", name, strings.TrimSpace(text[loc[0]:loc[1]]), strings.ToValidUTF8(text[from:to], ""))
	}
}

// loadShare returns where t falls in the run's load, 0 at its start and 1
// at its end.
func loadShare(run *results.Run, at time.Time) float64 {
	if len(run.Timeline) == 0 || run.Load.Duration <= 0 {
		return -1
	}
	return at.Sub(run.Timeline[0].Start).Seconds() / run.Load.Duration
}

// checkBurstAfterDeploy checks that the errors follow the deploy: the
// error rate in the 10 s after it is far above the rate before it (the old
// revision's own scale-out during a ramp may cost a few).
func checkBurstAfterDeploy(t *testing.T, run *results.Run) {
	t.Helper()
	if len(run.Events) == 0 {
		t.Error("no events: want a deploy")
		return
	}
	deploy := run.Events[0].At
	var before, beforeN, after, afterN int64
	for _, w := range run.Timeline {
		switch {
		case w.Start.Before(deploy.Add(-time.Second)):
			before, beforeN = before+w.Errors, beforeN+w.Requests
		case w.Start.Before(deploy.Add(10 * time.Second)):
			after, afterN = after+w.Errors, afterN+w.Requests
		}
	}
	rateBefore := float64(before) / float64(max(beforeN, 1))
	rateAfter := float64(after) / float64(max(afterN, 1))
	if rateAfter < 0.01 || rateAfter < 5*rateBefore {
		t.Errorf("error rate %.2f%% in the 10 s after the deploy vs %.2f%% before it; want a burst that follows the deploy",
			100*rateAfter, 100*rateBefore)
	}
}

// checkImageDeletedQuiet: the release failed on an image that cannot be
// pulled while the old revision served every request; the report names
// the failed revision with the missing-image remedy and ends with it.
func checkImageDeletedQuiet(t *testing.T, got *replayed) {
	t.Helper()
	run := &got.run
	if run.Totals.Errors != 0 {
		t.Errorf("%d errors (%v): the old revision must have served every request", run.Totals.Errors, run.Totals.ByClass)
	}
	if c := run.Cutover; c == nil || !strings.Contains(c.FailedAction, "not found") || !c.Restored {
		t.Errorf("cutover %+v: want the deploy failed on the missing image and the traffic restored", c)
	}
	if len(run.Findings) > 0 {
		if remedy := strings.Join(run.Findings[0].Remedy, "\n"); !strings.Contains(remedy, "The image is missing") {
			t.Errorf("top finding's remedies lack the missing image:\n%s", remedy)
		}
	}
	end := got.report[max(strings.LastIndex(got.report, "\nTIMELINE"), 0):]
	if !strings.Contains(flatText(end), "CONCLUSION: FAIL · "+correlate.CauseRevisionNotReady) {
		findings := got.report[max(strings.Index(got.report, "\nFINDINGS"), 0):]
		t.Errorf("report.txt does not end with the failed revision's conclusion; its findings:%s", findings[:min(len(findings), 300)])
	}
}

// checkLateDeploy: the release lands late in the load (70-80% of it) and
// the NAT errors follow it, up to the end of the load.
func checkLateDeploy(t *testing.T, got *replayed) {
	t.Helper()
	run := &got.run
	if len(run.Events) == 0 {
		t.Fatal("no events: want a deploy")
	}
	if at := loadShare(run, run.Events[0].At); at < 0.7 || at > 0.8 {
		t.Errorf("the deploy started at %.0f%% of the load, want 70-80%%", 100*at)
	}
	checkBurstAfterDeploy(t, run)
}

// checkTrickleAndBurst: the refused connections are spread over the whole
// run at the share of requests that go to the retired host, and the NAT
// burst comes on top of them at the deploy.
func checkTrickleAndBurst(t *testing.T, got *replayed) {
	t.Helper()
	run := &got.run
	if len(run.Events) == 0 {
		t.Fatal("no events: want a deploy")
	}
	deploy := run.Events[0].At
	var refusedBefore, refusedAfter int64
	for _, w := range run.Timeline {
		if w.Start.Before(deploy) {
			refusedBefore += w.ByClass[results.ClassConnectRefused]
		} else {
			refusedAfter += w.ByClass[results.ClassConnectRefused]
		}
	}
	refused := refusedBefore + refusedAfter
	if want := run.Totals.Requests / 200; refused < want-2 || refused > want+2 || refusedBefore == 0 || refusedAfter == 0 {
		t.Errorf("%d refused connections (%d before the deploy, %d after), want about %d (1 request in 200) on both sides of it",
			refused, refusedBefore, refusedAfter, want)
	}
	if run.Totals.ByClass[results.AppFetchFailed] == 0 {
		t.Errorf("no 502 fetch failed: want the NAT burst at the deploy, got %v", run.Totals.ByClass)
	}
	checkBurstAfterDeploy(t, run)
}

// checkDemo checks what the README promises of `make demo`: the cutover's
// events, both kinds of client error right after the deploy, and a finding
// that names NAT port exhaustion with the drop counts, their overlap with
// the client errors and the remedies.
func checkDemo(t *testing.T, run *results.Run, report string) {
	t.Helper()
	want := []string{"deploy-start", "revision-created", "revision-ready", "traffic-applied"}
	if got := cutoverOrder(run); len(got) < 4 || !slices.Equal(got[:4], want) {
		t.Errorf("event order %v, want %v first", got, want)
	}
	by := run.Totals.ByClass
	if by[results.AppFetchFailed] == 0 || by[results.UpstreamTimeout] == 0 {
		t.Errorf("want both fetch failed (502) and upstream timeout (504) errors, got %v", by)
	}
	checkBurstAfterDeploy(t, run)
	if len(run.Findings) == 0 {
		t.Fatal("no finding on the demo")
	}
	f := run.Findings[0]
	if f.Confidence != "high" || f.Explained < run.Totals.Errors/2 {
		t.Errorf("top finding %s %s explains %d of %d errors; want high confidence and most of them",
			f.Cause, f.Confidence, f.Explained, run.Totals.Errors)
	}
	ev := strings.Join(f.Evidence, "\n")
	for _, want := range []string{"dropped", "OUT_OF_RESOURCES", "fell in periods with drops"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	var drops float64
	for _, s := range run.Series {
		if s.Query == "nat_dropped_sent" && s.Labels["reason"] == "OUT_OF_RESOURCES" {
			for _, p := range s.Points {
				drops += p.Value
			}
		}
	}
	if drops == 0 {
		t.Error("no OUT_OF_RESOURCES drops in the fetched series")
	}
	for _, want := range []string{"nat-port-exhaustion", "Remedies:", "private IP", "private-ranges-only", "127.0.0.1", "DIAGNOSIS", "NAT drops"} {
		if !strings.Contains(flatText(report), want) {
			t.Errorf("report.txt lacks %q", want)
		}
	}
	// The report ends with the finding: drops, overlap and remedies last.
	end := report[max(strings.LastIndex(report, "\nTIMELINE"), 0):]
	for _, want := range []string{"CONCLUSION: FAIL · nat-port-exhaustion (high confidence)", "OUT_OF_RESOURCES", "fell in periods with drops", "Remedies:", "private IP"} {
		if !strings.Contains(flatText(end), want) { // prose wraps to the report's width
			t.Errorf("the end of report.txt lacks %q:\n%s", want, end)
		}
	}
}

// Metrics that never arrive (a local cloud with a day of ingestion lag)
// leave the run inconclusive, exit 3, with the reason in the report.
func TestMissingMetricsMakeTheRunInconclusive(t *testing.T) {
	dir := t.TempDir()
	sc := writeScenario(t, dir, "lag.yaml", `version: 1
name: lag
load: {requests: [{path: /}], rate: 50/s, duration: 3s}
verdict: {min_requests: 100}
metrics: {settle: 30s, max_wait: 90s}
localcloud:
  time_scale: 20
  metrics: {lag_nat: 24h, lag_run: 24h}
  services:
    - {name: api, image: gcr.io/demo/api:v1, min_instances: 1, app: {server_time: 20ms}}
`)
	inv := runBinary(t, dir, "run", sc, "--out", "out")
	if inv.code != ExitInconclusive {
		t.Fatalf("exit %d, want %d (inconclusive)\nstdout:\n%s\nstderr:\n%s", inv.code, ExitInconclusive, inv.stdout, inv.stderr)
	}
	run, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	if run.Totals.Errors != 0 || run.Verdict.Status != results.StatusInconclusive ||
		!strings.HasPrefix(run.Verdict.Reasons[0], "metrics missing: not covered") {
		t.Errorf("errors %d, verdict %s %q; want an error-free run made inconclusive by the missing metrics",
			run.Totals.Errors, run.Verdict.Status, run.Verdict.Reasons)
	}
	if !strings.Contains(inv.stdout, "metrics: missing") || !strings.Contains(inv.stderr, "metrics ") {
		t.Errorf("report or progress does not show the missing metrics:\nstdout:\n%s\nstderr:\n%s", inv.stdout, inv.stderr)
	}
}

// Ctrl-C while the run waits for the platform's metrics stops the wait at
// once and keeps everything the load measured: exit 130, a record with
// the totals, the verdict so far and why the diagnosis is missing.
func TestSIGINTWhileWaitingForMetrics(t *testing.T) {
	dir := t.TempDir()
	sc := writeScenario(t, dir, "wait.yaml", `version: 1
name: wait
load: {requests: [{path: /}], rate: 50/s, duration: 2s}
metrics: {settle: 10m, max_wait: 20m}
localcloud:
  time_scale: 20
  metrics: {lag_nat: 24h, lag_run: 24h}
  services:
    - {name: api, image: gcr.io/demo/api:v1, min_instances: 1, app: {server_time: 20ms}}
`)
	cmd := exec.Command(binary, "run", sc, "--out", "out")
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	var once sync.Once
	var lines []string
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "metrics ") {
				once.Do(func() { close(waiting) })
			}
		}
	}()
	select {
	case <-waiting:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-drained
		t.Fatalf("the run never reported waiting for metrics:\n%s", strings.Join(lines, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-drained
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ExitCode(exit.ExitCode()) != ExitAborted {
		t.Fatalf("wait: %v, want exit %d\nstderr:\n%s", err, ExitAborted, strings.Join(lines, "\n"))
	}
	run, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	if run.State != results.StateAborted || run.Totals.Requests < 50 ||
		run.Verdict.Reasons[0] != "run aborted while waiting for the platform's metrics" {
		t.Errorf("state %s, %d requests, reasons %q; want aborted with the load's results kept", run.State, run.Totals.Requests, run.Verdict.Reasons)
	}
	if d := run.Diagnosis; d == nil || d.Metrics != results.MetricsMissing || !strings.Contains(d.Note, "interrupted") {
		t.Errorf("diagnosis %+v, want metrics missing because the wait was interrupted", d)
	}
	if !strings.Contains(stdout.String(), "VERDICT") {
		t.Errorf("no report printed after the interrupt:\n%s", stdout.String())
	}
}

// brakeRule is the abort brake the NAT replays are run with: more than
// 3% errors over two seconds of load, watched for 5 s after it trips. The
// built-in nat-exhaustion-fixed carries it.
const brakeRule = "verdict:\n  abort: {error_rate: 3%, for: 2s, min_requests: 50}\n  observe_after_abort: 5s\n"

// withBrake adds brakeRule to a built-in scenario's verdict section.
func withBrake(text string) string {
	if !strings.Contains(text, "\nverdict:\n") {
		panic("the scenario has no verdict section to add the brake to")
	}
	return strings.Replace(text, "\nverdict:\n", "\n"+brakeRule, 1)
}

// checkFixCarriesTheBrake checks the fix ran with brakeRule, so that the
// pack's run of it shows the brake does not trip on a clean cutover.
func checkFixCarriesTheBrake(t *testing.T, got *replayed) {
	t.Helper()
	s, err := scenarios.Parse("brake.yaml", []byte(withBrake("version: 1\nname: b\ntarget: {url: \"http://127.0.0.1:9\"}\nload: {requests: [{path: /}], rate: 10/s, duration: 10s}\nverdict:\n")))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Verdict struct {
			Abort             *scenarios.AbortRule `json:"abort"`
			ObserveAfterAbort scenarios.Duration   `json:"observe_after_abort"`
		} `json:"verdict"`
	}
	if err := json.Unmarshal(got.run.Scenario, &rec); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.Verdict.Abort, s.Verdict.Abort) || rec.Verdict.ObserveAfterAbort != s.Verdict.ObserveAfterAbort {
		t.Errorf("the fix ran with abort %+v (observe %v), want brakeRule's %+v (observe %v)",
			rec.Verdict.Abort, rec.Verdict.ObserveAfterAbort, s.Verdict.Abort, s.Verdict.ObserveAfterAbort)
	}
}

// The abort brake on the seed incident: it trips during the cutover, the
// restore starts within a window of it, no action runs after it, and the
// run fails. (The fixed scenario carries the same brake and does not trip
// in the replay pack.)
func TestAbortBrakeTripsOnTheNATIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("a replay of the seed incident")
	}
	dir := t.TempDir()
	got := runReplay(dir, "nat-exhaustion", func(text string) string {
		return withBrake(text) + "metrics: {enabled: false}\n"
	})
	if got.err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", got.err, got.inv.stderr)
	}
	run := &got.run
	if got.inv.code != ExitFail || !strings.Contains(strings.Join(run.Verdict.Reasons, "\n"), "abort brake tripped") {
		t.Fatalf("exit %d, verdict %s %q; want 1 with the brake named\nstderr:\n%s", got.inv.code, run.Verdict.Status, run.Verdict.Reasons, got.inv.stderr)
	}
	t.Logf("verdict: %q", run.Verdict.Reasons)
	var tripped, restoreAt time.Time
	for _, e := range run.Events {
		switch {
		case e.Kind == results.EventAbortTriggered && tripped.IsZero():
			tripped = e.At
		case e.Kind == results.EventRollbackStart && restoreAt.IsZero():
			restoreAt = e.At
		case !tripped.IsZero() && (e.Kind == results.EventDeployStart || e.Kind == results.EventTrafficApplied):
			t.Errorf("%s at %s after the brake tripped at %s", e.Kind, e.At, tripped)
		}
	}
	window := 1 * time.Second
	if tripped.IsZero() || restoreAt.IsZero() || restoreAt.Before(tripped) || restoreAt.Sub(tripped) > window {
		t.Errorf("abort-triggered at %s, rollback-start at %s: want the restore within a window (%s) of the trip\nevents: %v",
			tripped, restoreAt, window, eventKinds(run))
	}
	if run.Cutover == nil || !run.Cutover.Restored {
		t.Errorf("cutover %+v: want restored", run.Cutover)
	}
}
