package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runapi "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"

	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/results"
)

// A restore that did not happen, and the ways back from it: a second
// Ctrl-C while the API is down, kill -9, a second run on the same service.
// Each drives the binary against `cutover localcloud`, its control plane
// behind a proxy the test can cut, and reads the service back through the
// Cloud Run API.

// cloudService is the local cloud's service the tests shift.
const cloudService = "projects/demo/locations/asia-northeast1/services/api"

// localCloud is a `cutover localcloud` process and a Cloud Run client of it.
type localCloud struct {
	ep       endpoints
	services *runapi.ServicesClient
}

// startLocalCloud starts `cutover localcloud` on cloudSection and stops it
// when the test ends.
func startLocalCloud(t *testing.T, ctx context.Context, dir string) *localCloud {
	t.Helper()
	cloudFile := writeScenario(t, dir, "cloud.yaml", "version: 1\nname: cloud\nload: {requests: [{path: /}], rate: 1/s, duration: 1s}\n"+cloudSection)
	lc := exec.Command(binary, "localcloud", cloudFile)
	stdout, err := lc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := lc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = lc.Process.Signal(syscall.SIGINT)
		_ = lc.Wait()
	})
	c := &localCloud{}
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&c.ep); err != nil {
		t.Fatal(err)
	}
	c.services, err = runapi.NewServicesClient(ctx, gcp.ClientOptions(c.ep.ControlPlane)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.services.Close() })
	return c
}

// served is what the service serves: revision=percent, LATEST resolved.
func (c *localCloud) served(t *testing.T, ctx context.Context) string {
	t.Helper()
	svc, err := c.services.GetService(ctx, &runpb.GetServiceRequest{Name: cloudService})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	var parts []string
	for _, tt := range svc.GetTrafficStatuses() {
		if tt.GetPercent() > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", tt.GetRevision(), tt.GetPercent()))
		}
	}
	return strings.Join(parts, ",")
}

// claimant is the run id the service's claim names, "" when none.
func (c *localCloud) claimant(t *testing.T, ctx context.Context) string {
	t.Helper()
	svc, err := c.services.GetService(ctx, &runpb.GetServiceRequest{Name: cloudService})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	return svc.GetAnnotations()["cutover.dev/run"]
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool, stderr fmt.Stringer) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s never happened\nstderr:\n%s", what, stderr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// shiftScenario is a long stepwise shift of the local cloud's service
// through endpoint.
func shiftScenario(t *testing.T, dir, name, endpoint string) string {
	return writeScenario(t, dir, name+".yaml", fmt.Sprintf(`version: 1
name: %s
target: {platform: cloudrun, project: demo, region: asia-northeast1, service: api, endpoint: %q}
load:
  requests: [{path: /}]
  rate: 20/s
  duration: 5m
actions:
  - at: 1s
    deploy: {env: {MODE: v2}, traffic: "0"}
  - at: 1s
    traffic: {revision: "@deployed", steps: [10, 50, 100], every: 2m}
rollback: on-failure
metrics: {enabled: false}
`, name, endpoint))
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun starts `cutover run` in dir; its stdout and stderr are kept.
func startRun(t *testing.T, dir string, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run"}, args...)...)
	cmd.Dir = dir
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out, &errb
}

func exitOf(err error) ExitCode {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return ExitCode(exit.ExitCode())
	}
	if err == nil {
		return 0
	}
	return -1
}

var firstStep = regexp.MustCompile(`=10(,|$)`)

func TestSecondSIGINTDuringARestoreLeavesItNotRestored(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lc := startLocalCloud(t, ctx, dir)
	before := lc.served(t, ctx)
	proxy := newCutProxy(t, lc.ep.ControlPlane)

	run, _, errb := startRun(t, dir, shiftScenario(t, dir, "shift", proxy.addr()), "--out", "out")
	waitFor(t, ctx, "the 10% step", func() bool { return firstStep.MatchString(lc.served(t, ctx)) }, errb)

	// The control plane goes away, then the user presses Ctrl-C: the
	// restore retries, saying so; a second Ctrl-C gives it up.
	proxy.cut()
	if err := run.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a restore retry", func() bool { return strings.Contains(errb.String(), "retrying in") }, errb)
	if !strings.Contains(errb.String(), "is unreachable") {
		t.Errorf("the restore does not say the API is unreachable:\n%s", errb)
	}
	if err := run.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := exitOf(run.Wait()); code != ExitNotRestored {
		t.Fatalf("exit %d, want %d (NOT RESTORED)\nstderr:\n%s", code, ExitNotRestored, errb)
	}
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	for _, want := range []string{"NOT RESTORED", "put back: api: ", "command:  cutover restore " + runDir} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
	rec, err := results.Read(runDir)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Cutover.Left != results.LeftNotRestored || rec.Cutover.RestoreCommand == "" {
		t.Errorf("record: left %q, command %q", rec.Cutover.Left, rec.Cutover.RestoreCommand)
	}
	if got := lc.served(t, ctx); got == before {
		t.Fatalf("the split is back already (%s): the test did not interrupt a restore", got)
	}

	// The API is back: cutover restore puts the split back.
	proxy.heal()
	inv := runBinary(t, dir, "restore", runDir)
	if inv.code != ExitPass {
		t.Fatalf("cutover restore: exit %d\nstdout:\n%s\nstderr:\n%s", inv.code, inv.stdout, inv.stderr)
	}
	if got := lc.served(t, ctx); got != before {
		t.Errorf("after cutover restore the service serves %s, want %s", got, before)
	}
	if who := lc.claimant(t, ctx); who != "" {
		t.Errorf("claim of %s still on the service after the restore", who)
	}
	if rec, err := results.Read(runDir); err != nil || rec.Cutover.Left != results.LeftRestored {
		t.Errorf("record after cutover restore: %v, left %q", err, rec.Cutover.Left)
	}
}

func TestASecondRunRefusesAndKill9IsRestored(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lc := startLocalCloud(t, ctx, dir)
	before := lc.served(t, ctx)

	first, _, errb := startRun(t, dir, shiftScenario(t, dir, "first", lc.ep.ControlPlane), "--out", "out")
	waitFor(t, ctx, "the 10% step", func() bool { return firstStep.MatchString(lc.served(t, ctx)) }, errb)
	holder := lc.claimant(t, ctx)
	if holder == "" {
		t.Fatal("the running cutover holds no claim on the service")
	}

	second := runBinary(t, dir, "run", shiftScenario(t, dir, "second", lc.ep.ControlPlane), "--out", "out2")
	if second.code != ExitHarness || !strings.Contains(second.stderr, holder) {
		t.Errorf("second run: exit %d, want %d naming %s\nstderr:\n%s", second.code, ExitHarness, holder, second.stderr)
	}
	if got := lc.served(t, ctx); !firstStep.MatchString(got) {
		t.Errorf("the second run changed the split: %s", got)
	}

	if err := first.Process.Kill(); err != nil { // kill -9
		t.Fatal(err)
	}
	_ = first.Wait()
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	report := runBinary(t, dir, "report", runDir)
	if report.code != ExitPass || !strings.Contains(report.stdout, "NOT RESTORED") ||
		!strings.Contains(report.stdout, "cutover restore "+runDir) {
		t.Errorf("report of the killed run: exit %d, does not start with the restore:\n%s", report.code, report.stdout)
	}
	inv := runBinary(t, dir, "restore", runDir)
	if inv.code != ExitPass {
		t.Fatalf("cutover restore: exit %d\nstdout:\n%s\nstderr:\n%s", inv.code, inv.stdout, inv.stderr)
	}
	if got := lc.served(t, ctx); got != before {
		t.Errorf("after cutover restore the service serves %s, want %s", got, before)
	}
	if who := lc.claimant(t, ctx); who != "" {
		t.Errorf("claim of %s still on the service after the restore", who)
	}
	// A restore over someone else's change refuses.
	again := runBinary(t, dir, "restore", runDir)
	if again.code != ExitPass || !strings.Contains(again.stdout, "restored already") {
		t.Errorf("a second restore: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
}

// cutProxy forwards TCP to a backend until cut: then it closes every
// connection and refuses new ones, as a control plane that went away.
type cutProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, backend string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(b, c); b.Close() }()
		go func() { _, _ = io.Copy(c, b); c.Close() }()
	}
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cutProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
