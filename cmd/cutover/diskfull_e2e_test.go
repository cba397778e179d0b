package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// mountTmpfs mounts a tmpfs of size bytes at a new directory and unmounts
// it when the test ends; it skips the test where mounting is not allowed
// (not root, no mount namespace rights). The runner's own tests cover the
// same path with a results sink that fails after N bytes.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); the runner tests fill a fake disk instead", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	return mnt
}

// The record's filesystem fills in the middle of a cutover: the run stops
// its load and its actions, puts the split back, and leaves a record that
// says why and that every reader still reads.
func TestDiskFullMidCutoverRestoresTheSplit(t *testing.T) {
	mnt := mountTmpfs(t, "320k")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lc := startLocalCloud(t, ctx, dir)
	before := lc.served(t, ctx)

	body, err := os.ReadFile(shiftScenario(t, dir, "fill", lc.ep.ControlPlane))
	if err != nil {
		t.Fatal(err)
	}
	// Fast enough to fill the disk in seconds, steps close enough that one
	// would be due after it filled.
	text := strings.Replace(string(body), "rate: 20/s", "rate: 400/s", 1)
	text = strings.Replace(text, "every: 2m", "every: 3s", 1)
	sc := writeScenario(t, dir, "fill.yaml", text)

	run := exec.Command(binary, "run", sc, "--out", mnt)
	run.Dir = dir
	var out, errb syncBuffer
	run.Stdout, run.Stderr = &out, &errb
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	code := exitOf(run.Wait())
	if code != ExitHarness {
		t.Fatalf("exit %d, want %d\nstderr:\n%s", code, ExitHarness, errb.String())
	}
	if !strings.Contains(errb.String(), "no space left on device") {
		t.Errorf("stderr does not name the cause:\n%s", errb.String())
	}
	if got := lc.served(t, ctx); got != before {
		t.Errorf("served after the disk filled: %s, want %s", got, before)
	}
	runDir := onlyRunDir(t, mnt)
	rec, err := results.Read(runDir)
	if err != nil {
		t.Fatalf("read the record: %v", err)
	}
	if rec.State != results.StateFailed || !strings.Contains(rec.Error, "disk full") {
		t.Errorf("record state %q error %q, want failed: disk full", rec.State, rec.Error)
	}
	if rec.Cutover == nil || rec.Cutover.Left != results.LeftRestored {
		t.Errorf("record cutover %+v, want restored", rec.Cutover)
	}
	checkNoChangeAfterRestore(t, rec.Events)
	checkResultsDecodeToTheEnd(t, filepath.Join(runDir, results.ResultsFile))
	report := runBinary(t, dir, "report", runDir)
	if report.code != ExitPass || !strings.Contains(report.stdout, "disk full") {
		t.Errorf("cutover report: exit %d\n%s%s", report.code, report.stdout, report.stderr)
	}
}

// checkNoChangeAfterRestore checks that the timeline has a rollback-start
// and no deploy or traffic change after it: every change precedes it.
func checkNoChangeAfterRestore(t *testing.T, events []results.Event) {
	t.Helper()
	restoreAt := time.Time{}
	for _, e := range events {
		switch e.Kind {
		case results.EventRollbackStart:
			if restoreAt.IsZero() {
				restoreAt = e.At
			}
		case results.EventDeployStart, results.EventTrafficApplied:
			if !restoreAt.IsZero() {
				t.Errorf("%s at %s after the restore started at %s", e.Kind, e.At, restoreAt)
			}
		}
	}
	if restoreAt.IsZero() {
		t.Errorf("no rollback-start on the timeline: %+v", events)
	}
}

// checkResultsDecodeToTheEnd checks that results.bin at path holds results
// and decodes to a clean end, as `vegeta report` reads it.
func checkResultsDecodeToTheEnd(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := vegeta.NewDecoder(f)
	n := 0
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("results.bin after %d results: %v, want a clean EOF", n, err)
			}
			break
		}
		n++
	}
	if n == 0 {
		t.Errorf("results.bin holds no result")
	}
}
