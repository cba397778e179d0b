package reporters

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

var (
	// fractionalCount is a count written with decimals: "72.7 errors".
	fractionalCount = regexp.MustCompile(`\d\.\d+ (errors?|requests?|periods?)\b`)
	// primaryOf reads a finding's title: "— primary cause of 74 of 90
	// errors" or "— primary cause of 3 errors".
	primaryOf = regexp.MustCompile(`(?m)^  \d+\. .* — primary cause of ([\d,]+)(?: of [\d,]+)? errors?$`)
	// unexplainedOf reads "16 errors explained by no finding."
	unexplainedOf = regexp.MustCompile(`(?m)^  ([\d,]+) errors? explained by no finding\.$`)
	// headlineErrors reads the verdict line: "VERDICT: FAIL · 90 errors in".
	headlineErrors = regexp.MustCompile(`(?m)^VERDICT: \S+ · ([\d,]+) errors? in`)
)

// unexplainedRun is failRun with upstream-timeout not found: its 16 errors
// are explained by no finding.
func unexplainedRun() *results.Run {
	run := failRun()
	run.Findings = run.Findings[:1]
	run.Findings[0].AlsoConsistent = nil
	run.Diagnosis.Unexplained = 16
	return run
}

// accountedRuns are every fixture and the variants that exercise the
// accounting.
func accountedRuns() map[string]*results.Run {
	out := map[string]*results.Run{"unexplained": unexplainedRun()}
	for _, fx := range fixtures {
		out[fx.name] = fx.run()
	}
	return out
}

func count(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		t.Fatalf("%q is not a count: %v", s, err)
	}
	return n
}

// Every report writes counts whole, and in each diagnosed record and its
// text report the primary errors of the findings plus the errors explained
// by no finding are the run's errors.
func TestReportsAccountForEveryError(t *testing.T) {
	for name, run := range accountedRuns() {
		t.Run(name, func(t *testing.T) {
			for _, format := range Formats {
				render, err := ByName(format)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := render(&buf, run); err != nil {
					t.Fatal(err)
				}
				if m := fractionalCount.FindAllString(buf.String(), -1); len(m) > 0 {
					t.Errorf("%s report writes fractional counts: %q", format, m)
				}
			}
			if run.Diagnosis == nil {
				return
			}
			primary := run.Diagnosis.Unexplained
			for _, f := range run.Findings {
				primary += f.Primary
			}
			if primary != run.Totals.Errors {
				t.Errorf("record: primary + unexplained = %d, want the %d errors", primary, run.Totals.Errors)
			}
			text := render(t, func(w *bytes.Buffer) error { return Text(w, run) })
			findings := text[strings.Index(text, "\nFINDINGS\n"):strings.Index(text, "\nSUMMARY\n")]
			var shown int64
			for _, m := range primaryOf.FindAllStringSubmatch(findings, -1) {
				shown += count(t, m[1])
			}
			switch m := unexplainedOf.FindStringSubmatch(findings); {
			case m != nil:
				shown += count(t, m[1])
			case len(run.Findings) == 0:
				// noFindings: "none: no cause found for the 37 errors …"
				shown = run.Totals.Errors
				if !strings.Contains(findings, "none: ") {
					t.Errorf("no finding and no line saying so:\n%s", findings)
				}
			}
			total := count(t, headlineErrors.FindStringSubmatch(text)[1])
			if shown != total {
				t.Errorf("text: primary causes and unexplained show %d errors, the headline %d:\n%s", shown, total, findings)
			}
		})
	}
}

// A failed run ends with a CONCLUSION that names why: the top finding, or
// the verdict's first reason; also when no client saw an error, and when
// nothing was diagnosed or recorded. Every other report ends with one too.
func TestConclusionEndsEveryReport(t *testing.T) {
	bare := failRun()
	bare.Findings, bare.Diagnosis, bare.Series = nil, nil, nil
	empty := failRun()
	empty.Timeline, empty.Findings = nil, nil
	tests := []struct {
		name string
		run  *results.Run
		want string // the conclusion's first line
	}{
		{"the top finding", failRun(), "CONCLUSION: FAIL · nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors"},
		{"no client error: the failed action", imageMissingRun(), "CONCLUSION: FAIL · revision-not-ready (high confidence)"},
		{"no finding: the verdict's first reason", bare, "CONCLUSION: FAIL · 90 errors in the verdict window (max_errors 0)"},
		{"no timeline", empty, "CONCLUSION: FAIL · 90 errors in the verdict window (max_errors 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := render(t, func(w *bytes.Buffer) error { return Text(w, tt.run) })
			i := strings.LastIndex(text, "\nCONCLUSION: ")
			if i < 0 {
				t.Fatalf("no conclusion:\n%s", text)
			}
			tail := text[i+1:]
			if first, _, _ := strings.Cut(tail, "\n"); first != tt.want {
				t.Errorf("conclusion %q, want %q", first, tt.want)
			}
			for _, section := range []string{"\nTIMELINE", "\nDIAGNOSIS", "\nEVENTS"} {
				if strings.Contains(tail, section) {
					t.Errorf("%s after the conclusion:\n%s", section, tail)
				}
			}
		})
	}
	// A pass and an inconclusive run end with one too: the verdict's first
	// reason.
	for _, run := range []*results.Run{passRun(), inconclusiveRun()} {
		text := render(t, func(w *bytes.Buffer) error { return Text(w, run) })
		want := "\nCONCLUSION: " + strings.ToUpper(run.Verdict.Status) + " · " + run.Verdict.Reasons[0]
		if i := strings.LastIndex(text, "\nCONCLUSION: "); i < 0 || i < strings.LastIndex(text, "\nTIMELINE") ||
			!strings.HasPrefix(strings.Join(strings.Fields(text[i:]), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("%s run does not end with %q:\n%s", run.Verdict.Status, want, text)
		}
	}
}

// The text and Markdown reports say which errors no finding explains, and
// which other findings fit a cause's errors.
func TestUnexplainedAndAlsoConsistent(t *testing.T) {
	text := render(t, func(w *bytes.Buffer) error { return Text(w, unexplainedRun()) })
	for _, want := range []string{
		"  1. nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors\n     - Cloud NAT dropped",
		"\n  16 errors explained by no finding.\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if tail := text[strings.LastIndex(text, "\nCONCLUSION"):]; !strings.Contains(tail, "  16 errors explained by no finding.\n") || strings.Contains(tail, "more finding") {
		t.Errorf("conclusion:\n%s", tail)
	}
	md := render(t, func(w *bytes.Buffer) error { return Markdown(w, unexplainedRun()) })
	if !strings.Contains(md, "\n16 errors explained by no finding.\n") {
		t.Errorf("markdown lacks the unexplained errors:\n%s", md)
	}
	one := unexplainedRun()
	one.Diagnosis.Unexplained, one.Findings[0].Primary = 1, 89
	if text := render(t, func(w *bytes.Buffer) error { return Text(w, one) }); !strings.Contains(text, "\n  1 error explained by no finding.\n") {
		t.Error("no singular for one unexplained error")
	}
}

// The first DIAGNOSIS row is the period the load started in, shown from
// the load's start: the metric grid is not aligned to the load, and a row
// never starts before it.
func TestDiagnosisFirstRowStartsWithTheLoad(t *testing.T) {
	run := failRun()
	shift := 2898 * time.Millisecond // the grid starts 2.898 s before the load
	for i := range run.Diagnosis.Buckets {
		b := &run.Diagnosis.Buckets[i]
		b.Start, b.End = b.Start.Add(-shift), b.End.Add(-shift)
	}
	for i := range run.Series {
		for j := range run.Series[i].Points {
			p := &run.Series[i].Points[j]
			p.Start, p.End = p.Start.Add(-shift), p.End.Add(-shift)
		}
	}
	tab := diagnosisTable(t, render(t, func(w *bytes.Buffer) error { return Text(w, run) }))
	if at := tab.rows[0]["at"]; at != "+0s" {
		t.Errorf("first row at %q, want +0s (the load's start)", at)
	}
	if at := tab.rows[1]["at"]; at != "+3.102s" {
		t.Errorf("second row at %q, want +3.102s (the grid)", at)
	}
	for _, r := range tab.rows {
		if strings.HasPrefix(r["at"], "-") {
			t.Errorf("row at %s, before the load", r["at"])
		}
	}
	// A run started before its load (preflight) shows the load's offset.
	late := failRun()
	late.StartedAt = start.Add(-5 * time.Second)
	if at := diagnosisTable(t, render(t, func(w *bytes.Buffer) error { return Text(w, late) })).rows[0]["at"]; at != "+5s" {
		t.Errorf("first row at %q, want +5s", at)
	}
}
