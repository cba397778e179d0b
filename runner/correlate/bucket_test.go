package correlate

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

func TestGridOf(t *testing.T) {
	win := []results.Window{{Start: at(0, 7)}}
	pts := []results.Series{
		{Query: "a", Points: []results.Point{{Start: at(2, 0), End: at(3, 0)}}},
		{Query: "b", Points: []results.Point{{Start: at(-1, 0), End: at(0, 0)}, {Start: at(0, 0), End: at(1, 0)}}},
	}
	tests := []struct {
		name   string
		period time.Duration
		series []results.Series
		want   grid
	}{
		{"series grid, period given", minute, pts, grid{origin: at(-1, 0), period: minute}},
		{"series grid, period from the points", 0, pts, grid{origin: at(-1, 0), period: minute}},
		{"no series: first window, period given", time.Second, nil, grid{origin: at(0, 7), period: time.Second}},
		{"no series, no period: the windows' width", 0, nil, grid{origin: at(0, 7), period: time.Second}},
		{"empty series: first window", 30 * time.Second, []results.Series{{Query: "a"}}, grid{origin: at(0, 7), period: 30 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gridOf(tt.period, tt.series, win, time.Second)
			if !got.origin.Equal(tt.want.origin) || got.period != tt.want.period {
				t.Errorf("gridOf = %v/%v, want %v/%v", got.origin, got.period, tt.want.origin, tt.want.period)
			}
		})
	}
}

func TestGridIndex(t *testing.T) {
	g := grid{origin: at(0, 0), period: minute}
	tests := []struct {
		t    time.Time
		want int
	}{
		{at(0, 0), 0}, {at(0, 59), 0}, {at(1, 0), 1}, {at(0, -1), -1}, {at(-1, 0), -1}, {at(-1, -1), -2},
	}
	for _, tt := range tests {
		if got := g.index(tt.t); got != tt.want {
			t.Errorf("index(%v) = %d, want %d", tt.t.Sub(t0), got, tt.want)
		}
	}
}

func TestBucketize(t *testing.T) {
	g := grid{origin: at(0, 0), period: minute}
	win := func(m, s int, req, errs int64, classes map[results.Class]int64) results.Window {
		return results.Window{Start: at(m, s), Requests: req, Errors: errs, ByClass: classes, ByRevision: map[string]int64{"r1": req}}
	}
	ms := time.Millisecond
	tests := []struct {
		name  string
		in    []results.Window
		width time.Duration
		first int
		want  []Bucket
	}{
		{"empty", nil, time.Second, 0, nil},
		{
			name: "windows summed into their minute, ok left out",
			in: []results.Window{
				win(1, 0, 10, 2, map[results.Class]int64{"ok": 8, "status_500": 2, "app_fetch_failed": 2}),
				win(1, 30, 10, 1, map[results.Class]int64{"ok": 9, "status_504": 1}),
				win(2, 59, 5, 0, map[results.Class]int64{"ok": 5}),
			},
			width: time.Second,
			first: 1,
			want: []Bucket{
				{Start: at(1, 0), End: at(2, 0), Requests: 20, Errors: 3, ByClass: map[results.Class]int64{"status_500": 2, "app_fetch_failed": 2, "status_504": 1}, ByRevision: map[string]int64{"r1": 20}},
				{Start: at(2, 0), End: at(3, 0), Requests: 5, ByClass: map[results.Class]int64{}, ByRevision: map[string]int64{"r1": 5}},
			},
		},
		{
			name: "a gap gives an empty bucket; windows before the grid origin",
			in: []results.Window{
				win(-1, 30, 4, 0, nil),
				win(1, 0, 6, 0, nil),
			},
			width: time.Second,
			first: -1,
			want: []Bucket{
				{Start: at(-1, 0), End: at(0, 0), Requests: 4, ByClass: map[results.Class]int64{}, ByRevision: map[string]int64{"r1": 4}},
				{Start: at(0, 0), End: at(1, 0), ByClass: map[results.Class]int64{}},
				{Start: at(1, 0), End: at(2, 0), Requests: 6, ByClass: map[results.Class]int64{}, ByRevision: map[string]int64{"r1": 6}},
			},
		},
		{
			// Load windows are aligned to the load's start: one that
			// straddles a boundary counts where most of it is.
			name: "a window straddling a boundary counts where its midpoint is",
			in: []results.Window{
				{Start: at(0, 59).Add(400 * ms), Requests: 3, Errors: 1, ByClass: map[results.Class]int64{"status_502": 1}}, // 0.6 s before, 0.4 s after
				{Start: at(1, 59).Add(600 * ms), Requests: 5, Errors: 2, ByClass: map[results.Class]int64{"status_502": 2}}, // 0.4 s before, 0.6 s after
			},
			width: time.Second,
			first: 0,
			want: []Bucket{
				{Start: at(0, 0), End: at(1, 0), Requests: 3, Errors: 1, ByClass: map[results.Class]int64{"status_502": 1}},
				{Start: at(1, 0), End: at(2, 0), ByClass: map[results.Class]int64{}},
				{Start: at(2, 0), End: at(3, 0), Requests: 5, Errors: 2, ByClass: map[results.Class]int64{"status_502": 2}},
			},
		},
		{
			name:  "the first bucket is the period the load started in, even with no window's midpoint in it",
			in:    []results.Window{{Start: at(0, 59).Add(800 * ms), Requests: 7}},
			width: time.Second,
			first: 0,
			want: []Bucket{
				{Start: at(0, 0), End: at(1, 0), ByClass: map[results.Class]int64{}},
				{Start: at(1, 0), End: at(2, 0), Requests: 7, ByClass: map[results.Class]int64{}},
			},
		},
		{
			name:  "windows as wide as the period, on the grid, land in their own bucket",
			in:    []results.Window{{Start: at(0, 0), Requests: 1}, {Start: at(1, 0), Requests: 2}},
			width: minute,
			first: 0,
			want: []Bucket{
				{Start: at(0, 0), End: at(1, 0), Requests: 1, ByClass: map[results.Class]int64{}},
				{Start: at(1, 0), End: at(2, 0), Requests: 2, ByClass: map[results.Class]int64{}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, first := bucketize(g, tt.in, tt.width)
			if first != tt.first {
				t.Errorf("first = %d, want %d", first, tt.first)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d buckets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Requests != w.Requests || g.Errors != w.Errors ||
					!maps.Equal(g.ByClass, w.ByClass) || !maps.Equal(g.ByRevision, w.ByRevision) {
					t.Errorf("bucket %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestWindowWidth(t *testing.T) {
	wins := func(offsets ...time.Duration) []results.Window {
		var out []results.Window
		for _, o := range offsets {
			out = append(out, results.Window{Start: t0.Add(o)})
		}
		return out
	}
	tests := []struct {
		name  string
		given time.Duration
		in    []results.Window
		want  time.Duration
	}{
		{"given", 2 * time.Second, wins(0, time.Second), 2 * time.Second},
		{"the smallest gap, in any order", 0, wins(3*time.Second, 0, time.Second, 5*time.Second), time.Second},
		{"a lone window", 0, wins(0), 0},
		{"none", 0, nil, 0},
	}
	for _, tt := range tests {
		if got := windowWidth(tt.given, tt.in); got != tt.want {
			t.Errorf("%s: windowWidth = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	b := []Bucket{
		{Errors: 3, ByClass: map[results.Class]int64{"status_504": 1, "status_500": 2, "app_fetch_failed": 2, "zz_new": 0}},
		{Errors: 1, ByClass: map[results.Class]int64{"upstream_timeout": 1, "a_new_class": 1}},
	}
	want := []results.Class{AllErrors, "upstream_timeout", "app_fetch_failed", "status_500", "status_504", "a_new_class"}
	if got := errorClasses(b); !slices.Equal(got, want) {
		t.Errorf("errorClasses = %v, want %v", got, want)
	}
	if got := errorClasses([]Bucket{{Requests: 10, ByClass: map[results.Class]int64{}}}); len(got) != 0 {
		t.Errorf("errorClasses with no errors = %v, want none", got)
	}
}

func TestPhaseBuckets(t *testing.T) {
	g := grid{origin: t0, period: minute}
	// errs[m] errors in 100 requests a minute.
	mk := func(errs ...int64) []Bucket {
		out := make([]Bucket, len(errs))
		for m, e := range errs {
			out[m] = Bucket{Start: at(m, 0), End: at(m+1, 0), Requests: 100, Errors: e}
		}
		return out
	}
	tests := []struct {
		name     string
		errs     []int64
		events   []results.Event
		want     string // one letter a bucket: b, d, a
		baseRate float64
	}{
		{
			name: "no deploy: all before",
			errs: []int64{0, 1, 0, 0},
			want: "bbbb", baseRate: 1.0 / 400,
		},
		{
			name:   "deploy mid-minute 2, traffic at 2:40: during to minute 4",
			errs:   []int64{0, 0, 0, 0, 0, 0, 0, 0},
			events: []results.Event{ev(results.EventDeployStart, at(2, 10)), ev(results.EventTrafficApplied, at(2, 40))},
			want:   "bbdddaaa",
		},
		{
			name:   "deploy on a bucket boundary: that bucket is during",
			errs:   []int64{0, 0, 0, 0, 0, 0},
			events: []results.Event{ev(results.EventDeployStart, at(2, 0))},
			want:   "bbddda",
		},
		{
			name:   "errors past the settle period keep the cutover going until they stop",
			errs:   []int64{0, 0, 0, 30, 30, 30, 30, 30, 0, 0},
			events: []results.Event{ev(results.EventDeployStart, at(2, 10)), ev(results.EventRevisionReady, at(2, 30))},
			want:   "bbddddddaa",
		},
		{
			name:   "errors at the pre-cutover rate do not extend the cutover",
			errs:   []int64{5, 5, 5, 5, 5, 6, 5, 4, 5},
			events: []results.Event{ev(results.EventDeployStart, at(3, 10))},
			want:   "bbbdddaaa", baseRate: 0.05,
		},
		{
			name:   "a late rollback is part of the cutover",
			errs:   []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			events: []results.Event{ev(results.EventDeployStart, at(1, 10)), ev(results.EventActionFailed, at(2, 0)), ev(results.EventRollbackDone, at(5, 0))},
			want:   "bdddddddaa",
		},
		{
			name:   "errors after the cutover settled are after",
			errs:   []int64{0, 0, 0, 0, 0, 0, 9, 0},
			events: []results.Event{ev(results.EventDeployStart, at(1, 10))},
			want:   "bdddaaaa",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mk(tt.errs...)
			rate := phaseBuckets(b, g, 0, tt.events)
			got := ""
			for _, x := range b {
				got += x.Phase[:1]
			}
			if got != tt.want {
				t.Errorf("phases = %s, want %s", got, tt.want)
			}
			if rate != tt.baseRate {
				t.Errorf("base rate = %v, want %v", rate, tt.baseRate)
			}
		})
	}
}

func TestExcess(t *testing.T) {
	tests := []struct {
		obs, exp, want float64
	}{
		{0, 0, 0},
		{1, 0, 1},
		{10, 10, 0},
		{19, 10, 0}, // 10 + 3·√10 ≈ 19.5
		{20, 10, 10},
		{5, 10, 0},
	}
	for _, tt := range tests {
		if got := excess(tt.obs, tt.exp); got != tt.want {
			t.Errorf("excess(%v, %v) = %v, want %v", tt.obs, tt.exp, got, tt.want)
		}
	}
}
