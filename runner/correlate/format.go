package correlate

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
)

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// num formats a count with thousands separators ("12,345"). Counts are
// whole: a fractional value (a metric's aligned mean) is rounded, so no
// sentence ever speaks of 72.7 errors.
func num(v float64) string {
	return numInt(int64(math.Round(v)))
}

// numInt formats n with thousands separators.
func numInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
		s = s[1:]
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plural formats a count of things: "1 error", "2 errors", "1,200
// requests". things is the plural; the singular drops its final "s".
func plural(n int64, things string) string {
	if n == 1 || n == -1 {
		return numInt(n) + " " + strings.TrimSuffix(things, "s")
	}
	return numInt(n) + " " + things
}

// rate formats a rate per second: "80/s", "199.4/s".
func rate(r float64) string {
	if r == math.Trunc(r) {
		return strconv.FormatFloat(r, 'f', 0, 64) + "/s"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
}

// pct formats a share as a percentage: whole percents, or one decimal
// below 10%.
func pct(x float64) string {
	if x != 0 && math.Abs(x) < 0.1 {
		return strconv.FormatFloat(x*100, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(x*100, 'f', 0, 64) + "%"
}

// lagText formats a lag in periods: "0", "+1", "-2".
func lagText(l int) string {
	if l == 0 {
		return "0"
	}
	return fmt.Sprintf("%+d", l)
}

// periodText formats a metric period: whole seconds as "60 s", shorter or
// odd periods as Go durations.
func periodText(p time.Duration) string {
	if p >= time.Second && p%time.Second == 0 {
		return fmt.Sprintf("%d s", p/time.Second)
	}
	return p.String()
}

// clock formats t as a UTC time of day.
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// rel says where t is relative to the first deploy-start, or to the start
// of the timeline when nothing was deployed.
func (d *diagnosis) rel(t time.Time) string {
	ref, name := d.deployAt, string(d.startKind)
	if !d.hasCutover {
		if len(d.in.Timeline) == 0 {
			return ""
		}
		ref, name = d.in.Timeline[0].Start, "start"
	}
	off := t.Sub(ref).Round(time.Second)
	if off < 0 {
		return name + " -" + (-off).String()
	}
	return name + " +" + off.String()
}

// relName is what rel measures from: the event that started the cutover,
// or "start".
func (d *diagnosis) relName() string {
	if !d.hasCutover {
		return "start"
	}
	return string(d.startKind)
}

// at formats a time with its place relative to the cutover.
func (d *diagnosis) at(t time.Time) string {
	if r := d.rel(t); r != "" {
		return clock(t) + " UTC (" + r + ")"
	}
	return clock(t) + " UTC"
}

// spanText formats the time from the first to the end of the last marked
// bucket: "12:01:00–12:04:00 UTC, deploy-start +30s to +3m30s".
func (d *diagnosis) spanText(m mask) string {
	lo, hi, ok := m.span()
	if !ok {
		return "no period"
	}
	from, to := d.buckets[lo].Start, d.buckets[hi].End
	s := clock(from) + "–" + clock(to) + " UTC"
	if r := d.rel(from); r != "" {
		s += ", " + r + " to " + strings.TrimPrefix(d.rel(to), d.relName()+" ")
	}
	return s
}

// classText lists the errors of the marked buckets by class, most first,
// with the derived counters after them: "status_500 800, status_504 400;
// of them app_fetch_failed 800, upstream_timeout 400". The classes add up
// to the buckets' errors (errors no class counts are "unclassified"); the
// derived counters count some of them a second time.
func (d *diagnosis) classText(m mask) string {
	type kv struct {
		class results.Class
		n     int64
	}
	byClass := map[results.Class]int64{}
	for k, cell := range d.cells {
		if m[k] {
			for c, n := range cell {
				byClass[c] += n
			}
		}
	}
	var classes, derived []kv
	for _, c := range slices.Sorted(maps.Keys(byClass)) {
		classes = append(classes, kv{c, byClass[c]})
	}
	for _, c := range results.Derived {
		if n := int64(sumIn(classVector(d.buckets, c), m)); n > 0 {
			derived = append(derived, kv{c, n})
		}
	}
	byCount := func(a, b kv) int { return cmp.Compare(b.n, a.n) }
	slices.SortStableFunc(classes, byCount)
	slices.SortStableFunc(derived, byCount)
	join := func(l []kv) string {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = string(e.class) + " " + numInt(e.n)
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case len(classes) == 0 && len(derived) == 0:
		return "none"
	case len(derived) == 0:
		return join(classes)
	case len(classes) == 0:
		return join(derived)
	}
	return join(classes) + "; of them " + join(derived)
}
