package reporters

import (
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/compare"
)

// CompareText writes the comparison for a terminal: the runs, the summary,
// the errors by class, the cutover timings, the findings, how it was
// computed, and last the verdict line. No line is wider than 100 columns
// unless a name in it is.
func CompareText(w io.Writer, c *compare.Comparison) error {
	ew := &errWriter{w: w}
	ew.printf("cutover compare · %s\n", c.Scenario)
	ew.printf("base  %s  (%s, verdict %s)\n", c.Base.RunID, c.Base.State, c.Base.Verdict)
	ew.printf("head  %s  (%s, verdict %s)\n", c.Head.RunID, c.Head.State, c.Head.Verdict)
	if len(c.ScenarioDiffers) > 0 {
		ew.printf("warning: the scenarios differ in %s\n", strings.Join(c.ScenarioDiffers, ", "))
	}
	ew.printf("cutover window (from the load's start): base %s, head %s\n\n", cmpSpan(c.Base.CutoverWindow), cmpSpan(c.Head.CutoverWindow))

	rows := cmpSummaryRows(c)
	table := [][]string{{"METRIC", "BASE", "HEAD", "Δ", "VERDICT"}}
	for _, r := range rows {
		table = append(table, []string{r.metric, r.base, r.head, r.delta, r.outcome})
	}
	cmpColumns(ew, table)

	ew.printf("\nERRORS BY CLASS (95%% Clopper–Pearson intervals; Fisher's exact p)\n")
	classes := [][]string{{"SCOPE", "CLASS", "BASE", "HEAD", "p"}}
	for _, e := range c.Errors {
		classes = append(classes, []string{string(e.Scope), string(e.Class),
			fmt.Sprintf("%d %s", e.Base.Errors, cmpBounds(e.Base)), fmt.Sprintf("%d %s", e.Head.Errors, cmpBounds(e.Head)),
			compare.PValueString(e.PValue)})
	}
	cmpColumns(ew, classes)

	if len(c.Cutover) > 0 {
		ew.printf("\nCUTOVER (seconds; base → head)\n")
		cut := [][]string{{"SERVICE", "DEPLOY→READY", "READY→TRAFFIC", "DEPLOY→TRAFFIC"}}
		for _, s := range c.Cutover {
			cut = append(cut, []string{s.Service,
				cmpSecs(s.Base.DeployToReady) + " → " + cmpSecs(s.Head.DeployToReady),
				cmpSecs(s.Base.ReadyToTraffic) + " → " + cmpSecs(s.Head.ReadyToTraffic),
				cmpSecs(s.Base.DeployToTraffic) + " → " + cmpSecs(s.Head.DeployToTraffic)})
		}
		cmpColumns(ew, cut)
	}

	ew.printf("\nFINDINGS\n")
	for _, f := range c.Findings.New {
		ew.printf("  new: %s\n", f)
	}
	for _, f := range c.Findings.Gone {
		ew.printf("  gone: %s\n", f)
	}
	for _, f := range c.Findings.Kept {
		ew.printf("  in both: %s\n", f)
	}
	if len(c.Findings.New)+len(c.Findings.Gone)+len(c.Findings.Kept) == 0 {
		ew.printf("  none in either run\n")
	}

	ew.printf("\nMETHOD\n")
	for _, m := range c.Method {
		ew.printf("%s\n", cmpWrap("  ", m, 98))
	}
	ew.printf("\nVERDICT: %s\n", c.Verdict.Status)
	for _, r := range c.Verdict.Reasons {
		ew.printf("%s\n", cmpWrap("  - ", r, 98))
	}
	if ew.err != nil {
		return fmt.Errorf("render compare text: %w", ew.err)
	}
	return nil
}

// cmpColumns writes rows as left-aligned columns two spaces apart.
func cmpColumns(ew *errWriter, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(cell)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+2))
			}
		}
		ew.printf("%s\n", strings.TrimRight(b.String(), " "))
	}
}

// cmpWrap folds text into lines of at most width runes, the first prefixed
// with prefix and the rest indented as far.
func cmpWrap(prefix, text string, width int) string {
	indent := strings.Repeat(" ", len([]rune(prefix)))
	var lines []string
	line := prefix
	for _, word := range strings.Fields(text) {
		if len([]rune(line))+1+len([]rune(word)) > width && strings.TrimSpace(line) != strings.TrimSpace(prefix) {
			lines = append(lines, line)
			line = indent
		}
		if line != prefix && line != indent {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), "\n")
}
