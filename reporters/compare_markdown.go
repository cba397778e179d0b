package reporters

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/compare"
)

// Bounds of a comparison's Markdown.
const (
	// MaxCompareMarkdown is the most characters the Markdown of a
	// comparison has: GitHub refuses comments of 65,536 and more.
	MaxCompareMarkdown = 60_000
	// maxChartPoints is the most points of the errors chart: windows are
	// summed into groups so that a 1-hour run still draws ~100 points.
	maxChartPoints = 100
)

// CompareMarkdown writes the comparison for a pull-request comment: the
// verdict, a summary table (metric | base | head | Δ | verdict), a mermaid
// xychart-beta of errors per window of both runs with the cutover window
// marked, and the details in <details> blocks. It stays under
// MaxCompareMarkdown characters whatever the runs' length: the chart is
// downsampled, and if the details would pass the bound they are left out
// with a note.
func CompareMarkdown(w io.Writer, c *compare.Comparison) error {
	var buf bytes.Buffer
	cmpWriteMarkdown(&buf, c, true)
	if buf.Len() > MaxCompareMarkdown {
		buf.Reset()
		cmpWriteMarkdown(&buf, c, false)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("render compare markdown: %w", err)
	}
	return nil
}

func cmpWriteMarkdown(b *bytes.Buffer, c *compare.Comparison, details bool) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## cutover compare · `%s`\n\n", cmpMdCell(c.Scenario))
	p("**%s** · %s\n\n", c.Verdict.Status, cmpMdText(strings.Join(c.Verdict.Reasons, "; ")))
	p("base `%s` (verdict %s) → head `%s` (verdict %s)\n\n", cmpMdCell(c.Base.RunID), c.Base.Verdict, cmpMdCell(c.Head.RunID), c.Head.Verdict)
	if len(c.ScenarioDiffers) > 0 {
		p("> ⚠ the scenarios differ in: %s\n\n", cmpMdText(strings.Join(c.ScenarioDiffers, ", ")))
	}
	p("| metric | base | head | Δ | verdict |\n|---|---|---|---|---|\n")
	for _, r := range cmpSummaryRows(c) {
		p("| %s | %s | %s | %s | %s |\n", cmpMdCell(r.metric), cmpMdCell(r.base), cmpMdCell(r.head), cmpMdCell(r.delta), cmpMdCell(r.outcome))
	}
	p("\nCutover window, from the load's start: base %s, head %s.\n\n", cmpSpan(c.Base.CutoverWindow), cmpSpan(c.Head.CutoverWindow))
	cmpErrorsChart(b, c.Timeline)
	if !details {
		p("\n_Details left out to keep this comment under %d characters: `cutover compare --format json` has them._\n", MaxCompareMarkdown)
		return
	}
	p("\n<details><summary>Errors by class</summary>\n\n")
	p("| scope | class | base | base 95%% | head | head 95%% | Fisher p |\n|---|---|---|---|---|---|---|\n")
	for _, e := range c.Errors {
		p("| %s | %s | %s/%s | %s | %s/%s | %s | %s |\n", e.Scope, cmpMdCell(string(e.Class)),
			cmpCount(e.Base.Errors), cmpCount(e.Base.Requests), cmpBounds(e.Base),
			cmpCount(e.Head.Errors), cmpCount(e.Head.Requests), cmpBounds(e.Head), compare.PValueString(e.PValue))
	}
	p("\n</details>\n\n<details><summary>Latency</summary>\n\n")
	p("| scope | quantile | base | head | Δ | 99%% interval of Δ | floor | significant | verdict |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range c.Latency {
		interval, floor := "—", "—"
		if l.Interval != nil {
			interval = fmt.Sprintf("%+.2f … %+.2f ms", l.Interval.Low, l.Interval.High)
			floor = fmt.Sprintf("%.2f ms", l.FloorMs)
		}
		p("| %s | %s | %s | %s | %+.2f ms | %s | %s | %t | %s |\n", l.Scope, l.Quantile, cmpMs(l.BaseMs), cmpMs(l.HeadMs),
			l.DeltaMs, interval, floor, l.Significant, cmpMdCell(string(l.Outcome)))
	}
	if len(c.Cutover) > 0 {
		p("\n</details>\n\n<details><summary>Cutover per service</summary>\n\n")
		p("| service | deploy → ready | ready → traffic | deploy → traffic |\n|---|---|---|---|\n")
		for _, s := range c.Cutover {
			p("| %s | %s → %s | %s → %s | %s → %s |\n", cmpMdCell(s.Service),
				cmpSecs(s.Base.DeployToReady), cmpSecs(s.Head.DeployToReady),
				cmpSecs(s.Base.ReadyToTraffic), cmpSecs(s.Head.ReadyToTraffic),
				cmpSecs(s.Base.DeployToTraffic), cmpSecs(s.Head.DeployToTraffic))
		}
	}
	p("\n</details>\n\n<details><summary>Findings</summary>\n\n")
	for _, f := range c.Findings.New {
		p("- new: %s\n", cmpMdText(f.String()))
	}
	for _, f := range c.Findings.Gone {
		p("- gone: %s\n", cmpMdText(f.String()))
	}
	for _, f := range c.Findings.Kept {
		p("- in both: %s\n", cmpMdText(f.String()))
	}
	if len(c.Findings.New)+len(c.Findings.Gone)+len(c.Findings.Kept) == 0 {
		p("- none in either run\n")
	}
	p("\n</details>\n\n<details><summary>Method</summary>\n\n")
	for _, m := range c.Method {
		p("- %s\n", cmpMdText(m))
	}
	p("\n</details>\n")
}

// cmpErrorsChart writes a mermaid xychart-beta of errors per window of
// both runs, on one axis of seconds from each load's start, summed into at
// most maxChartPoints groups. xychart-beta has no vertical markers, so the
// cutover window is a bar series: bars as tall as the y-axis over the
// groups the head's cutover window (or the base's) overlaps, and the text
// above the chart says which series is which (xychart-beta has no legend).
func cmpErrorsChart(b *bytes.Buffer, t compare.Timeline) {
	n := max(len(t.Base), len(t.Head))
	if n == 0 {
		return
	}
	group := (n + maxChartPoints - 1) / maxChartPoints
	points := (n + group - 1) / group
	sum := func(s []int64) []int64 {
		out := make([]int64, points)
		for i, v := range s {
			out[i/group] += v
		}
		return out
	}
	base, head := sum(t.Base), sum(t.Head)
	top := int64(1)
	for i := range points {
		top = max(top, base[i], head[i])
	}
	cut := t.HeadCutover
	if cut == nil {
		cut = t.BaseCutover
	}
	width := t.WindowSeconds * float64(group)
	labels := make([]string, points)
	marks := make([]int64, points)
	for i := range points {
		from := float64(i) * width
		labels[i] = fmt.Sprintf("%q", fmt.Sprintf("%.0fs", from))
		if cut != nil && from < cut.To && from+width > cut.From {
			marks[i] = top
		}
	}
	fmt.Fprintf(b, "Errors per %gs window: first line base, second line head; the bars mark the cutover window.\n\n", width)
	fmt.Fprintf(b, "```mermaid\nxychart-beta\n")
	fmt.Fprintf(b, "    title \"Errors per %gs window, base vs head\"\n", width)
	fmt.Fprintf(b, "    x-axis \"seconds from the load's start\" [%s]\n", strings.Join(labels, ", "))
	fmt.Fprintf(b, "    y-axis \"errors\" 0 --> %d\n", top)
	if cut != nil {
		fmt.Fprintf(b, "    bar [%s]\n", cmpJoinInts(marks))
	}
	fmt.Fprintf(b, "    line [%s]\n", cmpJoinInts(base))
	fmt.Fprintf(b, "    line [%s]\n", cmpJoinInts(head))
	fmt.Fprintf(b, "```\n")
}

func cmpJoinInts(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// cmpMdCell makes s safe inside a GFM table cell: pipes escaped, no line
// breaks, no HTML.
func cmpMdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cmpMdText makes free text safe in a Markdown paragraph or list item.
func cmpMdText(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
