package reporters

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/cutover-dev/cutover/results"
)

// maxDiagnosisRows is how many periods the diagnosis table shows before it
// folds long quiet stretches into one line.
const maxDiagnosisRows = 40

// noData marks a cell of a period the metrics did not reach.
const noData = "-"

// signalColumns are the metric columns of the diagnosis table, in order. A
// column is shown when its query was fetched (it is among the diagnosis'
// signals) or has a value in some period. cell renders the values of the
// query's signals in one period, by signal key, non-zero only.
var signalColumns = []struct {
	header string
	query  results.Query
	means  string
	cell   func(vals map[string]float64) string
}{
	{"NAT drops", results.QueryNATDroppedSent, "packets Cloud NAT dropped, all reasons (other than OUT_OF_RESOURCES named)", dropsCell},
	{"alloc fail", results.QueryNATAllocationFailed, "Cloud NAT failed to allocate ports (for part of the period)", allocCell},
	{"ports", results.QueryNATPortUsage, "peak NAT ports in use on one endpoint", peakCell},
	{"new conns", results.QueryNATNewConnections, "new NAT connections", sumCell},
	{"inst", results.QueryRunInstanceCount, "Cloud Run instances (all revisions)", sumCell},
	{"ALB 504", results.QueryALB504, "504s the load balancer answered itself (HTTPCode_ELB_504_Count)", sumCell},
	{"ALB 503", results.QueryALB503, "503s the load balancer answered itself (HTTPCode_ELB_503_Count)", sumCell},
	{"healthy", results.QueryALBHealthyHosts, "healthy hosts behind the load balancer (HealthyHostCount)", sumCell},
	{"tasks", results.QueryECSRunningTasks, "the service's running tasks (RunningTaskCount)", sumCell},
	{"resp s", results.QueryALBResponseTime, "the targets' response time, in seconds (TargetResponseTime)", secondsCell},
}

// diagnosis is the metric side of a run lined up with the client side, one
// row per metric period, for the text and Markdown reports.
type diagnosis struct {
	metrics string // results.MetricsCovered or results.MetricsMissing
	note    string
	period  time.Duration
	scale   int // the local cloud's time scale; 0 on a real cloud
	settle  time.Duration
	waited  time.Duration
	periods int      // buckets in the record
	headers []string // of the signal columns shown
	means   []string // what each signal column shows
	gaps    bool     // some cell has no data
	rows    []diagRow
}

// diagRow is one metric period, or a fold of quiet periods when folded > 0.
type diagRow struct {
	offset           time.Duration // of the period's start, from the start of the run
	phase            string
	requests, errors int64
	classes          string   // "502×44 504×16"
	signals          []string // one cell per signal column
	events           []string // kinds of the events in the period
	alarm            bool     // NAT dropped packets or failed to allocate
	folded           int      // quiet periods this row stands for
}

// newDiagnosis lines up a record's diagnosis for the reports: a row per
// period with the signal columns the run fetched, events placed in the
// period they happened in; nil when the run read no metrics. Offsets are
// from origin; a period that began before the load (the metric grid is
// not aligned to it) is shown from loadStart, so no row starts before
// the load, nor before origin.
func newDiagnosis(d *results.Diagnosis, series []results.Series, origin, loadStart time.Time, events []eventRow) *diagnosis {
	if d == nil {
		return nil
	}
	out := &diagnosis{
		metrics: d.Metrics,
		note:    d.Note, // redacted with the run (results.RedactRun)
		period:  seconds(d.Period),
		scale:   d.TimeScale,
		settle:  seconds(d.Settle),
		waited:  seconds(d.Waited),
		periods: len(d.Buckets),
	}
	buckets := slices.Clone(d.Buckets)
	slices.SortStableFunc(buckets, func(a, b results.Bucket) int { return a.Start.Compare(b.Start) })

	// Where each query's points end: a period at or past it has no data.
	// Only a record whose metrics are missing has such periods.
	reached := map[results.Query]time.Time{}
	if d.Metrics == results.MetricsMissing {
		for _, s := range series {
			for _, p := range s.Points {
				if p.End.After(reached[s.Query]) {
					reached[s.Query] = p.End
				}
			}
		}
	}

	var cols []int
	for i, c := range signalColumns {
		if hasQuery(d.Signals, c.query) || slices.ContainsFunc(buckets, func(b results.Bucket) bool {
			return len(valuesOf(b.Signals, c.query)) > 0
		}) {
			cols = append(cols, i)
			out.headers = append(out.headers, c.header)
			out.means = append(out.means, c.means)
		}
	}

	for _, b := range buckets {
		shown := b.Start
		if shown.Before(loadStart) {
			shown = loadStart
		}
		row := diagRow{
			offset:   max(shown.Sub(origin), 0),
			phase:    b.Phase,
			requests: b.Requests,
			errors:   b.Errors,
			classes:  shortClasses(b.ByClass, 3),
			alarm:    len(valuesOf(b.Signals, results.QueryNATDroppedSent))+len(valuesOf(b.Signals, results.QueryNATAllocationFailed)) > 0,
		}
		for _, i := range cols {
			c := signalColumns[i]
			if end, ok := reached[c.query]; ok && !b.Start.Before(end) {
				row.signals = append(row.signals, noData)
				out.gaps = true
				continue
			}
			row.signals = append(row.signals, c.cell(valuesOf(b.Signals, c.query)))
		}
		from, to := b.Start.Sub(origin), b.End.Sub(origin)
		for _, e := range events {
			if e.offset >= from && e.offset < to {
				row.events = append(row.events, e.kind)
			}
		}
		out.rows = append(out.rows, row)
	}
	out.rows = foldQuiet(out.rows, maxDiagnosisRows)
	return out
}

// heading describes the grid: "metric period 6s (60s simulated, time scale
// 10×), 10 periods".
func (d *diagnosis) heading() string {
	if d.metrics == results.MetricsPending {
		return "waiting for the platform's metrics"
	}
	s := "metric period " + fmtPeriod(d.period)
	if d.scale > 0 {
		s += fmt.Sprintf(" (%s simulated, time scale %d×)", fmtPeriod(d.period*time.Duration(d.scale)), d.scale)
	}
	return fmt.Sprintf("%s, %d periods", s, d.periods)
}

// legend says what the signal columns show: "NAT drops: packets Cloud NAT
// dropped … · inst: Cloud Run instances (all revisions)"; "" without any.
func (d *diagnosis) legend() string {
	var parts []string
	for i, h := range d.headers {
		parts = append(parts, h+": "+d.means[i])
	}
	if d.gaps {
		parts = append(parts, noData+": no data (the metrics did not reach the period)")
	}
	return strings.Join(parts, " · ")
}

// metricsLine says whether the metrics reached the end of the run and how
// long the run waited for them: "covered · settle 18s · waited 24s".
func (d *diagnosis) metricsLine() string {
	s := d.metrics
	if s == "" {
		s = "unknown"
	}
	switch d.metrics {
	case results.MetricsMissing:
		s = metricsMissing(d.note)
	case results.MetricsPending:
		s = "pending — the record was saved before they were read; a finished run replaces it"
	}
	if d.settle > 0 {
		s += " · settle " + fmtDuration(d.settle)
	}
	if d.waited > 0 {
		s += " · waited " + fmtDuration(d.waited)
	}
	return s
}

// metricsMissing is the line that tells a reader the run could not look at
// the platform's side: "missing — not covered after 4m10s: …".
func metricsMissing(note string) string {
	if note == "" {
		return results.MetricsMissing
	}
	return results.MetricsMissing + " — " + note
}

// simulated writes a row's offset in simulated time on a time-scaled run:
// "+4m" when whole minutes, else as offsets are written; "" on a real cloud.
func (d *diagnosis) simulated(r diagRow) string {
	if d.scale <= 0 || r.folded > 0 {
		return ""
	}
	sim := r.offset * time.Duration(d.scale)
	if sim%time.Minute == 0 {
		return fmt.Sprintf("%+dm", sim/time.Minute)
	}
	return fmtOffset(sim)
}

// at writes a row's offset, or the span of a fold.
func (d *diagnosis) at(r diagRow) string {
	if r.folded > 0 {
		return "…"
	}
	return fmtOffset(r.offset)
}

// foldQuiet keeps at most about maxRows rows by folding the middle of each
// long run of quiet periods (no errors, no events, no NAT drop or
// allocation failure) into one row. Short records are left alone.
func foldQuiet(rows []diagRow, maxRows int) []diagRow {
	if len(rows) <= maxRows {
		return rows
	}
	quiet := func(r diagRow) bool {
		return r.errors == 0 && len(r.events) == 0 && !r.alarm
	}
	var out []diagRow
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && quiet(rows[j]) && rows[j].phase == rows[i].phase {
			j++
		}
		if j-i <= 3 {
			if j == i {
				j++
			}
			out = append(out, rows[i:j]...)
			i = j
			continue
		}
		fold := diagRow{folded: j - i - 2, phase: rows[i].phase, signals: make([]string, len(rows[i].signals)),
			classes: fmt.Sprintf("(%d quiet periods)", j-i-2)}
		for _, r := range rows[i+1 : j-1] {
			fold.requests += r.requests
		}
		out = append(out, rows[i], fold, rows[j-1])
		i = j
	}
	return out
}

// hasQuery reports whether any of keys belongs to query.
func hasQuery(keys []string, query results.Query) bool {
	return slices.ContainsFunc(keys, func(k string) bool { return queryOf(k) == query })
}

// queryOf is the query part of a signal key: "nat_dropped_sent" of
// "nat_dropped_sent{reason=OUT_OF_RESOURCES}".
func queryOf(key string) results.Query {
	q, _, _ := strings.Cut(key, "{")
	return results.Query(q)
}

// labelOf returns the value of label name in a signal key, "" if absent.
func labelOf(key, name string) string {
	_, labels, ok := strings.Cut(key, "{")
	if !ok {
		return ""
	}
	for _, kv := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// valuesOf picks the values of query's signals out of a period's signals.
func valuesOf(signals map[string]float64, query results.Query) map[string]float64 {
	out := map[string]float64{}
	for k, v := range signals {
		if queryOf(k) == query {
			out[k] = v
		}
	}
	return out
}

// dropsCell writes the NAT drops of a period: their sum, and the drops of
// reasons other than OUT_OF_RESOURCES by reason:
// "1,240 (ENDPOINT_INDEPENDENCE_CONFLICT 30)".
func dropsCell(vals map[string]float64) string {
	var total float64
	other := map[string]float64{}
	for k, v := range vals {
		total += v
		// The key comes from the redacted run: its labels are redacted by name.
		if r := labelOf(k, "reason"); r != "" && r != results.DropOutOfResources {
			other[r] += v
		}
	}
	s := fmtCount(total)
	if len(other) > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(other)) {
			parts = append(parts, r+" "+fmtCount(other[r]))
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// allocCell writes whether NAT allocation failed in a period: the metric is
// the share of the period it failed, so "yes", "yes 40%" or "no".
func allocCell(vals map[string]float64) string {
	var most float64
	for _, v := range vals {
		most = max(most, v)
	}
	switch {
	case most <= 0:
		return "no"
	case most < 1:
		return "yes " + strconv.FormatFloat(100*most, 'f', 0, 64) + "%"
	}
	return "yes"
}

// peakCell writes the highest value of a period's signals.
func peakCell(vals map[string]float64) string {
	var most float64
	for _, v := range vals {
		most = max(most, v)
	}
	return fmtCount(most)
}

// secondsCell writes the largest of a period's times in seconds: "0.04",
// "9.8", "12".
func secondsCell(vals map[string]float64) string {
	var most float64
	for _, v := range vals {
		most = max(most, v)
	}
	switch {
	case most == 0 || most >= 10:
		return strconv.FormatFloat(most, 'f', 0, 64)
	case most >= 1:
		return strconv.FormatFloat(most, 'f', 1, 64)
	}
	return strconv.FormatFloat(most, 'f', 2, 64)
}

// sumCell writes the sum of a period's signals.
func sumCell(vals map[string]float64) string {
	var total float64
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		total += vals[k]
	}
	return fmtCount(total)
}

// shortClasses names the commonest error classes of a period, at most n,
// compactly: "502×44 504×16 connect_timeout×4".
func shortClasses(byClass map[results.Class]int64, n int) string {
	order := map[results.Class]int{}
	for i, c := range results.Classes {
		order[c] = i
	}
	var classes []results.Class
	for c, count := range byClass {
		if c != results.ClassOK && !results.IsDerived(c) && count > 0 {
			classes = append(classes, c)
		}
	}
	rank := func(c results.Class) int {
		if o, ok := order[c]; ok {
			return o
		}
		return len(results.Classes)
	}
	sort.Slice(classes, func(i, j int) bool {
		a, b := classes[i], classes[j]
		if byClass[a] != byClass[b] {
			return byClass[a] > byClass[b]
		}
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		return a < b
	})
	var parts []string
	for i, c := range classes {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(classes)-n))
			break
		}
		name := string(c)
		if code, ok := strings.CutPrefix(string(c), "status_"); ok && isDigits(code) {
			name = code
		}
		parts = append(parts, name+"×"+fmtInt(byClass[c]))
	}
	return strings.Join(parts, " ")
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// findingTitle is a finding's one-line summary: "nat-port-exhaustion (high
// confidence) — primary cause of 74 of 90 errors". A finding that is the
// primary cause of no error (a failed action, a saturated generator) has
// no count.
func findingTitle(f results.Finding, totalErrors int64) string {
	s := f.Cause
	if f.Confidence != "" {
		s += " (" + f.Confidence + " confidence)"
	}
	switch {
	case f.Primary <= 0:
	case totalErrors > 0:
		s += fmt.Sprintf(" — primary cause of %s of %s", fmtInt(f.Primary), plural(totalErrors, "errors"))
	default:
		s += " — primary cause of " + plural(f.Primary, "errors")
	}
	return s
}

// alsoConsistent says which other findings fit a finding's errors too:
// "also consistent with upstream-timeout, pre-existing-errors"; "" when
// none does.
func alsoConsistent(f results.Finding) string {
	if len(f.AlsoConsistent) == 0 {
		return ""
	}
	return "also consistent with " + strings.Join(f.AlsoConsistent, ", ")
}

// unexplained is the line that accounts for the errors no finding is the
// primary cause of: "16 errors explained by no finding"; "" when every
// error has its cause, or when no finding was named (noFindings says so).
func unexplained(run *results.Run, findings []results.Finding) string {
	d := run.Diagnosis
	if d == nil || d.Unexplained <= 0 || len(findings) == 0 {
		return ""
	}
	return plural(d.Unexplained, "errors") + " explained by no finding"
}

// ruledOut are the findings the diagnosis considered and ruled out.
func ruledOut(run *results.Run) []results.Finding {
	if run.Diagnosis == nil {
		return nil
	}
	return run.Diagnosis.RuledOut
}

// ruledOutTitle is a ruled-out finding's one line: "upstream-timeout (low
// confidence): the 26 errors its evidence covers are attributed first to
// nat-port-exhaustion".
func ruledOutTitle(f results.Finding) string {
	s := f.Cause
	if f.Confidence != "" {
		s += " (" + f.Confidence + " confidence)"
	}
	if f.RuledOut != "" {
		s += ": " + f.RuledOut
	}
	return s
}

// plural writes a count of things: "1 error", "2 errors", "1,200
// requests". things is the plural; the singular drops its final "s".
func plural(n int64, things string) string {
	if n == 1 {
		return "1 " + strings.TrimSuffix(things, "s")
	}
	return fmtInt(n) + " " + things
}

// noFindings says why a diagnosed run names no cause.
func noFindings(run *results.Run) string {
	switch {
	case run.Totals.Errors == 0:
		return "none: no errors to explain"
	case run.Diagnosis != nil && run.Diagnosis.Metrics == results.MetricsMissing:
		return fmt.Sprintf("none: no cause found for the %s without the platform's metrics", plural(run.Totals.Errors, "errors"))
	}
	return fmt.Sprintf("none: no cause found for the %s", plural(run.Totals.Errors, "errors"))
}

// wrap breaks s into lines of at most width columns of display width, the
// first starting with first and the rest with rest. A word too long for a
// line of its own is broken across lines.
func wrap(s string, width int, first, rest string) []string {
	var lines []string
	line := first
	empty := true
	for _, word := range strings.Fields(s) {
		if !empty && twwidth.Width(line)+1+twwidth.Width(word) > width {
			lines = append(lines, line)
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		for twwidth.Width(line)+twwidth.Width(word) > width {
			head := fitPrefix(word, width-twwidth.Width(line))
			if head == "" && !empty {
				break
			}
			if head == "" {
				head = string([]rune(word)[:1])
			}
			lines = append(lines, line+head)
			line, word = rest, word[len(head):]
		}
		line += word
		empty = false
	}
	return append(lines, line)
}

// fitPrefix is the longest prefix of word that takes at most cols columns.
func fitPrefix(word string, cols int) string {
	n := 0
	for i, r := range word {
		n += twwidth.Width(string(r))
		if n > cols {
			return word[:i]
		}
	}
	return word
}

// seconds converts a record's seconds to a duration.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// fmtPeriod writes a metric period: "6s", "60s", "1.5s".
func fmtPeriod(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// fmtCount writes a metric value that counts things (packets, ports,
// connections, instances) as a whole count with separators: an aligned
// mean is rounded, and a value that rounds to 0 without being 0 is "<1".
func fmtCount(v float64) string {
	n := math.Round(v)
	switch {
	case n == 0 && v > 0:
		return "<1"
	case math.Abs(n) >= 1e15:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return fmtInt(int64(n))
}
