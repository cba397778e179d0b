package cw

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// epoch is a whole minute, so the 6-second wall periods of a 60 s period at
// time scale 10 start on it.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	ns  = "AWS/ApplicationELB"
	sec = time.Second
)

var lbDims = []Dimension{{"LoadBalancer", "app/web/0123456789abcdef"}}

// newTestStore returns a store with a 60 s period and a 60 s lag at time
// scale 10 (6 s of wall time each), its clock at epoch.
func newTestStore() (*Store, *clock.Fake) {
	clk := clock.NewFake(epoch, 10)
	return NewStore(clk, time.Minute, time.Minute), clk
}

// query is a statQuery of the test metric over period p (wall).
func query(metric, stat string, dims []Dimension, p time.Duration) statQuery {
	return statQuery{id: "q", metric: metricID{Namespace: ns, MetricName: metric, Dimensions: dims}, stat: stat, period: int64(p), ret: true}
}

func TestStoreKeepsStatisticsPerPeriod(t *testing.T) {
	s, _ := newTestStore()
	if s.Period() != 6*sec || s.Lag() != 6*sec {
		t.Fatalf("Period, Lag = %v, %v; want 6s, 6s (60 s at scale 10)", s.Period(), s.Lag())
	}
	// Period 0 [0, 6s): 1, 4, 7; period 1 [6s, 12s): nothing; period 2: 10.
	for _, p := range []struct {
		at time.Duration
		v  float64
	}{{0, 1}, {2 * sec, 4}, {5999 * time.Millisecond, 7}, {12 * sec, 10}} {
		s.Put(ns, "TargetResponseTime", lbDims, epoch.Add(p.at), p.v, "Seconds")
	}
	late := epoch.Add(time.Hour) // everything readable
	tests := []struct {
		stat   string
		period time.Duration
		want   []datapoint
	}{
		{"Sum", 6 * sec, []datapoint{{epoch, 12}, {epoch.Add(12 * sec), 10}}},
		{"Average", 6 * sec, []datapoint{{epoch, 4}, {epoch.Add(12 * sec), 10}}},
		{"Minimum", 6 * sec, []datapoint{{epoch, 1}, {epoch.Add(12 * sec), 10}}},
		{"Maximum", 6 * sec, []datapoint{{epoch, 7}, {epoch.Add(12 * sec), 10}}},
		{"SampleCount", 6 * sec, []datapoint{{epoch, 3}, {epoch.Add(12 * sec), 1}}},
		// A request period of 3 store periods aggregates them.
		{"Sum", 18 * sec, []datapoint{{epoch, 22}}},
		{"Average", 18 * sec, []datapoint{{epoch, 5.5}}},
		{"Maximum", 18 * sec, []datapoint{{epoch, 10}}},
		{"SampleCount", 12 * sec, []datapoint{{epoch, 3}, {epoch.Add(12 * sec), 1}}},
	}
	for _, tt := range tests {
		got := s.answer(query("TargetResponseTime", tt.stat, lbDims, tt.period), epoch, epoch.Add(18*sec), late)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s over %v = %v, want %v", tt.stat, tt.period, got, tt.want)
		}
	}
}

func TestStoreShowsAPeriodOnlyAfterTheLag(t *testing.T) {
	s, _ := newTestStore()
	s.Put(ns, "RequestCount", lbDims, epoch.Add(sec), 1, "Count")
	s.Put(ns, "RequestCount", lbDims, epoch.Add(7*sec), 1, "Count")
	tests := []struct {
		name   string
		now    time.Duration
		period time.Duration
		want   int
	}{
		{"inside the first period", 3 * sec, 6 * sec, 0},
		{"first period ended, lag not passed", 11999 * time.Millisecond, 6 * sec, 0},
		{"first period's end + lag", 12 * sec, 6 * sec, 1},
		{"second period's end + lag", 18 * sec, 6 * sec, 2},
		// A 12 s datapoint is shown only once all of it is readable.
		{"half of an aggregated period", 12 * sec, 12 * sec, 0},
		{"all of an aggregated period", 18 * sec, 12 * sec, 1},
	}
	for _, tt := range tests {
		got := s.answer(query("RequestCount", "Sum", lbDims, tt.period), epoch, epoch.Add(time.Minute), epoch.Add(tt.now))
		if len(got) != tt.want {
			t.Errorf("%s: %d datapoints (%v), want %d", tt.name, len(got), got, tt.want)
		}
	}
}

func TestStoreMatchesTheExactDimensionSet(t *testing.T) {
	s, _ := newTestStore()
	tg := []Dimension{{"TargetGroup", "targetgroup/web/1"}, {"LoadBalancer", "app/web/2"}}
	s.Put(ns, "HealthyHostCount", tg, epoch, 2, "Count")
	late := epoch.Add(time.Hour)
	tests := []struct {
		name string
		dims []Dimension
		unit string
		want int
	}{
		{"same set", tg, "", 1},
		{"other order", []Dimension{tg[1], tg[0]}, "", 1},
		{"subset", tg[1:], "", 0},
		{"superset", append(slices.Clone(tg), Dimension{"AvailabilityZone", "a"}), "", 0},
		{"other value", []Dimension{{"TargetGroup", "targetgroup/web/1"}, {"LoadBalancer", "app/web/3"}}, "", 0},
		{"same unit", tg, "Count", 1},
		{"other unit", tg, "Seconds", 0},
	}
	for _, tt := range tests {
		q := query("HealthyHostCount", "Average", tt.dims, 6*sec)
		q.unit = tt.unit
		if got := s.answer(q, epoch, epoch.Add(time.Minute), late); len(got) != tt.want {
			t.Errorf("%s: %d datapoints, want %d", tt.name, len(got), tt.want)
		}
	}
}

func TestStoreBoundsWhatItKeeps(t *testing.T) {
	s, clk := newTestStore()
	// More periods than MaxBuckets: only the newest MaxBuckets stay.
	for i := range MaxBuckets + 5 {
		s.Put(ns, "RequestCount", lbDims, epoch.Add(time.Duration(i)*6*sec), 1, "Count")
	}
	if got := s.bucketCount(); got != MaxBuckets {
		t.Errorf("after %d periods: %d kept, want %d", MaxBuckets+5, got, MaxBuckets)
	}
	// Past the retention (24 h simulated = 2.4 h wall) a Put trims the old
	// periods, and a sample older than the retention is dropped.
	clk.Advance(100 * time.Hour)
	s.Put(ns, "RequestCount", lbDims, clk.Now(), 1, "Count")
	s.Put(ns, "RequestCount", lbDims, clk.Now().Add(-3*time.Hour), 1, "Count")
	if got := s.bucketCount(); got != 1 {
		t.Errorf("after the retention: %d periods kept, want 1", got)
	}
}

// bucketCount returns the number of periods kept over all series.
func (s *Store) bucketCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sr := range s.series {
		n += len(sr.buckets)
	}
	return n
}

func TestFloorDiv(t *testing.T) {
	for _, tt := range []struct{ a, b, want int64 }{{7, 3, 2}, {6, 3, 2}, {-1, 3, -1}, {-3, 3, -1}, {-4, 3, -2}, {0, 3, 0}} {
		if got := floorDiv(tt.a, tt.b); got != tt.want {
			t.Errorf("floorDiv(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// Puts and queries from many goroutines at once (run with -race).
func TestStoreIsSafeForConcurrentUse(t *testing.T) {
	s, _ := newTestStore()
	const writers, samples = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range samples {
				s.Put(ns, "RequestCount", lbDims, epoch.Add(time.Duration(i)*10*time.Millisecond), float64(w), "Count")
			}
		}()
		go func() {
			defer wg.Done()
			for range samples {
				s.answer(query("RequestCount", "Sum", lbDims, 6*sec), epoch, epoch.Add(time.Minute), epoch.Add(time.Hour))
				s.list(ns, "", nil)
			}
		}()
	}
	wg.Wait()
	got := s.answer(query("RequestCount", "SampleCount", lbDims, 6*sec), epoch, epoch.Add(time.Minute), epoch.Add(time.Hour))
	if len(got) != 1 || got[0].value != writers*samples {
		t.Errorf("SampleCount = %v, want one period of %d", got, writers*samples)
	}
}
