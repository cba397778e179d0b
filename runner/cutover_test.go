package runner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// fakePlatform is a Platform whose steps are scripted by func fields; it
// records every split it was asked to apply.
type fakePlatform struct {
	mu       sync.Mutex
	svc      Service
	deploy   func(spec DeploySpec, report func(Event)) (string, error)
	setErr   func(split []TrafficTarget) error
	applied  [][]TrafficTarget
	deployed []DeploySpec
	// claimErr fails Claim; claims and releases count the calls; restores
	// records every Restore, which setErr also fails.
	claimErr         error
	claims, releases int
	restores         []RestoreSpec
	revisions        []string
}

var _ Platform = (*fakePlatform)(nil)

func (f *fakePlatform) Service(ctx context.Context) (Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.svc, nil
}

func (f *fakePlatform) Deploy(ctx context.Context, spec DeploySpec, report func(Event)) (string, error) {
	f.mu.Lock()
	f.deployed = append(f.deployed, spec)
	f.mu.Unlock()
	return f.deploy(spec, report)
}

func (f *fakePlatform) SetTraffic(ctx context.Context, split []TrafficTarget) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		if err := f.setErr(split); err != nil {
			return err
		}
	}
	f.applied = append(f.applied, split)
	return nil
}

func (f *fakePlatform) Claim(ctx context.Context, runID string, ttl time.Duration, force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimErr != nil {
		return f.claimErr
	}
	f.claims++
	f.svc.Claim = Claim{RunID: runID, Expires: time.Now().Add(ttl)}
	return nil
}

func (f *fakePlatform) Release(ctx context.Context, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases++
	if f.svc.Claim.RunID == runID {
		f.svc.Claim = Claim{}
	}
	return nil
}

func (f *fakePlatform) Restore(ctx context.Context, spec RestoreSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restores = append(f.restores, spec)
	if f.setErr != nil {
		if err := f.setErr(spec.Split); err != nil {
			return err
		}
	}
	f.applied = append(f.applied, spec.Split)
	f.svc.Claim = Claim{}
	return nil
}

func (f *fakePlatform) Revisions(ctx context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{f.svc.LatestReadyRevision}, f.revisions...), nil
}

func okDeploy(rev string) func(DeploySpec, func(Event)) (string, error) {
	return func(spec DeploySpec, report func(Event)) (string, error) {
		report(Event{Kind: results.EventRevisionCreated, Details: map[string]string{"revision": rev}})
		report(Event{Kind: results.EventRevisionReady, Details: map[string]string{"revision": rev}})
		return rev, nil
	}
}

func scenarioWith(t *testing.T, url, body string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("t.yaml", []byte(`version: 1
name: t
target: {url: "`+url+`", platform: cloudrun, project: p, region: r, service: api}
load: {requests: [{path: /}], rate: 50/s, duration: 2s}
`+body))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runWith(t *testing.T, ctx context.Context, sc *scenarios.Scenario, p Platform) (*Outcome, error) {
	t.Helper()
	return Run(ctx, Options{Scenario: sc, ResultsDir: t.TempDir(), Platforms: map[string]Platform{"api": p}})
}

func okServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func baseline() Service {
	return Service{Name: "projects/p/locations/r/services/api", LatestReadyRevision: "api-00001-abc",
		Traffic: []TrafficTarget{{Latest: true, Percent: 100}}}
}

func TestFailedDeployRollsBackPinnedAndFailsTheRun(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: func(spec DeploySpec, report func(Event)) (string, error) {
		report(Event{Kind: results.EventRevisionCreated, Details: map[string]string{"revision": "api-00002-xyz"}})
		return "", errors.New(`revision "api-00002-xyz" failed: Image 'x' not found`)
	}}
	out, err := runWith(t, context.Background(), scenarioWith(t, okServer(t), "actions: [{at: 100ms, deploy: {image: x}}]\n"), p)
	if err != nil {
		t.Fatal(err)
	}
	run := out.Run
	if run.Verdict.Status != results.StatusFail || !strings.Contains(run.Verdict.Reasons[0], "not found") {
		t.Errorf("verdict %s %q, want fail naming the reason", run.Verdict.Status, run.Verdict.Reasons)
	}
	if len(p.applied) != 1 || FormatSplit(p.applied[0]) != "api-00001-abc=100%" {
		t.Errorf("splits applied %v, want one restore pinned to the baseline", p.applied)
	}
	if !run.Cutover.Restored || run.Cutover.FailedAction == "" || run.Cutover.DeployedRevisions[0] != "api-00002-xyz" {
		t.Errorf("cutover record %+v", run.Cutover)
	}
	var kinds []string
	for _, e := range run.Events {
		kinds = append(kinds, string(e.Kind))
	}
	if got := strings.Join(kinds, " "); got != "deploy-start revision-created action-failed rollback-start rollback-done" {
		t.Errorf("events %q", got)
	}
}

func TestFailedRestoreIsAnError(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz"),
		setErr: func([]TrafficTarget) error { return errors.New("permission denied") }}
	out, err := runWith(t, context.Background(), scenarioWith(t, okServer(t), "actions: [{at: 100ms, deploy: {}}]\nrollback: always\n"), p)
	if !errors.Is(err, ErrNotRestored) {
		t.Fatalf("err = %v, want ErrNotRestored", err)
	}
	if out == nil || out.Run.Cutover.Restored || out.Run.Cutover.Left != results.LeftNotRestored ||
		!strings.Contains(out.Run.Cutover.RestoreError, "permission denied") ||
		out.Run.Cutover.RestoreTo != "api: api-00001-abc=100%" {
		t.Errorf("cutover record %+v", out.Run.Cutover)
	}
}

func TestAbortRestoresAndStopsTheActions(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &fakePlatform{svc: baseline()}
	p.deploy = func(spec DeploySpec, report func(Event)) (string, error) {
		cancel() // the user presses Ctrl-C while the deploy runs
		return okDeploy("api-00002-xyz")(spec, report)
	}
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 100ms, deploy: {traffic: "0"}}
  - {at: 200ms, traffic: {split: [{revision: "@deployed", percent: 100}]}}
rollback: on-abort
`)
	out, err := runWith(t, ctx, sc, p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Run.State != results.StateAborted || !out.Run.Cutover.Restored {
		t.Errorf("state %s restored %v", out.Run.State, out.Run.Cutover.Restored)
	}
	if len(p.applied) != 1 || FormatSplit(p.applied[0]) != "api-00001-abc=100%" {
		t.Errorf("splits %v: want only the restore, no traffic action after the abort", p.applied)
	}
	if !p.deployed[0].NoTraffic || p.deployed[0].DeployID == "" {
		t.Errorf("deploy spec %+v, want no-traffic with a deploy id", p.deployed[0])
	}
}

func TestStepsResolveReferences(t *testing.T) {
	p := &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-xyz")}
	sc := scenarioWith(t, okServer(t), `actions:
  - {at: 0s, deploy: {traffic: "0"}}
  - {at: 0s, traffic: {revision: "@deployed", steps: [10, 50, 100], every: 100ms}}
rollback: never
`)
	if _, err := runWith(t, context.Background(), sc, p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range p.applied {
		got = append(got, FormatSplit(s))
	}
	want := []string{
		"api-00002-xyz=10%, api-00001-abc=90%",
		"api-00002-xyz=50%, api-00001-abc=50%",
		"api-00002-xyz=100%",
	}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("splits %q, want %q (rollback never: no restore)", got, want)
	}
}

func TestShouldRestore(t *testing.T) {
	tests := []struct {
		policy          string
		aborted, failed bool
		want            bool
	}{
		{scenarios.RollbackOnFailure, false, false, false},
		{scenarios.RollbackOnFailure, false, true, true},
		{scenarios.RollbackOnFailure, true, false, true},
		{scenarios.RollbackOnAbort, false, true, false},
		{scenarios.RollbackOnAbort, true, false, true},
		{scenarios.RollbackAlways, false, false, true},
		{scenarios.RollbackNever, true, true, false},
	}
	for _, tt := range tests {
		if got, _ := shouldRestore(tt.policy, tt.aborted, tt.failed); got != tt.want {
			t.Errorf("shouldRestore(%s, aborted=%v, failed=%v) = %v, want %v", tt.policy, tt.aborted, tt.failed, got, tt.want)
		}
	}
}
