package load

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// Histogram geometry shared by every window, run and merge: latencies in
// microseconds from 1 µs to one hour, three significant digits. Latencies
// above an hour are recorded as an hour.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// tally counts classified results by class, derived counter, status code
// and revision: what a timeline window and a grid cell (grid.go) both count.
type tally struct {
	counts   [numClasses]int64
	marks    [numMarks]int64
	codes    statusCounts
	requests int64
	revs     []revCount
}

// Status codes are counted in a fixed array, so the per-result path is one
// increment: codes 100–599 at code-minStatus, any other code at statusOther.
const (
	minStatus   = 100
	maxStatus   = 599
	statusOther = maxStatus - minStatus + 1
)

// statusCounts counts responses by status code, indexed as the constants
// above say.
type statusCounts [statusOther + 1]int64

// add counts one response with status code; code 0 (no response) is not
// counted.
func (s *statusCounts) add(code uint16) {
	switch {
	case code == 0:
	case code < minStatus || code > maxStatus:
		s[statusOther]++
	default:
		s[code-minStatus]++
	}
}

// addAll adds every count of o.
func (s *statusCounts) addAll(o *statusCounts) {
	for i := range s {
		s[i] += o[i]
	}
}

// byStatus returns the non-zero counts keyed as results.Totals.ByStatus is,
// or nil when there are none.
func (s *statusCounts) byStatus() map[string]int64 {
	var m map[string]int64
	for i, n := range s {
		if n == 0 {
			continue
		}
		if m == nil {
			m = map[string]int64{}
		}
		if i == statusOther {
			m[results.StatusOther] += n
		} else {
			m[strconv.Itoa(i+minStatus)] = n
		}
	}
	return m
}

// revCount counts one revision; a window sees few revisions, so a short
// slice searched linearly beats a map on the per-result path.
type revCount struct {
	name string
	n    int64
}

// count adds one result of class c and mark m, with status code (0: no
// response), served by revision rev ("" when the server did not say).
func (t *tally) count(c class, m mark, code uint16, rev string) {
	t.counts[c]++
	t.marks[m]++
	t.codes.add(code)
	t.requests++
	if rev == "" {
		return
	}
	for i := range t.revs {
		if t.revs[i].name == rev {
			t.revs[i].n++
			return
		}
	}
	t.revs = append(t.revs, revCount{name: rev, n: 1})
}

// fill writes the counts into win: Requests, Errors, the non-zero ByClass
// counters (win.ByClass must be non-nil), ByStatus and ByRevision.
func (t *tally) fill(win *results.Window) {
	win.Requests = t.requests
	win.Errors = t.requests - t.counts[classOK]
	fillByClass(win.ByClass, &t.counts, &t.marks, false)
	win.ByStatus = t.codes.byStatus()
	if len(t.revs) > 0 {
		win.ByRevision = make(map[string]int64, len(t.revs))
		for _, r := range t.revs {
			win.ByRevision[r.name] += r.n
		}
	}
}

// windowAgg accumulates the results of one open window. It is owned by the
// consumer goroutine: no locks.
type windowAgg struct {
	tally
	latSum time.Duration
	latMax time.Duration
	hist   *hdrhistogram.Histogram
	minSeq uint64 // smallest sequence number recorded here
}

func (w *windowAgg) reset() {
	w.tally = tally{revs: w.revs[:0]}
	w.latSum, w.latMax = 0, 0
	w.hist.Reset()
	w.minSeq = math.MaxUint64
}

// record adds one classified result.
func (w *windowAgg) record(r *vegeta.Result, c class, m mark, rev string) {
	w.latSum += r.Latency
	w.latMax = max(w.latMax, r.Latency)
	w.hist.RecordValue(min(int64(r.Latency/time.Microsecond), histHighest))
	if r.Seq < w.minSeq {
		w.minSeq = r.Seq
	}
	w.count(c, m, r.Code, rev)
}

// aggregator sorts results into timeline windows and keeps the run totals.
//
// Window i covers send times [start+i·width, start+(i+1)·width); a result
// belongs to the window of its Timestamp (when it was sent), whenever it
// arrives. A window is closed — summarized, handed to emit, its histogram
// reset and reused — as soon as every request sent before its end has
// returned. vegeta numbers hits in send order (Seq and Timestamp are taken
// together), so that is exact: window i is complete once all sequence
// numbers below the smallest one seen in a later window have arrived. Two
// clock rules close windows that this cannot reach: when nothing is in
// flight and the window ended more than closeGrace ago (idle gaps), and in
// any case timeout+closeGrace after its end, when every request sent in it
// has returned or timed out. A result that still arrives for a closed window
// (only possible if the consumer fell that far behind) is counted in the
// oldest open window and in late, so the totals always equal the sum over
// the windows.
//
// Memory is bounded by the number of windows open at once (at most about
// timeout/width+2) and by the spread of sequence numbers in flight, never by
// the run's length. An aggregator is used by one goroutine.
type aggregator struct {
	start   time.Time
	width   time.Duration
	last    int64 // highest window index; results beyond are clamped; -1: none
	timeout time.Duration
	revKey  string
	emit    func(results.Window)

	base    int64        // index of the oldest open window
	open    []*windowAgg // open[i] is window base+i; nil: no result yet
	free    []*windowAgg
	closeAt uint64 // smallest Seq seen in a window after base
	seen    seqSet

	received uint64
	late     int64

	grid *grid // every result again, on the metric grid; nil: none

	total    windowAgg // sums of closed windows (hist unused)
	runHist  *hdrhistogram.Histogram
	timeline []results.Window
	err      error // first histogram encoding error
}

// closeGrace is how long after its end an idle window waits before closing,
// covering the moment between a hit taking its timestamp and asking the
// targeter (which is what counts it as dispatched).
const closeGrace = 250 * time.Millisecond

func newAggregator(start time.Time, width, duration, timeout time.Duration, revHeader string, emit func(results.Window)) *aggregator {
	a := &aggregator{
		start:   start,
		width:   width,
		last:    -1,
		timeout: timeout,
		revKey:  http.CanonicalHeaderKey(revHeader),
		emit:    emit,
		closeAt: math.MaxUint64,
		runHist: newHistogram(),
	}
	if duration > 0 {
		a.last = int64((duration+width-1)/width) - 1
	}
	a.seen.init()
	return a
}

// add records one classified result and closes every window it completes.
func (a *aggregator) add(r *vegeta.Result, c class, m mark) {
	idx := int64(r.Timestamp.Sub(a.start) / a.width)
	if idx < 0 {
		idx = 0
	}
	if a.last >= 0 && idx > a.last {
		idx = a.last
	}
	if idx < a.base {
		idx = a.base
		a.late++
	}
	var rev string
	if a.revKey != "" {
		if v := r.Headers[a.revKey]; len(v) > 0 {
			rev = v[0]
		}
	}
	a.window(idx).record(r, c, m, rev)
	if a.grid != nil {
		a.grid.add(r.Timestamp, c, m, r.Code, rev)
	}
	if idx > a.base && r.Seq < a.closeAt {
		a.closeAt = r.Seq
	}
	a.received++
	a.seen.add(r.Seq)
	for a.seen.next >= a.closeAt {
		a.closeBase()
	}
}

// window returns the open window idx (idx >= base), creating it.
func (a *aggregator) window(idx int64) *windowAgg {
	i := int(idx - a.base)
	for len(a.open) <= i {
		a.open = append(a.open, nil)
	}
	w := a.open[i]
	if w == nil {
		if n := len(a.free); n > 0 {
			w = a.free[n-1]
			a.free = a.free[:n-1]
		} else {
			w = &windowAgg{hist: newHistogram()}
			w.reset()
		}
		a.open[i] = w
	}
	return w
}

// tick applies the clock rules at now; dispatched is how many hits were
// started so far.
func (a *aggregator) tick(now time.Time, dispatched uint64) {
	elapsed := now.Sub(a.start)
	idle := a.received >= dispatched
	for a.last < 0 || a.base <= a.last {
		end := time.Duration(a.base+1) * a.width
		if elapsed >= end+a.timeout+closeGrace || (idle && elapsed >= end+closeGrace) {
			a.closeBase()
			continue
		}
		return
	}
}

// finish closes every remaining window, through the one containing elapsed
// (the load's length), and returns the timeline.
func (a *aggregator) finish(elapsed time.Duration) {
	through := a.base + int64(len(a.open)) - 1
	if n := int64((elapsed+a.width-1)/a.width) - 1; n > through {
		through = n
	}
	if a.last >= 0 && through > a.last {
		through = a.last
	}
	for a.base <= through {
		a.closeBase()
	}
}

// closeBase closes the oldest open window.
func (a *aggregator) closeBase() {
	var w *windowAgg
	if len(a.open) > 0 {
		w = a.open[0]
		copy(a.open, a.open[1:])
		a.open[len(a.open)-1] = nil
		a.open = a.open[:len(a.open)-1]
	}
	win := results.Window{
		Start:   a.start.Add(time.Duration(a.base) * a.width),
		ByClass: map[results.Class]int64{},
	}
	a.base++
	a.closeAt = math.MaxUint64
	for _, o := range a.open[min(1, len(a.open)):] {
		if o != nil && o.minSeq < a.closeAt {
			a.closeAt = o.minSeq
		}
	}
	if w != nil {
		a.summarize(w, &win)
		w.reset()
		a.free = append(a.free, w)
	}
	a.timeline = append(a.timeline, win)
	if a.emit != nil {
		a.emit(win)
	}
}

// summarize fills win from w and adds w to the run totals.
func (a *aggregator) summarize(w *windowAgg, win *results.Window) {
	w.fill(win)
	win.P50 = usToMs(w.hist.ValueAtQuantile(50))
	win.P99 = usToMs(w.hist.ValueAtQuantile(99))
	enc, err := w.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil && a.err == nil {
		a.err = fmt.Errorf("encode latency histogram of window %s: %w", win.Start.Format(time.RFC3339), err)
	}
	win.Histogram = string(enc)
	a.runHist.Merge(w.hist)

	t := &a.total
	for i := range t.counts {
		t.counts[i] += w.counts[i]
	}
	for i := range t.marks {
		t.marks[i] += w.marks[i]
	}
	t.codes.addAll(&w.codes)
	t.requests += w.requests
	t.latSum += w.latSum
	t.latMax = max(t.latMax, w.latMax)
}

// totals returns the run totals and latency summary.
func (a *aggregator) totals() (results.Totals, results.Latency) {
	t := &a.total
	tot := results.Totals{
		Requests: t.requests,
		Errors:   t.requests - t.counts[classOK],
		ByClass:  make(map[results.Class]int64, numClasses+2),
	}
	fillByClass(tot.ByClass, &t.counts, &t.marks, true)
	tot.ByStatus = t.codes.byStatus()
	lat := latencyOf(a.runHist)
	if t.requests > 0 {
		lat.Mean = float64(t.latSum) / float64(t.requests) / float64(time.Millisecond)
		lat.Max = float64(t.latMax) / float64(time.Millisecond)
	}
	return tot, lat
}

// fillByClass writes the class counts and the derived counters into m: all
// of them when zeros is true, only the non-zero ones otherwise.
func fillByClass(m map[results.Class]int64, counts *[numClasses]int64, marks *[numMarks]int64, zeros bool) {
	var fetchFailed int64
	for c, n := range counts {
		if class(c).isTransport() {
			fetchFailed += n
		}
		if n != 0 || zeros {
			m[classNames[c]] = n
		}
	}
	if fetchFailed != 0 || zeros {
		m[results.FetchFailed] = fetchFailed
	}
	for i, n := range marks {
		if mark(i) != markNone && (n != 0 || zeros) {
			m[markNames[i]] = n
		}
	}
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

// latencyOf summarizes a histogram in milliseconds.
func latencyOf(h *hdrhistogram.Histogram) results.Latency {
	if h.TotalCount() == 0 {
		return results.Latency{}
	}
	return results.Latency{
		P50:  usToMs(h.ValueAtQuantile(50)),
		P90:  usToMs(h.ValueAtQuantile(90)),
		P95:  usToMs(h.ValueAtQuantile(95)),
		P99:  usToMs(h.ValueAtQuantile(99)),
		Max:  usToMs(h.Max()),
		Mean: h.Mean() / 1000,
	}
}

// MergeWindows merges the latency histograms of windows — of one run, or of
// several runs or shards — and summarizes them. Percentiles are exactly
// those of one histogram over all the windows' latencies; Max and Mean are
// read from the histogram, so they are within its 0.1% precision. Windows
// without a histogram (no requests) are skipped.
func MergeWindows(ws []results.Window) (results.Latency, error) {
	h := newHistogram()
	for i, w := range ws {
		if w.Histogram == "" {
			continue
		}
		wh, err := hdrhistogram.Decode([]byte(w.Histogram))
		if err != nil {
			return results.Latency{}, fmt.Errorf("decode latency histogram of window %d (%s): %w", i, w.Start.Format(time.RFC3339), err)
		}
		if dropped := h.Merge(wh); dropped != 0 {
			return results.Latency{}, fmt.Errorf("merge latency histogram of window %d (%s): %d values out of range", i, w.Start.Format(time.RFC3339), dropped)
		}
	}
	return latencyOf(h), nil
}

// seqSet tracks which sequence numbers arrived: next is the smallest one
// that has not, and bits (a ring) marks those above next that have.
type seqSet struct {
	next uint64
	bits []uint64 // len is a power of two
}

func (s *seqSet) init() { s.bits = make([]uint64, 1024) }

func (s *seqSet) span() uint64 { return uint64(len(s.bits)) * 64 }

func (s *seqSet) add(seq uint64) {
	if seq < s.next {
		return
	}
	if seq-s.next >= s.span() {
		s.grow(seq - s.next + 1)
	}
	mask := s.span() - 1
	p := seq & mask
	s.bits[p>>6] |= 1 << (p & 63)
	for {
		p = s.next & mask
		word, bit := p>>6, uint64(1)<<(p&63)
		if s.bits[word]&bit == 0 {
			return
		}
		s.bits[word] &^= bit
		s.next++
	}
}

// grow enlarges the ring to hold at least need numbers from next on.
func (s *seqSet) grow(need uint64) {
	n := uint64(len(s.bits))
	for n*64 < 2*need {
		n *= 2
	}
	old, oldMask := s.bits, s.span()-1
	s.bits = make([]uint64, n)
	mask := s.span() - 1
	for q := s.next; q < s.next+uint64(len(old))*64; q++ {
		p := q & oldMask
		if old[p>>6]&(1<<(p&63)) != 0 {
			np := q & mask
			s.bits[np>>6] |= 1 << (np & 63)
		}
	}
}
