package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// binary is the cutover binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cutover-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cutover")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cutover:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one binary invocation.
type invocation struct {
	code           ExitCode
	stdout, stderr string
}

func runBinary(t *testing.T, dir string, args ...string) invocation {
	t.Helper()
	return runBinaryEnv(t, dir, nil, args...)
}

// runBinaryEnv runs the binary in dir with env added to the test's
// environment ("COLUMNS=80"; none for the environment as it is).
func runBinaryEnv(t *testing.T, dir string, env []string, args ...string) invocation {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := ExitPass
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = ExitCode(exit.ExitCode())
	} else if err != nil {
		t.Fatalf("run cutover %v: %v", args, err)
	}
	return invocation{code: code, stdout: out.String(), stderr: errb.String()}
}

func writeScenario(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyRunDir returns the single run directory under root.
func onlyRunDir(t *testing.T, root string) string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("read results root: %v", err)
	}
	if len(entries) != 1 {
		t.Fatalf("want one run directory in %s, got %d", root, len(entries))
	}
	return filepath.Join(root, entries[0].Name())
}

func TestValidateReportsEveryProblemWithPositions(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "bad.yaml", `version: 1
name: bad
target:
  url: http://127.0.0.1:9
  url: http://127.0.0.1:10
load:
  requests: [{path: /}]
  rate: -5/s
  duration: 30 seconds
  colour: blue
`)
	inv := runBinary(t, dir, "validate", p)
	if inv.code != ExitInvalidInput {
		t.Fatalf("exit code = %d, want %d; stderr:\n%s", inv.code, ExitInvalidInput, inv.stderr)
	}
	for _, want := range []string{
		"bad.yaml:5:3: target.url",     // duplicate key
		"bad.yaml:8:9: load.rate",      // negative rate
		"bad.yaml:9:13: load.duration", // bad duration
		"bad.yaml:10:3: load.colour",   // unknown key
	} {
		if !strings.Contains(inv.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, inv.stderr)
		}
	}
}

func TestRunPassWritesRecordAndReports(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Revision", "api-00001-abc")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := t.TempDir()
	p := writeScenario(t, dir, "ok.yaml", fmt.Sprintf(`version: 1
name: ok
target: {url: %s}
load:
  requests: [{path: /hello}]
  rate: 100/s
  duration: 2s
verdict:
  min_requests: 150
  thresholds: ["p99 < 2s", "status_504 == 0"]
`, srv.URL))
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitPass, inv.stdout, inv.stderr)
	}
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	run, err := results.Read(runDir)
	if err != nil {
		t.Fatalf("read record: %v", err)
	}
	if run.State != results.StateComplete || run.Verdict.Status != results.StatusPass {
		t.Errorf("state %q verdict %q, want complete pass", run.State, run.Verdict.Status)
	}
	if run.Totals.Requests < 190 || run.Totals.Requests > 210 {
		t.Errorf("requests = %d, want 200 ± 10", run.Totals.Requests)
	}
	if len(run.Verdict.Thresholds) != 2 {
		t.Errorf("thresholds evaluated = %d, want 2", len(run.Verdict.Thresholds))
	}
	for _, f := range []string{results.RecordFile, results.ResultsFile, "report.txt", "report.md", "junit.xml", "report.html"} {
		if fi, err := os.Stat(filepath.Join(runDir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	if !strings.Contains(inv.stdout, "PASS") {
		t.Errorf("text report lacks PASS:\n%s", inv.stdout)
	}
	// results.bin is vegeta's own encoding: vegeta's decoder reads every
	// result back, so `vegeta report < results.bin` works on it.
	bin, err := os.Open(filepath.Join(runDir, results.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	dec := vegeta.NewDecoder(bin)
	var decoded int64
	for {
		var r vegeta.Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("vegeta decoder on results.bin: %v", err)
		}
		if r.Code != http.StatusOK || r.Headers.Get("X-Revision") != "api-00001-abc" {
			t.Fatalf("decoded result %+v", r)
		}
		decoded++
	}
	if decoded != run.Totals.Requests {
		t.Errorf("vegeta decoded %d results, the record counts %d", decoded, run.Totals.Requests)
	}
	rep := runBinary(t, dir, "report", runDir, "--format", "json")
	if rep.code != 0 {
		t.Fatalf("report exit %d: %s", rep.code, rep.stderr)
	}
	var back results.Run
	if err := json.Unmarshal([]byte(rep.stdout), &back); err != nil {
		t.Fatalf("report --format json is not a run record: %v", err)
	}
	if back.RunID != run.RunID {
		t.Errorf("report run id %q, want %q", back.RunID, run.RunID)
	}
}

func TestRunFailsOnUpstreamTimeouts(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGatewayTimeout)
			fmt.Fprint(w, `{"code":504,"message":"upstream request timeout"}`)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := t.TempDir()
	p := writeScenario(t, dir, "fail.yaml", fmt.Sprintf(`version: 1
name: fail
target: {url: %s}
load:
  requests: [{path: /}]
  rate: 100/s
  duration: 1s
`, srv.URL))
	inv := runBinary(t, dir, "run", p, "--out", "out", "--format", "json")
	if inv.code != ExitFail {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", inv.code, ExitFail, inv.stderr)
	}
	var run results.Run
	if err := json.Unmarshal([]byte(inv.stdout), &run); err != nil {
		t.Fatalf("stdout is not a run record: %v", err)
	}
	if got := run.Totals.ByClass[results.UpstreamTimeout]; got < 5 {
		t.Errorf("upstream_timeout = %d, want about 10", got)
	}
	if run.Totals.ByClass[results.ClassStatus504] != run.Totals.ByClass[results.UpstreamTimeout] {
		t.Errorf("status_504 %d != upstream_timeout %d", run.Totals.ByClass[results.ClassStatus504], run.Totals.ByClass[results.UpstreamTimeout])
	}
}

func TestRunWithThresholdTypoIsInvalidInput(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "typo.yaml", `version: 1
name: typo
target: {url: http://127.0.0.1:9}
load:
  requests: [{path: /}]
  rate: 10/s
  duration: 1s
verdict:
  thresholds: ["p999 < 800ms"]
`)
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitInvalidInput {
		t.Fatalf("exit code = %d, want %d\nstderr:\n%s", inv.code, ExitInvalidInput, inv.stderr)
	}
	if !strings.Contains(inv.stderr, "typo.yaml:9:") {
		t.Errorf("stderr lacks the threshold's position:\n%s", inv.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("an invalid scenario must not start a run")
	}
}

func TestSIGINTFinalizesRecordAndExits130(t *testing.T) {
	var seen atomic.Int64
	first := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == 20 {
			close(first)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := t.TempDir()
	p := writeScenario(t, dir, "long.yaml", fmt.Sprintf(`version: 1
name: long
target: {url: %s}
load:
  requests: [{path: /}]
  rate: 50/s
  duration: 5m
`, srv.URL))
	cmd := exec.Command(binary, "run", p, "--out", "out")
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first: // the load is running: interrupt it
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("load never reached the server")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ExitCode(exit.ExitCode()) != ExitAborted {
		t.Fatalf("wait: %v, want exit %d\nstderr:\n%s", err, ExitAborted, errb.String())
	}
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	run, err := results.Read(runDir)
	if err != nil {
		t.Fatalf("read record after SIGINT: %v", err)
	}
	if run.State != results.StateAborted {
		t.Errorf("state = %q, want %q", run.State, results.StateAborted)
	}
	if run.Totals.Requests < 20 {
		t.Errorf("requests = %d, want at least the 20 seen before the signal", run.Totals.Requests)
	}
	rep := runBinary(t, dir, "report", runDir)
	if rep.code != 0 || !strings.Contains(rep.stdout, "long") {
		t.Errorf("report of the aborted run: exit %d\n%s%s", rep.code, rep.stdout, rep.stderr)
	}
}

func TestRunBuiltinSmokeAgainstTheLocalCloud(t *testing.T) {
	dir := t.TempDir()
	inv := runBinary(t, dir, "run", "smoke", "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitPass, inv.stdout, inv.stderr)
	}
	run, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	if run.Totals.Requests < 400 {
		t.Errorf("requests = %d, want ≥ 400", run.Totals.Requests)
	}
	revisions := 0
	for _, w := range run.Timeline {
		for rev := range w.ByRevision {
			if strings.HasPrefix(rev, "hello-") {
				revisions++
			}
		}
	}
	if revisions == 0 {
		t.Errorf("no timeline window names a revision of the local cloud's service hello")
	}
}

func TestLocalcloudCommandServesUntilInterrupted(t *testing.T) {
	cmd, ep, errb := startLocalcloudCommand(t, "smoke")
	url := ep.Services["hello"]
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("services = %v, want hello on 127.0.0.1", ep.Services)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("X-Revision"), "hello-") {
		t.Errorf("GET %s: %d, X-Revision %q", url, resp.StatusCode, resp.Header.Get("X-Revision"))
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGINT: %v\nstderr:\n%s", err, errb.String())
	}
}
