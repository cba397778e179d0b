package compare

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cutover-dev/cutover/results"
)

// How latency quantiles are compared.
//
// The quantiles come from the windows' HDR histograms merged, never from
// the summary numbers. Their uncertainty comes from a block bootstrap over
// windows: requests of one run are not independent (a GC pause, a cold
// instance or a deploy slows a stretch of consecutive requests), so
// resampling single requests would make the intervals far too narrow.
// Each run's windows, in time order, are cut into non-overlapping blocks
// of BlockLength consecutive windows (Carlstein's blocks, ⌈m^⅓⌉ for m
// windows: the order that balances the bias and the variance of a block
// bootstrap); a replicate draws as many blocks with replacement as the run
// has, merges them and takes the quantile; head's replicate minus base's,
// Replicates times, gives the percentile interval of the difference at
// 1−LatencyAlpha. The random source is seeded (Options.Seed), so the same records
// always give the same interval.
//
// A bootstrap interval covers sampling noise within each run, not the
// drift between two runs on a shared machine (another process, a CPU
// frequency change), and a percentile interval from few blocks is too
// narrow. So the interval is at 99%, not 95% (LatencyAlpha), and a
// quantile difference is significant only when the interval excludes zero
// AND the difference exceeds a floor: the larger of
// RelativeFloor of the base's value and twice the histogram's resolution
// there (3 significant digits). The maximum is reported but never tested:
// no bootstrap is consistent for an extreme.
// The false-positive rate this buys is at most 5% per quantile: two runs
// of one server on a shared machine compared 20 times
// (TestTheSameServerIsRarelySignificant); at 95% and the same floor they
// were flagged about 10% of the time there.
const (
	// LatencyAlpha is one minus the confidence of the latency interval.
	LatencyAlpha = 0.01
	// Replicates is the number of bootstrap replicates.
	Replicates = 1000
	// RelativeFloor is the smallest relative quantile difference that can
	// be called significant.
	RelativeFloor = 0.05
	// MinBootstrapWindows is the fewest windows with requests each run
	// must have in a scope for its quantiles to be tested.
	MinBootstrapWindows = 10
	// histResolution is the relative width of a histogram bucket at 3
	// significant digits (runner/load's geometry).
	histResolution = 1e-3
)

// Quantiles compared, in report order; QuantileMax is reported, not tested.
const (
	QuantileP50 = "p50"
	QuantileP90 = "p90"
	QuantileP99 = "p99"
	QuantileMax = "max"
)

var testedQuantiles = []struct {
	name string
	q    float64
}{{QuantileP50, 0.50}, {QuantileP90, 0.90}, {QuantileP99, 0.99}}

// entry is one non-empty histogram bucket: its index in the comparison's
// value table and its count.
type entry struct {
	idx int32
	n   int64
}

// sparse is a window's (or a block's) histogram as its non-empty buckets.
type sparse []entry

// latencyData holds every window histogram of both runs on one value
// table: values[i] is the latency, in µs, that bucket i reports (the
// highest value equivalent to it, as hdrhistogram's quantiles do).
type latencyData struct {
	values []int64
	base   []sparse // by window of base.Timeline; nil: no histogram
	head   []sparse
}

// decodeLatency decodes every window histogram of both runs and maps their
// buckets onto one value table.
func decodeLatency(base, head *results.Run) (*latencyData, error) {
	bf, bg, err := decodeWindows(base, "base")
	if err != nil {
		return nil, err
	}
	hf, hg, err := decodeWindows(head, "head")
	if err != nil {
		return nil, err
	}
	var geometry *hdrhistogram.Snapshot
	used := map[int32]int32{}
	for _, run := range []struct {
		flats []flat
		geoms []geometryOf
		which string
	}{{bf, bg, "base"}, {hf, hg, "head"}} {
		for i, f := range run.flats {
			if f.idx == nil {
				continue
			}
			g := run.geoms[i]
			switch {
			case geometry == nil:
				geometry = &hdrhistogram.Snapshot{LowestTrackableValue: g.lowest, HighestTrackableValue: g.highest,
					SignificantFigures: g.digits, Counts: make([]int64, g.buckets)}
			case g != (geometryOf{geometry.LowestTrackableValue, geometry.HighestTrackableValue, geometry.SignificantFigures, len(geometry.Counts)}):
				return nil, fmt.Errorf("%s run: window %d: latency histogram geometry differs from the others", run.which, i)
			}
			for _, j := range f.idx {
				used[j] = 0
			}
		}
	}
	d := &latencyData{base: make([]sparse, len(bf)), head: make([]sparse, len(hf))}
	if geometry == nil {
		return d, nil
	}
	// A histogram with one count in every bucket either run used: its
	// distribution lists one bar per bucket, in the order of the counts
	// array, up to the last non-empty one, and bar j's To is the value
	// bucket j reports.
	order := make([]int32, 0, len(used))
	for j := range used {
		order = append(order, j)
		geometry.Counts[j] = 1
	}
	slices.Sort(order)
	bars := hdrhistogram.Import(geometry).Distribution()
	d.values = make([]int64, len(order))
	for c, j := range order {
		used[j] = int32(c)
		if int(j) >= len(bars) {
			return nil, fmt.Errorf("latency histogram bucket %d beyond the merged histogram's %d", j, len(bars))
		}
		d.values[c] = bars[j].To
	}
	toSparse := func(fs []flat, out []sparse) {
		for i, f := range fs {
			if len(f.idx) == 0 {
				continue
			}
			s := make(sparse, len(f.idx))
			for k, j := range f.idx {
				s[k] = entry{idx: used[j], n: f.n[k]}
			}
			out[i] = s
		}
	}
	toSparse(bf, d.base)
	toSparse(hf, d.head)
	return d, nil
}

// flat is one window's non-empty buckets, by index of its counts array.
type flat struct {
	idx []int32
	n   []int64
}

// geometryOf is what two histograms must share to be merged.
type geometryOf struct {
	lowest, highest int64
	digits          int64
	buckets         int
}

// decodeWindows decodes the window histograms of run, on as many
// goroutines as there are CPUs: decoding is most of a comparison's time.
func decodeWindows(run *results.Run, which string) ([]flat, []geometryOf, error) {
	flats := make([]flat, len(run.Timeline))
	geoms := make([]geometryOf, len(run.Timeline))
	errs := make([]error, len(run.Timeline))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(run.Timeline) {
					return
				}
				w := run.Timeline[i]
				if w.Histogram == "" {
					continue
				}
				h, err := hdrhistogram.Decode([]byte(w.Histogram))
				if err != nil {
					errs[i] = fmt.Errorf("%s run %s: window %d (%s): decode latency histogram: %w", which, run.RunID, i, w.Start.Format("15:04:05.000"), err)
					continue
				}
				snap := h.Export()
				geoms[i] = geometryOf{snap.LowestTrackableValue, snap.HighestTrackableValue, snap.SignificantFigures, len(snap.Counts)}
				f := flat{idx: []int32{}}
				for j, c := range snap.Counts {
					if c != 0 {
						f.idx = append(f.idx, int32(j))
						f.n = append(f.n, c)
					}
				}
				flats[i] = f
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return flats, geoms, nil
}

// dense is a merged histogram on the value table.
type dense []int64

func (h dense) add(s sparse) {
	for _, e := range s {
		h[e.idx] += e.n
	}
}

func (h dense) clear() {
	for i := range h {
		h[i] = 0
	}
}

// quantiles returns the values at qs (ascending, in [0, 1]) and the
// maximum, in µs, ranked as hdrhistogram ranks them; zeros when empty.
func (h dense) quantiles(values []int64, qs []float64) (out []float64, maxv float64) {
	var total int64
	last := -1
	for i, n := range h {
		total += n
		if n > 0 {
			last = i
		}
	}
	out = make([]float64, len(qs))
	if total == 0 {
		return out, 0
	}
	var cum int64
	k := 0
	for i, n := range h {
		cum += n
		for k < len(qs) && cum >= rank(qs[k], total) {
			out[k] = float64(values[i])
			k++
		}
		if k == len(qs) {
			break
		}
	}
	return out, float64(values[last])
}

// rank is hdrhistogram's rank of quantile q among total values: in
// [1, total], rounded half up.
func rank(q float64, total int64) int64 {
	r := q*float64(total) + 0.5
	switch {
	case !(r >= 1):
		return 1
	case r >= float64(total):
		return total
	}
	return int64(r)
}

// blockLength is the bootstrap block length for m windows: ⌈m^⅓⌉.
func blockLength(m int) int {
	return max(1, int(math.Ceil(math.Cbrt(float64(m)))))
}

// blocks cuts the windows with data into consecutive blocks of blockLength,
// each merged into one sparse histogram (the last one may be shorter).
func blocks(windows []sparse, size int) []sparse {
	var out []sparse
	for i := 0; i < len(windows); i += size {
		acc := map[int32]int64{}
		for _, w := range windows[i:min(i+size, len(windows))] {
			for _, e := range w {
				acc[e.idx] += e.n
			}
		}
		b := make(sparse, 0, len(acc))
		for idx, n := range acc {
			b = append(b, entry{idx, n})
		}
		slices.SortFunc(b, func(x, y entry) int { return int(x.idx - y.idx) })
		out = append(out, b)
	}
	return out
}

// LatencyComparison compares one latency quantile of a scope.
type LatencyComparison struct {
	Scope    Scope  `json:"scope"`
	Quantile string `json:"quantile"`
	// BaseMs and HeadMs are the quantile of the merged window histograms.
	BaseMs  float64 `json:"base_ms"`
	HeadMs  float64 `json:"head_ms"`
	DeltaMs float64 `json:"delta_ms"`
	// DeltaRel is DeltaMs relative to BaseMs (0.25 for +25%); 0 when the
	// base's value is 0.
	DeltaRel float64 `json:"delta_rel"`
	// Interval is the block bootstrap's 99% interval of head − base; nil
	// when the quantile is not tested (the maximum, too few windows).
	Interval *Interval `json:"interval_ms,omitempty"`
	// FloorMs is the smallest difference that can be significant.
	FloorMs float64 `json:"floor_ms,omitempty"`
	// Significant: the interval excludes zero and |DeltaMs| > FloorMs.
	Significant bool `json:"significant"`
	// Limit is the largest relative increase that is not a regression
	// (the compare section's max_pNN_increase); 0 when none applies.
	Limit float64 `json:"limit,omitempty"`
	// Outcome is what this quantile says of the head.
	Outcome Outcome `json:"outcome"`
	// Note says why a quantile was not tested, or how it was judged.
	Note string `json:"note,omitempty"`
}

// Interval is a closed interval in milliseconds.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// compareLatency compares the quantiles of the windows chosen by inBase
// and inHead (indexes into each run's timeline).
func compareLatency(d *latencyData, scope Scope, baseWins, headWins []int, seed uint64) []LatencyComparison {
	pick := func(all []sparse, idx []int) []sparse {
		var out []sparse
		for _, i := range idx {
			if i < len(all) && all[i] != nil {
				out = append(out, all[i])
			}
		}
		return out
	}
	bw, hw := pick(d.base, baseWins), pick(d.head, headWins)
	qs := make([]float64, len(testedQuantiles))
	for i, t := range testedQuantiles {
		qs[i] = t.q
	}
	h := make(dense, len(d.values))
	point := func(ws []sparse) ([]float64, float64) {
		h.clear()
		for _, w := range ws {
			h.add(w)
		}
		return h.quantiles(d.values, qs)
	}
	bq, bmax := point(bw)
	hq, hmax := point(hw)

	var diffs [][]float64 // by quantile, Replicates each
	note := ""
	switch {
	case len(bw) < MinBootstrapWindows || len(hw) < MinBootstrapWindows:
		note = fmt.Sprintf("not tested: %d and %d windows with requests, fewer than %d", len(bw), len(hw), MinBootstrapWindows)
	default:
		diffs = bootstrap(d, h, bw, hw, qs, seed)
	}
	out := make([]LatencyComparison, 0, len(qs)+1)
	for i, t := range testedQuantiles {
		c := LatencyComparison{Scope: scope, Quantile: t.name, BaseMs: bq[i] / 1000, HeadMs: hq[i] / 1000, Note: note}
		c.DeltaMs = c.HeadMs - c.BaseMs
		if c.BaseMs > 0 {
			c.DeltaRel = c.DeltaMs / c.BaseMs
		}
		if diffs != nil {
			ds := diffs[i]
			slices.Sort(ds)
			lo := ds[int(math.Floor(LatencyAlpha/2*float64(len(ds))))]
			hi := ds[int(math.Ceil((1-LatencyAlpha/2)*float64(len(ds))))-1]
			c.Interval = &Interval{Low: lo / 1000, High: hi / 1000}
			c.FloorMs = max(RelativeFloor*c.BaseMs, 2*histResolution*max(c.BaseMs, c.HeadMs))
			c.Significant = (c.Interval.Low > 0 || c.Interval.High < 0) && math.Abs(c.DeltaMs) > c.FloorMs
		}
		out = append(out, c)
	}
	m := LatencyComparison{Scope: scope, Quantile: QuantileMax, BaseMs: bmax / 1000, HeadMs: hmax / 1000,
		Note: "reported, not tested: no bootstrap is consistent for a maximum"}
	m.DeltaMs = m.HeadMs - m.BaseMs
	if m.BaseMs > 0 {
		m.DeltaRel = m.DeltaMs / m.BaseMs
	}
	return append(out, m)
}

// bootstrap returns, for each quantile of qs, Replicates block-bootstrap
// replicates of head's quantile minus base's, in µs.
func bootstrap(d *latencyData, h dense, bw, hw []sparse, qs []float64, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 0x63757430766572)) // "cut0ver"
	bb := blocks(bw, blockLength(len(bw)))
	hb := blocks(hw, blockLength(len(hw)))
	replicate := func(bs []sparse) []float64 {
		h.clear()
		for range bs {
			h.add(bs[rng.IntN(len(bs))])
		}
		q, _ := h.quantiles(d.values, qs)
		return q
	}
	diffs := make([][]float64, len(qs))
	for i := range diffs {
		diffs[i] = make([]float64, Replicates)
	}
	for r := range Replicates {
		b := replicate(bb)
		hd := replicate(hb)
		for i := range qs {
			diffs[i][r] = hd[i] - b[i]
		}
	}
	return diffs
}
