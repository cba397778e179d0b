package correlate

import (
	"math"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// ext widens a per-bucket vector by MaxLag zeros either side, as signals
// hold their values.
func ext(v ...float64) signal {
	vals := make([]float64, len(v)+2*MaxLag)
	copy(vals[MaxLag:], v)
	return signal{key: "s", query: "s", values: vals}
}

// anyLag in a test case means the best lag is not checked.
const anyLag = 99

func TestStatOf(t *testing.T) {
	errs := []float64{0, 0, 10, 30, 20, 0, 0, 0}
	tests := []struct {
		name     string
		series   signal
		flat     bool
		co       float64 // at lag 0
		minR0    float64 // correlation at lag 0 at least
		lag      int
		minBestR float64
		lagCo    float64
	}{
		{
			name:   "aligned series: full overlap, lag 0",
			series: ext(0, 0, 500, 1500, 1000, 0, 0, 0),
			co:     1, minR0: 0.99, lag: 0, minBestR: 0.99, lagCo: 1,
		},
		{
			name:   "aligned, peaks together, not proportional: full overlap, lag 0",
			series: ext(0, 0, 1, 3, 1, 0, 0, 0),
			co:     1, minR0: 0.6, lag: 0, minBestR: 0.6, lagCo: 1,
		},
		{
			name:   "series one period later: best lag +1",
			series: ext(0, 0, 0, 500, 1500, 1000, 0, 0),
			co:     50.0 / 60, minR0: -1, lag: 1, minBestR: 0.99, lagCo: 1,
		},
		{
			name:   "series two periods later: best lag +2",
			series: ext(0, 0, 0, 0, 500, 1500, 1000, 0),
			co:     20.0 / 60, minR0: -1, lag: 2, minBestR: 0.99, lagCo: 1,
		},
		{
			name:   "series one period earlier: best lag -1",
			series: ext(0, 500, 1500, 1000, 0, 0, 0, 0),
			co:     40.0 / 60, minR0: -1, lag: -1, minBestR: 0.99, lagCo: 1,
		},
		{
			name:   "flat series: no measure",
			series: ext(0, 0, 0, 0, 0, 0, 0, 0),
			flat:   true,
		},
		{
			name:   "disjoint series: no overlap, negative correlation at lag 0",
			series: ext(100, 100, 0, 0, 0, 100, 100, 100),
			co:     0, minR0: -1, lag: anyLag, minBestR: -1, lagCo: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := statOf(AllErrors, errs, tt.series)
			if st.Flat != tt.flat {
				t.Fatalf("Flat = %v, want %v", st.Flat, tt.flat)
			}
			if st.Errors != 60 {
				t.Errorf("Errors = %d, want 60", st.Errors)
			}
			if tt.flat {
				if st.CoOccurrence != 0 || st.Correlation != 0 || st.BestCorrelation != 0 || st.Overlap != 0 {
					t.Errorf("flat series has measures: %+v", st)
				}
				return
			}
			if math.Abs(st.CoOccurrence-tt.co) > 1e-9 {
				t.Errorf("CoOccurrence = %v, want %v", st.CoOccurrence, tt.co)
			}
			if st.Correlation < tt.minR0 {
				t.Errorf("Correlation = %v, want ≥ %v", st.Correlation, tt.minR0)
			}
			if tt.name == "disjoint series: no overlap, negative correlation at lag 0" && st.Correlation >= 0 {
				t.Errorf("Correlation = %v, want < 0", st.Correlation)
			}
			if tt.lag != anyLag && st.BestLag != tt.lag {
				t.Errorf("BestLag = %d, want %d (r = %v)", st.BestLag, tt.lag, st.BestCorrelation)
			}
			if st.BestCorrelation < tt.minBestR {
				t.Errorf("BestCorrelation = %v, want ≥ %v", st.BestCorrelation, tt.minBestR)
			}
			if tt.lagCo >= 0 && math.Abs(st.LagCoOccurrence-tt.lagCo) > 1e-9 {
				t.Errorf("LagCoOccurrence = %v, want %v", st.LagCoOccurrence, tt.lagCo)
			}
		})
	}
}

func TestStatOfSeriesMovingAfterTheLastBucket(t *testing.T) {
	// Errors in the last bucket; the series has its point one period
	// later, past the timeline: lag +1 still finds it.
	errs := []float64{0, 0, 0, 5, 10}
	s := signal{key: "s", values: []float64{0, 0, 0, 0, 0, 0, 5, 10, 0}}
	st := statOf(AllErrors, errs, s)
	if st.BestLag != 1 || st.BestCorrelation < 0.99 {
		t.Errorf("BestLag = %d (r = %v), want 1 (r ≈ 1)", st.BestLag, st.BestCorrelation)
	}
}

func TestPearson(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
		ok   bool
	}{
		{"identical", []float64{1, 2, 3}, []float64{1, 2, 3}, 1, true},
		{"opposite", []float64{1, 2, 3}, []float64{3, 2, 1}, -1, true},
		{"scaled and shifted", []float64{0, 1, 0, 2}, []float64{10, 20, 10, 30}, 1, true},
		{"constant x", []float64{2, 2, 2}, []float64{1, 2, 3}, 0, false},
		{"all zero y", []float64{1, 2, 3}, []float64{0, 0, 0}, 0, false},
		{"one point", []float64{1}, []float64{1}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := pearson(tt.x, tt.y)
			if ok != tt.ok || math.Abs(r-tt.want) > 1e-9 {
				t.Errorf("pearson = %v, %v; want %v, %v", r, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBestLagPrefersSmallerShiftOnTies(t *testing.T) {
	// A constant-rate plateau correlates as well at several lags when the
	// edges are symmetric; lag 0 must win a tie.
	errs := []float64{0, 0, 1, 0, 0, 0, 0}
	s := ext(0, 0, 1, 0, 0, 0, 0)
	if lag, r, ok := bestLag(errs, s.values); !ok || lag != 0 || r < 0.99 {
		t.Errorf("bestLag = %d, %v, %v; want 0, 1, true", lag, r, ok)
	}
}

func TestSeriesKey(t *testing.T) {
	tests := []struct {
		query  results.Query
		labels map[string]string
		want   string
	}{
		{"nat_allocation_failed", nil, "nat_allocation_failed"},
		{"nat_dropped_sent", map[string]string{"reason": "OUT_OF_RESOURCES"}, "nat_dropped_sent{reason=OUT_OF_RESOURCES}"},
		{"run_request_count", map[string]string{"revision_name": "a", "response_code_class": "5xx"}, "run_request_count{response_code_class=5xx,revision_name=a}"},
	}
	for _, tt := range tests {
		if got := seriesKey(tt.query, tt.labels); got != tt.want {
			t.Errorf("seriesKey(%q, %v) = %q, want %q", tt.query, tt.labels, got, tt.want)
		}
	}
}

func TestSignalsOfSumsResourcesAndPlacesPoints(t *testing.T) {
	g := grid{origin: t0, period: minute}
	a := drops(1, 2, 3)
	a.Resource = map[string]string{"endpoint": "a"}
	b := drops(10, 0, 0, 40)
	b.Resource = map[string]string{"endpoint": "b"}
	other := series(results.QueryNATPortUsage, nil, 5)
	// Buckets are minutes 1..2 (first = 1, n = 2): minutes −1, 0, 3 and 4
	// sit in the lag margin, minute 5 off it.
	b.Points = append(b.Points, series("", nil, 0, 0, 0, 0, 0, 99).Points[5])
	sigs := signalsOf([]results.Series{a, b, other}, g, 1, 2)
	if len(sigs) != 2 {
		t.Fatalf("got %d signals, want 2", len(sigs))
	}
	want := []float64{0, 11, 2, 3, 40, 0}
	for i, v := range want {
		if sigs[0].values[i] != v {
			t.Fatalf("values = %v, want %v", sigs[0].values, want)
		}
	}
	if got := sigs[0].at(0); got[0] != 2 || got[1] != 3 {
		t.Errorf("at(0) = %v, want [2 3]", got)
	}
}
