package reporters

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
)

// What the preflight guard found before the load (Run.Preflight), in each
// format, and the events of the ECS side in a human form.

// redactPreflight redacts the free text of the preflight's findings, as
// results.RedactRun does the diagnosis' findings.
func redactPreflight(fs []results.Finding) []results.Finding {
	out := make([]results.Finding, len(fs))
	for i, f := range fs {
		f.Evidence = redactTexts(f.Evidence)
		f.Remedy = redactTexts(f.Remedy)
		f.RuledOut = results.RedactText(f.RuledOut)
		f.AlsoConsistent = slices.Clone(f.AlsoConsistent)
		out[i] = f
	}
	return out
}

func redactTexts(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = results.RedactText(s)
	}
	return out
}

// preflightTitle is a preflight finding's one line: "image-missing (high
// confidence)".
func preflightTitle(f results.Finding) string {
	if f.Confidence == "" {
		return f.Cause
	}
	return f.Cause + " (" + f.Confidence + " confidence)"
}

// preflightHeading heads the preflight section.
const preflightHeading = "what the preflight guard found before the load"

// textPreflight writes the PREFLIGHT section: each finding of the
// preflight guard with its evidence and remedies; nothing when it found
// none.
func (v *textReport) textPreflight(w *errWriter) {
	if len(v.preflight) == 0 {
		return
	}
	v.lines(w, "PREFLIGHT ("+preflightHeading+")", "\n", "  ")
	for i, f := range v.preflight {
		if i > 0 {
			w.printf("\n")
		}
		v.lines(w, preflightTitle(f), fmt.Sprintf("  %d. ", i+1), "     ")
		v.textFinding(w, f.Evidence, f.Remedy, "     ")
	}
}

// markdownPreflight writes the Preflight section, as the findings are.
func (v *view) markdownPreflight(w *errWriter) {
	if len(v.preflight) == 0 {
		return
	}
	w.printf("\n### Preflight\n\n%s.\n", upperFirst(preflightHeading))
	for i, f := range v.preflight {
		w.printf("\n#### %d. %s\n", i+1, mdText(preflightTitle(f)))
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
}

// junitPreflight is the "preflight" testcase, when the guard found
// something: a failure when an image is missing (the run deployed, or
// kept running, what cannot start), else the findings as output (an
// image at risk is a warning).
func (v *view) junitPreflight(suite string) (junitCase, bool) {
	if len(v.preflight) == 0 {
		return junitCase{}, false
	}
	tc := junitCase{Name: "preflight", Classname: suite + ".preflight", Time: "0"}
	var texts, missing []string
	for i, f := range v.preflight {
		texts = append(texts, findingText(i+1, preflightTitle(f), f))
		if f.Cause == correlate.CauseImageMissing {
			msg := f.Cause
			if len(f.Evidence) > 0 {
				msg += ": " + f.Evidence[0]
			}
			missing = append(missing, msg)
		}
	}
	text := strings.Join(texts, "\n\n")
	if len(missing) > 0 {
		tc.Failure = &junitFailure{Message: strings.Join(missing, "; "), Type: "preflight", Text: text}
	} else {
		tc.SystemOut = text
	}
	return tc, true
}

// eventDetails is an event's details as a report shows them: the ECS
// side's events in a short human form (a task's id, its stop code and
// reason; a deployment's rollout state), every other as "k=v k=v".
func eventDetails(e results.Event) string {
	d := e.Details
	var s string
	switch e.Kind {
	case results.EventTaskStopped:
		s = taskStoppedDetails(d)
	case results.EventServiceEvent:
		s = d["message"]
	case results.EventDeployment:
		s = joinNonEmpty(" ", d["deployment"], d["rollout_state"])
		if td := tail(d["task_definition"]); td != "" {
			s += " (" + td + ")"
		}
		if r := d["reason"]; r != "" {
			s += ": " + r
		}
	case results.EventChaos:
		s = chaosDetails(d)
	case results.EventPreflightFinding:
		s = joinNonEmpty(": ", d["cause"], cmp.Or(d["message"], d["image"]))
	}
	if strings.TrimSpace(s) == "" {
		return formatDetails(d)
	}
	return s
}

// taskStoppedDetails is "task 1a2b3c4d… (app:7) TaskFailedToStart:
// CannotPullContainerError: …".
func taskStoppedDetails(d map[string]string) string {
	s := "task " + shortID(d["task"])
	if td := tail(d["task_definition"]); td != "" {
		s += " (" + td + ")"
	}
	reason := d["stopped_reason"]
	if c := d["container_reason"]; c != "" && !strings.Contains(reason, c) {
		reason = joinNonEmpty("; ", reason, c)
	}
	return s + " " + joinNonEmpty(": ", d["stop_code"], reason)
}

// chaosDetails is "fail-health-check: 2 tasks (1a2b3c4d…, 5e6f7a8b…)" or
// "scale: desired 0".
func chaosDetails(d map[string]string) string {
	s := d["action"]
	if t := d["tasks"]; t != "" {
		if n, err := strconv.Atoi(t); err == nil {
			s += ": " + plural(int64(n), "tasks")
		} else {
			ids := strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ' ' })
			for i, id := range ids {
				ids[i] = shortID(id)
			}
			s += fmt.Sprintf(": %s (%s)", plural(int64(len(ids)), "tasks"), strings.Join(ids, ", "))
		}
	}
	if n := d["desired"]; n != "" {
		s += ", desired " + n
	}
	return s
}

// shortID is the last part of an ARN or id, cut to 8 characters and "…"
// when longer than 12: "arn:aws:ecs:…:task/c/1a2b3c4d5e6f…" → "1a2b3c4d…".
func shortID(id string) string {
	id = tail(id)
	if len([]rune(id)) > 12 {
		return string([]rune(id)[:8]) + "…"
	}
	return id
}

// tail is what follows the last "/" of an ARN ("app:7" of a task
// definition's), or s when it has none.
func tail(s string) string {
	return s[strings.LastIndex(s, "/")+1:]
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// ecsKinds are the event kinds whose details are free text from the
// platform; the text report cuts them to one line of its events table.
var ecsKinds = []string{
	string(results.EventTaskStopped), string(results.EventServiceEvent), string(results.EventDeployment),
	string(results.EventChaos), string(results.EventPreflightFinding),
}

// eventRows are the events table's rows at width: the ECS side's details
// cut to what one line of the table holds, or about two in a narrow
// report (so a task's stop code still shows).
func (v *textReport) eventRows() [][]string {
	kindW, atW := len("event"), len("at")
	for _, e := range v.events {
		kindW, atW = max(kindW, twwidth.Width(e.kind)), max(atW, twwidth.Width(fmtOffset(e.offset)))
	}
	room := max(v.width-kindW-atW-10, 24) // the table's borders and padding take 10
	if room < 40 {
		room = 2*room - 8 // two lines, less what breaking at words leaves
	}
	rows := make([][]string, len(v.events))
	for i, e := range v.events {
		details := e.details
		if slices.Contains(ecsKinds, e.kind) {
			details = cut(details, room)
		}
		rows[i] = []string{e.kind, fmtOffset(e.offset), details}
	}
	return rows
}

// cut shortens s to at most n display columns, ending it with "…".
func cut(s string, n int) string {
	if twwidth.Width(s) <= n {
		return s
	}
	r := []rune(s)
	r = r[:min(len(r), n)]
	for len(r) > 0 && twwidth.Width(string(r))+1 > n {
		r = r[:len(r)-1]
	}
	return strings.TrimRight(string(r), " ") + "…"
}

// PreflightText writes findings of the preflight guard alone (what
// `cutover preflight` prints), as the text report's PREFLIGHT section
// renders them, at width columns.
func PreflightText(w io.Writer, findings []results.Finding, width int) error {
	v, err := newView(&results.Run{Preflight: findings})
	if err != nil {
		return fmt.Errorf("render preflight: %w", err)
	}
	ew := &errWriter{w: w}
	(&textReport{view: v, width: max(width, MinTextWidth)}).textPreflight(ew)
	if ew.err != nil {
		return fmt.Errorf("render preflight: %w", ew.err)
	}
	return nil
}
