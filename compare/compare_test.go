package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cutover-dev/cutover/results"
)

func TestFisherExactMatchesR(t *testing.T) {
	// Two-sided p-values of R 4.x's fisher.test(matrix(c(a, b, c, d), 2)),
	// a/b the base's errors/successes, c/d the head's.
	for _, tc := range []struct {
		be, bn, he, hn int64
		want           float64
	}{
		{3, 4, 1, 4, 0.4857},          // Fisher's tea tasting: matrix(c(3,1,1,3),2)
		{1, 12, 9, 12, 0.002759},      // matrix(c(1,11,9,3),2), Wikipedia's example
		{0, 1000, 10, 1000, 0.001944}, // matrix(c(0,1000,10,990),2)
		{5, 100, 5, 100, 1},
		{0, 100, 0, 100, 1},
		{0, 100, 3, 100, 0.2462},
	} {
		got := FisherExact(tc.be, tc.bn, tc.he, tc.hn)
		if math.Abs(got-tc.want) > 5e-4*max(tc.want, 1e-3) && math.Abs(got-tc.want) > 5e-5 {
			t.Errorf("FisherExact(%d/%d, %d/%d) = %.6g, want %.4g (R)", tc.be, tc.bn, tc.he, tc.hn, got, tc.want)
		}
	}
}

func TestClopperPearsonMatchesR(t *testing.T) {
	// binom.test(x, n)$conf.int in R.
	for _, tc := range []struct {
		k, n   int64
		lo, hi float64
	}{
		{0, 100, 0, 0.03621669},
		{5, 100, 0.01643187, 0.11283491},
		{100, 100, 0.96378331, 1},
		{0, 0, 0, 1},
	} {
		lo, hi := ClopperPearson(tc.k, tc.n)
		if math.Abs(lo-tc.lo) > 1e-6 || math.Abs(hi-tc.hi) > 1e-6 {
			t.Errorf("ClopperPearson(%d, %d) = [%.8f, %.8f], want [%.8f, %.8f]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
}

func TestMergedQuantilesAreHdrhistogramsOwn(t *testing.T) {
	base := synth{windows: 30, perWindow: 200, seed: 1, latency: normalLatency(20 * time.Millisecond)}.run(t)
	head := synth{windows: 30, perWindow: 200, seed: 2, latency: normalLatency(5 * time.Millisecond)}.run(t)
	d, err := decodeLatency(base, head)
	if err != nil {
		t.Fatal(err)
	}
	merged := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	h := make(dense, len(d.values))
	for i, w := range base.Timeline {
		one, err := hdrhistogram.Decode([]byte(w.Histogram))
		if err != nil {
			t.Fatal(err)
		}
		merged.Merge(one)
		h.add(d.base[i])
	}
	qs := []float64{0.5, 0.9, 0.99, 0.999}
	got, maxv := h.quantiles(d.values, qs)
	for i, q := range qs {
		if want := merged.ValueAtQuantile(q * 100); int64(got[i]) != want {
			t.Errorf("q%g = %v µs, hdrhistogram says %d", q, got[i], want)
		}
	}
	if int64(maxv) != merged.Max() {
		t.Errorf("max = %v, hdrhistogram says %d", maxv, merged.Max())
	}
}

func TestBootstrapIsDeterministic(t *testing.T) {
	base := synth{windows: 60, perWindow: 100, seed: 1, latency: normalLatency(10 * time.Millisecond)}.run(t)
	head := synth{windows: 60, perWindow: 100, seed: 2, latency: normalLatency(10 * time.Millisecond)}.run(t)
	interval := func(seed uint64) Interval {
		c, err := Compare(base, head, Options{Limits: limits(), Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return *c.Latency[2].Interval // overall p99
	}
	a, b, other := interval(1), interval(1), interval(2)
	if a != b {
		t.Errorf("same seed, different intervals: %v and %v", a, b)
	}
	if a == other {
		t.Errorf("seeds 1 and 2 gave the same interval %v: is the seed used?", a)
	}
}

func TestVerdictRules(t *testing.T) {
	steady := normalLatency(10 * time.Millisecond)
	none := func(int) int64 { return 0 }
	burst := func(i int) int64 {
		if i >= 30 && i < 34 {
			return 20
		}
		return 0
	}
	for _, tc := range []struct {
		name       string
		base, head synth
		want       Status
		reason     string // a substring of one reason
	}{
		{"same server", synth{seed: 1, latency: steady}, synth{seed: 2, latency: steady}, StatusNoChange, "no significant difference"},
		{"errors at the cutover", synth{seed: 1, latency: steady, errors: none}, synth{seed: 2, latency: steady, errors: burst},
			StatusRegression, "errors in the cutover window 0/"},
		{"errors gone", synth{seed: 1, latency: steady, errors: burst}, synth{seed: 2, latency: steady, errors: none},
			StatusImprovement, "errors in the cutover window 80/"},
		{"head 50% slower", synth{seed: 1, latency: steady}, synth{seed: 2, latency: normalLatency(15 * time.Millisecond)},
			StatusRegression, "p99 overall"},
		{"head 50% faster", synth{seed: 1, latency: normalLatency(15 * time.Millisecond)}, synth{seed: 2, latency: steady},
			StatusImprovement, "p50 overall"},
		{"head 7% slower: significant, within the 10% limit", synth{seed: 1, latency: steady}, synth{seed: 2, latency: normalLatency(10700 * time.Microsecond)},
			StatusNoChange, "within the limits: p50 overall"},
		{"too few requests", synth{seed: 1, latency: steady, perWindow: 1}, synth{seed: 2, latency: steady, perWindow: 1, errors: burst},
			StatusInconclusive, "too few requests in base: 60 < min_requests 100"},
		{"saturated generator", synth{seed: 1, latency: steady}, synth{seed: 2, latency: normalLatency(30 * time.Millisecond), saturated: true},
			StatusInconclusive, "head's load generator saturated"},
		{"new finding", synth{seed: 1, latency: steady},
			synth{seed: 2, latency: steady, findings: []results.Finding{{Cause: "nat-port-exhaustion", Confidence: "high"}}},
			StatusRegression, "new: nat-port-exhaustion, high"},
		{"gone finding", synth{seed: 1, latency: steady, findings: []results.Finding{{Cause: "upstream-timeout", Confidence: "medium"}}},
			synth{seed: 2, latency: steady}, StatusImprovement, "gone: upstream-timeout, medium"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []*synth{&tc.base, &tc.head} {
				s.windows, s.deployAt = 60, 30
				if s.perWindow == 0 {
					s.perWindow = 100
				}
			}
			c, err := Compare(tc.base.run(t), tc.head.run(t), Options{Limits: limits(), Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if c.Verdict.Status != tc.want || !slices.ContainsFunc(c.Verdict.Reasons, func(r string) bool { return strings.Contains(r, tc.reason) }) {
				t.Errorf("verdict %s %q, want %s with a reason containing %q", c.Verdict.Status, c.Verdict.Reasons, tc.want, tc.reason)
			}
		})
	}
}

func TestCutoverWindowAndTimings(t *testing.T) {
	run := synth{windows: 60, perWindow: 10, seed: 1, latency: normalLatency(time.Millisecond), deployAt: 30}.run(t)
	// deploy-start at 30 s, traffic-applied at 33 s, settle 5 s: [30, 38).
	span := cutoverSpan(run, 5*time.Second)
	if span == nil || *span != (Span{From: 30, To: 38}) {
		t.Fatalf("cutover window = %+v, want [30, 38)", span)
	}
	if got := windowsIn(run, span); !slices.Equal(got, []int{30, 31, 32, 33, 34, 35, 36, 37}) {
		t.Errorf("windows in it = %v", got)
	}
	if long := cutoverSpan(run, time.Hour); long.To != 60 {
		t.Errorf("settle past the load: window ends at %v, want the load's end 60", long.To)
	}
	c, err := Compare(run, run, Options{Limits: limits()})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Cutover) != 1 || c.Cutover[0].Service != "api" || *c.Cutover[0].Head.DeployToReady != 2 ||
		*c.Cutover[0].Head.ReadyToTraffic != 1 || *c.Cutover[0].Head.DeployToTraffic != 3 {
		t.Errorf("cutover timings = %+v", c.Cutover)
	}
	late := synth{windows: 60, perWindow: 10, seed: 1, latency: normalLatency(time.Millisecond), deployAt: 30}.run(t)
	late.Events = append(late.Events,
		results.Event{Kind: results.EventRollbackStart, At: t0.Add(61 * time.Second)},
		results.Event{Kind: results.EventRollbackDone, At: t0.Add(62 * time.Second)})
	if got := cutoverSpan(late, 5*time.Second); *got != (Span{From: 30, To: 38}) {
		t.Errorf("a restore after the load moved the cutover window to %+v", got)
	}
	noCut := synth{windows: 10, perWindow: 10, seed: 1, latency: normalLatency(time.Millisecond)}.run(t)
	if cutoverSpan(noCut, time.Second) != nil {
		t.Error("a load-only run has a cutover window")
	}
}

func TestScenarioDiff(t *testing.T) {
	got := ScenarioDiff([]byte(`{"name":"a","load":{"rate":"10/s","duration":"1m"},"x":1}`),
		[]byte(`{"load":{"duration":"1m", "rate":"10/s"},"name":"b","y":2}`))
	if want := []string{"name", "x", "y"}; !slices.Equal(got, want) {
		t.Errorf("ScenarioDiff = %v, want %v", got, want)
	}
	// The local cloud's addresses are new every run.
	lc := func(port int) []byte {
		return []byte(fmt.Sprintf(`{"target":{"url":"http://127.0.0.1:%d","service":"web"},"localcloud":{"seed":1}}`, port))
	}
	if got := ScenarioDiff(lc(4001), lc(4002)); got != nil {
		t.Errorf("two runs of one local cloud scenario differ in %v", got)
	}
	if got := ScenarioDiff([]byte(`{"target":{"url":"http://a"}}`), []byte(`{"target":{"url":"http://b"}}`)); !slices.Equal(got, []string{"target"}) {
		t.Errorf("different targets: ScenarioDiff = %v", got)
	}
}

// oneHour is a pair of synthetic 1-hour records, 3,600 windows of 100
// requests each with its histogram.
func oneHour(tb testing.TB) (base, head *results.Run) {
	slow := func(rng *rand.Rand, i int) time.Duration {
		d := normalLatency(10*time.Millisecond)(rng, i)
		if i >= 1800 && i < 1860 {
			d *= 2
		}
		return d
	}
	base = synth{windows: 3600, perWindow: 100, seed: 1, latency: normalLatency(10 * time.Millisecond), deployAt: 1800}.run(tb)
	head = synth{windows: 3600, perWindow: 100, seed: 2, latency: slow, deployAt: 1800,
		errors: func(i int) int64 { return int64(i%7) / 6 }}.run(tb)
	return base, head
}

// BenchmarkCompareOneHour compares two 1-hour records: it must stay under
// 2 s per comparison.
func BenchmarkCompareOneHour(b *testing.B) {
	base, head := oneHour(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compare(base, head, Options{Limits: limits(), Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
