package compare

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// These tests compare real records: load from runner.Run (a load-only
// scenario, 100 ms windows, 2 s at 200/s: 20 windows, ~400 requests; 4 s
// at 100/s under the race detector)
// against httptest servers that sleep a fixed time plus a seeded
// exponential jitter (mean 0.5 ms).

// sleepyServer serves after base plus jitter drawn from a source seeded
// with seed.
func sleepyServer(t *testing.T, base time.Duration, seed uint64) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 99))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		jitter := time.Duration(rng.ExpFloat64() * float64(500*time.Microsecond))
		mu.Unlock()
		time.Sleep(base + jitter)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loadRun drives the load of loadShape at url and returns the record.
func loadRun(t *testing.T, url string) *results.Run {
	t.Helper()
	sc, err := scenarios.Parse("latency.yaml", []byte(fmt.Sprintf(`version: 1
name: latency
target: {url: %q}
load:
  requests: [{path: /}]
  rate: %s
  duration: %s
  window: 100ms
  timeout: 5s
`, url, loadRate, loadDuration)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runner.Run(ctx, runner.Options{Scenario: sc, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return out.Run
}

// loadPair runs base and head at the same time, so that both see the same
// machine: what differs between them is the servers and sampling noise.
func loadPair(t *testing.T, baseURL, headURL string) (base, head *results.Run) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() { base = loadRun(t, baseURL) })
	wg.Go(func() { head = loadRun(t, headURL) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return base, head
}

func latencyOf(t *testing.T, c *Comparison, scope Scope, q string) LatencyComparison {
	t.Helper()
	for _, l := range c.Latency {
		if l.Scope == scope && l.Quantile == q {
			return l
		}
	}
	t.Fatalf("no %s %s in the comparison", scope, q)
	return LatencyComparison{}
}

// TestASlowerHeadIsASignificantP99Increase: base sleeps 2 ms, head 25 ms
// (plus jitter). A run's p99 rests on its slowest 1%, 4 of its ~400
// requests, and on a loaded machine (CI runs the replays beside this) a
// stall puts a few base requests at 7–12 ms: a head 3× slower was once
// within the 99% interval there (p99 7.5 → 11.8 ms, interval −1.0…+6.9
// ms). Every head request sleeps at least 25 ms, so its p99 is above the
// base's unless more than 1% of base requests stall past 25 ms. Under the
// race detector the client's own overhead is larger still, so head sleeps
// 50 ms. The test is that a true increase well above the noise is found,
// not how small one can be.
func TestASlowerHeadIsASignificantP99Increase(t *testing.T) {
	slow := 25 * time.Millisecond
	if raceEnabled {
		slow = 50 * time.Millisecond
	}
	base, head := loadPair(t, sleepyServer(t, 2*time.Millisecond, 1).URL, sleepyServer(t, slow, 2).URL)
	c, err := Compare(base, head, Options{Limits: scenarios.DefaultCompare(0), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p99 := latencyOf(t, c, ScopeOverall, QuantileP99)
	t.Logf("p99 %.2f → %.2f ms, interval %+v, floor %.2f ms; %d and %d requests", p99.BaseMs, p99.HeadMs, p99.Interval, p99.FloorMs,
		c.Base.Requests, c.Head.Requests)
	if !p99.Significant || p99.Outcome != OutcomeRegression || c.Verdict.Status != StatusRegression {
		t.Errorf("p99 %+v, verdict %s %q: want a significant p99 regression", p99, c.Verdict.Status, c.Verdict.Reasons)
	}
}

// TestTheSameServerIsRarelySignificant compares two runs of one server,
// pairs times, each pair with its own server seed and bootstrap seed.
//
// The stated false-positive rate is 5% per quantile (the interval is at
// 99%, LatencyAlpha, with the floor: see latency.go for why). If it holds,
// the number of the 20 pairs flagged is Binomial(20, ≤0.05), and
// P(X ≥ 4) = 1 − Σ_{k≤3} C(20,k) 0.05^k 0.95^(20−k) = 1 − 0.98410 = 0.0159:
// allowing at most 3 of 20 fails a correct procedure 1.6% of the time,
// while a procedure at 20% (the rate of a bootstrap over requests that
// ignores their correlation, or of a percentile interval from too few
// blocks without the floor) passes only P(X ≤ 3 | 0.2) = 41% of the time.
// Under the race detector the requests are several times slower and 8
// pairs are compared, allowing at most 2 (P(X ≥ 3 | 8, 0.05) = 0.0058).
func TestTheSameServerIsRarelySignificant(t *testing.T) {
	pairs, allowed := 20, 3
	if raceEnabled {
		pairs, allowed = 8, 2
	}
	flagged := map[string]int{}
	for i := range pairs {
		srv := sleepyServer(t, 2*time.Millisecond, uint64(100+i))
		base, head := loadPair(t, srv.URL, srv.URL)
		c, err := Compare(base, head, Options{Limits: scenarios.DefaultCompare(0), Seed: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{QuantileP50, QuantileP90, QuantileP99} {
			l := latencyOf(t, c, ScopeOverall, q)
			if l.Significant {
				flagged[q]++
				t.Logf("pair %d: %s %.3f → %.3f ms, interval %+v, floor %.3f ms: significant", i, q, l.BaseMs, l.HeadMs, *l.Interval, l.FloorMs)
			}
		}
		srv.Close()
	}
	t.Logf("significant in %d pairs: %v", pairs, flagged)
	for _, q := range []string{QuantileP50, QuantileP90, QuantileP99} {
		if flagged[q] > allowed {
			t.Errorf("%s significant in %d of %d comparisons of one server; at a 5%% rate at most %d", q, flagged[q], pairs, allowed)
		}
	}
}
