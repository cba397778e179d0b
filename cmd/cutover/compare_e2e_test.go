package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareTheNATIncidentWithItsFix runs the seed incident and its fix
// (twice) with the built binary, then compares them: the incident against
// the fix is a REGRESSION naming the cutover window's errors and the new
// NAT finding, the fix against itself NO CHANGE, and bad input is refused
// with its exit code. The three replays run one after the other (they are
// the heavy ones of the replay pack).
func TestCompareTheNATIncidentWithItsFix(t *testing.T) {
	if testing.Short() {
		t.Skip("three replays of the local cloud")
	}
	dir := t.TempDir()
	runs := map[string]string{}
	for _, r := range []struct{ out, scenario string }{
		{"A", "nat-exhaustion"}, {"B", "nat-exhaustion-fixed"}, {"B2", "nat-exhaustion-fixed"},
	} {
		inv := runBinary(t, dir, "run", r.scenario, "--out", r.out)
		if want := map[string]ExitCode{"A": ExitFail, "B": ExitPass, "B2": ExitPass}[r.out]; inv.code != want {
			t.Fatalf("run %s: exit %d, want %d\nstderr:\n%s", r.scenario, inv.code, want, inv.stderr)
		}
		runs[r.out] = onlyRunDir(t, filepath.Join(dir, r.out))
	}

	t.Run("names differ", func(t *testing.T) {
		inv := runBinary(t, dir, "compare", runs["B"], runs["A"])
		if inv.code != ExitInvalidInput || !strings.Contains(inv.stderr, `"nat-exhaustion-fixed", head of "nat-exhaustion"; --force`) {
			t.Errorf("exit %d, want %d; stderr:\n%s", inv.code, ExitInvalidInput, inv.stderr)
		}
	})
	t.Run("incident against its fix", func(t *testing.T) {
		inv := runBinary(t, dir, "compare", "--force", runs["B"], filepath.Join(runs["A"], "run.json"))
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
	t.Run("missing record", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			t.Fatal(err)
		}
		inv := runBinary(t, dir, "compare", runs["B"], empty)
		if inv.code != ExitHarness || !strings.Contains(inv.stderr, "has no run.json") {
			t.Errorf("exit %d, want %d; stderr:\n%s", inv.code, ExitHarness, inv.stderr)
		}
	})
	t.Run("corrupt record", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		if err := os.Mkdir(bad, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bad, "run.json"), []byte(`{"schema_version": 1, "timeline": [`), 0o644); err != nil {
			t.Fatal(err)
		}
		inv := runBinary(t, dir, "compare", bad, runs["B"])
		if inv.code != ExitHarness {
			t.Errorf("exit %d, want %d; stderr:\n%s", inv.code, ExitHarness, inv.stderr)
		}
	})
	t.Run("bad limit flag", func(t *testing.T) {
		inv := runBinary(t, dir, "compare", runs["B"], runs["B2"], "--max-p99-increase", "lots")
		if inv.code != ExitInvalidInput || !strings.Contains(inv.stderr, "--max-p99-increase") {
			t.Errorf("exit %d, want %d; stderr:\n%s", inv.code, ExitInvalidInput, inv.stderr)
		}
	})
}

// verdictOf returns the VERDICT section of a text comparison: the verdict
// and its reasons.
func verdictOf(text string) string {
	_, after, _ := strings.Cut(text, "VERDICT: ")
	return strings.TrimSpace(after)
}
