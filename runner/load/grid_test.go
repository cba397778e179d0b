package load

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// gridHit is a synthetic result sent at offset at from the load's start.
type gridHit struct {
	at   time.Duration
	code uint16 // 0: a connect timeout
	rev  string
}

// gridCell is what one grid cell should count.
type gridCell struct{ requests, errors int64 }

func TestGridCountsEachResultInTheCellOfItsOwnTimestamp(t *testing.T) {
	// On the 3 s grid: 03:04:03 is 3681 periods into the day.
	aligned3 := time.Date(2025, 1, 2, 3, 4, 3, 0, time.UTC)
	// The local cloud's metric period at time_scale 7, 60 s / 7, as
	// Clock.Wall rounds it.
	const p7 = 8571428571 * time.Nanosecond
	origin7 := t0.Truncate(p7)
	tests := []struct {
		name             string
		start            time.Time
		period, duration time.Duration
		hits             []gridHit
		elapsed          time.Duration
		first            time.Time // the first cell's start
		want             []gridCell
	}{
		{
			name:  "a boundary splits sends 1 ns apart",
			start: aligned3, period: 3 * time.Second, duration: 6 * time.Second,
			hits:    []gridHit{{3*time.Second - 1, 503, ""}, {3 * time.Second, 200, ""}, {5500 * time.Millisecond, 0, ""}},
			elapsed: 6 * time.Second,
			first:   aligned3,
			want:    []gridCell{{1, 1}, {2, 1}},
		},
		{
			// Window 8, [8 s, 9 s), straddles the boundary at 8.571428571 s:
			// counting it in the period that holds its start would put
			// three results in cell 0.
			name:  "1 s windows do not divide a period of 60/7 s",
			start: origin7, period: p7, duration: 18 * time.Second,
			hits: []gridHit{
				{8571428570, 200, ""}, {8571428571, 502, ""}, {8900 * time.Millisecond, 200, ""},
				{17142857141, 200, ""}, {17142857142, 200, ""},
			},
			elapsed: 18 * time.Second,
			first:   origin7,
			want:    []gridCell{{1, 0}, {3, 1}, {1, 0}},
		},
		{
			name:  "a load that starts 0.4 s after a boundary",
			start: aligned3.Add(400 * time.Millisecond), period: 3 * time.Second, duration: 6 * time.Second,
			hits: []gridHit{
				{0, 200, ""}, {2500 * time.Millisecond, 0, ""}, // at 0.4 s and 2.9 s: cell 0
				{2700 * time.Millisecond, 200, ""},  // 3.1 s: cell 1
				{5650 * time.Millisecond, 504, ""}}, // 6.05 s: cell 2, where the load ends
			elapsed: 6 * time.Second,
			first:   aligned3,
			want:    []gridCell{{2, 1}, {1, 0}, {1, 1}},
		},
		{
			// vegeta stamps the last hit of a 2 s attack at 2.0001 s. The
			// timeline clamps it into its last window. The grid keeps it
			// in the cell it was sent in.
			name:  "a send stamped after the load's nominal end",
			start: aligned3, period: time.Second, duration: 2 * time.Second,
			hits:    []gridHit{{500 * time.Millisecond, 200, ""}, {1500 * time.Millisecond, 200, ""}, {2*time.Second + 100*time.Microsecond, 200, ""}},
			elapsed: 2 * time.Second,
			first:   aligned3,
			want:    []gridCell{{1, 0}, {1, 0}, {1, 0}},
		},
		{
			name:  "a send stamped before the start's cell counts in the first cell",
			start: aligned3.Add(time.Second), period: 3 * time.Second, duration: 3 * time.Second,
			hits:    []gridHit{{-4 * time.Second, 200, ""}, {time.Second, 200, ""}, {2500 * time.Millisecond, 200, ""}},
			elapsed: 3 * time.Second,
			first:   aligned3,
			want:    []gridCell{{2, 0}, {1, 0}},
		},
		{
			name:  "revisions per cell",
			start: aligned3, period: 3 * time.Second, duration: 6 * time.Second,
			hits: []gridHit{
				{time.Second, 200, "api-1"}, {2 * time.Second, 503, "api-1"},
				{4 * time.Second, 200, "api-2"}, {5 * time.Second, 200, "api-1"}, {5 * time.Second, 0, ""},
			},
			elapsed: 6 * time.Second,
			first:   aligned3,
			want:    []gridCell{{2, 1}, {3, 1}},
		},
		{
			name:  "no results: empty cells through the load's end",
			start: aligned3.Add(time.Second), period: 3 * time.Second, duration: 5 * time.Second,
			elapsed: 5 * time.Second, // ends at 6 s, the start of cell 2: cells 0 and 1
			first:   aligned3,
			want:    []gridCell{{0, 0}, {0, 0}},
		},
		{
			name:  "a cancelled load ends in the cell it stopped in",
			start: aligned3, period: 3 * time.Second, duration: time.Minute,
			hits:    []gridHit{{time.Second, 200, ""}, {7 * time.Second, 200, ""}},
			elapsed: 7500 * time.Millisecond,
			first:   aligned3,
			want:    []gridCell{{1, 0}, {0, 0}, {1, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gridConsumer(tt.start, tt.duration, tt.period)
			for i, h := range tt.hits {
				r := &vegeta.Result{Seq: uint64(i), Timestamp: tt.start.Add(h.at), Latency: time.Millisecond, Code: h.code}
				if h.code == 0 {
					r.Latency, r.Error = MaxConnectTimeout, `Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: i/o timeout`
				} else {
					r.Headers = http.Header{}
				}
				if h.rev != "" {
					r.Headers.Set("X-Revision", h.rev)
				}
				c.add(r)
			}
			sum := finishGrid(c.agg, tt.elapsed)
			checkSummary(t, sum)
			checkGrid(t, sum, tt.period)
			if got := sum.Grid[0].Start; !got.Equal(tt.first) {
				t.Errorf("first cell starts at %v, want %v", got, tt.first)
			}
			var got []gridCell
			for _, w := range sum.Grid {
				got = append(got, gridCell{w.Requests, w.Errors})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("cells (requests, errors) = %v, want %v", got, tt.want)
			}
			for k := range got {
				if got[k] != tt.want[k] {
					t.Errorf("cell %d counts %v, want %v (all %v)", k, got[k], tt.want[k], got)
				}
			}
		})
	}
}

// The same classes and derived counters as the windows, only the non-zero
// ones, and revisions per cell.
func TestGridCellsCountClassesAndRevisions(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	c := gridConsumer(start, 2*time.Second, time.Second)
	add := func(at time.Duration, code uint16, body, rev string) {
		r := &vegeta.Result{Seq: c.agg.received, Timestamp: start.Add(at), Latency: time.Millisecond, Code: code,
			Body: []byte(body), Headers: http.Header{}}
		if rev != "" {
			r.Headers.Set("X-Revision", rev)
		}
		c.add(r)
	}
	add(100*time.Millisecond, 200, "", "api-1")
	add(200*time.Millisecond, 504, "upstream request timeout", "api-1")
	add(1100*time.Millisecond, 500, "TypeError: fetch failed", "api-2")
	add(1200*time.Millisecond, 200, "", "api-2")
	sum := finishGrid(c.agg, 2*time.Second)
	checkGrid(t, sum, time.Second)
	want := []struct {
		byClass map[results.Class]int64
		byRev   map[string]int64
	}{
		{map[results.Class]int64{results.ClassOK: 1, results.ClassStatus504: 1, results.UpstreamTimeout: 1}, map[string]int64{"api-1": 2}},
		{map[results.Class]int64{results.ClassOK: 1, results.ClassStatus500: 1, results.AppFetchFailed: 1}, map[string]int64{"api-2": 2}},
	}
	if len(sum.Grid) != len(want) {
		t.Fatalf("%d cells, want %d", len(sum.Grid), len(want))
	}
	for k, w := range want {
		if g := sum.Grid[k]; !maps.Equal(g.ByClass, w.byClass) || !maps.Equal(g.ByRevision, w.byRev) {
			t.Errorf("cell %d: by class %v, by revision %v; want %v, %v", k, g.ByClass, g.ByRevision, w.byClass, w.byRev)
		}
	}
}

// A straggler for a window that the clock rules already closed is counted
// in the oldest open window. The grid still counts it in its own cell.
func TestGridCountsStragglersInTheirOwnCell(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	c := gridConsumer(start, 0, time.Second)
	a := c.agg
	c.add(&vegeta.Result{Seq: 0, Timestamp: start.Add(200 * time.Millisecond), Latency: time.Millisecond, Code: 200})
	// Seq 1 is in flight past the timeout rule of windows 0 and 1.
	a.tick(start.Add(2*time.Second+a.timeout+closeGrace), 2)
	if a.base != 2 {
		t.Fatalf("%d windows closed, want 2", a.base)
	}
	c.add(&vegeta.Result{Seq: 1, Timestamp: start.Add(1500 * time.Millisecond), Latency: a.timeout, Code: 0,
		Error: `Get "http://127.0.0.1/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`})
	sum := finishGrid(a, 3*time.Second)
	checkSummary(t, sum)
	checkGrid(t, sum, time.Second)
	if a.late != 1 || sum.Timeline[2].Requests != 1 {
		t.Fatalf("late = %d, window 2 has %d requests; want the straggler there", a.late, sum.Timeline[2].Requests)
	}
	if g := sum.Grid; len(g) != 3 || g[1].Requests != 1 || g[1].ByClass[results.ClassResponseTimeout] != 1 || g[2].Requests != 0 {
		t.Errorf("grid = %v, want the straggler in cell 1, where it was sent", windowCounts(g))
	}
}

// The grid allocates nothing per result once its cells exist, and holds
// one cell per period however many results it counts.
func TestGridMemoryIsFlat(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	g := newGrid(start, time.Second)
	for i := range 100_000 {
		g.add(start.Add(time.Duration(i)*100*time.Microsecond), classOK, markNone, 200, "api-1")
	}
	if len(g.cells) != 10 {
		t.Errorf("%d cells for 10 s of results, want 10", len(g.cells))
	}
	ts := start.Add(5 * time.Second)
	if n := testing.AllocsPerRun(1000, func() { g.add(ts, class503, markNone, 503, "api-1") }); n != 0 {
		t.Errorf("%v allocations per result", n)
	}
}

// TestGridOnLoopback runs 3 s of load against loopback with a 3 s grid, with
// one request in ten slow so that results keep arriving after the load's
// end. The grid starts on a multiple of 3 s since the epoch and sums to
// the totals, and each cell counts exactly the results in results.bin
// whose timestamps truncate to its start.
func TestGridOnLoopback(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%10 == 0 {
			time.Sleep(100 * time.Millisecond) // service time, not synchronisation
		}
		w.Header().Set("X-Revision", "api-1")
	}))
	l := testLoad()
	l.Rate = perSecond(100)
	l.Duration = scenarios.Duration(3 * time.Second)
	const period = 3 * time.Second
	sum, rs := attack(t, l, srv.URL, 0, func(o *Options) { o.GridPeriod = period })
	checkGrid(t, sum, period)
	if first := sum.Grid[0].Start; first.UnixNano()%int64(period) != 0 {
		t.Errorf("grid starts at %v, not on a multiple of %v since the epoch", first, period)
	}
	checkGridHolds(t, sum.Grid, rs, period)
	if n := len(sum.Grid); n < 1 || n > 3 {
		t.Errorf("%d cells for 3 s of load on a 3 s grid", n)
	}
	t.Logf("%d requests; timeline %v; grid %v from %v", sum.Totals.Requests, windowCounts(sum.Timeline), windowCounts(sum.Grid), sum.Grid[0].Start)
}

// A cancelled run's grid covers every result too, through the cell the
// load stopped in.
func TestGridOfACancelledRun(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(200)
	l.Duration = scenarios.Duration(time.Minute)
	l.Window = scenarios.Duration(200 * time.Millisecond)
	const period = 300 * time.Millisecond // not a multiple of the window
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	windows := 0
	sum, err := Run(ctx, Options{Load: l, BaseURL: srv.URL, Results: BufferedSink(&buf), GridPeriod: period, OnWindow: func(results.Window) {
		if windows++; windows == 4 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkSummary(t, sum)
	checkGrid(t, sum, period)
	checkGridHolds(t, sum.Grid, decodeAll(t, &buf), period)
	end := sum.Grid[0].Start.Add(time.Duration(len(sum.Grid)) * period)
	// Load.Duration is float seconds: allow its rounding.
	loadEnd := sum.Timeline[0].Start.Add(time.Duration(sum.Load.Duration*float64(time.Second)) - time.Microsecond)
	if end.Before(loadEnd) {
		t.Errorf("grid ends at %v, before the load stopped at %v", end, loadEnd)
	}
}

// gridConsumer is a consumer as run builds it, with a timeline of 1 s
// windows from start over duration, a grid of period, and the revision
// header X-Revision.
func gridConsumer(start time.Time, duration, period time.Duration) *consumer {
	c := &consumer{atk: vegeta.NewAttacker(), keep: keptHeaders("X-Revision")}
	c.agg = newAggregator(start, time.Second, duration, 10*time.Second, "X-Revision", nil)
	c.agg.grid = newGrid(start, period)
	return c
}

// finishGrid finishes a's windows after elapsed and returns its Summary.
func finishGrid(a *aggregator, elapsed time.Duration) Summary {
	a.finish(elapsed)
	sum := Summary{Timeline: a.timeline, Grid: a.grid.windows(a.start.Add(elapsed))}
	sum.Totals, _ = a.totals()
	return sum
}

// checkGrid asserts that the grid's cells are consecutive periods on the
// Truncate grid, and that they sum to the totals (every class and derived
// counter) and to the timeline's revisions.
func checkGrid(t *testing.T, sum Summary, period time.Duration) {
	t.Helper()
	if len(sum.Grid) == 0 {
		t.Fatal("no grid")
	}
	var req, errs int64
	byClass, byRev, tlRev := map[results.Class]int64{}, map[string]int64{}, map[string]int64{}
	for k, w := range sum.Grid {
		if !w.Start.Equal(w.Start.Truncate(period)) {
			t.Errorf("cell %d starts at %v, off the %v grid", k, w.Start, period)
		}
		if k > 0 && w.Start.Sub(sum.Grid[k-1].Start) != period {
			t.Errorf("cell %d starts %v after cell %d, want %v", k, w.Start.Sub(sum.Grid[k-1].Start), k-1, period)
		}
		req += w.Requests
		errs += w.Errors
		for c, n := range w.ByClass {
			if n == 0 {
				t.Errorf("cell %d lists %s = 0", k, c)
			}
			byClass[c] += n
		}
		for r, n := range w.ByRevision {
			byRev[r] += n
		}
	}
	for _, w := range sum.Timeline {
		for r, n := range w.ByRevision {
			tlRev[r] += n
		}
	}
	if req != sum.Totals.Requests || errs != sum.Totals.Errors {
		t.Errorf("grid sums to %d requests, %d errors; totals say %d, %d", req, errs, sum.Totals.Requests, sum.Totals.Errors)
	}
	for c, n := range sum.Totals.ByClass {
		if byClass[c] != n {
			t.Errorf("class %s: grid sums to %d, totals say %d", c, byClass[c], n)
		}
	}
	if !maps.Equal(byRev, tlRev) {
		t.Errorf("grid revisions %v, timeline's %v", byRev, tlRev)
	}
}

// checkGridHolds asserts that each cell counts exactly the results whose
// timestamps truncate to its start: the grid's definition, worked out
// result by result.
func checkGridHolds(t *testing.T, grid []results.Window, rs []vegeta.Result, period time.Duration) {
	t.Helper()
	want := map[int64]int64{}
	for _, r := range rs {
		want[r.Timestamp.Truncate(period).UnixNano()]++
	}
	for k, w := range grid {
		if n := want[w.Start.UnixNano()]; n != w.Requests {
			t.Errorf("cell %d (%v) counts %d requests; %d results were sent in it", k, w.Start, w.Requests, n)
		}
		delete(want, w.Start.UnixNano())
	}
	if len(want) != 0 {
		t.Errorf("results sent outside the grid's cells: %v", want)
	}
}
