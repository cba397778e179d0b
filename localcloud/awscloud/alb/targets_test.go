package alb

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
)

// TestHealthTransitions walks one target through its life: initial, healthy
// after one pass, unhealthy after UnhealthyThreshold failures, healthy again
// after HealthyThreshold passes, draining for the deregistration delay with
// no checks, then gone.
func TestHealthTransitions(t *testing.T) {
	clk := newFake()
	cfg := testConfig(clk)
	hc := cfg.LB.HealthCheck
	lb, _ := startTest(t, cfg, nil)
	a := newApp(t, "a", nil)
	release := a.holdHealth()
	lb.Register("a", a.addr())

	want := func(state, reason string) {
		t.Helper()
		if s, r := lb.Health("a"); s != state || r != reason {
			t.Fatalf("health %s %s, want %s %s", s, r, state, reason)
		}
	}
	if s, r := lb.Health("a"); s != StateInitial || r != ReasonRegistrationInProgress && r != ReasonInitialHealthChecking {
		t.Fatalf("a new target is %s %s", s, r)
	}
	release()
	waitFor(t, "the first check", func() bool { return lb.checks("a") == 1 })
	want(StateHealthy, "")

	checks := 1
	tick := func() {
		t.Helper()
		clk.Advance(clk.Wall(hc.Interval.D()))
		checks++
		waitFor(t, "the next check", func() bool { return lb.checks("a") == checks })
	}
	a.setHealth(http.StatusInternalServerError)
	for range hc.UnhealthyThreshold - 1 {
		tick()
		want(StateHealthy, "")
	}
	tick()
	want(StateUnhealthy, ReasonResponseCodeMismatch)
	a.setHealth(http.StatusOK)
	for range hc.HealthyThreshold - 1 {
		tick()
		want(StateUnhealthy, ReasonResponseCodeMismatch)
	}
	tick()
	want(StateHealthy, "")

	lb.Deregister("a")
	want(StateDraining, ReasonDeregistrationInProgress)
	delay := clk.Wall(cfg.LB.DeregistrationDelay.D())
	clk.Advance(delay - time.Millisecond)
	want(StateDraining, ReasonDeregistrationInProgress)
	if n := lb.checks("a"); n != checks {
		t.Errorf("%d checks while draining", n-checks)
	}
	clk.Advance(time.Millisecond)
	want(StateUnused, ReasonNotRegistered)
}

// TestHealthFailureReasons: a new target that fails UnhealthyThreshold
// checks in a row turns unhealthy with the reason of its failure.
func TestHealthFailureReasons(t *testing.T) {
	refused := func(t *testing.T) string {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.Listener.Addr().String()
		srv.Close()
		return addr
	}
	checked := make(chan struct{}, 16)
	tests := []struct {
		name   string
		addr   func(t *testing.T) string
		hang   bool // the check times out
		reason string
		desc   string
	}{
		{"status 503", func(t *testing.T) string {
			a := newApp(t, "a", nil)
			a.setHealth(http.StatusServiceUnavailable)
			return a.addr()
		}, false, ReasonResponseCodeMismatch, "Health checks failed with these codes: [503]"},
		{"connection refused", refused, false, ReasonFailedHealthChecks, "Health checks failed"},
		{"no answer within the timeout", func(t *testing.T) string {
			a := newApp(t, "a", nil)
			a.holdHealth()
			a.checked = checked
			return a.addr()
		}, true, ReasonTimeout, "Request timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFake()
			cfg := testConfig(clk)
			hc := cfg.LB.HealthCheck
			lb, _ := startTest(t, cfg, nil)
			start := clk.Now()
			lb.Register("a", tt.addr(t))
			for i := range hc.UnhealthyThreshold {
				checkAt := start.Add(time.Duration(i) * clk.Wall(hc.Interval.D()))
				if i > 0 {
					clk.Advance(checkAt.Sub(clk.Now()))
				}
				if tt.hang {
					// The check's timeout is pending once the check is sent.
					signal(t, checked, "the check at the target")
					clk.Advance(clk.Wall(hc.Timeout.D()))
				}
				waitFor(t, fmt.Sprintf("check %d", i+1), func() bool { return lb.checks("a") == i+1 })
				if s, r := lb.Health("a"); i < hc.UnhealthyThreshold-1 && (s != StateInitial || r != ReasonInitialHealthChecking) {
					t.Fatalf("after %d failed checks: %s %s, want still initial", i+1, s, r)
				}
			}
			if s, r := lb.Health("a"); s != StateUnhealthy || r != tt.reason {
				t.Fatalf("health %s %s, want unhealthy %s", s, r, tt.reason)
			}
			d := lb.describeHealth(nil)
			if len(d) != 1 || d[0].TargetHealth.Description != tt.desc {
				t.Errorf("description %+v, want %q", d, tt.desc)
			}
		})
	}
}

// TestRegister: RegisterHealthy targets are healthy at once; registering a
// registered id does nothing; a draining id registered again starts over.
func TestRegister(t *testing.T) {
	clk := newFake()
	lb, _ := startTest(t, testConfig(clk), nil)
	a := newApp(t, "a", nil)
	lb.RegisterHealthy("a", a.addr())
	if s, r := lb.Health("a"); s != StateHealthy || r != "" {
		t.Fatalf("RegisterHealthy: %s %s", s, r)
	}
	lb.Register("a", a.addr())
	if s, _ := lb.Health("a"); s != StateHealthy {
		t.Fatalf("registered again: %s, want healthy still", s)
	}
	lb.Deregister("a")
	a.holdHealth()
	lb.Register("a", a.addr())
	if s, _ := lb.Health("a"); s != StateInitial {
		t.Fatalf("a draining target registered again: %s, want initial", s)
	}
	if n := len(lb.describeHealth(nil)); n != 1 {
		t.Errorf("%d targets, want 1", n)
	}
	if s, r := lb.Health("unknown"); s != StateUnused || r != ReasonNotRegistered {
		t.Errorf("unknown id: %s %s", s, r)
	}
}

// TestMetrics: the request counts by answer, the response times and the
// host-count gauges, at the clock's time.
func TestMetrics(t *testing.T) {
	clk := newFake()
	cfg := testConfig(clk)
	lb, rec := startTest(t, cfg, nil)
	a := newApp(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	tg := []string{"TargetGroup", "LoadBalancer"}
	// The gauges are samples taken every 10 simulated seconds (never on
	// a change, which would weigh a period's average by its changes).
	tick := func(what string) {
		t.Helper()
		before := len(rec.find("HealthyHostCount", tg...))
		clk.Advance(clk.Wall(hostCountEvery))
		waitFor(t, what, func() bool {
			s := rec.find("HealthyHostCount", tg...)
			return len(s) > before && s[len(s)-1].at.Equal(clk.Now())
		})
	}
	lb.RegisterHealthy("a", a.addr())
	if n := len(rec.find("HealthyHostCount", tg...)); n != 0 {
		t.Fatalf("%d HealthyHostCount samples before the first tick, want none", n)
	}
	tick("the gauge tick after RegisterHealthy")
	if got := rec.last("HealthyHostCount"); got != 1 {
		t.Fatalf("HealthyHostCount %v after RegisterHealthy, want 1", got)
	}
	for _, path := range []string{"/", "/", "/fail"} {
		await(t, get(lb, path))
	}
	lb.Deregister("a")
	await(t, get(lb, "/"))

	for _, c := range []struct {
		metric string
		dims   []string
		want   float64
	}{
		{"RequestCount", []string{"LoadBalancer"}, 4},
		{"RequestCount", tg, 3},
		{"HTTPCode_Target_2XX_Count", []string{"LoadBalancer"}, 2},
		{"HTTPCode_Target_2XX_Count", tg, 2},
		{"HTTPCode_Target_5XX_Count", tg, 1},
		{"HTTPCode_ELB_503_Count", []string{"LoadBalancer"}, 1},
		{"HTTPCode_ELB_5XX_Count", []string{"LoadBalancer"}, 1},
		{"HTTPCode_ELB_504_Count", []string{"LoadBalancer"}, 0},
	} {
		if got := rec.sum(c.metric, c.dims...); got != c.want {
			t.Errorf("%s %v = %v, want %v", c.metric, c.dims, got, c.want)
		}
	}
	for _, dims := range [][]string{{"LoadBalancer"}, tg} {
		rt := rec.find("TargetResponseTime", dims...)
		if len(rt) != 3 || rt[0].unit != "Seconds" || rt[0].value < 0 {
			t.Errorf("TargetResponseTime %v: %+v", dims, rt)
		}
	}
	for _, s := range rec.find("RequestCount", "LoadBalancer") {
		if !s.at.Equal(clk.Now()) || s.unit != "Count" {
			t.Errorf("RequestCount sample at %v %s, want the clock's %v in Count", s.at, s.unit, clk.Now())
		}
		if s.dims[0].Value != lb.lbDim {
			t.Errorf("LoadBalancer dimension %q", s.dims[0].Value)
		}
	}
	tick("the gauge tick after Deregister")
	if got := rec.last("HealthyHostCount"); got != 0 {
		t.Errorf("HealthyHostCount %v after Deregister, want 0", got)
	}

	b := newApp(t, "b", nil)
	b.setHealth(http.StatusInternalServerError)
	lb.Register("b", b.addr())
	waitFor(t, "b's first check", func() bool { return lb.checks("b") == 1 })
	clk.Advance(clk.Wall(cfg.LB.HealthCheck.Interval.D()))
	waitState(t, lb, "b", StateUnhealthy)
	tick("the gauge tick after b turned unhealthy")
	if got := rec.last("UnHealthyHostCount"); got != 1 {
		t.Errorf("UnHealthyHostCount %v, want 1", got)
	}
}

// TestIDs: the ARNs and dimensions are ELBv2's, the IDs 16 hex characters
// that depend on the name only.
func TestIDs(t *testing.T) {
	lb, _ := startTest(t, testConfig(newFake()), nil)
	id := resourceID("loadbalancer", "web")
	if len(id) != 16 || id == resourceID("targetgroup", "web") || id != resourceID("loadbalancer", "web") {
		t.Fatalf("id %q", id)
	}
	if got, want := lb.ARN(), "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/web/"+id; got != want {
		t.Errorf("ARN %s, want %s", got, want)
	}
	if got, want := lb.TargetGroupARN(), "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/"+resourceID("targetgroup", "web"); got != want {
		t.Errorf("TargetGroupARN %s, want %s", got, want)
	}
	if lb.lbDim != "app/web/"+id {
		t.Errorf("LoadBalancer dimension %s", lb.lbDim)
	}
}

// TestStart: Start refuses a config it cannot run, listing every problem,
// and runs a good one on the scaled clock end to end.
func TestStart(t *testing.T) {
	bad := testConfig(nil)
	bad.Name, bad.HealthPath = "", "health"
	bad.LB.HealthCheck.Interval, bad.LB.IdleTimeout = 0, 0
	_, err := Start(context.Background(), bad)
	for _, want := range []string{"name is empty", "clock is nil", "health path", "interval", "idle timeout"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}

	clk := clock.NewScaled(100, nil)
	cfg := testConfig(clk)
	cfg.Store = cw.NewStore(clk, time.Minute, time.Minute)
	lb, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lb.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	lb.Register("a", newApp(t, "a", nil).addr())
	waitState(t, lb, "a", StateHealthy)
	if got := await(t, get(lb, "/")); got.code != http.StatusOK || got.body != "a" {
		t.Fatalf("got %d %q", got.code, got.body)
	}
}
