package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"go.uber.org/goleak"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// TestMain fails the package if any goroutine (vegeta's workers, the
// consumer, the ctx bridge, HTTP connections) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLoad is a defaulted Load for tests: closed model at concurrency c,
// or open at rate when c is 0.
func testLoad() scenarios.Load {
	return scenarios.Load{
		Timeout:        scenarios.Duration(5 * time.Second),
		KeepAlive:      true,
		HTTP2:          true,
		MaxWorkers:     64,
		Window:         scenarios.Duration(time.Second),
		RevisionHeader: "X-Revision",
	}
}

func closed(n int) scenarios.Load {
	l := testLoad()
	l.Concurrency = n
	return l
}

func perSecond(n int) scenarios.Rate { return scenarios.Rate{Freq: n, Per: time.Second} }

// attack runs the engine against url; limit > 0 stops it after that many
// hits. It fails the test on a run error and checks the invariants every
// summary must hold.
func attack(t *testing.T, l scenarios.Load, url string, limit uint64, mod ...func(*Options)) (Summary, []vegeta.Result) {
	t.Helper()
	var buf bytes.Buffer
	opts := Options{Load: l, BaseURL: url, Results: BufferedSink(&buf)}
	for _, f := range mod {
		if f != nil {
			f(&opts)
		}
	}
	sum, err := run(context.Background(), opts, runConfig{limit: limit})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkSummary(t, sum)
	return sum, decodeAll(t, &buf)
}

// checkByStatus asserts that byStatus counts responses, want of them, and
// lists no zero count, and that every key is a code in 100–599 or "other".
func checkByStatus(t *testing.T, where string, byStatus map[string]int64, want int64) {
	t.Helper()
	var n int64
	for code, c := range byStatus {
		if c <= 0 {
			t.Errorf("%s: by_status[%s] = %d", where, code, c)
		}
		if v, err := strconv.Atoi(code); code != results.StatusOther && (err != nil || v < 100 || v > 599) {
			t.Errorf("%s: by_status key %q is neither a code in 100–599 nor %q", where, code, results.StatusOther)
		}
		n += c
	}
	if n != want {
		t.Errorf("%s: by_status sums to %d, want %d (results with a response)", where, n, want)
	}
}

// transportOf sums the transport classes of byClass.
func transportOf(byClass map[results.Class]int64) int64 {
	var n int64
	for _, c := range results.TransportClasses {
		n += byClass[c]
	}
	return n
}

func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// checkSummary asserts that the totals equal the sum over the windows and
// that windows are consecutive.
func checkSummary(t *testing.T, sum Summary) {
	t.Helper()
	var req, errs int64
	byClass := map[results.Class]int64{}
	for i, w := range sum.Timeline {
		req += w.Requests
		errs += w.Errors
		for k, v := range w.ByClass {
			byClass[k] += v
		}
		if i > 0 {
			if d := w.Start.Sub(sum.Timeline[i-1].Start); d <= 0 {
				t.Errorf("window %d starts %v after window %d", i, d, i-1)
			}
		}
	}
	if req != sum.Totals.Requests || errs != sum.Totals.Errors {
		t.Errorf("windows sum to %d requests, %d errors; totals say %d, %d", req, errs, sum.Totals.Requests, sum.Totals.Errors)
	}
	for k, v := range sum.Totals.ByClass {
		if byClass[k] != v {
			t.Errorf("class %s: windows sum to %d, totals say %d", k, byClass[k], v)
		}
	}
	var sumClasses, fetch int64
	for _, c := range results.Classes {
		sumClasses += sum.Totals.ByClass[c]
		if results.IsTransport(c) {
			fetch += sum.Totals.ByClass[c]
		}
	}
	if sumClasses != sum.Totals.Requests {
		t.Errorf("classes sum to %d, requests %d", sumClasses, sum.Totals.Requests)
	}
	if got := sum.Totals.ByClass[results.FetchFailed]; got != fetch {
		t.Errorf("fetch_failed = %d, transport classes sum to %d", got, fetch)
	}
	checkByStatus(t, "totals", sum.Totals.ByStatus, sum.Totals.Requests-fetch)
	byStatus := map[string]int64{}
	for i, w := range sum.Timeline {
		checkByStatus(t, fmt.Sprintf("window %d", i), w.ByStatus, w.Requests-transportOf(w.ByClass))
		for code, n := range w.ByStatus {
			byStatus[code] += n
		}
	}
	if !maps.Equal(byStatus, nonNil(sum.Totals.ByStatus)) {
		t.Errorf("by_status: windows sum to %v, totals say %v", byStatus, sum.Totals.ByStatus)
	}
	if got := sum.Totals.Requests - sum.Totals.ByClass[results.ClassOK]; got != sum.Totals.Errors {
		t.Errorf("errors = %d, requests-ok = %d", sum.Totals.Errors, got)
	}
}

func decodeAll(t *testing.T, r io.Reader) []vegeta.Result {
	t.Helper()
	dec := vegeta.NewDecoder(r)
	var out []vegeta.Result
	for {
		var res vegeta.Result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode results: %v", err)
		}
		out = append(out, res)
	}
}

// inflight is a handler wrapper that records the most requests in flight at
// once and the connections opened.
type inflight struct {
	cur, peak, total atomic.Int64
	conns            atomic.Int64
	next             http.Handler
}

func (f *inflight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.cur.Add(1)
	defer f.cur.Add(-1)
	f.total.Add(1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f.next.ServeHTTP(w, r)
}

// server starts a loopback httptest server counting in-flight requests and
// new connections.
func server(t *testing.T, h http.Handler) (*httptest.Server, *inflight) {
	t.Helper()
	f := &inflight{next: h}
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, f
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Write([]byte("ok"))
})

// counter counts values under a lock (test servers only).
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
}

func (c *counter) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func scenariosRequest(method, path string, weight int) scenarios.Request {
	return scenarios.Request{Method: method, Path: path, Weight: weight}
}

func scenariosDuration(d time.Duration) scenarios.Duration { return scenarios.Duration(d) }
