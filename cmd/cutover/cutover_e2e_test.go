package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// cloudSection is a small, fast local cloud: one service "api" with no
// outbound calls, so a cutover on it is clean by construction. Its metrics
// arrive after 20 s simulated (1 s here), so runs settle quickly.
const cloudSection = `metrics: {settle: 30s}
localcloud:
  time_scale: 20
  metrics: {lag_nat: 20s, lag_run: 20s}
  project: demo
  region: asia-northeast1
  unpullable_images: [gcr.io/demo/api:deleted]
  services:
    - name: api
      image: gcr.io/demo/api:v1
      min_instances: 1
      cold_start: 4s
      app: {server_time: 20ms}
`

func eventKinds(run *results.Run) []string {
	var kinds []string
	for _, e := range run.Events {
		kinds = append(kinds, string(e.Kind))
	}
	return kinds
}

// share returns the fraction of a window's requests served by revisions
// other than base.
func share(w results.Window, base string) float64 {
	var other, all int64
	for rev, n := range w.ByRevision {
		all += n
		if rev != base {
			other += n
		}
	}
	if all == 0 {
		return -1
	}
	return float64(other) / float64(all)
}

func TestStepwiseShiftShowsInPerRevisionCounts(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "steps.yaml", `version: 1
name: steps
load:
  requests: [{path: /}]
  rate: 100/s
  duration: 14s
actions:
  - at: 1s
    deploy: {env: {MODE: v2}, traffic: "0", tag: canary}
  - at: 2s
    traffic: {revision: "@deployed", steps: [10, 50, 100], every: 4s}
rollback: never
`+cloudSection)
	inv := runBinary(t, dir, "run", p, "--out", "out", "--format", "json")
	if inv.code != ExitPass {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", inv.code, inv.stderr)
	}
	var run results.Run
	if err := json.Unmarshal([]byte(inv.stdout), &run); err != nil {
		t.Fatal(err)
	}
	kinds := strings.Join(eventKinds(&run), " ")
	if want := "deploy-start revision-created revision-ready traffic-applied traffic-applied traffic-applied traffic-applied"; kinds != want {
		t.Fatalf("events %q, want %q", kinds, want)
	}
	base := run.Cutover.BaselineRevision
	if base == "" || len(run.Cutover.DeployedRevisions) != 1 {
		t.Fatalf("cutover record %+v", run.Cutover)
	}
	// Each step's share must show up in the windows, in order: a phase of
	// about 10%, then about 50%, then all.
	phase := 0
	bounds := [][2]float64{{0.02, 0.25}, {0.35, 0.65}, {0.97, 1}}
	for _, w := range run.Timeline {
		s := share(w, base)
		if phase < len(bounds) && s >= bounds[phase][0] && s <= bounds[phase][1] {
			phase++
		}
	}
	if phase != len(bounds) {
		var shares []string
		for _, w := range run.Timeline {
			shares = append(shares, fmt.Sprintf("%.2f", share(w, base)))
		}
		t.Errorf("saw %d of the 3 steps (10%%, 50%%, 100%%) in the per-revision shares %v", phase, shares)
	}
}

func TestUnpullableImageFailsTheActionAndRollsBack(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "deleted.yaml", `version: 1
name: deleted-image
load:
  requests: [{path: /}]
  rate: 50/s
  duration: 6s
actions:
  - at: 1s
    deploy: {image: gcr.io/demo/api:deleted}
`+cloudSection)
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitFail {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitFail, inv.stdout, inv.stderr)
	}
	run, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	c := run.Cutover
	if c == nil || len(c.DeployedRevisions) != 1 || !strings.Contains(c.FailedAction, c.DeployedRevisions[0]) ||
		!strings.Contains(c.FailedAction, "gcr.io/demo/api:deleted") || !c.Restored {
		t.Fatalf("cutover record %+v: want the failed revision, the image and a restore", c)
	}
	kinds := strings.Join(eventKinds(run), " ")
	if !strings.Contains(kinds, "deploy-start revision-created action-failed rollback-start rollback-done") {
		t.Errorf("events %q", kinds)
	}
	if run.Totals.Errors != 0 {
		t.Errorf("%d errors: traffic must have stayed on the old revision", run.Totals.Errors)
	}
	for _, want := range []string{"FAIL", c.DeployedRevisions[0], "not found", "restored to"} {
		if !strings.Contains(inv.stdout, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// SIGINT during a stepwise shift against a local cloud in another process:
// the run restores the split it found, through the Cloud Run API, saves the
// record and exits 130.
func TestSIGINTDuringShiftRestoresTheSplit(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { interruptDuringShift(t, sig) })
	}
}

// interruptDuringShift stops a run with sig during a stepwise shift.
func interruptDuringShift(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cloud := startLocalCloud(t, ctx, dir)
	served := func() string { return cloud.served(t, ctx) }
	before := served()

	// The shared stepwise shift; its rollback (on-failure) restores on an
	// abort as on-abort does.
	p := shiftScenario(t, dir, "shift", cloud.ep.ControlPlane)
	run := exec.Command(binary, "run", p, "--out", "out")
	run.Dir = dir
	var out, errb bytes.Buffer
	run.Stdout, run.Stderr = &out, &errb
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first step is served, then interrupt.
	firstStep := regexp.MustCompile(`=10(,|$)`)
	for !firstStep.MatchString(served()) {
		select {
		case <-ctx.Done():
			run.Process.Kill()
			t.Fatalf("the 10%% step never showed; traffic %s\nstderr:\n%s", served(), errb.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := run.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := run.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ExitCode(exit.ExitCode()) != ExitAborted {
		t.Fatalf("wait: %v, want exit %d\nstderr:\n%s", err, ExitAborted, errb.String())
	}
	if got := served(); got != before {
		t.Errorf("served after the abort %s, want what was served before the run %s", got, before)
	}
	rec, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != results.StateAborted || rec.Cutover == nil || !rec.Cutover.Restored {
		t.Errorf("record: state %q, cutover %+v; want aborted and restored", rec.State, rec.Cutover)
	}
}

func TestDryRunPrintsThePlanAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "plan.yaml", `version: 1
name: plan
load: {requests: [{path: /}], rate: 10/s, duration: 1m}
actions:
  - {at: 10s, deploy: {image: gcr.io/demo/api:v2, traffic: "0", tag: canary}}
  - {at: 20s, traffic: {revision: "@deployed", steps: [10, 100], every: 10s}}
`+cloudSection)
	inv := runBinary(t, dir, "run", p, "--dry-run", "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit %d\nstderr:\n%s", inv.code, inv.stderr)
	}
	for _, want := range []string{
		"service: projects/demo/locations/asia-northeast1/services/api",
		"traffic now: LATEST=100%",
		"action 0 at +10s: deploy image gcr.io/demo/api:v2, no traffic",
		"action 1 at +20s: traffic to @deployed in steps [10 100] every 10s",
		"rollback: on-failure",
		"metrics: after the load, wait 1.5s, then query every 3s until covered (at most 24s); NAT gateway nat-gateway",
		"nothing was changed and no load was sent",
	} {
		if !strings.Contains(inv.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, inv.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a dry run wrote a run record")
	}

	// A revision the service has not got is the scenario's mistake, found
	// before anything runs.
	typo := writeScenario(t, dir, "typo.yaml", `version: 1
name: typo
load: {requests: [{path: /}], rate: 10/s, duration: 1m}
actions:
  - {at: 10s, traffic: {split: [{revision: api-00009-nope, percent: 100}]}}
`+cloudSection)
	for _, args := range [][]string{{"run", typo, "--dry-run"}, {"run", typo, "--out", "out"}} {
		inv := runBinary(t, dir, args...)
		if inv.code != ExitInvalidInput || !strings.Contains(inv.stderr, `no revision "api-00009-nope"`) {
			t.Errorf("%v: exit %d, want %d naming the revision\nstderr:\n%s", args, inv.code, ExitInvalidInput, inv.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a run with an unknown revision wrote a run record")
	}
}
