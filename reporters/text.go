package reporters

import (
	"fmt"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/cutover-dev/cutover/results"
)

// Text writes the report for a terminal: a header line, the verdict, the
// findings with their primary errors, evidence and remedies (and those
// ruled out), a summary, the result classes, latency, thresholds, events,
// the diagnosis (one row per metric period, client errors beside the
// platform's signals), the timeline condensed to at most 20 rows with
// events marked where they happened, and a conclusion. A run that read no
// metrics has no findings or diagnosis section. A failed run, and any run
// with findings, ends with the CONCLUSION: why, as the top finding or the
// verdict's first reason. It uses no color, so it reads the same in a log
// file.
func Text(w io.Writer, run *results.Run) error {
	v, err := newView(run)
	if err != nil {
		return fmt.Errorf("render text report: %w", err)
	}
	ew := &errWriter{w: w}
	if err := v.text(ew); err != nil {
		return fmt.Errorf("render text report: %w", err)
	}
	if ew.err != nil {
		return fmt.Errorf("render text report: %w", ew.err)
	}
	return nil
}

func (v *view) text(w *errWriter) error {
	v.textHeader(w)
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
func (v *view) textHeader(w *errWriter) {
	r := v.run
	w.printf("cutover · %s · run %s · started %s · duration %s · %s\n\n",
		v.name, r.RunID, fmtTime(r.StartedAt), runDuration(r), stateLabel(r.State))
	if notice := restoreNotice(r); len(notice) > 0 {
		for _, line := range notice {
			w.printf("%s\n", line)
		}
		w.printf("\n")
	}
	w.printf("VERDICT: %s · %s\n", v.status, v.headline)
	for _, reason := range r.Verdict.Reasons {
		w.printf("  - %s\n", reason)
	}
}

// textSummary writes the request and error counts and the load.
func (v *view) textSummary(w *errWriter) {
	r := v.run
	w.printf("\nSUMMARY\n")
	w.printf("  %-9s %s\n", "requests", fmtInt(r.Totals.Requests))
	w.printf("  %-9s %s (%s)\n", "errors", fmtInt(r.Totals.Errors), fmtPct(r.Totals.Errors, r.Totals.Requests))
	w.printf("  %-9s %s\n", "load", rateSummary(r.Load))
	if warn := saturationWarning(r.Load); warn != "" {
		w.printf("  WARNING: %s\n", warn)
	}
}

// textClasses writes the result classes table, if any result was counted.
func (v *view) textClasses(w *errWriter) error {
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
	return renderTable(w, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight}, []string{"class", "count", "%"}, rows)
}

// textLatency writes the latency summary.
func (v *view) textLatency(w *errWriter) error {
	w.printf("\nLATENCY (ms)\n")
	l := v.run.Latency
	right := tw.AlignRight
	return renderTable(w, []tw.Align{right, right, right, right, right, right},
		[]string{"p50", "p90", "p95", "p99", "max", "mean"},
		[][]string{{fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max), fmtMs(l.Mean)}})
}

// textThresholds writes each threshold with its actual value, if any.
func (v *view) textThresholds(w *errWriter) error {
	ths := v.run.Verdict.Thresholds
	if len(ths) == 0 {
		return nil
	}
	w.printf("\nTHRESHOLDS\n")
	rows := make([][]string, len(ths))
	for i, th := range ths {
		rows[i] = []string{th.Expr, fmtNum(th.Actual), passFail(th.Pass)}
	}
	return renderTable(w, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignLeft}, []string{"threshold", "actual", "result"}, rows)
}

// textCutover writes what the run did to the service, if it had actions.
func (v *view) textCutover(w *errWriter) error {
	if c := v.run.Cutover; c != nil {
		w.printf("\nCUTOVER\n")
		for _, line := range cutoverLines(c) {
			w.printf("  %-9s %s\n", line[0], line[1])
		}
	}
	return nil
}

// textEvents writes the events table, if any.
func (v *view) textEvents(w *errWriter) error {
	if len(v.events) == 0 {
		return nil
	}
	w.printf("\nEVENTS\n")
	rows := make([][]string, len(v.events))
	for i, e := range v.events {
		rows[i] = []string{e.kind, fmtOffset(e.offset), e.details}
	}
	return renderTable(w, []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignLeft}, []string{"event", "at", "details"}, rows)
}

// renderTable writes a table of rows under header.
func renderTable(w io.Writer, aligns []tw.Align, header []string, rows [][]string) error {
	t := newTable(w, aligns...)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return err
	}
	return t.Render()
}

// textTimeline writes the condensed timeline.
func (v *view) textTimeline(w *errWriter) error {
	tl := v.timeline
	if len(tl.rows) == 0 {
		w.printf("\nTIMELINE: no windows recorded\n")
		return nil
	}
	w.printf("\nTIMELINE (%s windows, %d in %d rows, offsets from the start)\n", fmtDuration(tl.width), tl.windows, len(tl.rows))
	t := newTable(w, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft, tw.AlignRight, tw.AlignLeft)
	t.Header("window", "requests", "errors", "err %", "top error classes", "p99 max (ms)", "events")
	for _, b := range tl.rows {
		if err := t.Append(rowRange(b), fmtInt(b.requests), fmtInt(b.errors), fmtPct(b.errors, b.requests),
			topErrors(b.byClass, 3), fmtMs(b.p99Max), eventMarks(b.events)); err != nil {
			return err
		}
	}
	return t.Render()
}

// conclusionEvidence is how many of the top finding's evidence sentences
// the conclusion repeats.
const conclusionEvidence = 2

// textConclusion ends the report the way a terminal user reads it, from
// the bottom: the verdict and why. With findings that is the top finding
// with its first evidence and every remedy (FINDINGS above has the rest);
// a failed run without findings ends with the verdict's first reason. A
// failed run always ends with it, also when no client saw an error.
func (v *view) textConclusion(w *errWriter) {
	if len(v.findings) == 0 {
		if v.run.Verdict.Status != results.StatusFail {
			return
		}
		why := "the verdict gives no reason"
		if rs := v.run.Verdict.Reasons; len(rs) > 0 {
			why = rs[0]
		}
		w.printf("\n")
		for _, line := range wrap(why, textWidth, "CONCLUSION: "+v.status+" · ", "  ") {
			w.printf("%s\n", line)
		}
		return
	}
	f := v.findings[0]
	w.printf("\nCONCLUSION: %s · %s\n", v.status, findingTitle(f, v.run.Totals.Errors))
	textFinding(w, f.Evidence[:min(conclusionEvidence, len(f.Evidence))], f.Remedy, "  ")
	if line := unexplained(v.run, v.findings); line != "" {
		w.printf("  %s.\n", line)
	}
	if n := int64(len(v.findings) - 1); n > 0 {
		w.printf("  (%s above, under FINDINGS)\n", plural(n, "more findings"))
	}
}

// textWidth is where the text report wraps prose (evidence, remedies), and
// eventsWidth where the diagnosis table wraps a period's events.
const (
	textWidth   = 110
	eventsWidth = 30
)

// textFindings writes the causes the diagnosis found, each with its
// primary errors, the other findings consistent with them, its evidence and
// remedies; then the errors no finding explains and the findings ruled
// out. Nothing when the run was not diagnosed.
func (v *view) textFindings(w *errWriter) {
	d := v.diagnosis
	if d == nil && len(v.findings) == 0 {
		return
	}
	w.printf("\nFINDINGS\n")
	if d != nil && d.metrics == results.MetricsMissing {
		for _, line := range wrap(metricsMissing(d.note), textWidth, "  metrics: ", "    ") {
			w.printf("%s\n", line)
		}
	}
	if len(v.findings) == 0 {
		w.printf("  %s\n", noFindings(v.run))
		v.textRuledOut(w)
		return
	}
	for i, f := range v.findings {
		if i > 0 {
			w.printf("\n")
		}
		w.printf("  %d. %s\n", i+1, findingTitle(f, v.run.Totals.Errors))
		if also := alsoConsistent(f); also != "" {
			for _, line := range wrap(also, textWidth, "     ", "       ") {
				w.printf("%s\n", line)
			}
		}
		textFinding(w, f.Evidence, f.Remedy, "     ")
	}
	if line := unexplained(v.run, v.findings); line != "" {
		w.printf("\n  %s.\n", line)
	}
	v.textRuledOut(w)
}

// textRuledOut lists the findings the diagnosis considered and ruled
// out, each with why and its evidence.
func (v *view) textRuledOut(w *errWriter) {
	out := ruledOut(v.run)
	if len(out) == 0 {
		return
	}
	w.printf("\n  Ruled out (considered, not a cause):\n")
	for _, f := range out {
		for _, line := range wrap(ruledOutTitle(f), textWidth, "  - ", "    ") {
			w.printf("%s\n", line)
		}
		textFinding(w, f.Evidence, nil, "     ")
	}
}

// textFinding writes a finding's evidence and remedies as wrapped bullets
// indented by indent.
func textFinding(w *errWriter, evidence, remedy []string, indent string) {
	bullets := func(items []string) {
		for _, item := range items {
			for _, line := range wrap(item, textWidth, indent+"- ", indent+"  ") {
				w.printf("%s\n", line)
			}
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
func (v *view) textDiagnosis(w *errWriter) error {
	d := v.diagnosis
	if d == nil {
		return nil
	}
	w.printf("\nDIAGNOSIS (%s, offsets from the start)\n", d.heading())
	for _, line := range wrap(d.metricsLine(), textWidth, "  metrics: ", "    ") {
		w.printf("%s\n", line)
	}
	if legend := d.legend(); legend != "" {
		for _, line := range wrap(legend, textWidth, "  ", "  ") {
			w.printf("%s\n", line)
		}
	}
	if len(d.rows) == 0 {
		w.printf("  no periods recorded\n")
		return nil
	}
	header := []any{"at"}
	aligns := []tw.Align{tw.AlignRight}
	if d.scale > 0 {
		header, aligns = append(header, "sim"), append(aligns, tw.AlignRight)
	}
	header = append(header, "phase", "req", "err", "top errors")
	aligns = append(aligns, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignLeft)
	for _, h := range d.headers {
		header, aligns = append(header, h), append(aligns, tw.AlignRight)
	}
	header, aligns = append(header, "events"), append(aligns, tw.AlignLeft)

	t := newTable(w, aligns...)
	t.Header(header...)
	for _, r := range d.rows {
		cells := []any{d.at(r)}
		if d.scale > 0 {
			cells = append(cells, d.simulated(r))
		}
		cells = append(cells, r.phase, fmtInt(r.requests), diagErrors(r), r.classes)
		for _, s := range r.signals {
			cells = append(cells, s)
		}
		cells = append(cells, strings.Join(wrap(strings.Join(countedKinds(r.events), ", "), eventsWidth, "", ""), "\n"))
		if err := t.Append(cells...); err != nil {
			return err
		}
	}
	return t.Render()
}

// diagErrors writes a row's error count; a fold of quiet periods has none.
func diagErrors(r diagRow) string {
	if r.folded > 0 {
		return ""
	}
	return fmtInt(r.errors)
}

// newTable returns a table with light borders, headers as written and the
// given column alignments.
func newTable(w io.Writer, aligns ...tw.Align) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithAlignment(tw.Alignment(aligns)),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
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
		lines = append(lines, "  command:  "+c.RestoreCommand)
	} else if c.Target.LocalCloud {
		lines = append(lines, "  (the run's own local cloud ended with it: nothing is left to restore)")
	}
	return lines
}
