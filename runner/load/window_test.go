package load

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// synth is a synthetic result sent at offset at with sequence number seq.
func synth(seq uint64, at, latency time.Duration, code uint16) *vegeta.Result {
	return &vegeta.Result{Seq: seq, Timestamp: t0.Add(at), Latency: latency, Code: code}
}

type recorder struct{ got []results.Window }

func (r *recorder) emit(w results.Window) { r.got = append(r.got, w) }

func TestWindowsCloseWhenEverySendBeforeTheirEndReturned(t *testing.T) {
	rec := &recorder{}
	a := newAggregator(t0, time.Second, 5*time.Second, 30*time.Second, "", rec.emit)
	// seq 0 (window 0) is slow: it arrives after results of windows 1 and 2.
	a.add(synth(1, 500*time.Millisecond, time.Millisecond, 200), classOK, markNone)
	a.add(synth(2, 1100*time.Millisecond, time.Millisecond, 200), classOK, markNone)
	a.add(synth(3, 2100*time.Millisecond, time.Millisecond, 500), class500, markNone)
	if len(rec.got) != 0 {
		t.Fatalf("%d windows closed while seq 0 of window 0 is in flight", len(rec.got))
	}
	a.add(synth(0, 100*time.Millisecond, 2500*time.Millisecond, 200), classOK, markNone)
	// Now every send before 2s has returned: windows 0 and 1 close; window 2
	// could still get a send (seq 4) at 2.9s.
	if len(rec.got) != 2 {
		t.Fatalf("closed %d windows, want 2", len(rec.got))
	}
	if rec.got[0].Requests != 2 || rec.got[1].Requests != 1 {
		t.Errorf("window requests = %d, %d; want 2, 1", rec.got[0].Requests, rec.got[1].Requests)
	}
	if !rec.got[1].Start.Equal(t0.Add(time.Second)) {
		t.Errorf("window 1 starts at %v, want %v", rec.got[1].Start, t0.Add(time.Second))
	}
	// seq 5 lands in window 4; windows 2 and 3 (3 empty) close.
	a.add(synth(4, 4100*time.Millisecond, time.Millisecond, 200), classOK, markNone)
	if len(rec.got) != 4 || rec.got[3].Requests != 0 || rec.got[2].ByClass[results.ClassStatus500] != 1 {
		t.Fatalf("windows after seq 4: %+v", rec.got)
	}
	a.finish(5 * time.Second)
	if len(rec.got) != 5 || len(a.timeline) != 5 {
		t.Fatalf("finish left %d windows (timeline %d), want 5", len(rec.got), len(a.timeline))
	}
	tot, lat := a.totals()
	if tot.Requests != 5 || tot.Errors != 1 || tot.ByClass[results.ClassStatus500] != 1 || tot.ByClass[results.ClassOK] != 4 {
		t.Errorf("totals = %+v", tot)
	}
	if lat.Max != 2500 {
		t.Errorf("max latency = %v ms, want 2500", lat.Max)
	}
}

func TestWindowClockRules(t *testing.T) {
	rec := &recorder{}
	a := newAggregator(t0, time.Second, 0, 10*time.Second, "", rec.emit)
	a.add(synth(0, 200*time.Millisecond, time.Millisecond, 200), classOK, markNone)
	// Idle (all dispatched hits returned) but inside the grace: stays open.
	a.tick(t0.Add(time.Second+closeGrace/2), 1)
	if len(rec.got) != 0 {
		t.Fatalf("closed within the grace")
	}
	// Idle past end+grace: closes window 0, and not window 1 (not over).
	a.tick(t0.Add(time.Second+closeGrace), 1)
	if len(rec.got) != 1 {
		t.Fatalf("idle: closed %d windows, want 1", len(rec.got))
	}
	// A hit in flight (dispatched 2, received 1): windows wait...
	a.tick(t0.Add(5*time.Second), 2)
	if len(rec.got) != 1 {
		t.Fatalf("closed %d windows with a hit in flight, want 1", len(rec.got))
	}
	// ...until timeout+grace after their end.
	a.tick(t0.Add(12*time.Second+closeGrace), 2)
	if len(rec.got) != 2 {
		t.Fatalf("timeout rule: closed %d windows, want 2", len(rec.got))
	}
	// The straggler sent at 1.5s arrives for the closed window 1: it is
	// counted in the oldest open window and as late, so totals still add up.
	a.add(synth(1, 1500*time.Millisecond, 10*time.Second, 0), classResponseTimeout, markNone)
	a.finish(3 * time.Second)
	if a.late != 1 {
		t.Errorf("late = %d, want 1", a.late)
	}
	var sum int64
	for _, w := range rec.got {
		sum += w.Requests
	}
	if tot, _ := a.totals(); tot.Requests != 2 || sum != 2 {
		t.Errorf("totals %d, windows %d; want 2, 2", tot.Requests, sum)
	}
}

func TestWindowsClampToTheLoadsLength(t *testing.T) {
	rec := &recorder{}
	a := newAggregator(t0, time.Second, 2*time.Second, time.Second, "", rec.emit)
	// vegeta's last hit of a 2s attack is stamped at 2.0001s.
	a.add(synth(0, 2*time.Second+100*time.Microsecond, time.Millisecond, 200), classOK, markNone)
	a.finish(2 * time.Second)
	if len(rec.got) != 2 || rec.got[1].Requests != 1 {
		t.Errorf("got %d windows, last has %d requests; want 2, 1", len(rec.got), rec.got[len(rec.got)-1].Requests)
	}
}

func TestWindowRevisionsAndDerivedCounters(t *testing.T) {
	rec := &recorder{}
	a := newAggregator(t0, time.Second, time.Second, time.Second, "x-revision", rec.emit)
	for i, rev := range []string{"api-1", "api-2", "api-1", "", "api-1"} {
		r := synth(uint64(i), time.Duration(i)*time.Millisecond, time.Millisecond, 200)
		if rev != "" {
			r.Headers = http.Header{"X-Revision": {rev}}
		}
		a.add(r, classOK, markNone)
	}
	a.add(synth(5, 10*time.Millisecond, time.Millisecond, 504), class504, markUpstreamTimeout)
	a.add(synth(6, 11*time.Millisecond, time.Millisecond, 0), classEOF, markNone)
	a.add(synth(7, 12*time.Millisecond, time.Millisecond, 0), classDNS, markNone)
	a.finish(time.Second)
	w := rec.got[0]
	if w.ByRevision["api-1"] != 3 || w.ByRevision["api-2"] != 1 || len(w.ByRevision) != 2 {
		t.Errorf("by revision = %v", w.ByRevision)
	}
	want := map[results.Class]int64{
		results.ClassOK: 5, results.ClassStatus504: 1, results.ClassEOF: 1, results.ClassDNS: 1,
		results.FetchFailed: 2, results.UpstreamTimeout: 1,
	}
	if len(w.ByClass) != len(want) {
		t.Errorf("window by class = %v, want only non-zero %v", w.ByClass, want)
	}
	for k, v := range want {
		if w.ByClass[k] != v {
			t.Errorf("window %s = %d, want %d", k, w.ByClass[k], v)
		}
	}
	tot, _ := a.totals()
	if len(tot.ByClass) != len(results.Classes)+3 {
		t.Errorf("totals list %d counters, want every class and the three derived", len(tot.ByClass))
	}
	if tot.Errors != 3 {
		t.Errorf("errors = %d, want 3", tot.Errors)
	}
}

// TestMergeWindowsEqualsOneHistogram: merging the windows' stored
// histograms gives exactly the percentiles of one histogram over all values.
func TestMergeWindowsEqualsOneHistogram(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rec := &recorder{}
	a := newAggregator(t0, time.Second, 20*time.Second, time.Second, "", rec.emit)
	all := newHistogram()
	for seq := range uint64(20000) {
		at := time.Duration(seq) * time.Millisecond
		// log-normal-ish latencies, with a slow tail in some windows.
		lat := time.Duration(rng.ExpFloat64()*float64(20*time.Millisecond)) + time.Millisecond
		if seq%997 == 0 {
			lat += 3 * time.Second
		}
		a.add(synth(seq, at, lat, 200), classOK, markNone)
		all.RecordValue(int64(lat / time.Microsecond))
	}
	a.finish(20 * time.Second)
	merged, err := MergeWindows(rec.got)
	if err != nil {
		t.Fatal(err)
	}
	want := latencyOf(all)
	if merged.P50 != want.P50 || merged.P90 != want.P90 || merged.P99 != want.P99 || merged.Max != want.Max {
		t.Errorf("merged %+v, one histogram %+v", merged, want)
	}
	_, runLat := a.totals()
	if runLat.P50 != want.P50 || runLat.P99 != want.P99 {
		t.Errorf("run latency %+v, one histogram %+v", runLat, want)
	}
	// Each window's own percentiles come from its histogram.
	for i, w := range rec.got {
		h, err := hdrhistogram.Decode([]byte(w.Histogram))
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != w.Requests || usToMs(h.ValueAtQuantile(99)) != w.P99 {
			t.Errorf("window %d: histogram holds %d values, p99 %v; window says %d, %v", i, h.TotalCount(), usToMs(h.ValueAtQuantile(99)), w.Requests, w.P99)
		}
	}
	if _, err := MergeWindows([]results.Window{{Histogram: "not base64!"}}); err == nil {
		t.Error("MergeWindows accepted a corrupt histogram")
	}
}

// TestAggregatorMemoryIsFlat runs many windows through the aggregator and
// checks that it keeps only a few live histograms.
func TestAggregatorMemoryIsFlat(t *testing.T) {
	a := newAggregator(t0, 10*time.Millisecond, 0, time.Second, "", nil)
	rs := make([]*vegeta.Result, 0, 200000)
	for seq := range uint64(cap(rs)) {
		// 1000 windows; one request in 50 is slow (spans 3 windows).
		lat := time.Millisecond
		if seq%50 == 0 {
			lat = 30 * time.Millisecond
		}
		rs = append(rs, synth(seq, time.Duration(seq)*50*time.Microsecond, lat, 200))
	}
	// Results arrive in completion order.
	slices.SortStableFunc(rs, func(x, y *vegeta.Result) int { return x.End().Compare(y.End()) })
	for _, r := range rs {
		a.add(r, classOK, markNone)
	}
	if a.base < 990 {
		t.Errorf("only %d windows closed", a.base)
	}
	if live := len(a.open) + len(a.free); live > 4 {
		t.Errorf("%d live window aggregates after 1000 windows, want a handful", live)
	}
	if a.seen.span() > 1024*64 {
		t.Errorf("seq ring grew to %d", a.seen.span())
	}
}

func TestSeqSetGrowsAndAdvances(t *testing.T) {
	var s seqSet
	s.init()
	// seq 0 held back while 200,000 later ones arrive, in reverse order.
	for q := uint64(200000); q >= 1; q-- {
		s.add(q)
	}
	if s.next != 0 {
		t.Fatalf("next = %d before seq 0 arrived", s.next)
	}
	s.add(0)
	if s.next != 200001 {
		t.Fatalf("next = %d, want 200001", s.next)
	}
	s.add(5) // duplicate/old: ignored
	s.add(200002)
	if s.next != 200001 {
		t.Fatalf("next = %d, want 200001 (200001 missing)", s.next)
	}
	s.add(200001)
	if s.next != 200003 {
		t.Fatalf("next = %d, want 200003", s.next)
	}
}
