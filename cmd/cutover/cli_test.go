package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The CLI in-process, as the binary's main calls it: flags → a command's
// options (TestParse), and command line → exit code and output (TestRun).
// The end-to-end paths (a run, its record, signals) go through the built
// binary in the *_e2e_test.go files.

// inProcess is one call of run with buffers for stdout and stderr.
type inProcess struct {
	code           ExitCode
	stdout, stderr string
}

func runInProcess(t *testing.T, args ...string) inProcess {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, Env{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(string) string { return "" },
	})
	return inProcess{code: ExitCode(code), stdout: out.String(), stderr: errb.String()}
}

// Flags and arguments land in the command's options, defaults included.
func TestParse(t *testing.T) {
	five := int64(5)
	tests := []struct {
		args []string
		want command
	}{
		{[]string{"run", "smoke"}, &runCmd{Scenario: "smoke", Out: "runs", Format: "text"}},
		{[]string{"run", "s.yaml", "--out", "d", "--format", "json", "--dry-run", "--force"},
			&runCmd{Scenario: "s.yaml", Out: "d", Format: "json", DryRun: true, Force: true}},
		{[]string{"run", "--format=junit", "s.yaml"}, &runCmd{Scenario: "s.yaml", Out: "runs", Format: "junit"}},
		{[]string{"validate", "a.yaml", "smoke"}, &validateCmd{Scenarios: []string{"a.yaml", "smoke"}}},
		{[]string{"report", "runs/r1"}, &reportCmd{RunDir: "runs/r1", Format: "text"}},
		{[]string{"report", "runs/r1", "--format", "markdown"}, &reportCmd{RunDir: "runs/r1", Format: "markdown"}},
		{[]string{"report", "runs/r1", "--format", "html"}, &reportCmd{RunDir: "runs/r1", Format: "html"}},
		{[]string{"restore", "runs/r1"}, &restoreCmd{RunDir: "runs/r1", Timeout: 2 * time.Minute}},
		{[]string{"restore", "runs/r1", "--force", "--timeout", "30s"}, &restoreCmd{RunDir: "runs/r1", Force: true, Timeout: 30 * time.Second}},
		{[]string{"scenarios"}, &scenariosCmd{}},
		{[]string{"localcloud", "smoke"}, &localcloudCmd{Scenario: "smoke"}},
		{[]string{"localcloud", "-v", "smoke"}, &localcloudCmd{Scenario: "smoke", Verbose: true}},
		{[]string{"version"}, &versionCmd{}},
		{[]string{"compare", "a", "b"}, &compareCmd{Base: "a", Head: "b", Format: "text", Seed: 1}},
		{[]string{"compare", "a", "b", "--format", "markdown", "--out", "c.md", "--force", "--seed", "7",
			"--max-p99-increase", "20%", "--max-error-increase", "5", "--settle", "10s"},
			&compareCmd{Base: "a", Head: "b", Format: "markdown", Out: "c.md", Force: true, Seed: 7,
				MaxP99Increase: "20%", MaxErrorIncrease: &five, Settle: 10 * time.Second}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		got, err := parse(tt.args, Env{Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Errorf("parse %q: %v\n%s", tt.args, err, errb.String())
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parse %q = %#v, want %#v", tt.args, got, tt.want)
		}
		if out.Len()+errb.Len() > 0 {
			t.Errorf("parse %q printed %q %q", tt.args, out.String(), errb.String())
		}
	}
}

// Each command line exits with README's code and says why, in-process.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	invalid := writeScenario(t, dir, "invalid.yaml", "version: 1\nname: x\nbogus: 1\n")
	notRun := filepath.Join(dir, "not-a-run")
	if err := os.Mkdir(notRun, 0o755); err != nil {
		t.Fatal(err)
	}
	noActions := writeRecord(t, dir, "no-actions", `{"schema_version": 1, "run_id": "r-1"}`)
	tests := []struct {
		name       string
		args       []string
		code       ExitCode
		stdout     string // a substring of stdout; "" expects none
		stderr     string // a substring of stderr; "" expects none
		quietOnErr bool   // stderr must be empty
	}{
		{name: "no command", args: nil, code: ExitInvalidInput, stderr: "run 'cutover --help' for usage"},
		{name: "unknown flag", args: []string{"--bogus"}, code: ExitInvalidInput, stderr: "unknown flag --bogus"},
		{name: "unknown command", args: []string{"deploy"}, code: ExitInvalidInput, stderr: "unexpected argument deploy"},
		{name: "help is a flag, not a command", args: []string{"help"}, code: ExitInvalidInput, stderr: "run 'cutover --help' for usage"},
		{name: "missing argument", args: []string{"run"}, code: ExitInvalidInput, stderr: `expected "<scenario>"`},
		{name: "bad flag value", args: []string{"run", "smoke", "--format", "xml"}, code: ExitInvalidInput, stderr: "--format must be one of"},
		{name: "bad duration", args: []string{"restore", dir, "--timeout", "soon"}, code: ExitInvalidInput, stderr: "--timeout"},
		{name: "unknown scenario", args: []string{"run", "no-such-scenario"}, code: ExitInvalidInput,
			stderr: `scenario "no-such-scenario": no such file and no built-in scenario of that name`},
		{name: "invalid scenario", args: []string{"run", invalid}, code: ExitInvalidInput, stderr: "bogus"},
		{name: "validate invalid", args: []string{"validate", "smoke", invalid}, code: ExitInvalidInput,
			stdout: "smoke: ok (smoke)", stderr: "1 of 2 scenarios invalid"},
		{name: "validate valid", args: []string{"validate", "smoke"}, code: ExitPass, stdout: "smoke: ok (smoke)", quietOnErr: true},
		{name: "version", args: []string{"version"}, code: ExitPass, stdout: "cutover ", quietOnErr: true},
		{name: "help", args: []string{"--help"}, code: ExitPass, stdout: "Usage: cutover <command>", quietOnErr: true},
		{name: "command help", args: []string{"restore", "--help"}, code: ExitPass, stdout: "Usage: cutover restore <run-dir>", quietOnErr: true},
		{name: "scenarios", args: []string{"scenarios"}, code: ExitPass, stdout: "nat-exhaustion", quietOnErr: true},
		{name: "report of a missing dir", args: []string{"report", filepath.Join(dir, "gone")}, code: ExitInvalidInput, stderr: "does not exist"},
		{name: "restore of a missing dir", args: []string{"restore", filepath.Join(dir, "gone")}, code: ExitInvalidInput, stderr: "does not exist"},
		{name: "restore of a dir with no record", args: []string{"restore", notRun}, code: ExitInvalidInput, stderr: "has no run.json"},
		{name: "restore of a run without actions", args: []string{"restore", noActions}, code: ExitPass,
			stdout: "run r-1 had no actions: nothing to restore", quietOnErr: true},
		{name: "localcloud without a local cloud", args: []string{"localcloud", writeScenario(t, dir, "remote.yaml", remoteScenario)},
			code: ExitInvalidInput, stderr: "has no localcloud section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runInProcess(t, tt.args...)
			if got.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got.code, tt.code, got.stdout, got.stderr)
			}
			if !strings.Contains(got.stdout, tt.stdout) || tt.stdout == "" && got.stdout != "" {
				t.Errorf("stdout %q, want it to contain %q", got.stdout, tt.stdout)
			}
			if !strings.Contains(got.stderr, tt.stderr) || tt.quietOnErr && got.stderr != "" {
				t.Errorf("stderr %q, want it to contain %q", got.stderr, tt.stderr)
			}
		})
	}
}

// --dry-run reads the service in the scenario's local cloud, prints the
// plan and exits 0, having changed nothing and sent no load.
func TestRunDryRunInProcess(t *testing.T) {
	out := t.TempDir()
	got := runInProcess(t, "run", "smoke", "--dry-run", "--out", out)
	if got.code != ExitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", got.code, got.stdout, got.stderr)
	}
	for _, want := range []string{"scenario smoke: valid", "load: ", "dry run: nothing was changed and no load was sent"} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, got.stdout)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a dry run wrote %d entries under --out", len(entries))
	}
}

// remoteScenario targets a service outside the local cloud.
const remoteScenario = `version: 1
name: remote
target: {url: "http://127.0.0.1:1/"}
load: {rate: 1/s, duration: 1s, requests: [{path: /}]}
`

// writeRecord writes body as the run.json of a run directory name under
// dir and returns the directory.
func writeRecord(t *testing.T, dir, name, body string) string {
	t.Helper()
	run := filepath.Join(dir, name)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	writeScenario(t, run, "run.json", body)
	return run
}
