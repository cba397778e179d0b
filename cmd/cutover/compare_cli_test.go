package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareExitCodes(t *testing.T) {
	dir := t.TempDir()
	a := writeRecord(t, dir, "a", `{"schema_version": 1, "run_id": "a-1", "scenario_name": "alpha", "totals": {"requests": 10}}`)
	a2 := writeRecord(t, dir, "a2", `{"schema_version": 1, "run_id": "a-2", "scenario_name": "alpha", "totals": {"requests": 10}}`)
	b := writeRecord(t, dir, "b", `{"schema_version": 1, "run_id": "b-1", "scenario_name": "beta", "totals": {"requests": 10}}`)
	corrupt := writeRecord(t, dir, "corrupt", `{"schema_version": 1, "timeline": [`)
	one := writeRecord(t, dir, filepath.Join("out1", "r-1"), `{"schema_version": 1, "run_id": "r-1", "scenario_name": "alpha", "totals": {"requests": 10}}`)
	two := writeRecord(t, dir, filepath.Join("out2", "r-1"), `{"schema_version": 1, "run_id": "r-1", "scenario_name": "alpha", "totals": {"requests": 10}}`)
	writeRecord(t, dir, filepath.Join("out2", "r-2"), `{"schema_version": 1, "run_id": "r-2", "scenario_name": "alpha", "totals": {"requests": 10}}`)
	variant := writeRecord(t, dir, "variant", `{"schema_version": 1, "run_id": "v-1", "scenario_name": "alpha-fixed", "scenario": {"name": "alpha-fixed", "compare": {"as": "alpha"}}, "totals": {"requests": 10}}`)
	for _, tt := range []struct {
		name           string
		args           []string
		code           ExitCode
		stdout, stderr string
	}{
		{"too few requests", []string{"compare", a, filepath.Join(a2, "run.json")}, ExitInconclusive, "VERDICT: INCONCLUSIVE", ""},
		{"min-requests flag", []string{"compare", a, a2, "--min-requests", "5"}, ExitPass, "VERDICT: NO CHANGE", ""},
		{"names differ", []string{"compare", a, b}, ExitInvalidInput, "", `base is a run of scenario "alpha", head of "beta"`},
		{"names differ, forced", []string{"compare", a, b, "--force", "--format", "json"}, ExitInconclusive, `"status": "INCONCLUSIVE"`, ""},
		{"missing dir", []string{"compare", a, filepath.Join(dir, "gone")}, ExitHarness, "", "does not exist"},
		{"corrupt record", []string{"compare", corrupt, a}, ExitHarness, "", "read run record"},
		{"bad limit", []string{"compare", a, a2, "--max-p90-increase", "200%"}, ExitInvalidInput, "", "--max-p90-increase"},
		{"negative limit", []string{"compare", a, a2, "--max-error-increase=-1"}, ExitInvalidInput, "", "compare.max_error_increase: must not be negative"},
		{"bad format", []string{"compare", a, a2, "--format", "pdf"}, ExitInvalidInput, "", "--format must be one of"},
		{"html", []string{"compare", a, a2, "--min-requests", "5", "--format", "html"}, ExitPass, "<!DOCTYPE html>", ""},
		{"an --out directory of one run", []string{"compare", filepath.Dir(one), a2, "--min-requests", "5"}, ExitPass, "VERDICT: NO CHANGE", ""},
		{"an --out directory of several runs", []string{"compare", filepath.Dir(two), a2}, ExitInvalidInput, "", "holds 2 runs (r-1, r-2): name one"},
		{"a variant compares as the scenario it varies", []string{"compare", a, variant, "--min-requests", "5"}, ExitPass, "VERDICT: NO CHANGE", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := runInProcess(t, tt.args...)
			if got.code != tt.code || !strings.Contains(got.stdout, tt.stdout) || !strings.Contains(got.stderr, tt.stderr) {
				t.Errorf("exit %d, want %d (stdout with %q, stderr with %q)\nstdout:\n%s\nstderr:\n%s",
					got.code, tt.code, tt.stdout, tt.stderr, got.stdout, got.stderr)
			}
		})
	}
}
