package correlate

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// grid is the metric period grid: bucket i covers
// [origin + i·period, origin + (i+1)·period).
type grid struct {
	origin time.Time
	period time.Duration
}

// index returns the bucket holding t (floor division, also before origin).
func (g grid) index(t time.Time) int {
	d := t.Sub(g.origin)
	i := d / g.period
	if d < 0 && d%g.period != 0 {
		i--
	}
	return int(i)
}

// start returns where bucket i starts.
func (g grid) start(i int) time.Time { return g.origin.Add(time.Duration(i) * g.period) }

// gridOf returns the grid the buckets use: anchored on the series' point
// boundaries when there are points, else on the first window; the period
// is period when positive, else the width of the first point, else width
// (each window its own bucket). The metric period's default is the
// scenario's (scenarios resolves it); this package declares none.
func gridOf(period time.Duration, series []results.Series, timeline []results.Window, width time.Duration) grid {
	var first *results.Point
	for i := range series {
		for j := range series[i].Points {
			p := &series[i].Points[j]
			if first == nil || p.Start.Before(first.Start) {
				first = p
			}
		}
	}
	if period <= 0 {
		period = width
		if first != nil && first.End.After(first.Start) {
			period = first.End.Sub(first.Start)
		}
	}
	// A timeline of one window and nothing else to go by is one bucket.
	period = max(period, time.Nanosecond)
	switch {
	case first != nil:
		return grid{origin: first.Start, period: period}
	case len(timeline) > 0:
		return grid{origin: timeline[0].Start, period: period}
	}
	return grid{period: period}
}

// bucketize sums the windows into the grid's buckets and returns them with
// the grid index of the first. A window of the given width counts wholly
// in the bucket that holds most of it, its midpoint: load windows are
// aligned to the load's start, not to the metric grid, and a window that
// straddles a boundary belongs where most of its results fell. Windows as
// wide as the period and on the grid land in their own bucket; wider
// windows are not split. The buckets run from the one the load started in
// (which may hold no window's midpoint) to the one holding the last
// window's midpoint. Buckets come back without a phase.
func bucketize(g grid, timeline []results.Window, width time.Duration) (buckets []Bucket, first int) {
	if len(timeline) == 0 {
		return nil, 0
	}
	home := func(w results.Window) int { return g.index(w.Start.Add(width / 2)) }
	lo, hi := math.MaxInt, math.MinInt
	for _, w := range timeline {
		lo, hi = min(lo, g.index(w.Start)), max(hi, home(w))
	}
	buckets = make([]Bucket, hi-lo+1)
	for k := range buckets {
		buckets[k] = Bucket{Start: g.start(lo + k), End: g.start(lo + k + 1), ByClass: map[results.Class]int64{}}
	}
	for _, w := range timeline {
		b := &buckets[home(w)-lo]
		b.Requests += w.Requests
		b.Errors += w.Errors
		for c, n := range w.ByClass {
			if c != results.ClassOK && n != 0 {
				b.ByClass[c] += n
			}
		}
		for r, n := range w.ByRevision {
			if b.ByRevision == nil {
				b.ByRevision = map[string]int64{}
			}
			b.ByRevision[r] += n
		}
	}
	return buckets, lo
}

// windowWidth is the width of the timeline's windows: width when
// positive, else the smallest gap between two window starts, else zero (a
// lone window counts where it starts).
func windowWidth(width time.Duration, timeline []results.Window) time.Duration {
	if width > 0 {
		return width
	}
	starts := make([]time.Time, len(timeline))
	for i, w := range timeline {
		starts[i] = w.Start
	}
	slices.SortFunc(starts, time.Time.Compare)
	var gap time.Duration
	for i := 1; i < len(starts); i++ {
		if d := starts[i].Sub(starts[i-1]); d > 0 && (gap == 0 || d < gap) {
			gap = d
		}
	}
	return gap
}

// errorClasses returns the classes to analyse: AllErrors first, then the
// derived counters, then the classes in report order, then any other name
// the buckets count, sorted; only those with errors.
func errorClasses(buckets []Bucket) []results.Class {
	total := map[results.Class]int64{}
	var all int64
	for _, b := range buckets {
		all += b.Errors
		for c, n := range b.ByClass {
			total[c] += n
		}
	}
	var out []results.Class
	if all > 0 {
		out = append(out, AllErrors)
	}
	seen := map[results.Class]bool{results.ClassOK: true, AllErrors: true}
	for _, c := range slices.Concat(results.Derived, results.Classes) {
		if !seen[c] && total[c] > 0 {
			out = append(out, c)
		}
		seen[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(total)) {
		if !seen[c] && total[c] > 0 {
			out = append(out, c)
		}
	}
	return out
}

// classVector returns the per-bucket counts of class (AllErrors: every
// error).
func classVector(buckets []Bucket, class results.Class) []float64 {
	v := make([]float64, len(buckets))
	for i, b := range buckets {
		if class == AllErrors {
			v[i] = float64(b.Errors)
		} else {
			v[i] = float64(b.ByClass[class])
		}
	}
	return v
}

// cutoverEnds are the event kinds that mark progress of a cutover: the
// cutover is not over before SettlePeriods past the last of them.
var cutoverEnds = []results.EventKind{
	results.EventDeployStart, results.EventRevisionCreated, results.EventRevisionReady, results.EventTrafficApplied,
	results.EventActionFailed, results.EventRollbackStart, results.EventRollbackDone, results.EventRollbackFailed,
	results.EventChaos,
}

// cutoverStarts are the event kinds that start a cutover: a deploy, a
// chaos action that starts an incident the way it started in production
// (a task stopped, a health check failing, a scale-in), or an ECS task
// stopping (the scheduler replacing it is a change to what serves, and
// in a run with no deploy and no chaos the start of the incident).
var cutoverStarts = []results.EventKind{results.EventDeployStart, results.EventChaos, results.EventTaskStopped}

// cutoverStart returns the earliest event that starts the cutover. A task
// that stopped before from (the first bucket's start) is left out: ECS
// lists the tasks that stopped in the hour before the run too.
func cutoverStart(events []results.Event, from time.Time) (start results.Event, ok bool) {
	for _, e := range events {
		if e.Kind == results.EventTaskStopped && e.At.Before(from) {
			continue
		}
		if slices.Contains(cutoverStarts, e.Kind) && (!ok || e.At.Before(start.At)) {
			start, ok = e, true
		}
	}
	return start, ok
}

// phaseBuckets sets the phase of every bucket (buckets[k] is grid bucket
// first+k). Without a deploy-start, a chaos action or a task stopped
// (cutoverStarts) every bucket is PhaseBefore: nothing was cut over.
// Otherwise a bucket that ends at or before the cutover's start is
// before; the cutover runs from there until SettlePeriods past the bucket
// of its last event, and on while the error rate stays above the
// pre-cutover rate; the rest is after. It returns the pre-cutover error
// rate.
func phaseBuckets(buckets []Bucket, g grid, first int, events []results.Event) (baseRate float64) {
	var from time.Time
	if len(buckets) > 0 {
		from = buckets[0].Start
	}
	start, ok := cutoverStart(events, from)
	deploy := start.At
	if !ok {
		for k := range buckets {
			buckets[k].Phase = PhaseBefore
		}
		return rateOf(buckets)
	}
	last := deploy
	for _, e := range events {
		if slices.Contains(cutoverEnds, e.Kind) && e.At.After(last) {
			last = e.At
		}
	}
	var before []Bucket
	for k := range buckets {
		if !buckets[k].End.After(deploy) {
			before = append(before, buckets[k])
		}
	}
	baseRate = rateOf(before)
	settled := g.index(last) - first + SettlePeriods // last bucket index that is surely during
	for k := range buckets {
		b := &buckets[k]
		switch {
		case !b.End.After(deploy):
			b.Phase = PhaseBefore
		case k <= settled:
			b.Phase = PhaseDuring
		case buckets[k-1].Phase == PhaseDuring && aboveRate(b.Errors, b.Requests, baseRate):
			b.Phase = PhaseDuring
		default:
			b.Phase = PhaseAfter
		}
	}
	return baseRate
}

// rateOf returns the error rate over buckets (0 with no requests).
func rateOf(buckets []Bucket) float64 {
	var req, errs int64
	for _, b := range buckets {
		req += b.Requests
		errs += b.Errors
	}
	if req == 0 {
		return 0
	}
	return float64(errs) / float64(req)
}

// aboveRate reports whether errs errors in req requests are significantly
// more than rate predicts: more than the expected count plus three of its
// Poisson standard deviations.
func aboveRate(errs, req int64, rate float64) bool {
	return excess(float64(errs), rate*float64(req)) > 0
}

// excess returns observed − expected when observed is significantly above
// expected (beyond expected + 3·√expected), else 0.
func excess(observed, expected float64) float64 {
	if observed <= expected+3*math.Sqrt(expected) {
		return 0
	}
	return observed - expected
}
