package alb

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// testScale is the fake clock's time scale: simulated durations are ten
// times the wall durations Advance takes.
const testScale = 10

// testConfig is a balancer with the documented defaults on a fake clock.
func testConfig(clk clock.Clock) Config {
	var s scenarios.ECSService
	s.Defaults()
	return Config{
		Name: "web", Region: "ap-northeast-1", Account: "123456789012",
		LB: s.LoadBalancer, HealthPath: "/health", Clock: clk,
	}
}

// newFake returns a fake clock at a fixed wall time.
func newFake() *clock.Fake {
	return clock.NewFake(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), testScale)
}

// startTest starts a balancer whose metrics go to a recorder, closed when
// the test ends.
func startTest(t *testing.T, cfg Config, dial dialer) (*LoadBalancer, *recorder) {
	t.Helper()
	rec := &recorder{}
	lb, err := start(context.Background(), cfg, rec, dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := lb.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return lb, rec
}

// sample is one Put.
type sample struct {
	metric string
	dims   []cw.Dimension
	at     time.Time
	value  float64
	unit   string
}

// recorder is a metric sink that keeps every sample.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) Put(namespace, metric string, dims []cw.Dimension, at time.Time, value float64, unit string) {
	if namespace != Namespace {
		panic("namespace " + namespace)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, sample{metric, slices.Clone(dims), at, value, unit})
}

// find returns the samples of metric with exactly the dimension names.
func (r *recorder) find(metric string, dimNames ...string) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.samples {
		var names []string
		for _, d := range s.dims {
			names = append(names, d.Name)
		}
		if s.metric == metric && slices.Equal(names, dimNames) {
			out = append(out, s)
		}
	}
	return out
}

// sum adds up the values of metric with exactly the dimension names.
func (r *recorder) sum(metric string, dimNames ...string) float64 {
	var total float64
	for _, s := range r.find(metric, dimNames...) {
		total += s.value
	}
	return total
}

// last returns the latest value of a gauge ({TargetGroup, LoadBalancer}).
func (r *recorder) last(metric string) float64 {
	s := r.find(metric, "TargetGroup", "LoadBalancer")
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1].value
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checks returns how many health check results target id has recorded.
func (lb *LoadBalancer) checks(id string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if t := lb.findLocked(id); t != nil {
		return t.checks
	}
	return -1
}

// waitState waits until target id is in state.
func waitState(t *testing.T, lb *LoadBalancer, id, state string) {
	t.Helper()
	waitFor(t, id+" "+state, func() bool { s, _ := lb.Health(id); return s == state })
}

// answer is a finished front-end request.
type answer struct {
	code   int
	body   string
	header http.Header
	err    error
}

// get sends GET path to the balancer in its own goroutine.
func get(lb *LoadBalancer, path string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, err := http.Get(lb.URL() + path)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- answer{resp.StatusCode, string(b), resp.Header, err}
	}()
	return ch
}

// await waits for a request's answer.
func await(t *testing.T, ch <-chan answer) answer {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer from the balancer")
	}
	return answer{}
}

// app is a target: a real loopback server that answers its name on /, the
// health status it is told on /health, and whatever hold says otherwise.
type app struct {
	name   string
	srv    *httptest.Server
	mu     sync.Mutex
	health int
	gate   chan struct{} // non-nil: health checks wait for it
	// checked, when set before the first check, hears of every check.
	checked chan<- struct{}
}

func newApp(t *testing.T, name string, handler http.HandlerFunc) *app {
	t.Helper()
	a := &app{name: name, health: http.StatusOK}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			a.mu.Lock()
			code, gate := a.health, a.gate
			a.mu.Unlock()
			if a.checked != nil {
				a.checked <- struct{}{}
			}
			if gate != nil {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
			w.WriteHeader(code)
			return
		}
		if handler != nil {
			handler(w, r)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(func() {
		// Held requests end with their connections.
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

func (a *app) addr() string { return a.srv.Listener.Addr().String() }

func (a *app) setHealth(code int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.health = code
}

// holdHealth makes health checks wait until the returned func is called.
func (a *app) holdHealth() (release func()) {
	gate := make(chan struct{})
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gate = gate
	return sync.OnceFunc(func() { close(gate) })
}

// signal waits for ch, failing the test after a generous deadline.
func signal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
