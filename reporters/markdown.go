package reporters

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cutover-dev/cutover/results"
)

// Markdown writes a GitHub-flavoured Markdown report for a pull-request
// comment: a title with the verdict in bold, the reasons, what the
// preflight guard found before the load, the findings (a
// heading each, with evidence and remedies as lists), a summary table, the
// result classes, latency, thresholds, events, the diagnosis table and a
// compact timeline; and last, as the text report, one line of
// conclusion: the verdict and why. It uses no HTML and no emoji.
func Markdown(w io.Writer, run *results.Run) error {
	v, err := newView(run)
	if err != nil {
		return fmt.Errorf("render markdown report: %w", err)
	}
	ew := &errWriter{w: w}
	v.markdown(ew)
	if ew.err != nil {
		return fmt.Errorf("render markdown report: %w", ew.err)
	}
	return nil
}

func (v *view) markdown(w *errWriter) {
	v.markdownHeader(w)
	v.markdownPreflight(w)
	v.markdownFindings(w)
	v.markdownSummary(w)
	v.markdownTables(w)
	v.markdownDiagnosis(w)
	v.markdownTimeline(w)
	w.printf("\n**CONCLUSION: %s** · %s\n", v.status, mdText(v.conclusion()))
}

// markdownHeader writes the title, the verdict, the restore notice, the
// reasons and the saturation warning.
func (v *view) markdownHeader(w *errWriter) {
	r := v.run
	w.printf("## cutover: %s — **%s**\n\n", mdText(v.name), v.status)
	w.printf("**%s** · %s\n", v.status, mdText(v.headline))
	if notice := restoreNotice(r); len(notice) > 0 {
		w.printf("\n> **%s**\n", mdText(notice[0]))
		for _, line := range notice[1:] {
			w.printf(">\n> %s\n", mdText(strings.TrimSpace(line)))
		}
	}
	if len(r.Verdict.Reasons) > 0 {
		w.printf("\n")
		for _, reason := range r.Verdict.Reasons {
			w.printf("- %s\n", mdText(reason))
		}
	}
	if warn := saturationWarning(r.Load); warn != "" {
		w.printf("\n> **Warning:** %s\n", mdText(warn))
	}
}

// markdownSummary writes the summary table.
func (v *view) markdownSummary(w *errWriter) {
	r := v.run
	w.printf("\n| | |\n|---|---|\n")
	w.printf("| Run | %s |\n", mdCode(r.RunID))
	w.printf("| Started | %s |\n", fmtTime(r.StartedAt))
	w.printf("| Duration | %s |\n", runDuration(r))
	w.printf("| State | %s |\n", mdText(stateLabel(r.State)))
	w.printf("| Requests | %s |\n", fmtInt(r.Totals.Requests))
	w.printf("| Errors | %s (%s) |\n", fmtInt(r.Totals.Errors), fmtPct(r.Totals.Errors, r.Totals.Requests))
	w.printf("| Load | %s |\n", mdText(rateSummary(r.Load)))
	if r.ToolVersion != "" {
		w.printf("| cutover | %s |\n", mdCode(r.ToolVersion))
	}
}

// markdownTables writes the result classes, latency, thresholds, cutover
// and events tables; each but latency only when it has rows.
func (v *view) markdownTables(w *errWriter) {
	r := v.run
	if len(v.classes) > 0 {
		w.printf("\n### Result classes\n\n| Class | Count | %% |\n|---|--:|--:|\n")
		for _, c := range v.classes {
			name := mdCode(string(c.class))
			if c.derived != "" {
				name += " (= " + mdText(c.derived) + ")"
			}
			if c.codes != "" {
				name += " (" + mdText(c.codes) + ")"
			}
			w.printf("| %s | %s | %s |\n", name, fmtInt(c.count), fmtPct(c.count, r.Totals.Requests))
		}
	}

	l := r.Latency
	w.printf("\n### Latency (ms)\n\n| p50 | p90 | p95 | p99 | max | mean |\n|--:|--:|--:|--:|--:|--:|\n")
	w.printf("| %s | %s | %s | %s | %s | %s |\n", fmtMs(l.P50), fmtMs(l.P90), fmtMs(l.P95), fmtMs(l.P99), fmtMs(l.Max), fmtMs(l.Mean))

	if len(r.Verdict.Thresholds) > 0 {
		w.printf("\n### Thresholds\n\n| Threshold | Actual | Result |\n|---|--:|---|\n")
		for _, th := range r.Verdict.Thresholds {
			w.printf("| %s | %s | **%s** |\n", mdCode(th.Expr), thresholdActual(th), passFail(th.Pass))
		}
	}

	if c := r.Cutover; c != nil {
		w.printf("\n### Cutover\n\n| | |\n|---|---|\n")
		for _, line := range cutoverLines(c) {
			w.printf("| %s | %s |\n", line[0], mdText(line[1]))
		}
	}

	if len(v.events) > 0 {
		w.printf("\n### Events\n\n| Event | At | Details |\n|---|--:|---|\n")
		for _, e := range v.events {
			w.printf("| %s | %s | %s |\n", mdCode(e.kind), fmtOffset(e.offset), mdText(e.details))
		}
	}
}

// markdownTimeline writes the compact timeline, if any window was
// recorded.
func (v *view) markdownTimeline(w *errWriter) {
	tl := v.timeline
	if len(tl.rows) == 0 {
		return
	}
	w.printf("\n### Timeline\n\n%s windows, %d in %d rows, offsets from the start.\n\n", fmtDuration(tl.width), tl.windows, len(tl.rows))
	w.printf("| Window | Requests | Errors | Err %% | Top error classes | p99 max (ms) | Events |\n|---|--:|--:|--:|---|--:|---|\n")
	for _, b := range tl.rows {
		errs := fmtInt(b.errors)
		if b.errors > 0 {
			errs = "**" + errs + "**"
		}
		w.printf("| %s | %s | %s | %s | %s | %s | %s |\n", rowRange(b), fmtInt(b.requests), errs,
			fmtPct(b.errors, b.requests), mdText(topErrors(b.byClass, 3)), fmtMs(b.p99Max), mdText(strings.Join(countedKinds(b.events), ", ")))
	}
}

// markdownFindings writes each cause found as a heading with its primary
// errors, the other findings consistent with them, its evidence and
// remedies as lists; then the errors no finding explains and the findings
// ruled out. Nothing when the run was not diagnosed.
func (v *view) markdownFindings(w *errWriter) {
	d := v.diagnosis
	if d == nil && len(v.findings) == 0 {
		return
	}
	w.printf("\n### Findings\n")
	if d != nil && d.metrics == results.MetricsMissing {
		w.printf("\n> **Metrics missing:** %s\n", mdText(strings.TrimPrefix(metricsMissing(d.note), results.MetricsMissing+" — ")))
	}
	if len(v.findings) == 0 {
		w.printf("\n%s\n", mdText(noFindings(v.run)))
		v.markdownRuledOut(w)
		return
	}
	for i, f := range v.findings {
		w.printf("\n#### %d. %s\n", i+1, mdText(findingTitle(f, v.run.Totals.Errors)))
		if also := alsoConsistent(f); also != "" {
			w.printf("\n%s.\n", mdText(upperFirst(also)))
		}
		if len(f.Evidence) > 0 {
			w.printf("\n")
			for _, ev := range f.Evidence {
				w.printf("- %s\n", mdText(ev))
			}
		}
		if len(f.Remedy) > 0 {
			w.printf("\n**Remedies:**\n\n")
			for _, rem := range f.Remedy {
				w.printf("- %s\n", mdText(rem))
			}
		}
	}
	if line := unexplained(v.run, v.findings); line != "" {
		w.printf("\n%s.\n", mdText(upperFirst(line)))
	}
	v.markdownRuledOut(w)
}

// markdownRuledOut lists the findings the diagnosis considered and ruled
// out, each with why and its evidence.
func (v *view) markdownRuledOut(w *errWriter) {
	out := ruledOut(v.run)
	if len(out) == 0 {
		return
	}
	w.printf("\n#### Ruled out (considered, not a cause)\n\n")
	for _, f := range out {
		w.printf("- %s\n", mdText(ruledOutTitle(f)))
		for _, ev := range f.Evidence {
			w.printf("  - %s\n", mdText(ev))
		}
	}
}

// markdownDiagnosis writes the client results per metric period with the
// platform's signals beside them; nothing when the run read no metrics.
func (v *view) markdownDiagnosis(w *errWriter) {
	d := v.diagnosis
	if d == nil {
		return
	}
	w.printf("\n### Diagnosis\n\n%s, offsets from the start. Metrics: %s.\n", mdText(upperFirst(d.heading())), mdText(d.metricsLine()))
	if legend := d.legend(); legend != "" {
		w.printf("\n%s.\n", mdText(upperFirst(legend)))
	}
	if len(d.rows) == 0 {
		return
	}
	header, align := "| At |", "|--:|"
	if d.scale > 0 {
		header, align = header+" Sim |", align+"--:|"
	}
	header, align = header+" Phase | Requests | Errors | Top errors |", align+"---|--:|--:|---|"
	for _, h := range d.headers {
		header, align = header+" "+mdText(upperFirst(h))+" |", align+"--:|"
	}
	w.printf("\n%s Events |\n%s---|\n", header, align)
	for _, r := range d.rows {
		cells := []string{d.at(r)}
		if d.scale > 0 {
			cells = append(cells, d.simulated(r))
		}
		errs := fmtInt(r.errors)
		if r.errors > 0 {
			errs = "**" + errs + "**"
		}
		cells = append(cells, mdText(r.phase), fmtInt(r.requests), errs, mdText(r.classes))
		for _, s := range r.signals {
			cells = append(cells, mdText(s))
		}
		cells = append(cells, mdText(strings.Join(countedKinds(r.events), ", ")))
		w.printf("| %s |\n", strings.Join(cells, " | "))
	}
}

// upperFirst capitalizes the first letter of s.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// mdText escapes s for a Markdown paragraph or table cell: no HTML, no
// emphasis, no links, no table breaks.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode writes s as a code span safe inside a table cell.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(s)
	return "`" + s + "`"
}
