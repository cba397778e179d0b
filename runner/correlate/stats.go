package correlate

import (
	"maps"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/cutover-dev/cutover/results"
)

// signal is one analysed series: the fetched series with the same query
// and metric labels summed (they differ only in their resource), on the
// bucket grid widened by MaxLag either side so that lags can be tried:
// values[MaxLag+k] lines up with bucket k.
type signal struct {
	key    string
	query  results.Query
	labels map[string]string
	values []float64
}

// at returns the signal's per-bucket vector shifted by lag: element k is the
// value lag periods after bucket k.
func (s signal) at(lag int) []float64 { return lagged(s.values, lag) }

// lagged returns the n = len(ext) − 2·MaxLag values of ext starting lag
// places after the centre window.
func lagged(ext []float64, lag int) []float64 {
	n := len(ext) - 2*MaxLag
	return ext[MaxLag+lag : MaxLag+lag+n]
}

// seriesKey names a series by its query and metric labels:
// "query{k=v,k2=v2}", or just the query without labels.
func seriesKey(query results.Query, labels map[string]string) string {
	if len(labels) == 0 {
		return string(query)
	}
	var b strings.Builder
	b.WriteString(string(query))
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// signalsOf groups series by key and places their points on n buckets of g
// starting at grid bucket first, widened by MaxLag either side. Points off
// that range are left out; points of one key in one bucket add up.
func signalsOf(series []results.Series, g grid, first, n int) []signal {
	var out []signal
	idx := map[string]int{}
	for _, s := range series {
		key := seriesKey(s.Query, s.Labels)
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, signal{key: key, query: s.Query, labels: maps.Clone(s.Labels), values: make([]float64, n+2*MaxLag)})
		}
		for _, p := range s.Points {
			k := g.index(p.Start) - first + MaxLag
			if k >= 0 && k < len(out[i].values) && !math.IsNaN(p.Value) {
				out[i].values[k] += p.Value
			}
		}
	}
	return out
}

// sumSignals adds up the signals keep selects into one, named key; ok is
// false when none is selected.
func sumSignals(sigs []signal, key string, keep func(signal) bool) (signal, bool) {
	var out signal
	found := false
	for _, s := range sigs {
		if !keep(s) {
			continue
		}
		if !found {
			out = signal{key: key, query: s.query, values: make([]float64, len(s.values))}
			found = true
		}
		for i, v := range s.values {
			out.values[i] += v
		}
	}
	return out, found
}

// pearson returns Pearson's correlation of x and y; ok is false when it is
// undefined (fewer than two points, or a constant vector).
func pearson(x, y []float64) (r float64, ok bool) {
	if len(x) < 2 || constant(x) || constant(y) {
		return 0, false
	}
	r = stat.Correlation(x, y, nil)
	if math.IsNaN(r) {
		return 0, false
	}
	return r, true
}

func constant(v []float64) bool {
	for _, x := range v[1:] {
		if x != v[0] {
			return false
		}
	}
	return true
}

// lagOrder is the order lags are tried in: on equal correlation the lag
// tried first wins, so smaller shifts, and the series moving after the
// errors, are preferred.
var lagOrder = []int{0, 1, -1, 2, -2}

// bestLag returns the lag in −MaxLag..+MaxLag whose shifted series
// correlates best with errs, and that correlation; ok is false when no lag
// gives a defined correlation.
func bestLag(errs, ext []float64) (lag int, r float64, ok bool) {
	for _, l := range lagOrder {
		c, defined := pearson(errs, lagged(ext, l))
		if defined && (!ok || c > r+1e-9) {
			lag, r, ok = l, c, true
		}
	}
	return lag, r, ok
}

// overlap returns how many of errs fall in buckets where series is
// non-zero.
func overlap(errs, series []float64) float64 {
	var n float64
	for i, e := range errs {
		if series[i] != 0 {
			n += e
		}
	}
	return n
}

// statOf measures one error class against one signal.
func statOf(class results.Class, errs []float64, s signal) SeriesStat {
	st := SeriesStat{Class: class, Signal: s.key, Query: s.query, Labels: maps.Clone(s.labels)}
	total := sum(errs)
	st.Errors = int64(total)
	st.SeriesTotal = sum(s.at(0))
	if nonZero(s.at(0)) == 0 {
		st.Flat = true
		return st
	}
	if total > 0 {
		ov := overlap(errs, s.at(0))
		st.Overlap = int64(ov)
		st.CoOccurrence = ov / total
	}
	st.Correlation, _ = pearson(errs, s.at(0))
	if lag, r, ok := bestLag(errs, s.values); ok {
		st.BestLag, st.BestCorrelation = lag, r
	}
	st.LagCoOccurrence = st.CoOccurrence
	if total > 0 {
		st.LagCoOccurrence = overlap(errs, s.at(st.BestLag)) / total
	}
	return st
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func nonZero(v []float64) int {
	n := 0
	for _, x := range v {
		if x != 0 {
			n++
		}
	}
	return n
}
