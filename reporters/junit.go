package reporters

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// JUnit writes JUnit XML for CI: one testsuite "cutover/<scenario>" holding a
// testcase per threshold, a testcase "preflight" when the preflight guard
// found something (a failure for a missing image, output for one at
// risk), for a diagnosed run a testcase "metrics" and one
// per finding (class "<suite>.diagnosis", named after the cause), and last a
// testcase "verdict". A failed threshold or a failed verdict is a failure,
// and so is every finding of a failed run, its evidence and remedies in the
// failure text; an inconclusive verdict is skipped, and so are thresholds
// that failed and findings of an inconclusive run (a saturated generator
// cannot judge them), so an inconclusive run never turns CI red by itself.
// Metrics that never reached the end of the run are a skipped "metrics".
// The document validates against junit-10.xsd, the schema the Jenkins
// xUnit plugin checks JUnit reports with (vendored in reporters/testdata).
func JUnit(w io.Writer, run *results.Run) error {
	v, err := newView(run)
	if err != nil {
		return fmt.Errorf("render junit report: %w", err)
	}
	suite := v.junitSuite()
	ew := &errWriter{w: w}
	_, _ = io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(suite.document()); err != nil {
		return fmt.Errorf("render junit report: %w", err)
	}
	_, _ = io.WriteString(ew, "\n")
	if ew.err != nil {
		return fmt.Errorf("render junit report: %w", ew.err)
	}
	return nil
}

// junitSuite builds the run's testsuite: its properties, then the
// threshold, metrics, finding and verdict cases, counted.
func (v *view) junitSuite() junitSuite {
	r := v.run
	suite := junitSuite{
		Name:      "cutover/" + v.name,
		Time:      fmt.Sprintf("%.3f", r.Load.Duration),
		Timestamp: junitTimestamp(r),
		Properties: []junitProperty{
			{"run_id", r.RunID},
			{"state", r.State},
			{"tool_version", r.ToolVersion},
			{"requests", fmt.Sprint(r.Totals.Requests)},
			{"errors", fmt.Sprint(r.Totals.Errors)},
			{"error_rate_upper_95", strconv.FormatFloat(r.Verdict.ErrorRateUpper95, 'g', -1, 64)},
		},
	}
	suite.Cases = v.junitThresholds(suite.Name)
	if tc, ok := v.junitPreflight(suite.Name); ok {
		suite.Cases = append(suite.Cases, tc)
	}
	if d := v.diagnosis; d != nil {
		suite.Properties = append(suite.Properties, junitProperty{"metrics", d.metrics})
		suite.Cases = append(suite.Cases, d.junitMetrics(suite.Name))
	}
	if len(v.findings) > 0 {
		suite.Properties = append(suite.Properties, junitProperty{"cause", v.findings[0].Cause})
	}
	suite.Cases = append(suite.Cases, v.junitFindings(suite.Name)...)
	suite.Cases = append(suite.Cases, v.junitVerdict(suite.Name, suite.Time))
	suite.count()
	return suite
}

// junitThresholds is a testcase per threshold: a failure when broken, or
// skipped when the run is inconclusive.
func (v *view) junitThresholds(suite string) []junitCase {
	var cases []junitCase
	inconclusive := v.run.Verdict.Status == results.StatusInconclusive
	for _, th := range v.run.Verdict.Thresholds {
		tc := junitCase{Name: th.Expr, Classname: suite + ".thresholds", Time: "0"}
		switch {
		case th.Pass:
		case inconclusive:
			tc.Skipped = &junitSkipped{Message: fmt.Sprintf("not judged, the run is inconclusive: actual %s, expected %s", fmtNum(th.Actual), th.Expr)}
		default:
			tc.Failure = &junitFailure{
				Message: fmt.Sprintf("actual %s, expected %s", fmtNum(th.Actual), th.Expr),
				Type:    "threshold",
				Text:    fmt.Sprintf("threshold %s failed: actual value %s", th.Expr, fmtNum(th.Actual)),
			}
		}
		cases = append(cases, tc)
	}
	return cases
}

// junitMetrics is the "metrics" testcase, skipped when they are missing.
func (d *diagnosis) junitMetrics(suite string) junitCase {
	metrics := junitCase{Name: "metrics", Classname: suite + ".diagnosis", Time: "0"}
	if d.metrics == results.MetricsMissing {
		metrics.Skipped = &junitSkipped{Message: "metrics " + metricsMissing(d.note)}
	}
	metrics.SystemOut = d.heading() + "\nmetrics: " + d.metricsLine()
	return metrics
}

// junitFindings is a testcase per finding: a failure of a failed run,
// skipped in an inconclusive one, output only otherwise.
func (v *view) junitFindings(suite string) []junitCase {
	var cases []junitCase
	r := v.run
	for i, f := range v.findings {
		tc := junitCase{Name: f.Cause, Classname: suite + ".diagnosis", Time: "0"}
		title := findingTitle(f, r.Totals.Errors)
		text := findingText(i+1, title, f)
		switch r.Verdict.Status {
		case results.StatusFail:
			tc.Failure = &junitFailure{Message: title, Type: "finding", Text: text}
		case results.StatusInconclusive:
			tc.Skipped = &junitSkipped{Message: "not judged, the run is inconclusive: " + title}
			tc.SystemOut = text
		default:
			tc.SystemOut = text
		}
		cases = append(cases, tc)
	}
	return cases
}

// junitVerdict is the "verdict" testcase: a failure, skipped when
// inconclusive, an error when the run did not finish.
func (v *view) junitVerdict(suite, elapsed string) junitCase {
	r := v.run
	verdict := junitCase{Name: "verdict", Classname: suite, Time: elapsed}
	detail := v.status + " · " + v.headline
	if len(r.Verdict.Reasons) > 0 {
		detail += "\n- " + strings.Join(r.Verdict.Reasons, "\n- ")
	}
	switch r.Verdict.Status {
	case results.StatusPass:
		verdict.SystemOut = detail
	case results.StatusInconclusive:
		verdict.Skipped = &junitSkipped{Message: oneLine(v.status, r.Verdict.Reasons)}
		verdict.SystemOut = detail
	case results.StatusFail:
		verdict.Failure = &junitFailure{Message: oneLine(v.status, r.Verdict.Reasons), Type: "verdict", Text: detail}
	default:
		verdict.Error = &junitFailure{Message: "no verdict: the run did not finish (state " + r.State + ")", Type: "incomplete", Text: detail}
	}
	return verdict
}

// count sets the suite's totals from its cases.
func (s *junitSuite) count() {
	for _, c := range s.Cases {
		s.Tests++
		switch {
		case c.Failure != nil:
			s.Failures++
		case c.Error != nil:
			s.Errors++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
}

// document wraps the suite in the testsuites root. The root carries no
// skipped count: the Jenkins xUnit plugin's junit-10.xsd, which the
// strictest consumers validate against, allows it only on a testsuite.
func (s junitSuite) document() junitSuites {
	return junitSuites{
		Name: "cutover", Tests: s.Tests, Failures: s.Failures, Errors: s.Errors,
		Time: s.Time, Suites: []junitSuite{s},
	}
}

// junitTimestamp is the start time in the schema's zone-less ISO 8601 form,
// in UTC.
func junitTimestamp(r *results.Run) string {
	if r.StartedAt.IsZero() {
		return ""
	}
	return r.StartedAt.UTC().Format("2006-01-02T15:04:05")
}

// findingText is a finding as plain text: its title, the findings also
// consistent with its errors, its evidence and remedies. Ruled-out
// findings are no test cases: they failed nothing.
func findingText(n int, title string, f results.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d. %s", n, title)
	if also := alsoConsistent(f); also != "" {
		b.WriteString("\n" + also)
	}
	for _, ev := range f.Evidence {
		b.WriteString("\n- " + ev)
	}
	if len(f.Remedy) > 0 {
		b.WriteString("\nRemedies:")
		for _, rem := range f.Remedy {
			b.WriteString("\n- " + rem)
		}
	}
	return b.String()
}

func oneLine(status string, reasons []string) string {
	if len(reasons) == 0 {
		return status
	}
	return status + ": " + strings.Join(reasons, "; ")
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped"`
	Failure   *junitFailure `xml:"failure"`
	Error     *junitFailure `xml:"error"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}
