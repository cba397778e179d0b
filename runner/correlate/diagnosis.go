package correlate

import (
	"cmp"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// diagnosis is one Analyze call's working state: the buckets with their
// phases and the signals on the same grid.
type diagnosis struct {
	in       Input
	g        grid
	first    int // grid index of buckets[0]
	buckets  []Bucket
	baseRate float64 // pre-cutover error rate
	sigs     []signal
	classes  []results.Class           // error classes with errors, AllErrors first
	all      []float64                 // errors per bucket
	req      []float64                 // requests per bucket
	cells    []map[results.Class]int64 // errors per bucket by class, adding up to the bucket's errors

	// deployAt is when the cutover started: the first deploy-start, or
	// the first chaos action when that came first (startKind says which).
	deployAt   time.Time
	startKind  results.EventKind
	hasCutover bool
}

func newDiagnosis(in Input) *diagnosis {
	width := windowWidth(in.Window, in.Timeline)
	g := gridOf(in.Period, in.Series, in.Timeline, width)
	buckets, first := bucketize(g, in.Timeline, width)
	d := &diagnosis{in: in, g: g, first: first, buckets: buckets}
	d.baseRate = phaseBuckets(buckets, g, first, in.Events)
	var from time.Time
	if len(buckets) > 0 {
		from = buckets[0].Start
	}
	start, ok := cutoverStart(in.Events, from)
	d.deployAt, d.startKind, d.hasCutover = start.At, start.Kind, ok
	d.sigs = signalsOf(in.Series, g, first, len(buckets))
	for _, s := range d.sigs {
		for k, v := range s.at(0) {
			if v != 0 {
				if buckets[k].Signals == nil {
					buckets[k].Signals = map[string]float64{}
				}
				buckets[k].Signals[s.key] = v
			}
		}
	}
	d.classes = errorClasses(buckets)
	d.all = classVector(buckets, AllErrors)
	d.cells = cellsOf(buckets)
	d.req = make([]float64, len(buckets))
	for k, b := range buckets {
		d.req[k] = float64(b.Requests)
	}
	return d
}

func (d *diagnosis) signalKeys() []string {
	keys := make([]string, len(d.sigs))
	for i, s := range d.sigs {
		keys[i] = s.key
	}
	return keys
}

// stats measures every error class with errors against every signal:
// classes in errorClasses order, and within a class the strongest
// co-occurrence first.
func (d *diagnosis) stats() []SeriesStat {
	var out []SeriesStat
	for _, c := range d.classes {
		errs := classVector(d.buckets, c)
		start := len(out)
		for _, s := range d.sigs {
			out = append(out, statOf(c, errs, s))
		}
		slices.SortStableFunc(out[start:], func(a, b SeriesStat) int {
			return cmp.Or(
				cmp.Compare(b.CoOccurrence, a.CoOccurrence),
				cmp.Compare(b.BestCorrelation, a.BestCorrelation),
				cmp.Compare(a.Signal, b.Signal))
		})
	}
	return out
}

// mask marks buckets.
type mask []bool

// dilate returns m widened by r buckets either side.
func (m mask) dilate(r int) mask {
	out := make(mask, len(m))
	for k, on := range m {
		if !on {
			continue
		}
		for j := max(0, k-r); j <= min(len(m)-1, k+r); j++ {
			out[j] = true
		}
	}
	return out
}

func (m mask) or(o mask) mask {
	out := slices.Clone(m)
	for k := range out {
		out[k] = out[k] || o[k]
	}
	return out
}

func (m mask) and(o mask) mask {
	out := slices.Clone(m)
	for k := range out {
		out[k] = out[k] && o[k]
	}
	return out
}

func (m mask) andNot(o mask) mask {
	out := slices.Clone(m)
	for k := range out {
		out[k] = out[k] && !o[k]
	}
	return out
}

func (m mask) count() int {
	n := 0
	for _, on := range m {
		if on {
			n++
		}
	}
	return n
}

// span returns the first and last marked bucket; ok is false when none is.
func (m mask) span() (lo, hi int, ok bool) {
	lo, hi = -1, -1
	for k, on := range m {
		if on {
			if lo < 0 {
				lo = k
			}
			hi = k
		}
	}
	return lo, hi, lo >= 0
}

// nonZeroMask marks the buckets where v is non-zero.
func nonZeroMask(v []float64) mask {
	m := make(mask, len(v))
	for k, x := range v {
		m[k] = x != 0
	}
	return m
}

// phaseMask marks the buckets of phase.
func (d *diagnosis) phaseMask(phase string) mask {
	m := make(mask, len(d.buckets))
	for k, b := range d.buckets {
		m[k] = b.Phase == phase
	}
	return m
}

// sumIn sums v over the marked buckets.
func sumIn(v []float64, m mask) float64 {
	var s float64
	for k, x := range v {
		if m[k] {
			s += x
		}
	}
	return s
}

// excessIn returns how many of errs in the marked buckets are beyond what
// rate predicts for their requests (0 unless significantly so).
func (d *diagnosis) excessIn(errs []float64, m mask, rate float64) float64 {
	return excess(sumIn(errs, m), rate*sumIn(d.req, m))
}

// aboveIn marks the buckets of m whose errs are significantly above rate.
func (d *diagnosis) aboveIn(errs []float64, m mask, rate float64) mask {
	out := make(mask, len(m))
	for k := range m {
		out[k] = m[k] && excess(errs[k], rate*d.req[k]) > 0
	}
	return out
}

// rateIn is the rate of errs per request over the marked buckets.
func (d *diagnosis) rateIn(errs []float64, m mask) float64 {
	req := sumIn(d.req, m)
	if req == 0 {
		return 0
	}
	return sumIn(errs, m) / req
}

// eventsOf returns the events of kind, oldest first.
func (d *diagnosis) eventsOf(kind results.EventKind) []results.Event {
	var out []results.Event
	for _, e := range d.in.Events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b results.Event) int { return a.At.Compare(b.At) })
	return out
}

// bucketOf returns the bucket index holding t, clamped to the buckets.
func (d *diagnosis) bucketOf(t time.Time) int {
	return min(max(d.g.index(t)-d.first, 0), len(d.buckets)-1)
}

// newRevisions are the revisions the run's deploys created.
func (d *diagnosis) newRevisions() []string {
	var out []string
	for _, e := range d.eventsOf(results.EventRevisionCreated) {
		if r := e.Details["revision"]; r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// peak returns the largest point value of any series of query inside the
// marked buckets (not summed across resources), and whether there was one.
func (d *diagnosis) peak(query results.Query, m mask) (float64, bool) {
	var best float64
	found := false
	for _, s := range d.in.Series {
		if s.Query != query {
			continue
		}
		for _, p := range s.Points {
			k := d.g.index(p.Start) - d.first
			if k >= 0 && k < len(m) && m[k] && (!found || p.Value > best) {
				best, found = p.Value, true
			}
		}
	}
	return best, found
}
