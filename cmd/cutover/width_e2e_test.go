package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-runewidth"

	"github.com/cutover-dev/cutover/reporters"
)

// columns measures a line as a terminal shows it: "×" and the box drawing
// take one column, a wide character two.
var columns = (&runewidth.Condition{EastAsianWidth: false}).StringWidth

// flatText is s with every run of white space one space: a phrase of the
// text report's prose is found whatever the width wrapped it at.
func flatText(s string) string { return strings.Join(strings.Fields(s), " ") }

// runBinaryColumns runs the binary with COLUMNS set to cols.
func runBinaryColumns(t *testing.T, dir string, cols int, args ...string) invocation {
	t.Helper()
	return runBinaryEnv(t, dir, []string{fmt.Sprintf("COLUMNS=%d", cols)}, args...)
}

// assertFits fails for every line of text wider than width.
func assertFits(t *testing.T, what, text string, width int) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if n := columns(line); n > width {
			t.Errorf("%s line %d is %d columns wide, over %d: %q", what, i+1, n, width, line)
		}
	}
}

// With COLUMNS=80 the text report printed by `cutover run` and by `cutover
// report` fits 80 columns, and report.txt is written at the default 100
// whatever the terminal, also when the report on stdout is wider.
func TestTextReportFitsColumns(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 10 {
		case 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 7:
			w.WriteHeader(http.StatusGatewayTimeout)
			fmt.Fprint(w, "upstream request timeout")
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	p := writeScenario(t, dir, "wide.yaml", fmt.Sprintf(`version: 1
name: a-scenario-with-a-rather-long-name-for-the-header
target: {url: %s}
load:
  requests: [{path: /hello}]
  rate: 100/s
  duration: 2s
verdict:
  min_requests: 150
  max_errors: 100000
  thresholds: ["p99 < 2s", "status_504 < 100000", "error_rate < 50%%"]
`, srv.URL))
	inv := runBinaryColumns(t, dir, 80, "run", p, "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitPass, inv.stdout, inv.stderr)
	}
	if !strings.Contains(inv.stdout, "\nCONCLUSION: PASS · ") {
		t.Errorf("the report on stdout does not conclude:\n%s", inv.stdout)
	}
	assertFits(t, "stdout of run", inv.stdout, 80)
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	file, err := os.ReadFile(filepath.Join(runDir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	assertFits(t, "report.txt", string(file), reporters.DefaultTextWidth)

	// The run's junit.xml validates against the xUnit plugin's schema too.
	if xmllint, err := exec.LookPath("xmllint"); err == nil {
		schema, _ := filepath.Abs(filepath.Join("..", "..", "reporters", "testdata", "junit-10.xsd"))
		if out, err := exec.Command(xmllint, "--noout", "--schema", schema, filepath.Join(runDir, "junit.xml")).CombinedOutput(); err != nil {
			t.Errorf("junit.xml does not validate against junit-10.xsd: %v\n%s", err, out)
		}
	}

	rep := runBinaryColumns(t, dir, 80, "report", runDir)
	if rep.code != ExitPass {
		t.Fatalf("report exit %d: %s", rep.code, rep.stderr)
	}
	assertFits(t, "stdout of report", rep.stdout, 80)
	if rep.stdout != inv.stdout {
		t.Errorf("cutover report at 80 columns differs from the run's own report:\n%s\n---\n%s", rep.stdout, inv.stdout)
	}
	// A wide terminal gets the table whole; one below the minimum width
	// gets the report at the minimum.
	wide := runBinaryColumns(t, dir, 200, "report", runDir)
	assertFits(t, "stdout of report at COLUMNS=200", wide.stdout, 200)
	narrow := runBinaryColumns(t, dir, 20, "report", runDir)
	assertFits(t, "stdout of report at COLUMNS=20", narrow.stdout, reporters.MinTextWidth)
}

func TestStdoutWidth(t *testing.T) {
	env := func(columns string, terminal int) Env {
		return Env{Getenv: func(k string) string {
			if k == "COLUMNS" {
				return columns
			}
			return ""
		}, TerminalWidth: terminal}
	}
	for _, tt := range []struct {
		columns  string
		terminal int
		want     int
	}{
		{"", 0, reporters.DefaultTextWidth},   // a pipe
		{"", 132, 132},                        // a terminal
		{"80", 132, 80},                       // COLUMNS wins
		{"80", 0, 80},                         // also when piped
		{"wide", 120, 120},                    // not a number: the terminal's
		{"-3", 0, reporters.DefaultTextWidth}, // not a width
		{"0", 0, reporters.DefaultTextWidth},
		{" 90 ", 0, 90},
	} {
		if got := stdoutWidth(env(tt.columns, tt.terminal)); got != tt.want {
			t.Errorf("COLUMNS=%q terminal %d: width %d, want %d", tt.columns, tt.terminal, got, tt.want)
		}
	}
	if got := stdoutWidth(Env{}); got != reporters.DefaultTextWidth {
		t.Errorf("no Getenv: width %d, want %d", got, reporters.DefaultTextWidth)
	}
}
