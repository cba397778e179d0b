package reporters

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

func render(t *testing.T, r func(w *bytes.Buffer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// timelineRows returns the timeline rows of a text report, cells trimmed,
// a cell wrapped onto more lines joined by spaces.
func timelineRows(t *testing.T, text string) [][]string {
	t.Helper()
	_, tl, ok := strings.Cut(text, "\nTIMELINE")
	if !ok {
		t.Fatalf("no timeline in:\n%s", text)
	}
	tabs := textTables(tl)
	if len(tabs) == 0 {
		t.Fatalf("no timeline table in:\n%s", tl)
	}
	tab := tabs[0]
	var rows [][]string
	for _, r := range tab.rows {
		var cells []string
		for _, h := range tab.header {
			cells = append(cells, r[h])
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestTextFailingRun(t *testing.T) {
	text := render(t, func(w *bytes.Buffer) error { return Text(w, failRun()) })
	lines := strings.Split(text, "\n")

	if !strings.Contains(lines[0], "nat-exhaustion") || !strings.Contains(lines[0], "20261123-233658-nat-exhaustion-9c1e") {
		t.Errorf("header line lacks scenario or run id: %q", lines[0])
	}
	// The verdict is the first thing after the header.
	verdict := lines[slices.Index(lines, "")+1]
	if !strings.HasPrefix(verdict, "VERDICT: FAIL") || !strings.Contains(verdict, "error rate ≤ 0.92% (95% upper bound)") {
		t.Errorf("verdict line = %q", verdict)
	}

	// Every window with errors is in a timeline row with those errors, and
	// the rows before the first burst are clean.
	rows := timelineRows(t, text)
	if len(rows) == 0 || len(rows) > maxTimelineRows {
		t.Fatalf("timeline has %d rows, want 1..%d", len(rows), maxTimelineRows)
	}
	var sumRequests, sumErrors int
	burstRow := -1
	for i, r := range rows {
		var req, errs int
		fmt.Sscan(strings.ReplaceAll(r[1], ",", ""), &req)
		fmt.Sscan(strings.ReplaceAll(r[2], ",", ""), &errs)
		sumRequests += req
		sumErrors += errs
		if burstRow < 0 && errs > 0 {
			burstRow = i
		}
		if strings.Contains(r[4], "connect_timeout") && r[5] != "10000" {
			t.Errorf("connect_timeout row %q: p99 max %s, want 10000", r, r[5])
		}
	}
	if sumRequests != failWindows*failRate || sumErrors != failErrors {
		t.Errorf("timeline rows sum to %d requests, %d errors; want %d, %d", sumRequests, sumErrors, failWindows*failRate, failErrors)
	}
	if burstRow < 1 {
		t.Fatalf("no clean timeline row before the first error:\n%s", text)
	}
	if burst := rows[burstRow]; burst[0] != "+25s" && !strings.HasPrefix(burst[0], "+25s..") || !strings.Contains(burst[4], "502×16") {
		t.Errorf("first row with errors = %q, want one from +25s with status_502", burst)
	}
	// The event that preceded the burst is marked on the row before it.
	if !strings.Contains(rows[burstRow-1][6], "traffic-applied") {
		t.Errorf("row before the burst = %q, want the traffic-applied mark", rows[burstRow-1])
	}

	for _, want := range []string{
		"│ status_502 ", "│ status_504 ", "│ connect_timeout ", "fetch_failed (= all transport classes)", "upstream_timeout (= 504s",
		"│ p99 < 800ms       │     2400 ms │ FAIL", "│ p50 < 100ms       │     22.5 ms │ PASS",
		"│ status_504 == 0   │ 42 requests │ FAIL", "│ deploy-start    │   +12s │", "50 sessions, 12 re-pinned",
	} {
		if !strings.Contains(text, want) && !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(text, "│ status_503") || strings.Contains(text, "│ eof") {
		t.Error("classes table shows zero classes")
	}
}

func TestTextVerdicts(t *testing.T) {
	tests := []struct {
		run  func() *results.Run
		want []string
	}{
		{passRun, []string{"VERDICT: PASS · 0 errors in 6,000 requests (0%) · error rate ≤ 0.05% (95% upper bound)"}},
		{inconclusiveRun, []string{"VERDICT: INCONCLUSIVE", "WARNING: load generator saturated: achieved 612.5/s of 1000/s asked", "· aborted"}},
		{func() *results.Run {
			r := failRun()
			r.State, r.Verdict, r.EndedAt = results.StateRunning, results.Verdict{}, time.Time{}
			return r
		}, []string{"VERDICT: NO VERDICT", "running (record incomplete"}},
	}
	for _, tt := range tests {
		text := render(t, func(w *bytes.Buffer) error { return Text(w, tt.run()) })
		for _, want := range tt.want {
			if !strings.Contains(text, want) {
				t.Errorf("text lacks %q:\n%s", want, text)
			}
		}
	}
}

func TestTextWithoutTimelineOrEvents(t *testing.T) {
	run := &results.Run{RunID: "x", State: results.StateRunning}
	text := render(t, func(w *bytes.Buffer) error { return Text(w, run) })
	for _, want := range []string{"(unnamed scenario)", "no requests completed", "TIMELINE: no windows recorded"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "EVENTS") || strings.Contains(text, "THRESHOLDS") {
		t.Errorf("empty sections shown:\n%s", text)
	}
}

func TestCondense(t *testing.T) {
	mk := func(n int, width time.Duration, errAt func(i int) int64) []results.Window {
		var ws []results.Window
		for i := range n {
			e := errAt(i)
			ws = append(ws, results.Window{Start: start.Add(time.Duration(i) * width), Requests: 10, Errors: e,
				ByClass: map[results.Class]int64{results.ClassOK: 10 - e, results.ClassStatus503: e}, P99: float64(i)})
		}
		return ws
	}
	tests := []struct {
		name      string
		windows   []results.Window
		wantRows  int
		errorRows []string // spans of the rows with errors
	}{
		{"one window", mk(1, time.Second, func(int) int64 { return 0 }), 1, nil},
		{"short run, a row per window", mk(5, time.Second, func(i int) int64 { return int64(i % 2) }), 5, []string{"+1s..+2s", "+3s..+4s"}},
		{"burst gets exact rows", mk(600, time.Second, func(i int) int64 {
			if i >= 301 && i < 304 {
				return 3
			}
			return 0
		}), 12, []string{"+5m01s..+5m04s"}},
		{"scattered errors fall back to a grid", mk(1000, time.Second, func(i int) int64 { return int64(i % 13 / 12) }), 20, nil},
		{"sub-second windows", mk(40, 250*time.Millisecond, func(i int) int64 {
			if i == 6 {
				return 1
			}
			return 0
		}), 12, []string{"+1.5s..+1.75s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Shuffled input: condense sorts.
			ws := append([]results.Window{}, tt.windows[len(tt.windows)/2:]...)
			ws = append(ws, tt.windows[:len(tt.windows)/2]...)
			tl := condense(ws, start, nil, maxTimelineRows)
			if len(tl.rows) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(tl.rows), tt.wantRows)
			}
			var req, errs, wantErrs int64
			var errorRows []string
			for i, r := range tl.rows {
				req += r.requests
				errs += r.errors
				if r.errors > 0 {
					errorRows = append(errorRows, rowRange(r))
				}
				if i > 0 && r.from < tl.rows[i-1].to {
					t.Errorf("row %s overlaps the previous %s", rowRange(r), rowRange(tl.rows[i-1]))
				}
			}
			for _, w := range tt.windows {
				wantErrs += w.Errors
			}
			if req != int64(10*len(tt.windows)) || errs != wantErrs {
				t.Errorf("rows hold %d requests, %d errors; want %d, %d", req, errs, 10*len(tt.windows), wantErrs)
			}
			if tt.errorRows != nil && strings.Join(errorRows, " ") != strings.Join(tt.errorRows, " ") {
				t.Errorf("error rows %v, want %v", errorRows, tt.errorRows)
			}
			if last := tl.rows[len(tl.rows)-1]; last.p99Max != float64(len(tt.windows)-1) {
				t.Errorf("last row p99 max %v, want %d", last.p99Max, len(tt.windows)-1)
			}
		})
	}
}

func TestCondenseMarksEvents(t *testing.T) {
	var ws []results.Window
	for i := range 100 {
		ws = append(ws, results.Window{Start: start.Add(time.Duration(i) * time.Second), Requests: 1})
	}
	events := []eventRow{{kind: "early", offset: -5 * time.Second}, {kind: "deploy", offset: 42 * time.Second}, {kind: "late", offset: 500 * time.Second}}
	tl := condense(ws, start, events, maxTimelineRows)
	find := func(kind string) string {
		for _, r := range tl.rows {
			for _, k := range r.events {
				if k == kind {
					return rowRange(r)
				}
			}
		}
		return "nowhere"
	}
	for kind, want := range map[string]string{"early": "+0s..+5s", "deploy": "+40s..+45s", "late": "+1m35s..+1m40s"} {
		if got := find(kind); got != want {
			t.Errorf("event %s marked on %s, want %s", kind, got, want)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtInt(0), "0"}, {fmtInt(999), "999"}, {fmtInt(1000), "1,000"}, {fmtInt(-1234567), "-1,234,567"},
		{fmtFrac(0), "0%"}, {fmtFrac(1), "100%"}, {fmtFrac(0.99978), "99.98%"}, {fmtFrac(0.5), "50.0%"},
		{fmtFrac(0.0123), "1.23%"}, {fmtFrac(0.0003), "0.03%"}, {fmtFrac(0.0000381), "0.0038%"},
		{fmtDuration(45 * time.Second), "45s"}, {fmtDuration(125 * time.Second), "2m05s"},
		{fmtDuration(time.Hour + 2*time.Minute + 15*time.Second), "1h02m15s"}, {fmtDuration(1500 * time.Millisecond), "1.5s"},
		{fmtOffset(-2 * time.Second), "-2s"}, {fmtOffset(0), "+0s"},
		{fmtOffset(6238 * time.Millisecond), "+6.238s"}, {fmtDuration(62238 * time.Millisecond), "1m02.238s"},
		{fmtMs(0.125), "0.12"}, {fmtMs(12.25), "12.2"}, {fmtMs(812.6), "813"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := mdText("a|b <script> *x* [l](u) under_score"); got != `a\|b \<script\> \*x\* \[l\](u) under\_score` {
		t.Errorf("mdText = %q", got)
	}
	if got := mdCode("p99 | `x`"); got != "`p99 \\| 'x'`" {
		t.Errorf("mdCode = %q", got)
	}
}

func TestMarkdownHasNoHTML(t *testing.T) {
	run := failRun()
	run.Verdict.Reasons = append(run.Verdict.Reasons, "<img src=x onerror=alert(1)> | broken")
	md := render(t, func(w *bytes.Buffer) error { return Markdown(w, run) })
	if regexp.MustCompile(`(^|[^\\])<[a-z]`).MatchString(md) || !strings.Contains(md, `\<img`) {
		t.Errorf("markdown holds raw HTML:\n%s", md)
	}
	if !strings.HasPrefix(md, "## cutover: nat-exhaustion — **FAIL**\n") {
		t.Errorf("title = %q", strings.SplitN(md, "\n", 2)[0])
	}
	checkMarkdownTables(t, md)
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Errors   int    `xml:"errors,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
			Error   *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitCounts(t *testing.T) {
	noVerdict := func() *results.Run { r := passRun(); r.Verdict.Status = ""; r.State = results.StateRunning; return r }
	tests := []struct {
		name                                  string
		run                                   func() *results.Run
		suite                                 string
		tests, failures, skipped, errs        int
		verdictFailed, verdictSkipped, verErr bool
	}{
		{"pass", passRun, "cutover/smoke", 3, 0, 0, 0, false, false, false},
		{"fail", failRun, "cutover/nat-exhaustion", 8, 6, 0, 0, true, false, false},
		{"inconclusive", inconclusiveRun, "cutover/ramp-to-1000", 3, 0, 2, 0, false, true, false},
		{"metrics missing", missingRun, "cutover/egress-check", 3, 0, 2, 0, false, true, false},
		{"no verdict", noVerdict, "cutover/smoke", 3, 0, 0, 1, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, func(w *bytes.Buffer) error { return JUnit(w, tt.run()) })
			var doc junitDoc
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("invalid XML: %v\n%s", err, out)
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if s.Name != tt.suite {
				t.Errorf("suite name %q, want %q", s.Name, tt.suite)
			}
			var failures, skipped, errs int
			for _, c := range s.Cases {
				if c.Failure != nil {
					failures++
				}
				if c.Skipped != nil {
					skipped++
				}
				if c.Error != nil {
					errs++
				}
			}
			if s.Tests != len(s.Cases) || s.Failures != failures || s.Skipped != skipped || s.Errors != errs {
				t.Errorf("suite attributes tests=%d failures=%d skipped=%d errors=%d disagree with its cases (%d, %d, %d, %d)",
					s.Tests, s.Failures, s.Skipped, s.Errors, len(s.Cases), failures, skipped, errs)
			}
			if s.Tests != tt.tests || s.Failures != tt.failures || s.Skipped != tt.skipped || s.Errors != tt.errs {
				t.Errorf("tests=%d failures=%d skipped=%d errors=%d, want %d %d %d %d",
					s.Tests, s.Failures, s.Skipped, s.Errors, tt.tests, tt.failures, tt.skipped, tt.errs)
			}
			if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors {
				t.Error("testsuites totals differ from the suite's")
			}
			v := s.Cases[len(s.Cases)-1]
			if v.Name != "verdict" || (v.Failure != nil) != tt.verdictFailed || (v.Skipped != nil) != tt.verdictSkipped || (v.Error != nil) != tt.verErr {
				t.Errorf("verdict case = %+v", v)
			}
		})
	}
}

// A record a killed run left, or one whose restore did not happen, says
// first what to put back and the command that does it, in every format a
// person reads.
func TestIncompleteRecordShowsTheRestoreFirst(t *testing.T) {
	for _, tt := range []struct {
		name, state, left string
	}{
		{"killed mid-shift", results.StateRunning, results.LeftInFlight},
		{"restore abandoned", results.StateAborted, results.LeftNotRestored},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run := failRun()
			run.State = tt.state
			run.Cutover.Left, run.Cutover.Restored = tt.left, false
			run.Cutover.RestoreCommand = "cutover restore runs/20261203-x"
			text := render(t, func(w *bytes.Buffer) error { return Text(w, run) })
			lines := strings.Split(text, "\n")
			lines = lines[slices.Index(lines, "")+1:] // after the header
			notice := strings.Join(lines, "\n")
			if len(lines) < 5 || !strings.HasPrefix(lines[0], "NOT RESTORED:") ||
				!strings.Contains(notice, "\n  put back: web: web-00001-abc=100%\n") ||
				!strings.Contains(notice, "\n  command:  cutover restore runs/20261203-x\n") {
				t.Errorf("text report does not start with the restore:\n%s", strings.Join(lines[:min(6, len(lines))], "\n"))
			}
			if strings.Contains(text, "traffic left as the actions set it") {
				t.Errorf("the report says the traffic was left as set:\n%s", text)
			}
			md := render(t, func(w *bytes.Buffer) error { return Markdown(w, run) })
			if !strings.Contains(md, "> **NOT RESTORED:") || !strings.Contains(md, "cutover restore runs/20261203-x") {
				t.Errorf("markdown lacks the restore notice:\n%s", md)
			}
		})
	}
	clean := failRun()
	if text := render(t, func(w *bytes.Buffer) error { return Text(w, clean) }); strings.Contains(text, "NOT RESTORED") {
		t.Errorf("a restored run reports NOT RESTORED:\n%s", text)
	}
}
