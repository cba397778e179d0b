package alb

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServiceUnavailable: with no registered target, or only draining
// ones, the balancer answers 503 itself.
func TestServiceUnavailable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, lb *LoadBalancer)
	}{
		{"no registered target", func(*testing.T, *LoadBalancer) {}},
		{"only a draining target", func(t *testing.T, lb *LoadBalancer) {
			a := newApp(t, "a", nil)
			lb.RegisterHealthy("a", a.addr())
			lb.Deregister("a")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb, rec := startTest(t, testConfig(newFake()), nil)
			tt.setup(t, lb)
			got := await(t, get(lb, "/"))
			if got.code != http.StatusServiceUnavailable || got.body != ErrorPage(503) {
				t.Fatalf("got %d %q, want 503 %q", got.code, got.body, ErrorPage(503))
			}
			if !strings.Contains(got.body, "<title>503 Service Temporarily Unavailable</title>") {
				t.Errorf("body %q", got.body)
			}
			if s, ct := got.header.Get("Server"), got.header.Get("Content-Type"); s != "awselb/2.0" || ct != "text/html" {
				t.Errorf("Server %q Content-Type %q", s, ct)
			}
			for metric, want := range map[string]float64{
				"HTTPCode_ELB_503_Count": 1, "HTTPCode_ELB_5XX_Count": 1, "RequestCount": 1,
			} {
				if got := rec.sum(metric, "LoadBalancer"); got != want {
					t.Errorf("%s = %v, want %v", metric, got, want)
				}
			}
			if got := rec.sum("RequestCount", "TargetGroup", "LoadBalancer"); got != 0 {
				t.Errorf("RequestCount per target group = %v, want 0 (nothing routed)", got)
			}
		})
	}
}

// TestFailOpen: when no registered target is healthy, requests go to all
// of them, whether they are still initial or unhealthy.
func TestFailOpen(t *testing.T) {
	for _, state := range []string{StateInitial, StateUnhealthy} {
		t.Run(state, func(t *testing.T) {
			clk := newFake()
			cfg := testConfig(clk)
			lb, _ := startTest(t, cfg, nil)
			for _, name := range []string{"a", "b"} {
				a := newApp(t, name, nil)
				a.setHealth(http.StatusInternalServerError)
				lb.Register(name, a.addr())
				waitFor(t, name+" checked", func() bool { return lb.checks(name) == 1 })
			}
			if state == StateUnhealthy {
				clk.Advance(clk.Wall(cfg.LB.HealthCheck.Interval.D()))
			}
			waitState(t, lb, "a", state)
			waitState(t, lb, "b", state)
			seen := map[string]int{}
			for range 4 {
				got := await(t, get(lb, "/"))
				if got.code != http.StatusOK {
					t.Fatalf("got %d %q, want a target's 200", got.code, got.body)
				}
				seen[got.body]++
			}
			if seen["a"] != 2 || seen["b"] != 2 {
				t.Errorf("answers %v, want 2 from each target", seen)
			}
		})
	}
}

// TestRoundRobin: requests rotate over the healthy targets only; initial
// and draining ones get none while a target is healthy. Each request
// carries an X-Amzn-Trace-Id.
func TestRoundRobin(t *testing.T) {
	lb, _ := startTest(t, testConfig(newFake()), nil)
	echoTrace := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Seen-Trace", r.Header.Get("X-Amzn-Trace-Id"))
			_, _ = w.Write([]byte(name))
		}
	}
	for _, name := range []string{"a", "b", "c", "draining"} {
		lb.RegisterHealthy(name, newApp(t, name, echoTrace(name)).addr())
	}
	lb.Deregister("draining")
	starting := newApp(t, "initial", echoTrace("initial"))
	starting.holdHealth()
	lb.Register("initial", starting.addr())

	trace := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	var order []string
	for range 9 {
		got := await(t, get(lb, "/"))
		if got.code != http.StatusOK {
			t.Fatalf("got %d %q", got.code, got.body)
		}
		if tr := got.header.Get("X-Seen-Trace"); !trace.MatchString(tr) {
			t.Errorf("X-Amzn-Trace-Id %q", tr)
		}
		order = append(order, got.body)
	}
	for i := 3; i < len(order); i++ {
		if order[i] != order[i-3] {
			t.Fatalf("order %v is not a rotation of three", order)
		}
	}
	if !sameSet(order[:3], []string{"a", "b", "c"}) {
		t.Fatalf("order %v, want a, b and c in turn", order)
	}
}

func sameSet(got, want []string) bool {
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return len(seen) == len(want)
}

// TestGatewayTimeout: 504 when the target does not answer within the idle
// timeout (the request to it is then abandoned), or the connect does not
// complete within the connect timeout.
func TestGatewayTimeout(t *testing.T) {
	t.Run("idle timeout", func(t *testing.T) {
		clk := newFake()
		cfg := testConfig(clk)
		lb, rec := startTest(t, cfg, nil)
		arrived, abandoned := make(chan struct{}, 1), make(chan struct{}, 1)
		slow := newApp(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
			abandoned <- struct{}{}
		})
		lb.RegisterHealthy("slow", slow.addr())
		ch := get(lb, "/")
		signal(t, arrived, "the request at the target")
		idle := clk.Wall(cfg.LB.IdleTimeout.D())
		clk.Advance(idle - time.Millisecond)
		select {
		case got := <-ch:
			t.Fatalf("answered %d before the idle timeout", got.code)
		case <-time.After(50 * time.Millisecond):
		}
		clk.Advance(time.Millisecond)
		got := await(t, ch)
		if got.code != http.StatusGatewayTimeout || got.body != ErrorPage(504) {
			t.Fatalf("got %d %q, want 504", got.code, got.body)
		}
		signal(t, abandoned, "the target's request to be abandoned")
		if n := rec.sum("HTTPCode_ELB_504_Count", "LoadBalancer"); n != 1 {
			t.Errorf("HTTPCode_ELB_504_Count = %v", n)
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		clk := newFake()
		cfg := testConfig(clk)
		dialing := make(chan struct{}, 1)
		// A target whose SYNs go unanswered.
		blackhole := func(ctx context.Context, _, _ string) (net.Conn, error) {
			dialing <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		lb, rec := startTest(t, cfg, blackhole)
		lb.RegisterHealthy("t", newApp(t, "t", nil).addr())
		ch := get(lb, "/")
		signal(t, dialing, "the connect to the target")
		clk.Advance(clk.Wall(cfg.LB.ConnectTimeout.D()))
		got := await(t, ch)
		if got.code != http.StatusGatewayTimeout {
			t.Fatalf("got %d %q, want 504", got.code, got.body)
		}
		if n := rec.sum("HTTPCode_ELB_504_Count", "LoadBalancer"); n != 1 {
			t.Errorf("HTTPCode_ELB_504_Count = %v", n)
		}
	})
}

// TestBadGateway: 502 when the target hangs up or refuses the connection,
// or when its deregistration delay ends with the request in flight.
func TestBadGateway(t *testing.T) {
	hangUp := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	refused := func(t *testing.T) string {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.Listener.Addr().String()
		srv.Close()
		return addr
	}
	tests := []struct {
		name string
		run  func(t *testing.T, lb *LoadBalancer, ch func() <-chan answer)
	}{
		{"target hangs up", func(t *testing.T, lb *LoadBalancer, ch func() <-chan answer) {
			lb.RegisterHealthy("t", newApp(t, "t", hangUp).addr())
			expect502(t, ch())
		}},
		{"target refuses", func(t *testing.T, lb *LoadBalancer, ch func() <-chan answer) {
			lb.RegisterHealthy("t", refused(t))
			expect502(t, ch())
		}},
		{"deregistration delay ends in flight", func(t *testing.T, lb *LoadBalancer, ch func() <-chan answer) {
			arrived := make(chan struct{}, 1)
			lb.RegisterHealthy("t", newApp(t, "t", func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				<-r.Context().Done()
			}).addr())
			answer := ch()
			signal(t, arrived, "the request at the target")
			lb.Deregister("t")
			clk := lb.clk.(interface{ Advance(time.Duration) })
			clk.Advance(lb.clk.Wall(lb.cfg.LB.DeregistrationDelay.D()))
			expect502(t, answer)
			if s, r := lb.Health("t"); s != StateUnused || r != ReasonNotRegistered {
				t.Errorf("health %s %s after the delay", s, r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(newFake())
			cfg.LB.DeregistrationDelay = cfg.LB.IdleTimeout / 2
			lb, rec := startTest(t, cfg, nil)
			tt.run(t, lb, func() <-chan answer { return get(lb, "/") })
			if n := rec.sum("HTTPCode_ELB_502_Count", "LoadBalancer"); n != 1 {
				t.Errorf("HTTPCode_ELB_502_Count = %v", n)
			}
		})
	}
}

func expect502(t *testing.T, ch <-chan answer) {
	t.Helper()
	got := await(t, ch)
	if got.code != http.StatusBadGateway || got.body != ErrorPage(502) {
		t.Fatalf("got %d %q, want 502", got.code, got.body)
	}
}
