package reporters

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// maxTimelineRows bounds the condensed timeline.
const maxTimelineRows = 20

// view is what the text and Markdown reports show, computed once from a
// redacted record.
type view struct {
	run      *results.Run
	name     string
	status   string // PASS, FAIL, INCONCLUSIVE, or NO VERDICT
	headline string // counts and the error-rate bound
	origin   time.Time
	classes  []classRow
	events   []eventRow
	timeline timeline
	// findings are the run's findings, redacted; diagnosis is nil when the
	// run read no metrics.
	findings  []results.Finding
	diagnosis *diagnosis
	// preflight are what the preflight guard found before the load,
	// redacted.
	preflight []results.Finding
}

// classRow is one line of the classes table.
type classRow struct {
	class   results.Class
	count   int64
	derived string // what a derived counter is made of; "" for a class
	codes   string // the status codes of an error class of several: "501×10, 418×2"
}

// eventRow is one event, with its offset from the start of the run.
type eventRow struct {
	kind    string
	offset  time.Duration
	details string
}

func newView(run *results.Run) (*view, error) {
	if run == nil {
		return nil, fmt.Errorf("no run record")
	}
	red, err := results.RedactRun(run)
	if err != nil {
		return nil, err
	}
	v := &view{run: red, name: red.ScenarioName}
	if v.name == "" {
		v.name = "(unnamed scenario)"
	}
	v.origin = red.StartedAt
	if v.origin.IsZero() && len(red.Timeline) > 0 {
		v.origin = earliest(red.Timeline)
	}
	v.status = statusLabel(red)
	v.headline = headline(red)
	v.classes = classRows(red.Totals)
	for _, e := range red.Events {
		v.events = append(v.events, eventRow{kind: string(e.Kind), offset: e.At.Sub(v.origin), details: eventDetails(e)})
	}
	sort.SliceStable(v.events, func(i, j int) bool { return v.events[i].offset < v.events[j].offset })
	v.timeline = condense(red.Timeline, v.origin, v.events, maxTimelineRows)
	v.findings = red.Findings
	v.preflight = redactPreflight(red.Preflight)
	loadStart := v.origin
	if len(red.Timeline) > 0 {
		loadStart = earliest(red.Timeline)
	}
	v.diagnosis = newDiagnosis(red.Diagnosis, red.Series, v.origin, loadStart, v.events)
	return v, nil
}

// conclusion is why the verdict is what it is, in one line: the top
// finding's title, else the verdict's first reason, else its headline.
func (v *view) conclusion() string {
	if len(v.findings) > 0 {
		return findingTitle(v.findings[0], v.run.Totals.Errors)
	}
	if rs := v.run.Verdict.Reasons; len(rs) > 0 {
		return rs[0]
	}
	return v.headline
}

func earliest(ws []results.Window) time.Time {
	t := ws[0].Start
	for _, w := range ws[1:] {
		if w.Start.Before(t) {
			t = w.Start
		}
	}
	return t
}

func statusLabel(run *results.Run) string {
	switch run.Verdict.Status {
	case results.StatusPass:
		return "PASS"
	case results.StatusFail:
		return "FAIL"
	case results.StatusInconclusive:
		return "INCONCLUSIVE"
	}
	return "NO VERDICT"
}

// headline is the verdict line after the status: what was seen and the bound.
func headline(run *results.Run) string {
	t := run.Totals
	if t.Requests == 0 {
		return "no requests completed"
	}
	s := fmt.Sprintf("%s errors in %s requests (%s)", fmtInt(t.Errors), fmtInt(t.Requests), fmtPct(t.Errors, t.Requests))
	if run.Verdict.Status != "" {
		s += " · error rate ≤ " + fmtFrac(run.Verdict.ErrorRateUpper95) + " (95% upper bound)"
	}
	return s
}

// stateLabel explains the record's state.
func stateLabel(state string) string {
	switch state {
	case results.StateRunning:
		return "running (record incomplete: the run did not finish)"
	case "":
		return "unknown"
	}
	return state
}

// runDuration is the run's wall-clock length, or the load's when the run has
// not ended.
func runDuration(run *results.Run) string {
	if !run.EndedAt.IsZero() && !run.StartedAt.IsZero() {
		return fmtDuration(run.EndedAt.Sub(run.StartedAt))
	}
	if run.Load.Duration > 0 {
		return fmtDuration(time.Duration(run.Load.Duration * float64(time.Second)))
	}
	return "unknown"
}

// rateSummary says how fast load was asked for and achieved.
func rateSummary(l results.LoadInfo) string {
	var parts []string
	if l.AskedRate > 0 {
		parts = append(parts, fmt.Sprintf("achieved %s/s of %s/s asked (%.1f%%)",
			fmtRate(l.AchievedRate), fmtRate(l.AskedRate), 100*l.AchievedRate/l.AskedRate))
	} else {
		parts = append(parts, fmt.Sprintf("achieved %s/s", fmtRate(l.AchievedRate)))
	}
	if l.Model != "" {
		parts = append(parts, l.Model+" model")
	}
	if l.Workers > 0 {
		parts = append(parts, fmt.Sprintf("max %d workers", l.Workers))
	}
	switch {
	case l.Sessions > 0 && l.SessionRepins > 0:
		parts = append(parts, fmt.Sprintf("%d sessions, %d re-pinned", l.Sessions, l.SessionRepins))
	case l.Sessions > 0:
		parts = append(parts, fmt.Sprintf("%d sessions", l.Sessions))
	}
	if l.Duration > 0 {
		parts = append(parts, fmtDuration(time.Duration(l.Duration*float64(time.Second)))+" of load")
	}
	return strings.Join(parts, " · ")
}

// saturationWarning is the warning shown when the generator fell short.
func saturationWarning(l results.LoadInfo) string {
	if !l.Saturated {
		return ""
	}
	reason := l.SaturationReason
	if reason == "" {
		reason = "the generator could not keep up"
	}
	return "load generator saturated: " + reason +
		". The asked load was not delivered, so this run cannot show the cutover is safe."
}

// classRows lists the non-zero classes in report order, then classes this
// version does not know, then the derived counters when non-zero.
func classRows(t results.Totals) []classRow {
	var rows []classRow
	known := map[results.Class]bool{}
	for _, d := range results.Derived {
		known[d] = true
	}
	for _, c := range results.Classes {
		known[c] = true
		if n := t.ByClass[c]; n > 0 {
			rows = append(rows, classRow{class: c, count: n, codes: classCodes(t.ByStatus, c)})
		}
	}
	for _, c := range slices.Sorted(maps.Keys(t.ByClass)) {
		if !known[c] && t.ByClass[c] > 0 {
			rows = append(rows, classRow{class: c, count: t.ByClass[c]})
		}
	}
	fetch, ok := t.ByClass[results.FetchFailed]
	if !ok {
		for _, c := range results.TransportClasses {
			fetch += t.ByClass[c]
		}
	}
	if fetch > 0 {
		rows = append(rows, classRow{class: results.FetchFailed, count: fetch, derived: "all transport classes"})
	}
	if n := t.ByClass[results.UpstreamTimeout]; n > 0 {
		rows = append(rows, classRow{class: results.UpstreamTimeout, count: n, derived: "504s saying upstream request timeout"})
	}
	if n := t.ByClass[results.AppFetchFailed]; n > 0 {
		rows = append(rows, classRow{class: results.AppFetchFailed, count: n, derived: "5xx saying fetch failed"})
	}
	return rows
}

// maxCodes is how many status codes a class row names before "+N more".
const maxCodes = 5

// classCodes names the status codes in byStatus of class c, commonest
// first, as "501×10, 418×2", when c is an error class that several codes
// make up (status_other); "" otherwise, and for records without ByStatus.
func classCodes(byStatus map[string]int64, c results.Class) string {
	if c != results.ClassStatusOther {
		return ""
	}
	type kv struct {
		code  string
		count int64
	}
	var codes []kv
	for code, n := range byStatus {
		if n > 0 && results.StatusClass(code) == c {
			codes = append(codes, kv{code, n})
		}
	}
	slices.SortFunc(codes, func(a, b kv) int {
		if a.count != b.count {
			return cmp.Compare(b.count, a.count)
		}
		return cmp.Compare(a.code, b.code)
	})
	parts := make([]string, 0, min(len(codes), maxCodes+1))
	for i, kv := range codes {
		if i == maxCodes {
			parts = append(parts, fmt.Sprintf("+%d more", len(codes)-maxCodes))
			break
		}
		parts = append(parts, kv.code+"×"+fmtInt(kv.count))
	}
	return strings.Join(parts, ", ")
}

// topErrors names the commonest error classes in byClass, at most n, as
// "connect_timeout 40, status_504 12 (upstream_timeout 12)".
func topErrors(byClass map[results.Class]int64, n int) string {
	type kv struct {
		class results.Class
		count int64
		order int
	}
	var errs []kv
	order := map[results.Class]int{}
	for i, c := range results.Classes {
		order[c] = i
	}
	for c, count := range byClass {
		if c == results.ClassOK || results.IsDerived(c) || count <= 0 {
			continue
		}
		o, ok := order[c]
		if !ok {
			o = len(results.Classes)
		}
		errs = append(errs, kv{c, count, o})
	}
	sort.Slice(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.count != b.count {
			return a.count > b.count
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.class < b.class
	})
	var parts []string
	for i, e := range errs {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(errs)-n))
			break
		}
		s := fmt.Sprintf("%s %s", e.class, fmtInt(e.count))
		if up := byClass[results.UpstreamTimeout]; e.class == results.ClassStatus504 && up > 0 {
			s += fmt.Sprintf(" (%s %s)", results.UpstreamTimeout, fmtInt(up))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// formatDetails renders event details as "k=v k=v" in key order.
func formatDetails(d map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, k+"="+d[k])
	}
	return strings.Join(parts, " ")
}

// fmtInt writes n with thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtPct writes part/whole as a percentage.
func fmtPct(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	return fmtFrac(float64(part) / float64(whole))
}

// fmtFrac writes a fraction as a percentage with enough digits to be
// non-zero when the fraction is.
func fmtFrac(f float64) string {
	p := 100 * f
	switch {
	case p == 0:
		return "0%"
	case p == 100:
		return "100%"
	case p >= 10:
		// Never round a partial share up to "100.0%".
		for digits := 1; digits < 6; digits++ {
			if s := strconv.FormatFloat(p, 'f', digits, 64); p > 100 || s != strconv.FormatFloat(100, 'f', digits, 64) {
				return s + "%"
			}
		}
		return ">99.999%"
	case p >= 0.1:
		return fmt.Sprintf("%.2f%%", p)
	}
	return strconv.FormatFloat(p, 'g', 2, 64) + "%"
}

// fmtRate writes a request rate.
func fmtRate(r float64) string {
	if r == math.Trunc(r) {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// fmtMs writes a latency in milliseconds.
func fmtMs(ms float64) string {
	switch {
	case ms >= 100:
		return strconv.FormatFloat(ms, 'f', 0, 64)
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 2, 64)
}

// fmtNum writes a threshold's actual value without spurious digits.
func fmtNum(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

// fmtDuration writes d as "45s", "2m05s", "1h02m05s" or "1.5s".
func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDuration(-d)
	}
	h := d / time.Hour
	m := (d % time.Hour) / time.Minute
	rest := d % time.Minute
	// Whole milliseconds, rounded on the decimal value: 6.238, never
	// 6.2379999999999995.
	secs := strconv.FormatFloat(math.Round(rest.Seconds()*1000)/1000, 'f', -1, 64)
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%s%ss", h, m, pad2(rest), secs)
	case m > 0:
		return fmt.Sprintf("%dm%s%ss", m, pad2(rest), secs)
	}
	return secs + "s"
}

func pad2(rest time.Duration) string {
	if rest < 10*time.Second {
		return "0"
	}
	return ""
}

// fmtOffset writes an offset from the start of the run: "+45s", "-2s".
func fmtOffset(d time.Duration) string {
	if d < 0 {
		return fmtDuration(d)
	}
	return "+" + fmtDuration(d)
}

// fmtTime writes an absolute time, in UTC.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}
