package reporters

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/cutover-dev/cutover/compare"
	"github.com/cutover-dev/cutover/results"
)

// CompareFormats lists the formats a comparison renders to, in the order
// they are documented: CompareByName's, and html (CompareHTML, which
// draws the two records too).
var CompareFormats = []string{"text", "json", "markdown", "junit", "html"}

// CompareByName returns the renderer of a comparison for format (text,
// json, markdown or junit). Each is a pure function of the
// *compare.Comparison, like the run reporters; html needs the two records
// as well: CompareHTML.
func CompareByName(format string) (func(io.Writer, *compare.Comparison) error, error) {
	switch format {
	case "text":
		return CompareText, nil
	case "json":
		return CompareJSON, nil
	case "markdown":
		return CompareMarkdown, nil
	case "junit":
		return CompareJUnit, nil
	}
	return nil, fmt.Errorf("unknown compare format %q (valid: %s)", format, strings.Join(CompareFormats, ", "))
}

// CompareJSON writes the comparison as indented JSON, with the field names
// of compare.Comparison's json tags (stable: scripts read them).
func CompareJSON(w io.Writer, c *compare.Comparison) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("render compare json: %w", err)
	}
	return nil
}

// CompareHTML writes the comparison page: the base and head records
// overlaid on the charts of HTMLCompare, with the comparison's verdict, its
// reasons and its summary table on top.
func CompareHTML(w io.Writer, base, head *results.Run, c *compare.Comparison) error {
	if c == nil {
		return fmt.Errorf("render compare html: no comparison")
	}
	return HTMLCompare(w, base, head, CompareSummaryOf(c))
}

// CompareSummaryOf is the comparison's verdict, its reasons and its summary
// table (metric | base | head | Δ | verdict) as the HTML page shows them.
func CompareSummaryOf(c *compare.Comparison) CompareSummary {
	s := CompareSummary{
		Verdict: string(c.Verdict.Status),
		Reasons: c.Verdict.Reasons,
		Header:  []string{"metric", "base", "head", "Δ", "verdict"},
	}
	for _, r := range cmpSummaryRows(c) {
		s.Rows = append(s.Rows, []string{r.metric, r.base, r.head, r.delta, r.outcome})
	}
	return s
}

// cmpRow is one line of a comparison's summary: metric | base | head
// | Δ | verdict.
type cmpRow struct {
	metric, base, head, delta, outcome string
	// judged rows are the ones with a limit (a JUnit testcase each).
	judged bool
	// failed is a regression.
	failed bool
}

// cmpSummaryRows are the comparison's headline metrics, in report order:
// requests, errors overall and in the cutover window, the latency
// quantiles, each service's deploy → traffic time, the findings.
func cmpSummaryRows(c *compare.Comparison) []cmpRow {
	rows := []cmpRow{{
		metric: "requests", base: cmpCount(c.Base.Requests), head: cmpCount(c.Head.Requests),
		delta: fmt.Sprintf("%+d", c.Head.Requests-c.Base.Requests), outcome: "—",
	}}
	for _, e := range c.Errors {
		if e.Class != compare.ClassAll {
			continue
		}
		rows = append(rows, cmpRow{
			metric:  "errors " + cmpScopeLabel(e.Scope),
			base:    fmt.Sprintf("%s (%s)", cmpCount(e.Base.Errors), cmpRate(e.Base.Rate)),
			head:    fmt.Sprintf("%s (%s)", cmpCount(e.Head.Errors), cmpRate(e.Head.Rate)),
			delta:   fmt.Sprintf("%+d (%s pp), %s", e.Head.Errors-e.Base.Errors, cmpSignedPP(e.Head.Rate-e.Base.Rate), compare.FormatP(e.PValue)),
			outcome: string(e.Outcome), judged: true, failed: e.Outcome == compare.OutcomeRegression,
		})
	}
	for _, l := range c.Latency {
		rows = append(rows, cmpRow{
			metric: l.Quantile + " " + cmpScopeLabel(l.Scope), base: cmpMs(l.BaseMs), head: cmpMs(l.HeadMs),
			delta: cmpLatencyDelta(l), outcome: string(l.Outcome),
			judged: l.Quantile != compare.QuantileMax, failed: l.Outcome == compare.OutcomeRegression,
		})
	}
	for _, s := range c.Cutover {
		rows = append(rows, cmpRow{
			metric: s.Service + " deploy → traffic", base: cmpSecs(s.Base.DeployToTraffic), head: cmpSecs(s.Head.DeployToTraffic),
			delta: cmpSecsDelta(s.Base.DeployToTraffic, s.Head.DeployToTraffic), outcome: "—",
		})
	}
	for _, f := range c.Findings.New {
		rows = append(rows, cmpRow{metric: "finding " + f.Cause, base: "—", head: f.Confidence, delta: "new", outcome: string(compare.OutcomeRegression), failed: true})
	}
	for _, f := range c.Findings.Gone {
		rows = append(rows, cmpRow{metric: "finding " + f.Cause, base: f.Confidence, head: "—", delta: "gone", outcome: string(compare.OutcomeImprovement)})
	}
	return rows
}

func cmpScopeLabel(s compare.Scope) string {
	if s == compare.ScopeCutover {
		return "(cutover window)"
	}
	return "(overall)"
}

func cmpLatencyDelta(l compare.LatencyComparison) string {
	d := fmt.Sprintf("%+.1f ms", l.DeltaMs)
	if l.BaseMs > 0 {
		d += fmt.Sprintf(" (%+.0f%%)", 100*l.DeltaRel)
	}
	if l.Interval != nil {
		d += fmt.Sprintf(" [%+.1f…%+.1f]", l.Interval.Low, l.Interval.High)
	}
	return d
}

func cmpMs(ms float64) string {
	switch {
	case ms >= 10_000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

func cmpSecs(s *float64) string {
	if s == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f s", *s)
}

func cmpSecsDelta(b, h *float64) string {
	if b == nil || h == nil {
		return "—"
	}
	return fmt.Sprintf("%+.1f s", *h-*b)
}

// cmpCount writes n with thousands separators.
func cmpCount(n int64) string { return fmtInt(n) }

// cmpRate writes a rate as a percentage, with 3 significant digits.
func cmpRate(f float64) string {
	if f == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.3g%%", 100*f)
}

func cmpSignedPP(f float64) string {
	if math.Abs(f) < 5e-7 {
		return "±0"
	}
	return fmt.Sprintf("%+.3g", 100*f)
}

// cmpBounds writes a proportion's 95% interval.
func cmpBounds(p compare.Proportion) string {
	return fmt.Sprintf("[%s, %s]", cmpRate(p.Lower95), cmpRate(p.Upper95))
}

// cmpVerdictLine is the comparison's one-line verdict.
func cmpVerdictLine(c *compare.Comparison) string {
	return fmt.Sprintf("%s · %s", c.Verdict.Status, strings.Join(c.Verdict.Reasons, "; "))
}

// cmpSpan writes a cutover window.
func cmpSpan(s *compare.Span) string {
	if s == nil {
		return "none (no cutover events)"
	}
	return fmt.Sprintf("%.0f–%.0f s", s.From, s.To)
}
