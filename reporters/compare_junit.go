package reporters

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/compare"
)

// CompareJUnit writes the comparison as JUnit XML: one testsuite
// "cutover-compare/<scenario>" with a testcase per compared metric that
// has a limit (errors overall and in the cutover window, p50/p90/p99 in
// each scope), one per new finding, and last "verdict". A regression is a
// failure; an INCONCLUSIVE verdict is a skipped "verdict". The skipped
// count is an attribute of the testsuite only: Jenkins' junit-10.xsd
// allows none on testsuites.
func CompareJUnit(w io.Writer, c *compare.Comparison) error {
	name := "cutover-compare/" + c.Scenario
	suite := cmpJUnitSuite{Name: name, Timestamp: cmpJUnitTimestamp(c)}
	for _, r := range cmpSummaryRows(c) {
		if !r.judged && !r.failed {
			continue
		}
		tc := cmpJUnitCase{Name: r.metric, Classname: name + ".metrics", Time: "0",
			SystemOut: fmt.Sprintf("base %s, head %s, Δ %s: %s", r.base, r.head, r.delta, r.outcome)}
		if r.failed {
			tc.Failure = &cmpJUnitFailure{Message: fmt.Sprintf("%s: base %s, head %s, Δ %s", r.metric, r.base, r.head, r.delta), Type: "regression", Text: tc.SystemOut}
		}
		suite.Cases = append(suite.Cases, tc)
	}
	verdict := cmpJUnitCase{Name: "verdict", Classname: name, Time: "0", SystemOut: cmpVerdictLine(c)}
	switch c.Verdict.Status {
	case compare.StatusRegression:
		verdict.Failure = &cmpJUnitFailure{Message: cmpVerdictLine(c), Type: "verdict", Text: strings.Join(c.Verdict.Reasons, "\n")}
	case compare.StatusInconclusive:
		verdict.Skipped = &cmpJUnitSkipped{Message: cmpVerdictLine(c)}
	}
	suite.Cases = append(suite.Cases, verdict)
	for _, tc := range suite.Cases {
		suite.Tests++
		switch {
		case tc.Failure != nil:
			suite.Failures++
		case tc.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := cmpJUnitSuites{Name: "cutover-compare", Tests: suite.Tests, Failures: suite.Failures, Suites: []cmpJUnitSuite{suite}}
	ew := &errWriter{w: w}
	_, _ = io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("render compare junit: %w", err)
	}
	_, _ = io.WriteString(ew, "\n")
	if ew.err != nil {
		return fmt.Errorf("render compare junit: %w", ew.err)
	}
	return nil
}

func cmpJUnitTimestamp(c *compare.Comparison) string {
	if c.Head.StartedAt.IsZero() {
		return ""
	}
	return c.Head.StartedAt.UTC().Format("2006-01-02T15:04:05")
}

// The XML of a comparison's JUnit report. They are the compare report's
// own types, so the run report's JUnit can change without changing it.
type cmpJUnitSuites struct {
	XMLName  xml.Name        `xml:"testsuites"`
	Name     string          `xml:"name,attr"`
	Tests    int             `xml:"tests,attr"`
	Failures int             `xml:"failures,attr"`
	Suites   []cmpJUnitSuite `xml:"testsuite"`
}

type cmpJUnitSuite struct {
	Name      string         `xml:"name,attr"`
	Tests     int            `xml:"tests,attr"`
	Failures  int            `xml:"failures,attr"`
	Errors    int            `xml:"errors,attr"`
	Skipped   int            `xml:"skipped,attr"`
	Timestamp string         `xml:"timestamp,attr,omitempty"`
	Cases     []cmpJUnitCase `xml:"testcase"`
}

type cmpJUnitCase struct {
	Name      string           `xml:"name,attr"`
	Classname string           `xml:"classname,attr"`
	Time      string           `xml:"time,attr"`
	Skipped   *cmpJUnitSkipped `xml:"skipped"`
	Failure   *cmpJUnitFailure `xml:"failure"`
	SystemOut string           `xml:"system-out,omitempty"`
}

type cmpJUnitSkipped struct {
	Message string `xml:"message,attr"`
}

type cmpJUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}
