package reporters

import (
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// Markdown writes a GitHub-flavoured Markdown report for a pull-request
// comment: a title with the verdict in bold, the reasons, a summary table,
// the result classes, latency, thresholds, events and a compact timeline.
// It uses no HTML and no emoji.
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
	r := v.run
	w.printf("## cutover: %s — **%s**\n\n", mdText(v.name), v.status)
	w.printf("**%s** · %s\n", v.status, mdText(v.headline))
	if len(r.Verdict.Reasons) > 0 {
		w.printf("\n")
		for _, reason := range r.Verdict.Reasons {
			w.printf("- %s\n", mdText(reason))
		}
	}
	if warn := saturationWarning(r.Load); warn != "" {
		w.printf("\n> **Warning:** %s\n", mdText(warn))
	}

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

	if len(v.classes) > 0 {
		w.printf("\n### Result classes\n\n| Class | Count | %% |\n|---|--:|--:|\n")
		for _, c := range v.classes {
			name := mdCode(c.class)
			if c.derived != "" {
				name += " (= " + mdText(c.derived) + ")"
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
			w.printf("| %s | %s | **%s** |\n", mdCode(th.Expr), fmtNum(th.Actual), passFail(th.Pass))
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
