//go:build linux

package main

import (
	"bytes"
	"context"
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
)

// hostileScenario is a valid scenario but for the load lines given.
func hostileScenario(load string) string {
	return "version: 1\nname: hostile\ntarget: {url: \"http://127.0.0.1:1\"}\nload:\n  requests: [{path: /}]\n  duration: 1m\n  " + load + "\n"
}

// hostileRequests is a valid scenario but for the requests given.
func hostileRequests(requests string) string {
	return strings.Replace(hostileScenario("rate: 10/s"), "[{path: /}]", requests, 1)
}

// hostileAliasBomb is a scenario of about 130 KB whose aliases expand,
// through typed fields (20,000 requests sharing a 5,000-entry header map),
// to 10⁸ map entries.
func hostileAliasBomb() string {
	var b strings.Builder
	b.WriteString("version: 1\nname: bomb\ntarget: {url: \"http://127.0.0.1:1\"}\nload:\n  rate: 1/s\n  duration: 1s\n")
	b.WriteString("  requests:\n    - &r {path: /, headers: {")
	for i := range 5000 {
		fmt.Fprintf(&b, "h%d: x, ", i)
	}
	b.WriteString("}}\n    - [")
	b.WriteString(strings.Repeat("*r, ", 20000))
	b.WriteString("]\n")
	return b.String()
}

// TestHostileInputIsRefused runs `cutover validate` on input built to crash
// it, exhaust it or slip past it, and checks that each is refused like any
// invalid scenario: exit 2, the file and a position (or, for a file that is
// not a scenario file at all, the file and the reason), no Go runtime
// crash, no raw control character, and bounded memory. (Linux only: the
// test reads ru_maxrss, which is in kilobytes there.)
func TestHostileInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := writeScenario(t, dir, "big.yaml", "# "+strings.Repeat("x", 5<<20)+"\n")

	tests := []struct {
		name string
		// file is the path to validate; body, when file is empty, is
		// written to NAME.yaml.
		file, body string
		// want is a regular expression stderr must match.
		want string
	}{
		{name: "alias-bomb", body: hostileAliasBomb(), want: `alias-bomb\.yaml:9:\d+: more than 100000 YAML nodes with aliases expanded`},
		// The densest YAML under the size cap: half a million nodes.
		{name: "node-flood", body: "version: 1\nx: [" + strings.Repeat("1,", 1<<19-16) + "1]\n", want: `node-flood\.yaml:2:\d+: more than 100000 YAML nodes`},
		{name: "dev-zero", file: "/dev/zero", want: `/dev/zero: not a regular file \(a character device\)`},
		{name: "fifo", file: fifo, want: regexp.QuoteMeta(fifo) + `: not a regular file \(a named pipe\)`},
		{name: "five-MB", file: big, want: regexp.QuoteMeta(big) + `: \d+ bytes is too large; a scenario file is at most 1 MiB`},
		{name: "window-1ns", body: hostileScenario("rate: 10/s\n  window: 1ns"), want: `window-1ns\.yaml:8:3: load\.window: must be between 100ms and 1m, got 1ns`},
		{name: "sessions-1e9", body: hostileScenario("rate: 10/s\n  sessions: {count: 1000000000}"), want: `sessions-1e9\.yaml:8:14: load\.sessions\.count: must be at most 100000`},
		{name: "duration-100000h", body: strings.Replace(hostileScenario("rate: 10/s"), "duration: 1m", "duration: 100000h", 1), want: `duration-100000h\.yaml:6:3: load\.duration: must be between 1ms and 24h, got 100000h`},
		{name: "rate-1e12", body: hostileScenario("rate: 1000000000000/s"), want: `rate-1e12\.yaml:7:3: load\.rate: "1000000000000/s": at most 100000/s`},
		{name: "rate-per-1ns", body: hostileScenario("rate: 10/1ns"), want: `rate-per-1ns\.yaml:7:3: load\.rate: "10/1ns": the time after / must be at least 1ms`},
		{name: "timeout-1ns", body: hostileScenario("rate: 10/s\n  timeout: 1ns"), want: `timeout-1ns\.yaml:8:3: load\.timeout: must be between 1ms and 10m, got 1ns`},
		{name: "concurrency-1e8", body: hostileScenario("concurrency: 1e8"), want: `concurrency-1e8\.yaml:7:16: load\.concurrency: expected an integer, got 1e8`},
		{name: "concurrency-100000000", body: hostileScenario("concurrency: 100000000"), want: `concurrency-100000000\.yaml:7:3: load\.concurrency: must be at most 10000`},
		{name: "path-no-slash", body: hostileRequests("[{path: items}]"), want: `path-no-slash\.yaml:5:\d+: load\.requests\[0\]\.path: "items": must start with /`},
		{name: "path-dotdot", body: hostileRequests("[{path: /a/../../etc/passwd}]"), want: `path-dotdot\.yaml:5:\d+: load\.requests\[0\]\.path: "/a/\.\./\.\./etc/passwd": has a \.\. segment`},
		{name: "path-dotdot-encoded", body: hostileRequests("[{path: /a/%2e%2E/b}]"), want: `path-dotdot-encoded\.yaml:5:\d+: load\.requests\[0\]\.path: "/a/%2e%2E/b": has a \.\. segment`},
		{name: "binary-garbage", body: "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00\x01\x00\x00\x00\xff\xfe", want: `binary-garbage\.yaml:1:1: invalid YAML: control character U\+007F`},
		{name: "crlf-header-name", body: hostileRequests(`[{path: /, headers: {"X-A\r\nX-B": v}}]`), want: `crlf-header-name\.yaml:5:\d+: load\.requests\[0\]\.headers\.X-A\\r\\nX-B: "X-A\\r\\nX-B": not a valid header name`},
		{name: "crlf-header-value", body: hostileRequests(`[{path: /, headers: {X-A: "v\r\nInjected: 1"}}]`), want: `crlf-header-value\.yaml:5:\d+: load\.requests\[0\]\.headers\.X-A: "v\\r\\nInjected: 1": the value must not contain line breaks`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = writeScenario(t, dir, tt.name+".yaml", tt.body)
			}
			validateHostile(t, dir, tt.name, file, tt.want)
		})
	}
}

// validateHostile runs `cutover validate file` in dir and checks it is
// refused like any invalid scenario: exit 2, stderr matching want, no Go
// runtime crash, no raw control character, bounded memory and time.
func validateHostile(t *testing.T, dir, name, file, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a crash guard, not a timing assertion
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "validate", file)
	cmd.Dir = dir
	cmd.Env = withoutEnv(os.Environ(), "GOMEMLIMIT", "GOGC")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("cutover validate %s still running after 20 s; stderr:\n%.2000s", file, stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run cutover: %v", err)
	}
	maxRSS := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KB on Linux
	t.Logf("%s: exit %d in %s, max RSS %d MB", name, cmd.ProcessState.ExitCode(), wall.Round(time.Millisecond), maxRSS>>10)

	out := stderr.String()
	if code := ExitCode(cmd.ProcessState.ExitCode()); code != ExitInvalidInput {
		t.Errorf("exit code %d, want %d; stderr:\n%.2000s", code, ExitInvalidInput, out)
	}
	if !regexp.MustCompile(want).MatchString(out) {
		t.Errorf("stderr does not match %s:\n%.2000s", want, out)
	}
	for _, crash := range []string{"fatal error", "panic", "goroutine "} {
		if strings.Contains(out+stdout.String(), crash) {
			t.Errorf("output holds %q, a Go runtime crash:\n%.2000s", crash, out)
		}
	}
	for _, r := range out {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			t.Errorf("stderr holds the raw control character %U:\n%q", r, out)
			break
		}
	}
	if maxRSS > 200<<10 {
		t.Errorf("max RSS %d MB, want under 200 MB", maxRSS>>10)
	}
	if wall > 10*time.Second {
		t.Errorf("took %s, want well under 10 s", wall)
	}
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			if name == n {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
