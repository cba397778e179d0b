package reporters

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// Text writes the report at DefaultTextWidth columns, as report.txt holds
// it; TextWidth writes it at another width.
func Text(w io.Writer, run *results.Run) error {
	return TextWidth(DefaultTextWidth)(w, run)
}

// The widths of the text report, in terminal columns (display width: "×"
// and "→" take one, a wide character two).
const (
	// DefaultTextWidth is the width of report.txt and of a report printed
	// to a pipe.
	DefaultTextWidth = 100
	// MinTextWidth is the narrowest report TextWidth writes: a smaller width
	// is raised to it.
	MinTextWidth = 60
)

// TextWidth returns the reporter that writes the report for a terminal of
// width columns (at least MinTextWidth): a header line, the verdict, what
// the preflight guard found before the load, the findings with their primary errors, evidence and remedies (and those
// ruled out), a summary, the result classes, latency, thresholds, events,
// the diagnosis (one row per metric period, client errors beside the
// platform's signals), the timeline condensed to at most 20 rows with
// events marked where they happened, and a conclusion. A run that read no
// metrics has no findings or diagnosis section. A failed run, and any run
// with findings, ends with the CONCLUSION: why, as the top finding or the
// verdict's first reason. It uses no color, so it reads the same in a log
// file. No line is wider than width: prose wraps with its indentation, a
// table too wide has its cells wrapped, and the diagnosis table, when it
// does not fit, is split into the client's side and the platform's, stacked.
func TextWidth(width int) func(io.Writer, *results.Run) error {
	width = max(width, MinTextWidth)
	return func(w io.Writer, run *results.Run) error {
		v, err := newView(run)
		if err != nil {
			return fmt.Errorf("render text report: %w", err)
		}
		ew := &errWriter{w: w}
		if err := (&textReport{view: v, width: width}).write(ew); err != nil {
			return fmt.Errorf("render text report: %w", err)
		}
		if ew.err != nil {
			return fmt.Errorf("render text report: %w", ew.err)
		}
		return nil
	}
}

// textReport is a view rendered as text at a width.
type textReport struct {
	*view
	width int
}

// lines writes s wrapped to the report's width, the first line starting
// with first and the rest with rest.
func (v *textReport) lines(w *errWriter, s, first, rest string) {
	for _, line := range wrap(s, v.width, first, rest) {
		w.printf("%s\n", line)
	}
}

func (v *textReport) write(w *errWriter) error {
	v.textHeader(w)
	v.textPreflight(w)
	v.textFindings(w)
	v.textSummary(w)
	for _, section := range []func(*errWriter) error{
		v.textClasses, v.textLatency, v.textThresholds, v.textCutover, v.textEvents, v.textDiagnosis, v.textTimeline,
	} {
		if err := section(w); err != nil {
			return err
		}
	}
	v.textConclusion(w)
	return nil
}

// textHeader writes the header line, the restore notice and the verdict
// with its reasons.
func (v *textReport) textHeader(w *errWriter) {
	r := v.run
	for _, line := range joinFit([]string{"cutover", v.name, "run " + r.RunID, "started " + fmtTime(r.StartedAt),
		"duration " + runDuration(r), stateLabel(r.State)}, " · ", v.width, "  ") {
		w.printf("%s\n", line)
	}
	w.printf("\n")
	if notice := restoreNotice(r); len(notice) > 0 {
		for _, line := range notice {
			// The restore command is never broken: it is copied and run.
			if twwidth.Width(line) <= v.width || strings.HasPrefix(line, restoreCommandLabel) {
				w.printf("%s\n", line) // as aligned
				continue
			}
			indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
			v.lines(w, line, indent, indent+"  ")
		}
		w.printf("\n")
	}
	v.lines(w, "VERDICT: "+v.status+" · "+v.headline, "", "  ")
	for _, reason := range r.Verdict.Reasons {
		v.lines(w, reason, "  - ", "    ")
	}
}

// textSummary writes the request and error counts and the load.
func (v *textReport) textSummary(w *errWriter) {
	r := v.run
	w.printf("\nSUMMARY\n")
	w.printf("  %-9s %s\n", "requests", fmtInt(r.Totals.Requests))
	w.printf("  %-9s %s (%s)\n", "errors", fmtInt(r.Totals.Errors), fmtPct(r.Totals.Errors, r.Totals.Requests))
	v.lines(w, rateSummary(r.Load), fmt.Sprintf("  %-9s ", "load"), strings.Repeat(" ", 12))
	if warn := saturationWarning(r.Load); warn != "" {
		v.lines(w, warn, "  WARNING: ", "    ")
	}
}

// textClasses writes the result classes table, if any result was counted.
func (v *textReport) textClasses(w *errWriter) error {
	if len(v.classes) == 0 {
		return nil
	}
	w.printf("\nRESULT CLASSES\n")
	rows := make([][]string, len(v.classes))
	for i, c := range v.classes {
		name := string(c.class)
		if c.derived != "" {
			name += " (= " + c.derived + ")"
		}
		if c.codes != "" {
			name += " (" + c.codes + ")"
		}
		rows[i] = []string{name, fmtInt(c.count), fmtPct(c.count, v.run.Totals.Requests)}
	}
	return renderTable(w, v.width, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight}, []string{"class", "requests", "% of requests"}, rows)
}

// textLatency writes the latency summary.
func (v *textReport) textLatency(w *errWriter) error {
	w.printf("\nLATENCY (ms)\n")
	l := v.run.Latency
	right := tw.AlignRight
	return renderTable(w, v.width, []tw.Align{right, right, right, right, right, right},
		[]string{"p50", "p90", "p95", "p99", "max", "mean"},
		[][]string{{fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max), fmtMs(l.Mean)}})
}

// thresholdActual writes a threshold's actual value in the unit of its
// metric: "2,400 ms", "0.75%", "42 requests".
func thresholdActual(th results.ThresholdResult) string {
	parsed, err := scenarios.ParseThreshold(th.Expr)
	if err != nil {
		return fmtNum(th.Actual)
	}
	switch parsed.Metric.Unit() {
	case scenarios.UnitMillis:
		return fmtMs(th.Actual) + " ms"
	case scenarios.UnitFraction:
		return fmtFrac(th.Actual)
	}
	return fmtCount(th.Actual) + " requests"
}

// textThresholds writes each threshold with its actual value, if any.
func (v *textReport) textThresholds(w *errWriter) error {
	ths := v.run.Verdict.Thresholds
	if len(ths) == 0 {
		return nil
	}
	w.printf("\nTHRESHOLDS\n")
	rows := make([][]string, len(ths))
	for i, th := range ths {
		rows[i] = []string{th.Expr, thresholdActual(th), passFail(th.Pass)}
	}
	return renderTable(w, v.width, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignLeft}, []string{"threshold", "actual", "result"}, rows)
}

// textCutover writes what the run did to the service, if it had actions.
func (v *textReport) textCutover(w *errWriter) error {
	if c := v.run.Cutover; c != nil {
		w.printf("\nCUTOVER\n")
		for _, line := range cutoverLines(c) {
			v.lines(w, line[1], fmt.Sprintf("  %-9s ", line[0]), strings.Repeat(" ", 12))
		}
	}
	return nil
}

// textEvents writes the events table, if any.
func (v *textReport) textEvents(w *errWriter) error {
	if len(v.events) == 0 {
		return nil
	}
	w.printf("\nEVENTS\n")
	return renderTable(w, v.width, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignLeft}, []string{"event", "at", "details"}, v.eventRows())
}

// joinFit joins parts with sep into lines of at most width columns, the
// lines after the first starting with indent; a part is split only when it
// alone is wider than a line.
func joinFit(parts []string, sep string, width int, indent string) []string {
	var lines []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "" && len(lines) == 0:
			line = p
		case twwidth.Width(line+sep+p) <= width:
			line += sep + p
			continue
		default:
			lines = append(lines, line)
			line = indent + p
		}
		if twwidth.Width(line) > width {
			first := strings.TrimSuffix(line, p)
			split := wrap(p, width, first, indent)
			lines, line = append(lines, split[:len(split)-1]...), split[len(split)-1]
		}
	}
	return append(lines, line)
}

// textTimeline writes the condensed timeline.
func (v *textReport) textTimeline(w *errWriter) error {
	tl := v.timeline
	if len(tl.rows) == 0 {
		w.printf("\nTIMELINE: no windows recorded\n")
		return nil
	}
	v.lines(w, fmt.Sprintf("TIMELINE (%s windows, %d in %d rows, offsets from the start)", fmtDuration(tl.width), tl.windows, len(tl.rows)), "\n", "  ")
	t := textTable{cols: []textColumn{
		{"window", tw.AlignLeft, 0}, {"requests", tw.AlignRight, 2}, {"errors", tw.AlignRight, 0},
		{"err %", tw.AlignRight, 1}, {"top error classes (requests)", tw.AlignLeft, 0},
		{"p99 max (ms)", tw.AlignRight, 0}, {"events", tw.AlignLeft, 3},
	}}
	for _, b := range tl.rows {
		t.rows = append(t.rows, []string{rowRange(b), fmtInt(b.requests), fmtInt(b.errors), fmtPct(b.errors, b.requests),
			topErrors(b.byClass, 3), fmtMs(b.p99Max), eventMarks(b.events)})
	}
	if out, err := t.text(0, tw.WrapNone); err == nil && widest(out) > v.width {
		// Too wide as it is: each row by its start (it ends where the next
		// starts, unless the record has a gap in its windows), the compact
		// form of the classes ("502×16 504×2") and the events without
		// their mark.
		t.cols[0].header, t.cols[4].header = "from", "top errors (requests)"
		for i, b := range tl.rows {
			t.rows[i][0] = fmtOffset(b.from)
			t.rows[i][4], t.rows[i][6] = shortClasses(b.byClass, 3), tightKinds(b.events)
		}
	}
	return t.render(w, v.width)
}

// conclusionEvidence is how many of the top finding's evidence sentences
// the conclusion repeats.
const conclusionEvidence = 2

// textConclusion ends every report the way a terminal user reads it,
// from the bottom: the verdict and why. With findings that is the top
// finding with its first evidence and every remedy (FINDINGS above has the
// rest); without, the verdict's first reason (its headline when it gives
// none): a failed run always ends with why it failed, also when no client
// saw an error, and a pass or an inconclusive run with what it judged.
func (v *textReport) textConclusion(w *errWriter) {
	w.printf("\n")
	v.lines(w, v.conclusion(), "CONCLUSION: "+v.status+" · ", "  ")
	if len(v.findings) == 0 {
		return
	}
	f := v.findings[0]
	v.textFinding(w, f.Evidence[:min(conclusionEvidence, len(f.Evidence))], f.Remedy, "  ")
	if line := unexplained(v.run, v.findings); line != "" {
		w.printf("  %s.\n", line)
	}
	if n := int64(len(v.findings) - 1); n > 0 {
		w.printf("  (%s above, under FINDINGS)\n", plural(n, "more findings"))
	}
}

// eventsWidth is where the diagnosis table wraps a period's events.
const eventsWidth = 30

// textFindings writes the causes the diagnosis found, each with its
// primary errors, the other findings consistent with them, its evidence and
// remedies; then the errors no finding explains and the findings ruled
// out. Nothing when the run was not diagnosed.
func (v *textReport) textFindings(w *errWriter) {
	d := v.diagnosis
	if d == nil && len(v.findings) == 0 {
		return
	}
	w.printf("\nFINDINGS\n")
	if d != nil && d.metrics == results.MetricsMissing {
		for _, line := range wrap(metricsMissing(d.note), v.width, "  metrics: ", "    ") {
			w.printf("%s\n", line)
		}
	}
	if len(v.findings) == 0 {
		v.lines(w, noFindings(v.run), "  ", "    ")
		v.textRuledOut(w)
		return
	}
	for i, f := range v.findings {
		if i > 0 {
			w.printf("\n")
		}
		v.lines(w, findingTitle(f, v.run.Totals.Errors), fmt.Sprintf("  %d. ", i+1), "     ")
		if also := alsoConsistent(f); also != "" {
			for _, line := range wrap(also, v.width, "     ", "       ") {
				w.printf("%s\n", line)
			}
		}
		v.textFinding(w, f.Evidence, f.Remedy, "     ")
	}
	if line := unexplained(v.run, v.findings); line != "" {
		w.printf("\n  %s.\n", line)
	}
	v.textRuledOut(w)
}

// textRuledOut lists the findings the diagnosis considered and ruled
// out, each with why and its evidence.
func (v *textReport) textRuledOut(w *errWriter) {
	out := ruledOut(v.run)
	if len(out) == 0 {
		return
	}
	w.printf("\n  Ruled out (considered, not a cause):\n")
	for _, f := range out {
		for _, line := range wrap(ruledOutTitle(f), v.width, "  - ", "    ") {
			w.printf("%s\n", line)
		}
		v.textFinding(w, f.Evidence, nil, "     ")
	}
}

// textFinding writes a finding's evidence and remedies as wrapped bullets
// indented by indent.
func (v *textReport) textFinding(w *errWriter, evidence, remedy []string, indent string) {
	bullets := func(items []string) {
		for _, item := range items {
			v.lines(w, item, indent+"- ", indent+"  ")
		}
	}
	bullets(evidence)
	if len(remedy) > 0 {
		w.printf("%sRemedies:\n", indent)
		bullets(remedy)
	}
}

// textDiagnosis writes the client results per metric period with the
// platform's signals beside them; nothing when the run read no metrics.
func (v *textReport) textDiagnosis(w *errWriter) error {
	d := v.diagnosis
	if d == nil {
		return nil
	}
	v.lines(w, "DIAGNOSIS ("+d.heading()+", offsets from the start)", "\n", "  ")
	for _, line := range wrap(d.metricsLine(), v.width, "  metrics: ", "    ") {
		w.printf("%s\n", line)
	}
	if legend := d.legend(); legend != "" {
		for _, line := range wrap(legend, v.width, "  ", "  ") {
			w.printf("%s\n", line)
		}
	}
	if len(d.rows) == 0 {
		w.printf("  no periods recorded\n")
		return nil
	}
	return d.textTable(w, v.width)
}

// textTable writes the diagnosis table: a row per period, the client's
// side (phase, requests, errors, top errors) and the platform's signals
// beside it, then the period's events. When that does not fit in width it
// writes two tables, stacked: the client's side with the events, then the
// platform's signals, each row keyed by its offset.
func (d *diagnosis) textTable(w *errWriter, width int) error {
	key := diagPart{cols: []textColumn{{"at", tw.AlignRight, 0}}, cells: func(r diagRow) []string {
		if d.scale > 0 {
			return []string{d.at(r), d.simulated(r)}
		}
		return []string{d.at(r)}
	}}
	if d.scale > 0 {
		key.cols = append(key.cols, textColumn{"sim", tw.AlignRight, 1})
	}
	client := diagPart{cols: []textColumn{{"phase", tw.AlignLeft, 2}, {"requests", tw.AlignRight, 0},
		{"errors", tw.AlignRight, 0}, {"top errors (requests)", tw.AlignLeft, 0}},
		cells: func(r diagRow) []string { return []string{r.phase, fmtInt(r.requests), diagErrors(r), r.classes} }}
	signals := diagPart{cells: func(r diagRow) []string { return r.signals }}
	for _, h := range d.headers {
		signals.cols = append(signals.cols, textColumn{h, tw.AlignRight, 0})
	}
	events := diagPart{cols: []textColumn{{"events", tw.AlignLeft, 3}}, cells: func(r diagRow) []string {
		return []string{strings.Join(wrap(tightKinds(r.events), eventsWidth, "", ""), "\n")}
	}}
	table := func(parts ...diagPart) textTable {
		var t textTable
		for _, p := range parts {
			t.cols = append(t.cols, p.cols...)
		}
		for _, r := range d.rows {
			var cells []string
			for _, p := range parts {
				cells = append(cells, p.cells(r)...)
			}
			t.rows = append(t.rows, cells)
		}
		return t
	}
	if len(signals.cols) == 0 {
		return table(key, client, events).render(w, width)
	}
	if out, err := table(key, client, signals, events).text(0, tw.WrapNone); err != nil || widest(out) <= width {
		return writeString(w, out, err)
	}
	w.printf("  the client's side:\n")
	if err := table(key, client, events).render(w, width); err != nil {
		return err
	}
	w.printf("  the platform's side, in the same periods:\n")
	return table(key, signals).render(w, width)
}

// diagPart is a group of the diagnosis table's columns and the cells of a
// row under them.
type diagPart struct {
	cols  []textColumn
	cells func(diagRow) []string
}

// diagErrors writes a row's error count; a fold of quiet periods has none.
func diagErrors(r diagRow) string {
	if r.folded > 0 {
		return ""
	}
	return fmtInt(r.errors)
}

func passFail(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// rowRange writes a timeline row's span, "+0s..+3s".
func rowRange(b bucket) string {
	return fmtOffset(b.from) + ".." + fmtOffset(b.to)
}

// eventMarks writes "◀ deploy-start, revision-ready".
func eventMarks(kinds []string) string {
	if len(kinds) == 0 {
		return ""
	}
	return "◀ " + strings.Join(countedKinds(kinds), ", ")
}

// countedKinds lists each kind once, in first-seen order, with "×N" when
// it repeats (a release of two services deploys twice in one row).
func countedKinds(kinds []string) []string {
	var order []string
	n := map[string]int{}
	for _, k := range kinds {
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	for i, k := range order {
		if n[k] > 1 {
			order[i] = fmt.Sprintf("%s ×%d", k, n[k])
		}
	}
	return order
}

// tightKinds lists kinds as countedKinds does, each with its count
// unbroken ("deploy-start×2, revision-ready"), so that a wrapped cell never
// puts a count on a line of its own.
func tightKinds(kinds []string) string {
	return strings.ReplaceAll(strings.Join(countedKinds(kinds), ", "), " ×", "×")
}

// cutoverLines describes what a run did to the service, as label/value
// pairs shared by the text and Markdown reports.
func cutoverLines(c *results.Cutover) [][2]string {
	lines := [][2]string{
		{"service", c.Service},
		{"before", fmt.Sprintf("%s (latest ready %s)", c.TrafficBefore, c.BaselineRevision)},
	}
	if len(c.DeployedRevisions) > 0 {
		lines = append(lines, [2]string{"deployed", strings.Join(c.DeployedRevisions, ", ")})
	}
	if c.FailedAction != "" {
		lines = append(lines, [2]string{"FAILED", c.FailedAction})
	}
	var rollback string
	switch c.Left {
	case results.LeftRestored:
		rollback = fmt.Sprintf("%s: restored to %s", c.Rollback, c.RestoreTo)
	case results.LeftUnchanged:
		rollback = c.Rollback + ": nothing to restore, the run changed no service's traffic"
	case results.LeftNotRestored:
		rollback = fmt.Sprintf("%s: NOT RESTORED (%s); put back %s", c.Rollback, c.RestoreError, c.RestoreTo)
	case results.LeftInFlight:
		rollback = fmt.Sprintf("%s: the run ended while changing the service; NOT RESTORED; put back %s", c.Rollback, c.RestoreTo)
	default:
		rollback = c.Rollback + ": traffic left as the actions set it"
	}
	lines = append(lines, [2]string{"rollback", rollback})
	return lines
}

// restoreCommandLabel starts the restore notice's line with the command.
const restoreCommandLabel = "  command:  "

// restoreNotice is what a reader of a record whose services were left
// changed must see first: what to put back and the command that does it.
// It is empty when the run left nothing to undo.
func restoreNotice(r *results.Run) []string {
	c := r.Cutover
	if c == nil {
		return nil
	}
	var why string
	switch {
	case c.Left == results.LeftNotRestored:
		why = "the run changed the traffic and did not put it back"
		if c.RestoreError != "" {
			why += " (" + c.RestoreError + ")"
		}
	case c.Left == results.LeftInFlight || (r.State == results.StateRunning && c.Left != results.LeftUnchanged && c.Left != ""):
		why = "the run ended while it was changing the traffic (the process was killed or crashed); the record is incomplete"
	default:
		return nil
	}
	lines := []string{"NOT RESTORED: " + why + ".", "  put back: " + c.RestoreTo}
	if c.RestoreCommand != "" {
		lines = append(lines, restoreCommandLabel+c.RestoreCommand)
	} else if c.Target.LocalCloud {
		lines = append(lines, "  (the run's own local cloud ended with it: nothing is left to restore)")
	}
	return lines
}
