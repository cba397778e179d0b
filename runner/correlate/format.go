package correlate

import (
	"cmp"
	"fmt"
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

// num formats a count with thousands separators ("12,345"), and any other
// value with up to three significant digits.
func num(v float64) string {
	if v != math.Trunc(v) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := strconv.FormatInt(int64(math.Abs(v)), 10)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
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
	ref, name := d.deployAt, "deploy-start"
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
		s += ", " + r + " to " + strings.TrimPrefix(strings.TrimPrefix(d.rel(to), "deploy-start "), "start ")
	}
	return s
}

// classText lists the error classes counted in the marked buckets, most
// first, with the derived counters after them: "status_500 800, status_504
// 400 (app_fetch_failed 800, upstream_timeout 400)".
func (d *diagnosis) classText(m mask) string {
	type kv struct {
		class string
		n     int64
	}
	var classes, derived []kv
	for _, c := range d.classes {
		if c == AllErrors {
			continue
		}
		n := int64(sumIn(classVector(d.buckets, c), m))
		if n == 0 {
			continue
		}
		if results.IsDerived(c) {
			derived = append(derived, kv{c, n})
		} else {
			classes = append(classes, kv{c, n})
		}
	}
	byCount := func(a, b kv) int { return cmp.Compare(b.n, a.n) }
	slices.SortStableFunc(classes, byCount)
	slices.SortStableFunc(derived, byCount)
	join := func(l []kv) string {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = fmt.Sprintf("%s %s", e.class, num(float64(e.n)))
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
	return join(classes) + " (" + join(derived) + ")"
}
