package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/browsertest"
	"github.com/cutover-dev/cutover/results"
)

// TestCompareTheNATIncidentWithItsFix compares the seed incident and its
// fix (run twice), each run by the built binary as `cutover run SCENARIO
// --out DIR`: the incident against the fix is a REGRESSION naming the
// cutover window's errors and the new NAT finding, the fix against itself
// NO CHANGE, and bad input is refused with its exit code. It is parallel,
// so it runs after the replay pack and reads the pack's three runs.
func TestCompareTheNATIncidentWithItsFix(t *testing.T) {
	if testing.Short() {
		t.Skip("three replays of the local cloud")
	}
	t.Parallel()
	dir := t.TempDir()
	runs := comparedReplays(t)
	t.Run("names differ", func(t *testing.T) {
		other := renamedRun(t, dir, runs["B"], "other-scenario")
		inv := runBinary(t, dir, "compare", other, runs["A"])
		if inv.code != ExitInvalidInput || !strings.Contains(inv.stderr, `base is a run of scenario "other-scenario", head of "nat-exhaustion"`) {
			t.Errorf("exit %d, want %d; stderr:\n%s", inv.code, ExitInvalidInput, inv.stderr)
		}
		if inv = runBinary(t, dir, "compare", "--force", other, runs["A"]); inv.code != ExitFail {
			t.Errorf("--force: exit %d, want %d; stderr:\n%s", inv.code, ExitFail, inv.stderr)
		}
	})
	t.Run("incident against its fix", func(t *testing.T) {
		// No --force: the fix says compare: {as: nat-exhaustion}.
		inv := runBinary(t, dir, "compare", runs["B"], runs["A"])
		t.Logf("verdict: %s", verdictOf(inv.stdout))
		if inv.code != ExitFail {
			t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitFail, inv.stdout, inv.stderr)
		}
		for _, want := range []string{"VERDICT: REGRESSION", "errors in the cutover window", "new: nat-port-exhaustion, high"} {
			if !strings.Contains(inv.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, inv.stdout)
			}
		}
		if !strings.Contains(inv.stderr, "warning: the resolved scenarios of base and head differ in") {
			t.Errorf("no warning that the scenarios differ; stderr:\n%s", inv.stderr)
		}
	})
	t.Run("the comparison page in a browser", func(t *testing.T) {
		browsertest.Chromium(t)
		page := filepath.Join(dir, "compare.html")
		if inv := runBinary(t, dir, "compare", runs["B"], runs["A"], "--format", "html", "--out", page); inv.code != ExitFail {
			t.Fatalf("exit %d, want %d\nstderr:\n%s", inv.code, ExitFail, inv.stderr)
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"REGRESSION", "new: nat-port-exhaustion, high"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("compare.html lacks %q", want)
			}
		}
		p := browsertest.Open(t, browsertest.Serve(t, b), "#charts canvas")
		browsertest.CheckReport(t, p, readRun(t, onlyRunDir(t, runs["B"])), readRun(t, onlyRunDir(t, runs["A"])))
	})
	t.Run("fix against itself", func(t *testing.T) {
		md := filepath.Join(dir, "compare.md")
		inv := runBinary(t, dir, "compare", runs["B"], runs["B2"], "--format", "markdown", "--out", md)
		t.Logf("verdict: %s", strings.TrimSpace(inv.stdout))
		if inv.code != ExitPass || !strings.HasPrefix(inv.stdout, "NO CHANGE") {
			t.Errorf("exit %d, want %d, NO CHANGE\nstdout:\n%s\nstderr:\n%s", inv.code, ExitPass, inv.stdout, inv.stderr)
		}
		if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "**NO CHANGE**") || !strings.Contains(string(b), "xychart-beta") {
			t.Errorf("compare.md: %v\n%s", err, b)
		}
		if inv.stderr != "" {
			t.Errorf("two runs of one scenario: stderr %q", inv.stderr)
		}
	})
	t.Run("bad input", func(t *testing.T) { checkCompareBadInput(t, dir, runs) })
}

// comparedReplays returns the --out directories of the pack's runs of the
// incident (A), the fix (B) and the fix again (B2), each checked for its
// exit code.
func comparedReplays(t *testing.T) map[string]string {
	t.Helper()
	runs := map[string]string{}
	for _, r := range []struct {
		out  string
		r    replay
		want ExitCode
	}{
		{"A", replay{scenario: "nat-exhaustion"}, ExitFail},
		{"B", replay{scenario: "nat-exhaustion-fixed"}, ExitPass},
		{"B2", replay{scenario: "nat-exhaustion-fixed", variant: "again"}, ExitPass},
	} {
		got := replayOnce(r.r)
		if got.err != nil {
			t.Fatalf("run %s: %v\nstderr:\n%s", r.r.key(), got.err, got.inv.stderr)
		}
		if got.inv.code != r.want {
			t.Fatalf("run %s: exit %d, want %d\nstderr:\n%s", r.r.key(), got.inv.code, r.want, got.inv.stderr)
		}
		// The replay ran with --out out: the directory holding the run
		// directory, as a user's --out DIR is.
		runs[r.out] = filepath.Dir(got.dir)
	}
	return runs
}

// checkCompareBadInput: a missing record and a corrupt one are exit 4, a
// bad limit flag exit 2.
func checkCompareBadInput(t *testing.T, dir string, runs map[string]string) {
	empty := filepath.Join(dir, "empty")
	bad := filepath.Join(dir, "bad")
	for _, d := range []string{empty, bad} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bad, "run.json"), []byte(`{"schema_version": 1, "timeline": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   ExitCode
		stderr string
	}{
		{"missing record", []string{runs["B"], empty}, ExitHarness, "has no run.json"},
		{"corrupt record", []string{bad, runs["B"]}, ExitHarness, "read run record"},
		{"bad limit flag", []string{runs["B"], runs["B2"], "--max-p99-increase", "lots"}, ExitInvalidInput, "--max-p99-increase"},
	} {
		inv := runBinary(t, dir, append([]string{"compare"}, tc.args...)...)
		if inv.code != tc.code || !strings.Contains(inv.stderr, tc.stderr) {
			t.Errorf("%s: exit %d, want %d with %q; stderr:\n%s", tc.name, inv.code, tc.code, tc.stderr, inv.stderr)
		}
	}
}

// renamedRun copies the record in the run directory under root (a --out
// DIR) into dir/name with its scenario renamed to name, compared as
// itself, and returns the copy's directory.
func renamedRun(t *testing.T, dir, root, name string) string {
	t.Helper()
	run, err := results.Read(onlyRunDir(t, root))
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(run.Scenario, &sc); err != nil {
		t.Fatal(err)
	}
	sc["name"] = name
	delete(sc, "compare")
	if run.Scenario, err = json.Marshal(sc); err != nil {
		t.Fatal(err)
	}
	run.ScenarioName = name
	out := filepath.Join(dir, name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := results.Encode(&b, run); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, results.RecordFile), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// verdictOf returns the VERDICT section of a text comparison: the verdict
// and its reasons.
func verdictOf(text string) string {
	_, after, _ := strings.Cut(text, "VERDICT: ")
	return strings.TrimSpace(after)
}
