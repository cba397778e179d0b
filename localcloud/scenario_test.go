package localcloud

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/nat"
	"github.com/cutover-dev/cutover/scenarios"
)

// builtin parses a built-in scenario.
func builtin(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	data, ok := scenarios.Builtin(name)
	if !ok {
		t.Fatalf("no built-in scenario %q", name)
	}
	s, err := scenarios.Parse(name+".yaml", data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return s
}

// loadFor returns a test load shaped like the scenario's: its rate, or its
// first stage as a ramp from start_rate and the last stage's rate after.
func loadFor(s *scenarios.Scenario, url string) *lcLoad {
	l := &lcLoad{url: url, rate: s.Load.Rate.PerSecond(), maxInFlight: 2000, sessions: s.Load.Sessions.Count}
	if st := s.Load.Stages; len(st) > 0 {
		l.rate = st[len(st)-1].Rate.PerSecond()
		l.startRate = s.Load.StartRate.PerSecond()
		l.ramp = st[0].For.D()
	}
	return l
}

// describeCloud lists every revision's instances and the NAT's endpoints,
// for a failing test's log.
func describeCloud(c *Cloud) string {
	var b strings.Builder
	for _, name := range c.ServiceNames() {
		st, _ := c.Service(name)
		for _, r := range st.Revisions {
			fmt.Fprintf(&b, "%s %s %d%% queued %d:", r.Name, r.Ready.State, r.Percent, r.Queued)
			for _, in := range r.Instances {
				fmt.Fprintf(&b, " %s(%s,%d)", in.ID[len(r.Name):], in.State, in.InFlight)
			}
			b.WriteString("\n")
		}
	}
	ns := c.NAT().Stats()
	fmt.Fprintf(&b, "nat: drops %v alloc_failed %v open %d new %d\n", ns.Drops, ns.AllocationFailed, ns.OpenConnections, ns.NewConnections)
	eps := make([]string, 0, len(ns.Endpoints))
	for ep := range ns.Endpoints {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	for _, ep := range eps {
		e := ns.Endpoints[ep]
		fmt.Fprintf(&b, "  %s ports %d drops %d new %d dests %v\n", ep, e.Ports, e.Drops, e.NewConnections, e.Destinations)
	}
	return b.String()
}

// scenarioRun is a built-in scenario replayed by a test: load at its
// front end, the new revision deployed through the Go API partway.
type scenarioRun struct {
	c        *Cloud
	svc      string // the service the load goes to (the first)
	url      string
	results  []lcResult
	deployAt time.Duration // since the load started; 0 without a deploy
	// oldRev and newRev are each service's revision before and after.
	oldRev, newRev map[string]string
	// natAtDeploy is the NAT's state just before the deploy.
	natAtDeploy nat.Stats
	// probes are NAT snapshots taken every probeEvery after the deploy.
	probes []nat.Stats
}

type runOptions struct {
	// warmMin, when > 0, starts the first revisions with this many min
	// instances, so a test needs no long ramp; the deploy restores the
	// scenario's scaling, so the new revisions still start cold.
	warmMin int
	ramp    time.Duration // of the load, from a tenth of the rate
	// deployAt is when the deploy happens (0: no deploy); total is how
	// long the load runs.
	deployAt, total time.Duration
	edit            func(*scenarios.LocalCloud) // applied to the section before Start
	probeEvery      time.Duration
	target          string // the service the load goes to; "" for the first
	// stretch > 1 divides the time scale and the load rate by it; the
	// caller stretches the wall durations above to match.
	stretch int
}

// runScenario replays a built-in scenario's local cloud under a test load
// shaped by o, at the scenario's rate.
func runScenario(t *testing.T, name string, o runOptions) *scenarioRun {
	t.Helper()
	s := builtin(t, name)
	cfg, scaling := replayConfig(s, o)
	c := startCloud(t, cfg)
	run := &scenarioRun{c: c, svc: cfg.Services[0].Name, oldRev: map[string]string{}, newRev: map[string]string{}}
	if o.target != "" {
		run.svc = o.target
	}
	run.url, _ = c.ServiceURL(run.svc)
	for _, sc := range cfg.Services {
		st, _ := c.Service(sc.Name)
		run.oldRev[sc.Name] = st.LatestReadyRevision
	}

	l := loadFor(s, run.url)
	l.rate /= float64(max(o.stretch, 1))
	l.startRate, l.ramp = l.rate/10, o.ramp
	ctx, cancel := context.WithTimeout(context.Background(), o.total)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, t)
	}()
	defer func() {
		cancel()
		<-done
		run.results = l.snapshot()
		if t.Failed() {
			lcTimeline(t, run.results, time.Second)
			t.Logf("cloud at the end:\n%s", describeCloud(c))
		}
	}()
	if o.deployAt > 0 {
		select {
		case <-time.After(o.deployAt):
		case <-done:
			t.Fatal("load ended before the deploy")
		}
		run.natAtDeploy = c.NAT().Stats()
		run.deployAt = time.Since(l.start)
		// A release: every service gets a new revision.
		for _, sc := range cfg.Services {
			sp := scaling[sc.Name]
			rev, err := c.Deploy(ctx, sc.Name, RevisionSpec{Image: sc.Image + "-next", Scaling: &sp})
			if err != nil {
				t.Fatalf("deploy %s: %v", sc.Name, err)
			}
			run.newRev[sc.Name] = rev
		}
	}
	for o.probeEvery > 0 {
		select {
		case <-time.After(o.probeEvery):
			run.probes = append(run.probes, c.NAT().Stats())
			continue
		case <-done:
		}
		break
	}
	<-done
	return run
}

// replayConfig is the scenario's local cloud as o replays it, and each
// service's own scaling (o.warmMin warms the first revisions).
func replayConfig(s *scenarios.Scenario, o runOptions) (scenarios.LocalCloud, map[string]Scaling) {
	cfg := s.LocalCloud
	cfg.Services = append([]scenarios.CloudService(nil), cfg.Services...)
	// Metrics become visible soon after their period, so the run can read them.
	cfg.Metrics.LagNAT = scenarios.Duration(time.Second)
	cfg.Metrics.LagRun = scenarios.Duration(time.Second)
	if o.edit != nil {
		o.edit(&cfg)
	}
	if o.stretch > 1 {
		cfg.TimeScale /= o.stretch
	}
	scaling := map[string]Scaling{}
	for i := range cfg.Services {
		sc := &cfg.Services[i]
		scaling[sc.Name] = Scaling{MinInstances: sc.MinInstances, MaxInstances: sc.MaxInstances}
		if o.warmMin > 0 {
			sc.MinInstances = o.warmMin
		}
	}
	return cfg, scaling
}

// between returns the results sent in [from, to) after the deploy.
func (r *scenarioRun) between(from, to time.Duration) []lcResult {
	var out []lcResult
	for _, x := range r.results {
		if x.at >= r.deployAt+from && x.at < r.deployAt+to {
			out = append(out, x)
		}
	}
	return out
}

func (r *scenarioRun) before() []lcResult {
	var out []lcResult
	for _, x := range r.results {
		if x.at < r.deployAt {
			out = append(out, x)
		}
	}
	return out
}

// failedAddr returns the address a fetch-failed body names, or "".
func failedAddr(body string) string {
	const key = "attempted address: "
	i := strings.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	if j := strings.IndexByte(rest, ','); j >= 0 {
		return rest[:j]
	}
	return rest
}

// destinations names the addresses the app calls: "external_api",
// "database", "database_private" and "service:NAME".
func (r *scenarioRun) destinations() map[string]string {
	names := map[string]string{
		r.c.ext.Addr():       "external_api",
		r.c.db.publicAddr():  "database",
		r.c.db.privateAddr(): "database_private",
	}
	for _, name := range r.c.ServiceNames() {
		u, _ := r.c.ServiceURL(name)
		names[strings.TrimPrefix(u, "http://")] = "service:" + name
	}
	return names
}

// errorsByDestination counts fetch-failed results by the destination
// their body names.
func (r *scenarioRun) errorsByDestination(results []lcResult) map[string]int {
	names := r.destinations()
	m := map[string]int{}
	for _, x := range results {
		if lcClass(x) != "fetch_failed" {
			continue
		}
		a := failedAddr(x.body)
		if n, ok := names[a]; ok {
			a = n
		}
		m[a]++
	}
	return m
}

// natDrops sums the drops of the endpoints of the given revisions
// (endpoints are instance ids, REVISION-N).
func natDrops(st nat.Stats, revs map[string]string) int64 {
	var n int64
	for ep, e := range st.Endpoints {
		for _, rev := range revs {
			if strings.HasPrefix(ep, rev+"-") {
				n += e.Drops
			}
		}
	}
	return n
}

// natFailures returns the failed connects through NAT per destination,
// named as by destinations.
func (r *scenarioRun) natFailures() map[string]int64 {
	names := r.destinations()
	m := map[string]int64{}
	for key, d := range r.c.dials.snapshot() {
		if addr, ok := strings.CutPrefix(key, "nat "); ok {
			m[names[addr]] += d.failed
		}
	}
	return m
}

// visibleSum adds the visible points of metricType whose metric labels
// include want.
func visibleSum(c *Cloud, metricType string, want map[string]string) int64 {
	var sum int64
	for _, s := range c.Recorder().Query(metricType, c.Recorder().Origin(), c.Clock().Now()) {
		match := true
		for k, v := range want {
			if s.MetricLabels[k] != v && s.Resource.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		for _, p := range s.Points {
			sum += p.Value
		}
	}
	return sum
}

// TestScenarioNATExhaustionFamily replays S1 and its fixes one after the
// other, in one parallel slot: each drives hundreds of requests a second
// through several hops, and at a 10× time scale CPU contention between two
// of them would become simulated latency. Under the race detector the
// replays run stretched (replayStretch), and the incident itself skips.
func TestScenarioNATExhaustionFamily(t *testing.T) {
	t.Parallel()
	t.Run("incident", testNATExhaustion)
	t.Run("private-ranges-only", testNATExhaustionFixed)
	t.Run("partial fixes", testNATExhaustionPartialFixes)
}

// s1 replays nat-exhaustion (or its fixed twin, at a 10× time scale) with
// warm old revisions and a release at 5 s, stretched replayStretch times
// (wall durations × k, time scale and rate ÷ k: the same simulated run).
func s1(t *testing.T, name string, total time.Duration, edit func(*scenarios.LocalCloud)) *scenarioRun {
	return runScenario(t, name, runOptions{warmMin: 4, ramp: stretched(3 * time.Second), deployAt: stretched(5 * time.Second),
		total: stretched(total), stretch: replayStretch, edit: edit})
}

// stretched is a wall duration of an S1 replay at replayStretch.
func stretched(d time.Duration) time.Duration { return d * replayStretch }

// S1: cold pools exhaust the new instances' ports at the cutover.
func testNATExhaustion(t *testing.T) {
	if replayStretch > 1 {
		// Measured (2 cores, -race, replayStretch 2: time scale 5, 50 req/s,
		// 68 s of load): the race detector's CPU cost still becomes simulated
		// latency, and the upstream timeouts never fade (17.4% errors in the
		// 5 s after the release, 32.7% 22–28 s after; 73 s of wall time).
		// Stretching further would take the family past 90 s.
		t.Skip("the incident replay does not keep its timing under the race detector, even stretched 2× (see the comment)")
	}
	r := s1(t, "nat-exhaustion", 34*time.Second, nil)
	if t.Failed() {
		return
	}
	if n := lcErrors(lcCount(r.before(), 0, r.deployAt)); n != 0 {
		t.Errorf("%d errors before the release, want none", n)
	}
	if d := r.natAtDeploy.Drops[ReasonOutOfResources]; d != 0 {
		t.Errorf("%d NAT drops before the release, want none", d)
	}
	after := r.between(0, time.Hour)
	counts := lcCount(after, 0, time.Hour)
	failures := r.natFailures()
	t.Logf("after the release: %v; fetch failed by destination %v; failed connects through NAT %v; dials %v",
		counts, r.errorsByDestination(after), failures, r.c.dials.snapshot())
	// Clients see web's connect timeouts as 502 fetch failed, and api's as
	// its 504 passed on by web.
	if counts["fetch_failed"] == 0 {
		t.Errorf("no 502 fetch failed after the release: %v", counts)
	}
	if ok := lcCount(after, 0, time.Hour)["ok"]; ok < 1000/replayStretch {
		t.Errorf("only %d requests succeeded after the release: the load did not run", ok)
	}
	if counts["upstream_timeout"] == 0 {
		t.Errorf("no 504 upstream request timeout after the release: %v", counts)
	}
	const seed504 = `{"message":"Upstream returned 504. body={\"code\":504,\"message\":\"upstream request timeout\"}"}`
	seen504 := false
	for _, x := range after {
		switch lcClass(x) {
		case "fetch_failed":
			if !strings.Contains(x.body, "UND_ERR_CONNECT_TIMEOUT") {
				t.Errorf("a fetch failed that is not a connect timeout: %s", x.body)
			}
		case "upstream_timeout":
			seen504 = seen504 || strings.TrimSpace(x.body) == seed504
		}
	}
	if counts["upstream_timeout"] > 0 && !seen504 {
		t.Errorf("no 504 with the seed incident's body %s", seed504)
	}
	// Every destination through NAT has its share of the failed connects.
	for _, d := range []string{"external_api", "database", "service:web", "service:api"} {
		if failures[d] == 0 {
			t.Errorf("no failed connect through NAT to %s: %v", d, failures)
		}
	}
	// Drops happen on the new revisions' endpoints only.
	end := r.c.NAT().Stats()
	if n := natDrops(end, r.newRev); n == 0 {
		t.Errorf("no NAT drops on the new revisions %v", r.newRev)
	}
	if n := natDrops(end, r.oldRev); n != 0 {
		t.Errorf("%d NAT drops on the old revisions %v, want none", n, r.oldRev)
	}
	checkErrorsFade(t, r)
	// The recorder has the drops under their real type and reason, and the
	// new revisions' 5xx.
	if n := visibleSum(r.c, MetricNATDroppedSent, map[string]string{"reason": ReasonOutOfResources}); n == 0 {
		t.Errorf("no %s{reason=%s} points visible", MetricNATDroppedSent, ReasonOutOfResources)
	}
	if n := visibleSum(r.c, MetricRunRequestCount, map[string]string{"revision_name": r.newRev["web"], "response_code_class": "5xx"}); n == 0 {
		t.Errorf("no 5xx request_count for %s", r.newRev["web"])
	}
	if t.Failed() || testing.Verbose() {
		lcTimeline(t, r.results, time.Second)
	}
}

// checkErrorsFade checks the errors of an S1 replay fade after the burst.
func checkErrorsFade(t *testing.T, r *scenarioRun) {
	t.Helper()
	// The errors fade: from 220 s (simulated) after the release, past the
	// keep-alive timeout plus TIME_WAIT of the burst's connections, the
	// error rate is a small part of the burst's.
	rate := func(from, to time.Duration) float64 {
		m := lcCount(r.between(from, to), 0, time.Hour)
		return float64(lcErrors(m)) / float64(max(1, m["ok"]+lcErrors(m)))
	}
	burst, tail := rate(0, stretched(5*time.Second)), rate(stretched(22*time.Second), stretched(28*time.Second))
	if tail > burst/4 || tail > 0.05 {
		t.Errorf("errors have not faded: %.1f%% in the 5 s after the release, %.1f%% 22–28 s after", 100*burst, 100*tail)
	}
}

// S1 fixed: egress private-ranges-only takes every call out of NAT.
func testNATExhaustionFixed(t *testing.T) {
	r := s1(t, "nat-exhaustion-fixed", 11*time.Second, nil)
	counts := lcCount(r.results, 0, time.Hour)
	if e := lcErrors(counts); e != 0 || counts["ok"] < 800/replayStretch {
		t.Errorf("results %v, want no error in at least %d requests", counts, 800/replayStretch)
		lcTimeline(t, r.results, time.Second)
	}
	st := r.c.NAT().Stats()
	if st.NewConnections != 0 || st.Drops[ReasonOutOfResources] != 0 || len(st.Endpoints) != 0 {
		t.Errorf("NAT used with private-ranges-only: %d new connections, drops %v, %d endpoints",
			st.NewConnections, st.Drops, len(st.Endpoints))
	}
}

// S1 with one fix each: the database at its private IP, or web's
// self-call on loopback, takes that destination out of NAT and with it its
// share of the failed connects; the rest of the incident remains.
func testNATExhaustionPartialFixes(t *testing.T) {
	tests := []struct {
		name    string
		service string
		to      string // the call changed
		via     string
		gone    string // its destination, as natFailures names it
	}{
		{"database private ip", "api", scenarios.CallDatabase, scenarios.ViaPrivateIP, "database"},
		{"self call on loopback", "web", scenarios.CallSelf, scenarios.ViaLoopback, "service:web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s1(t, "nat-exhaustion", 10*time.Second, func(lc *scenarios.LocalCloud) {
				svc, _ := lc.Service(tt.service)
				svc.App.Calls = append([]scenarios.CloudCall(nil), svc.App.Calls...)
				for i := range svc.App.Calls {
					if svc.App.Calls[i].To == tt.to {
						svc.App.Calls[i].Via = tt.via
					}
				}
			})
			failures := r.natFailures()
			t.Logf("failed connects through NAT: %v", failures)
			addr := r.c.db.publicAddr()
			if tt.gone == "service:web" {
				addr = strings.TrimPrefix(r.url, "http://")
			}
			if n := r.c.dials.snapshot()["nat "+addr]; n.dials != 0 {
				t.Errorf("%d connections to %s through NAT after the fix", n.dials, tt.gone)
			}
			if byDest := r.errorsByDestination(r.results); byDest[tt.gone] != 0 {
				t.Errorf("%d fetch failed for %s after the fix", byDest[tt.gone], tt.gone)
			}
			// The other destinations still run out: the fix took only its share.
			if failures["external_api"] == 0 {
				t.Errorf("no failed connect to the external API: the release did not exhaust the other pools")
			}
		})
	}
}

// S2: one NAT IP, old blocks held: the new instance beyond capacity gets no
// block and fails until the old blocks are released.
func TestScenarioNATIPPlateau(t *testing.T) {
	t.Parallel()
	r := runScenario(t, "nat-ip-plateau", runOptions{deployAt: 3 * time.Second, total: 20 * time.Second, probeEvery: time.Second})
	if n := lcErrors(lcCount(r.before(), 0, time.Hour)); n != 0 || r.natAtDeploy.AllocationFailed {
		t.Errorf("before the deploy: %d errors, allocation failed %v; want none", n, r.natAtDeploy.AllocationFailed)
	}
	// While the old blocks are held, a new instance has none.
	blockless := map[string]bool{}
	for _, p := range r.probes[:8] {
		for ep, e := range p.Endpoints {
			if e.Attached && e.Ports == 0 && strings.HasPrefix(ep, r.newRev[r.svc]+"-") {
				blockless[ep] = true
			}
		}
	}
	if len(blockless) == 0 || !r.probes[2].AllocationFailed {
		t.Fatalf("no new instance without a NAT block after the deploy (allocation failed %v)", r.probes[2].AllocationFailed)
	}
	// The plateau: errors on that instance only, from NAT drops on it only.
	plateau := r.between(time.Second, 10*time.Second)
	counts := lcCount(plateau, 0, time.Hour)
	if counts["fetch_failed"] == 0 {
		t.Errorf("no fetch failed during the plateau: %v", counts)
	}
	for _, x := range plateau {
		if lcClass(x) != "ok" && !blockless[x.instance] {
			t.Errorf("an error from instance %q, which has a NAT block: %d %s", x.instance, x.status, x.body)
			break
		}
	}
	end := r.c.NAT().Stats()
	for ep, e := range end.Endpoints {
		if e.Drops > 0 && !blockless[ep] {
			t.Errorf("endpoint %s had a block and %d drops", ep, e.Drops)
		}
	}
	// It ends when the old blocks are released (60 s idle retention + 180 s
	// release = 12 s wall): then no error at all.
	if after := lcCount(r.between(14*time.Second, time.Hour), 0, time.Hour); lcErrors(after) != 0 || after["ok"] == 0 {
		t.Errorf("after the old blocks' release: %v, want only ok", after)
	}
	if end.AllocationFailed {
		t.Errorf("allocation still failed at the end")
	}
	if n := visibleSum(r.c, MetricNATAllocFailed, nil); n == 0 {
		t.Errorf("no visible %s point at 1", MetricNATAllocFailed)
	}
	if t.Failed() {
		lcTimeline(t, r.results, time.Second)
	}
}

// S2 fixed: private-ranges-only needs no NAT block; no plateau.
func TestScenarioNATIPPlateauFixed(t *testing.T) {
	t.Parallel()
	r := runScenario(t, "nat-ip-plateau-fixed", runOptions{deployAt: 3 * time.Second, total: 7 * time.Second})
	if counts := lcCount(r.results, 0, time.Hour); lcErrors(counts) != 0 || counts["ok"] < 500 {
		t.Errorf("results %v, want only ok", counts)
	}
	if st := r.c.NAT().Stats(); len(st.Endpoints) != 0 || st.NewConnections != 0 || st.AllocationFailed {
		t.Errorf("NAT used: %d endpoints, %d connections, allocation failed %v", len(st.Endpoints), st.NewConnections, st.AllocationFailed)
	}
}

// S3: egress not programmed on new instances: errors without any NAT drop;
// a startup probe that tests egress removes them.
func TestScenarioEgressNotReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		probe bool
	}{{"no probe", false}, {"egress startup probe", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runScenario(t, "egress-not-ready", runOptions{deployAt: 2 * time.Second, total: 7 * time.Second, probeEvery: 250 * time.Millisecond,
				edit: func(lc *scenarios.LocalCloud) { lc.Services[0].StartupProbeEgress = tt.probe }})
			for _, p := range append(r.probes, r.c.NAT().Stats()) {
				if p.Drops[ReasonOutOfResources] != 0 || p.AllocationFailed {
					t.Fatalf("NAT drops %v, allocation failed %v: want neither", p.Drops, p.AllocationFailed)
				}
			}
			if n := lcErrors(lcCount(r.before(), 0, time.Hour)); n != 0 {
				t.Errorf("%d errors before the deploy", n)
			}
			after := lcCount(r.between(0, time.Hour), 0, time.Hour)
			if tt.probe {
				if lcErrors(after) != 0 {
					t.Errorf("with the egress probe: %v, want only ok", after)
				}
				st, _ := r.c.Service(r.svc)
				rs := st.Revisions[len(st.Revisions)-1]
				// Not ready before its egress works (30 s simulated).
				if wait := rs.Ready.LastTransitionTime.Sub(rs.CreateTime); r.c.Clock().Simulated(wait) < 28*time.Second {
					t.Errorf("the new revision was ready %v (simulated) after its creation, before its egress worked", r.c.Clock().Simulated(wait))
				}
				return
			}
			if after["fetch_failed"] == 0 {
				t.Fatalf("no fetch failed after the deploy: %v", after)
			}
			for _, x := range r.between(0, time.Hour) {
				if lcClass(x) != "ok" && (x.revision != r.newRev[r.svc] || !strings.Contains(x.body, "UND_ERR_CONNECT_TIMEOUT")) {
					t.Errorf("an error that is not a connect timeout on the new revision: %s %d %s", x.revision, x.status, x.body)
					break
				}
			}
			// Egress works 30 s (simulated) after an instance starts; the last
			// connect that gives up started 10 s before: none from 2.5 s wall.
			if late := lcCount(r.between(2500*time.Millisecond, time.Hour), 0, time.Hour); lcErrors(late) != 0 {
				t.Errorf("errors long after the egress delay: %v", late)
			}
		})
	}
}

// S5: sticky clients are re-pinned with a new cookie at the cutover.
func TestScenarioAffinityCutover(t *testing.T) {
	t.Parallel()
	r := runScenario(t, "affinity-cutover", runOptions{deployAt: 3 * time.Second, total: 7 * time.Second})
	if counts := lcCount(r.results, 0, time.Hour); lcErrors(counts) != 0 {
		t.Errorf("results %v, want only ok", counts)
	}
	type session struct {
		before           map[string]bool // instances before the first new-revision response
		repinned         bool            // that response set a cookie for its instance
		newInstances     map[string]bool
		oldAfterRepinned int
	}
	sessions := map[int]*session{}
	for _, x := range r.results {
		s := sessions[x.session]
		if s == nil {
			s = &session{before: map[string]bool{}, newInstances: map[string]bool{}}
			sessions[x.session] = s
		}
		switch {
		case x.revision == r.oldRev[r.svc] && len(s.newInstances) == 0:
			s.before[x.instance] = true
		case x.revision == r.oldRev[r.svc]:
			s.oldAfterRepinned++
		case x.revision == r.newRev[r.svc]:
			if len(s.newInstances) == 0 {
				s.repinned = x.setCookie != "" && decodeAffinity(strings.TrimPrefix(x.setCookie, AffinityCookie+"=")) == x.instance
			}
			s.newInstances[x.instance] = true
		}
	}
	if len(sessions) != 20 {
		t.Fatalf("%d sessions, want 20", len(sessions))
	}
	sticky, repinned, stayed := 0, 0, 0
	for _, s := range sessions {
		if len(s.before) == 1 {
			sticky++
		}
		if s.repinned {
			repinned++
		}
		if len(s.newInstances) == 1 && s.oldAfterRepinned == 0 {
			stayed++
		}
	}
	// Best effort: allow one session in ten to have been moved by load.
	if sticky < 18 || repinned < 18 || stayed < 18 {
		t.Errorf("of 20 sessions: %d stuck to one instance before the cutover, %d were re-pinned with a new cookie, %d stuck to the new instance; want ≥ 18 each",
			sticky, repinned, stayed)
	}
	if st := r.c.NAT().Stats(); st.Drops[ReasonOutOfResources] != 0 {
		t.Errorf("NAT drops %v: the affinity scenario is not a network problem", st.Drops)
	}
}

// S6: churn without keep-alive drops SYNs before any deploy, and the NAT
// lets through about 64 new connections per TIME_WAIT.
func TestScenarioConnectionChurn(t *testing.T) {
	t.Parallel()
	r := runScenario(t, "connection-churn", runOptions{total: 16 * time.Second, probeEvery: time.Second})
	if len(r.probes) < 15 {
		t.Fatalf("%d probes, want 15", len(r.probes))
	}
	if d := r.probes[1].Drops[ReasonOutOfResources]; d == 0 {
		t.Errorf("no drop 2 s into the run (no deploy at all)")
	}
	// 12 wall seconds from 3 s to 15 s are 240 simulated seconds, two
	// TIME_WAIT periods: about 128 new connections, the rest dropped.
	from, to := r.probes[2], r.probes[14]
	newConns := to.NewConnections - from.NewConnections
	drops := to.Drops[ReasonOutOfResources] - from.Drops[ReasonOutOfResources]
	t.Logf("in 240 s (simulated): %d new connections, %d dropped SYNs", newConns, drops)
	if newConns < 64 || newConns > 3*64 {
		t.Errorf("%d new connections in two TIME_WAIT periods, want about 128 (64 ports / 120 s)", newConns)
	}
	if ratio := float64(drops) / float64(drops+newConns); ratio < 0.7 {
		t.Errorf("drop ratio %.2f, want about 0.9", ratio)
	}
	if counts := lcCount(r.results, 3*time.Second, time.Hour); counts["fetch_failed"] < counts["ok"] {
		t.Errorf("results %v: want most requests to fail", counts)
	}
}
