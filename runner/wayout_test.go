package runner

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// The ways a run can end, each with what it must leave behind: the split
// put back (or the record saying it was not), the record final, the claim
// released or kept.

func eventKindsOf(run *results.Run) string {
	var kinds []string
	for _, e := range run.Events {
		kinds = append(kinds, string(e.Kind))
	}
	return strings.Join(kinds, " ")
}

func TestTheLoadEndingStopsTheActions(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	// The load lasts 2 s; the steps would go on for 20 s.
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 0s, deploy: {traffic: "0"}}
  - {at: 0s, traffic: {revision: "@deployed", steps: [10, 50, 100], every: 10s}}
rollback: on-failure
`)
	out, err := runWith(t, context.Background(), sc, p)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range p.applied {
		got = append(got, FormatSplit(s))
	}
	if strings.Join(got, " | ") != "api-00002-xyz=10%, api-00001-abc=90%" {
		t.Errorf("splits %q: want only the first step, nothing after the load ended", got)
	}
	if out.Run.Cutover.Left != results.LeftAsSet || p.releases != 1 {
		t.Errorf("left %q, %d releases; want as-set and the claim released", out.Run.Cutover.Left, p.releases)
	}
}

func TestAPanicInAnActionRestoresAndSaysSo(t *testing.T) {
	p := &fakePlatform{svc: baseline()}
	p.deploy = func(spec DeploySpec, report func(Event)) (string, error) {
		report(Event{Kind: results.EventRevisionCreated, Details: map[string]string{"revision": "api-00002-xyz"}})
		panic("a bug in a driver")
	}
	out, err := runWith(t, context.Background(), scenarioWith(t, okServer(t), "actions: [{at: 0s, deploy: {}}]\n"), p)
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("err = %v, want the panic as an internal error", err)
	}
	if out == nil || out.Run.State != results.StateFailed || !out.Run.Cutover.Restored {
		t.Fatalf("outcome %+v: want a failed, restored record", out)
	}
	if len(p.applied) != 1 || FormatSplit(p.applied[0]) != "api-00001-abc=100%" {
		t.Errorf("splits %v, want the restore", p.applied)
	}
}

func TestAnUnreachableAPIIsRetriedDuringTheRestore(t *testing.T) {
	var fails atomic.Int32
	fails.Store(2)
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz"), setErr: func([]TrafficTarget) error {
		if fails.Add(-1) >= 0 {
			return &UnreachableError{API: "the Cloud Run API", Host: "127.0.0.1:1", Err: errors.New("connection refused")}
		}
		return nil
	}}
	var notes []string
	sc := scenarioWith(t, okServer(t), "actions: [{at: 0s, deploy: {}}]\nrollback: always\n")
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p},
		Progress: func(pr Progress) {
			if pr.Phase == PhaseRestore {
				notes = append(notes, pr.Note)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Run.Cutover.Restored || len(p.restores) != 3 {
		t.Errorf("restored %v after %d tries, want restored on the third", out.Run.Cutover.Restored, len(p.restores))
	}
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "the Cloud Run API at 127.0.0.1:1 is unreachable") || !strings.Contains(joined, "retrying in") {
		t.Errorf("restore progress does not say what is wrong:\n%s", joined)
	}
}

func TestAbandonDuringTheRestoreLeavesItNotRestored(t *testing.T) {
	abandon := make(chan struct{})
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz"), setErr: func([]TrafficTarget) error {
		select {
		case <-abandon:
		default:
			close(abandon) // the user presses Ctrl-C again during the restore
		}
		return &UnreachableError{API: "the Cloud Run API", Host: "127.0.0.1:1", Err: errors.New("connection refused")}
	}}
	sc := scenarioWith(t, okServer(t), "actions: [{at: 0s, deploy: {}}]\nrollback: always\n")
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(),
		Platforms: map[string]Platform{"api": p}, Abandon: abandon})
	if !errors.Is(err, ErrNotRestored) {
		t.Fatalf("err = %v, want ErrNotRestored", err)
	}
	c := out.Run.Cutover
	if c.Left != results.LeftNotRestored || !strings.Contains(c.RestoreError, "given up") || c.RestoreCommand == "" {
		t.Errorf("cutover %+v: want not-restored, given up, with the restore command", c)
	}
	if p.releases != 0 {
		t.Errorf("%d releases: a run left NOT restored keeps its claim for `cutover restore`", p.releases)
	}
	if len(c.Services) != 1 || !c.Services[0].Changed || FormatSplit(c.Services[0].Split) != "api-00001-abc=100%" {
		t.Errorf("services %+v: want the split to put back, as data", c.Services)
	}
	rec, err := results.Read(out.Dir)
	if err != nil || rec.Cutover.Left != results.LeftNotRestored {
		t.Errorf("the record on disk: %v, %+v", err, rec)
	}
}

func TestAServiceHeldByAnotherRunIsNotTouched(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz"),
		claimErr: &ClaimedError{Service: "api", Holder: Claim{RunID: "other-run"}}}
	out, err := runWith(t, context.Background(), scenarioWith(t, okServer(t), "actions: [{at: 0s, deploy: {}}]\nrollback: always\n"), p)
	var held *ClaimedError
	if !errors.As(err, &held) || held.Holder.RunID != "other-run" {
		t.Fatalf("err = %v, want the holder named", err)
	}
	if len(p.deployed) != 0 || len(p.applied) != 0 || len(p.restores) != 0 {
		t.Errorf("deploys %d, splits %v, restores %d: want nothing done", len(p.deployed), p.applied, len(p.restores))
	}
	if out.Run.Cutover.Left != results.LeftUnchanged || out.Run.State != results.StateFailed {
		t.Errorf("record %s, left %s", out.Run.State, out.Run.Cutover.Left)
	}
}

func TestAnAbortBeforeAnyChangeChangesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cancel() }))
	defer srv.Close()
	out, err := runWith(t, ctx, scenarioWith(t, srv.URL, "actions: [{at: 1500ms, deploy: {}}]\nrollback: always\n"), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.restores) != 0 || out.Run.Cutover.Left != results.LeftUnchanged || p.releases != 1 {
		t.Errorf("restores %d, left %s, releases %d: a run that changed nothing restores nothing and releases its claim",
			len(p.restores), out.Run.Cutover.Left, p.releases)
	}
}

func TestADeadTargetStopsBeforeAnyChange(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	out, err := runWith(t, context.Background(), scenarioWith(t, dead, "actions: [{at: 0s, deploy: {}}]\n"), p)
	if !errors.Is(err, ErrTargetDead) || !strings.Contains(err.Error(), "connect_refused") {
		t.Fatalf("err = %v, want ErrTargetDead naming the class", err)
	}
	if len(p.deployed) != 0 || out.Run.Cutover.Left != results.LeftUnchanged {
		t.Errorf("%d deploys, left %s: want nothing touched", len(p.deployed), out.Run.Cutover.Left)
	}
}

func TestAnUnknownRevisionNameFailsPreflight(t *testing.T) {
	p := &fakePlatform{svc: baseline(), revisions: []string{"api-00002-old"}}
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 0s, deploy: {revision_suffix: canary, traffic: "0"}}
  - {at: 0s, traffic: {split: [{revision: api-canary, percent: 10}, {revision: api-00002-old, percent: 10}, {revision: api-typo, percent: 80}]}}
`)
	_, err := runWith(t, context.Background(), sc, p)
	if err == nil || !strings.Contains(err.Error(), `"api-typo"`) || strings.Contains(err.Error(), `"api-canary"`) {
		t.Fatalf("err = %v, want preflight to name api-typo only", err)
	}
	if p.claims != 0 {
		t.Errorf("claimed before preflight passed")
	}
}

// errorsAfterDeploy is a server that fails every request once deployed is
// set, like a revision that cannot reach its database.
func errorsAfterDeploy(t *testing.T, deployed *atomic.Bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if deployed.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTheAbortBrakeRestoresAtOnceAndFails(t *testing.T) {
	var deployed atomic.Bool
	p := &fakePlatform{svc: baseline()}
	p.deploy = func(spec DeploySpec, report func(Event)) (string, error) {
		deployed.Store(true)
		return okDeploy("api-00002-xyz")(spec, report)
	}
	p.setErr = func([]TrafficTarget) error { deployed.Store(false); return nil }
	sc := scenarioWith(t, errorsAfterDeploy(t, &deployed), `actions:
  - {at: 0s, deploy: {}}
  - {at: 1500ms, traffic: {split: [{revision: "@baseline", percent: 50}, {revision: "@deployed", percent: 50}]}}
rollback: never
`)
	sc.Load.Duration = scenarios.Duration(8 * time.Second)
	sc.Actions[1].At = scenarios.Duration(6 * time.Second)
	sc.Verdict.Abort = &scenarios.AbortRule{ErrorRate: 0.5, For: scenarios.Duration(time.Second), MinRequests: 5}
	sc.Verdict.ObserveAfterAbort = scenarios.Duration(300 * time.Millisecond)
	out, err := runWith(t, context.Background(), sc, p)
	if err != nil {
		t.Fatal(err)
	}
	run := out.Run
	kinds := eventKindsOf(run)
	if !strings.Contains(kinds, "abort-triggered rollback-start rollback-done") {
		t.Errorf("events %q: want the brake, then the restore", kinds)
	}
	if run.Verdict.Status != results.StatusFail || !strings.Contains(run.Verdict.Reasons[0], "abort brake tripped") {
		t.Errorf("verdict %s %q", run.Verdict.Status, run.Verdict.Reasons)
	}
	for _, s := range p.applied {
		if strings.Contains(FormatSplit(s), "50%") {
			t.Errorf("the traffic action ran after the brake tripped: %v", p.applied)
		}
	}
	if !run.Cutover.Restored {
		t.Errorf("not restored (the brake restores whatever the policy)")
	}
}

// The record's disk fills in the middle of the shift: the load stops, the
// steps stop with it, the split is put back, and the record says so.
func TestADiskThatFillsMidCutoverRestores(t *testing.T) {
	var mu sync.Mutex
	var order []string
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz"), setErr: func(split []TrafficTarget) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, FormatSplit(split))
		return nil
	}}
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 0s, deploy: {traffic: "0"}}
  - {at: 0s, traffic: {revision: "@deployed", steps: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], every: 1s}}
`)
	sc.Load.Duration = scenarios.Duration(20 * time.Second)
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p},
		CreateRecord: func(dir string) (*results.Writer, error) {
			return results.CreateWith(dir, results.WriterOptions{ResultsLimit: 16 << 10})
		}})
	if !results.IsDiskFull(err) {
		t.Fatalf("err = %v, want a full disk", err)
	}
	if out.Run.State != results.StateFailed || !strings.HasPrefix(out.Run.Error, "disk full: ") || !out.Run.Cutover.Restored {
		t.Errorf("record: state %s, error %q, restored %v", out.Run.State, out.Run.Error, out.Run.Cutover.Restored)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) == 0 || order[len(order)-1] != "api-00001-abc=100%" || len(order) > 9 {
		t.Errorf("splits %q: want a few steps, then the restore last", order)
	}
	if d := out.Run.Load.Duration; d > 15 {
		t.Errorf("the load ran %.0fs of 20s: it did not stop when the disk filled", d)
	}
	rec, err := results.Read(out.Dir)
	if err != nil || rec.State != results.StateFailed || rec.Cutover.Left != results.LeftRestored {
		t.Errorf("record on disk: %v %+v", err, rec)
	}
}

// run.json cannot be written any more: the run does not go on without a
// record; it stops, restores, and tries the final record once more.
func TestARecordThatCannotBeWrittenStopsTheRun(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 0s, deploy: {traffic: "0"}}
  - {at: 0s, traffic: {revision: "@deployed", steps: [10, 50, 100], every: 30s}}
`)
	sc.Load.Duration = scenarios.Duration(time.Minute)
	var saves atomic.Int32
	full := &os.PathError{Op: "write", Path: "run.json", Err: syscall.ENOSPC}
	out, err := Run(context.Background(), Options{Scenario: sc, ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p},
		SaveEvery: 100 * time.Millisecond,
		CreateRecord: func(dir string) (*results.Writer, error) {
			return results.CreateWith(dir, results.WriterOptions{SaveError: func(final bool) error {
				if !final && saves.Add(1) > 20 {
					return full
				}
				return nil
			}})
		}})
	if !errors.Is(err, ErrRecord) || !results.IsDiskFull(err) {
		t.Fatalf("err = %v, want the record error", err)
	}
	if !out.Run.Cutover.Restored || out.Run.Load.Duration > 30 {
		t.Errorf("restored %v after %.0fs of load: want the run stopped and restored", out.Run.Cutover.Restored, out.Run.Load.Duration)
	}
	if rec, err := results.Read(out.Dir); err != nil || rec.State != results.StateFailed {
		t.Errorf("final record: %v %+v", err, rec)
	}
}
