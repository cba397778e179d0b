package localcloud

import (
	"context"
	"errors"
	"fmt"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"io"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// natNoLeaks fails the test if it leaves goroutines behind. It runs after every
// other cleanup (cleanups run last-registered first).
func natNoLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// natSinkCall is one call the fake sink received.
type natSinkCall struct {
	gauge  bool
	metric string
	res    Resource
	labels map[string]string
	v      int64
}

// natFakeSink records every call, keeps delta sums and current gauge values,
// and wakes waiters on every call.
type natFakeSink struct {
	mu      sync.Mutex
	calls   []natSinkCall
	deltas  map[string]int64
	gauges  map[string]int64
	changed chan struct{}
}

func newNATFakeSink() *natFakeSink {
	return &natFakeSink{deltas: map[string]int64{}, gauges: map[string]int64{}, changed: make(chan struct{}, 1)}
}

func natSeriesKey(metric string, labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteString(metric)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, labels[k])
	}
	return b.String()
}

func (s *natFakeSink) record(c natSinkCall) {
	s.mu.Lock()
	s.calls = append(s.calls, natSinkCall{c.gauge, c.metric, c.res, maps.Clone(c.labels), c.v})
	if c.gauge {
		s.gauges[natSeriesKey(c.metric, c.labels)] = c.v
	} else {
		s.deltas[natSeriesKey(c.metric, c.labels)] += c.v
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *natFakeSink) AddDelta(metric string, res Resource, labels map[string]string, n int64) {
	s.record(natSinkCall{false, metric, res, labels, n})
}

func (s *natFakeSink) SetGauge(metric string, res Resource, labels map[string]string, v int64) {
	s.record(natSinkCall{true, metric, res, labels, v})
}

func (s *natFakeSink) delta(metric string, labels map[string]string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deltas[natSeriesKey(metric, labels)]
}

func (s *natFakeSink) gauge(metric string, labels map[string]string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.gauges[natSeriesKey(metric, labels)]
	return v, ok
}

func (s *natFakeSink) snapshot() []natSinkCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// waitFor re-checks cond after every sink call until it holds, failing the
// test after a generous wall-clock limit.
func (s *natFakeSink) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	for !cond() {
		select {
		case <-s.changed:
		case <-limit.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

var (
	natTCP         = map[string]string{"ip_protocol": "TCP"}
	natOutOfRes    = map[string]string{"ip_protocol": "TCP", "reason": ReasonOutOfResources}
	natTestGateway = Resource{Type: ResourceNATGateway, Labels: map[string]string{
		"project_id": "demo", "region": "asia-northeast1", "router_id": "1234", "gateway_name": "nat-1",
	}}
)

// checkNATSinkCalls asserts every call used a real NAT metric with its kind,
// the gateway resource and exactly the metric's labels.
func checkNATSinkCalls(t *testing.T, calls []natSinkCall) {
	t.Helper()
	want := map[string]struct {
		gauge  bool
		labels []string
	}{
		MetricNATDroppedSent:    {false, []string{"ip_protocol", "reason"}},
		MetricNATNewConns:       {false, []string{"ip_protocol"}},
		MetricNATOpenConns:      {true, []string{"ip_protocol"}},
		MetricNATPortUsage:      {true, []string{"ip_protocol"}},
		MetricNATAllocatedPorts: {true, []string{"nat_ip"}},
		MetricNATAllocFailed:    {true, nil},
	}
	for _, c := range calls {
		w, ok := want[c.metric]
		if !ok {
			t.Errorf("sink got unknown metric %q", c.metric)
			continue
		}
		if c.gauge != w.gauge {
			t.Errorf("%s recorded as gauge=%v, want gauge=%v", c.metric, c.gauge, w.gauge)
		}
		if !reflect.DeepEqual(c.res, natTestGateway) {
			t.Errorf("%s recorded on resource %+v, want %+v", c.metric, c.res, natTestGateway)
		}
		if got := slices.Sorted(maps.Keys(c.labels)); !slices.Equal(got, w.labels) {
			t.Errorf("%s labels %v, want keys %v", c.metric, c.labels, w.labels)
		}
		if p, ok := c.labels["ip_protocol"]; ok && p != "TCP" {
			t.Errorf("%s ip_protocol %q, want TCP", c.metric, p)
		}
		if r, ok := c.labels["reason"]; ok && r != ReasonOutOfResources {
			t.Errorf("%s reason %q, want %s", c.metric, r, ReasonOutOfResources)
		}
		if c.metric == MetricNATAllocFailed && c.v != 0 && c.v != 1 {
			t.Errorf("%s = %d, want 0 or 1", c.metric, c.v)
		}
	}
}

// newTestNAT returns a gateway on a clock at scale with a fake sink; the
// gateway is closed and the sink's calls are checked at cleanup.
func newTestNAT(t *testing.T, scale int, opts NATOptions) (*NAT, *natFakeSink, clock.Clock) {
	t.Helper()
	clk := clock.NewScaled(scale, nil)
	sink := newNATFakeSink()
	opts.Gateway = natTestGateway
	n := NewNAT(opts, clk, sink)
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close nat: %v", err)
		}
		checkNATSinkCalls(t, sink.snapshot())
	})
	return n, sink, clk
}

// startNATTestServer starts a loopback server that reads and discards until the
// client closes. It is stopped at cleanup.
func startNATTestServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// natDialFor dials through n with a simulated connect timeout.
func natDialFor(n *NAT, clock clock.Clock, endpoint, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clock.Wall(timeout))
	defer cancel()
	return n.DialContext(ctx, endpoint, "tcp", addr)
}

// natOpenN opens count connections from endpoint to addr, failing on any error.
func natOpenN(t *testing.T, n *NAT, clock clock.Clock, endpoint, addr string, count int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, count)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := range count {
		c, err := natDialFor(n, clock, endpoint, addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d of %d to %s: %v", i+1, count, addr, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func TestNATCapacity(t *testing.T) {
	tests := []struct {
		ips, ports int
		dynamic    bool
		want       int
		wantPorts  int
	}{
		{ips: 1, ports: 0, want: 1008, wantPorts: 64},
		{ips: 1, ports: 50, want: 1008, wantPorts: 64}, // rounded up to a power of 2
		{ips: 1, ports: 2048, want: 31, wantPorts: 2048},
		{ips: 1, ports: 4096, want: 15, wantPorts: 4096},
		{ips: 2, ports: 2048, want: 63, wantPorts: 2048},
		{ips: 1, dynamic: true, want: 2016, wantPorts: 32},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d IP %d ports dynamic %v", tt.ips, tt.ports, tt.dynamic), func(t *testing.T) {
			n, _, _ := newTestNAT(t, 1, NATOptions{IPs: tt.ips, MinPortsPerVM: tt.ports, Dynamic: tt.dynamic})
			if got := n.Capacity(); got != tt.want {
				t.Errorf("Capacity() = %d, want %d", got, tt.want)
			}
			if got := n.Options().MinPortsPerVM; got != tt.wantPorts {
				t.Errorf("MinPortsPerVM = %d, want %d", got, tt.wantPorts)
			}
		})
	}
}

// The acceptance arithmetic: 64 ports → 64 concurrent connections to one
// destination; the 65th SYN is dropped until the connect timeout.
func TestNATPerDestinationLimit(t *testing.T) {
	natNoLeaks(t)
	n, sink, clock := newTestNAT(t, 200, NATOptions{})
	addr := startNATTestServer(t)
	n.Attach("ep-1")

	natOpenN(t, n, clock, "ep-1", addr, 64)

	_, err := natDialFor(n, clock, "ep-1", addr, 10*time.Second)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("65th dial error = %v, want a net.Error with Timeout() true", err)
	}
	if want := "dial tcp " + addr + ": i/o timeout"; err.Error() != want {
		t.Errorf("65th dial error = %q, want %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, context.DeadlineExceeded) = false", err)
	}

	st := n.Stats()
	ep := st.Endpoints["ep-1"]
	// SYNs at 0, 1, 3, 7 s fit in a 10 s connect timeout; a slow machine may
	// still be waiting for the last one when the deadline fires.
	if ep.Drops < 1 || ep.Drops > 4 {
		t.Errorf("drops = %d, want 1..4 (SYN at 0, 1, 3, 7 s)", ep.Drops)
	}
	if got := sink.delta(MetricNATDroppedSent, natOutOfRes); got != ep.Drops || st.Drops[ReasonOutOfResources] != ep.Drops {
		t.Errorf("dropped_sent_packets_count = %d, stats total %d, want endpoint drops %d", got, st.Drops[ReasonOutOfResources], ep.Drops)
	}
	if d := ep.Destinations["tcp "+addr]; d.Open != 64 || d.TimeWait != 0 {
		t.Errorf("destination use = %+v, want 64 open", d)
	}
	if v, _ := sink.gauge(MetricNATPortUsage, natTCP); v != 64 {
		t.Errorf("port_usage = %d, want 64", v)
	}
	if v, _ := sink.gauge(MetricNATOpenConns, natTCP); v != 64 {
		t.Errorf("open_connections = %d, want 64", v)
	}
	if got := sink.delta(MetricNATNewConns, natTCP); got != 64 {
		t.Errorf("new_connections_count = %d, want 64", got)
	}
}

// Ports are reserved per destination 3-tuple: the same block serves 64
// connections to A and 64 to B at once.
func TestNATDestinationsAreIndependent(t *testing.T) {
	natNoLeaks(t)
	n, sink, clock := newTestNAT(t, 200, NATOptions{})
	a, b := startNATTestServer(t), startNATTestServer(t)
	n.Attach("ep-1")
	n.Attach("ep-2")

	var wg sync.WaitGroup
	for _, addr := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			natOpenN(t, n, clock, "ep-1", addr, 64)
		}()
	}
	wg.Wait()
	natOpenN(t, n, clock, "ep-2", a, 64) // another endpoint has its own block

	st := n.Stats()
	if st.OpenConnections != 192 {
		t.Errorf("open connections = %d, want 192", st.OpenConnections)
	}
	if st.Drops[ReasonOutOfResources] != 0 {
		t.Errorf("drops = %d, want 0", st.Drops[ReasonOutOfResources])
	}
	for _, addr := range []string{a, b} {
		if d := st.Endpoints["ep-1"].Destinations["tcp "+addr]; d.Open != 64 {
			t.Errorf("ep-1 → %s open = %d, want 64", addr, d.Open)
		}
	}
	if v, _ := sink.gauge(MetricNATPortUsage, natTCP); v != 64 {
		t.Errorf("port_usage = %d, want 64 (max over endpoints and destinations)", v)
	}
	if _, err := natDialFor(n, clock, "ep-1", a, 2*time.Second); err == nil {
		t.Error("65th dial to A succeeded, want it dropped")
	}
}

// A closed connection's port stays in TIME_WAIT for its destination; a dial
// waiting for it succeeds on the first SYN retransmission after it frees,
// and every SYN before that is counted as a drop.
func TestNATRetransmissionAfterTimeWait(t *testing.T) {
	tests := []struct {
		timeWait    time.Duration
		scale       int
		wantDrops   int64
		minLatency  time.Duration // the retransmission that gets through
		maxLatency  time.Duration // the one after it
		description string
	}{
		{2 * time.Second, 20, 2, 3 * time.Second, 7 * time.Second, "SYNs at 0 and 1 s dropped, the one at 3 s passes"},
		{20 * time.Second, 100, 5, 31 * time.Second, 63 * time.Second, "SYNs at 0..15 s dropped, the one at 31 s passes"},
	}
	for _, tt := range tests {
		t.Run(tt.timeWait.String(), func(t *testing.T) {
			natNoLeaks(t)
			n, sink, clock := newTestNAT(t, tt.scale, NATOptions{MinPortsPerVM: 2, TCPTimeWait: tt.timeWait})
			addr := startNATTestServer(t)
			n.Attach("ep-1")
			for _, c := range natOpenN(t, n, clock, "ep-1", addr, 2) {
				if err := c.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
			}
			if d := n.Stats().Endpoints["ep-1"].Destinations["tcp "+addr]; d.TimeWait != 2 || d.Open != 0 {
				t.Fatalf("after close: %+v, want 2 in TIME_WAIT", d)
			}

			start := clock.Now()
			c, err := natDialFor(n, clock, "ep-1", addr, 100*time.Second)
			if err != nil {
				t.Fatalf("dial: %v (%s)", err, tt.description)
			}
			latency := clock.Simulated(clock.Now().Sub(start))
			defer c.Close()

			drops := n.Stats().Endpoints["ep-1"].Drops
			if drops != tt.wantDrops {
				t.Errorf("drops = %d, want %d: %s", drops, tt.wantDrops, tt.description)
			}
			if got := sink.delta(MetricNATDroppedSent, natOutOfRes); got != drops {
				t.Errorf("dropped_sent_packets_count = %d, want %d", got, drops)
			}
			if latency < tt.minLatency || latency >= tt.maxLatency {
				t.Errorf("connect latency %v (simulated), want in [%v, %v)", latency, tt.minLatency, tt.maxLatency)
			}
		})
	}
}

// The sustained rate of new connections from one endpoint to one
// destination is ports / TIME_WAIT: 64 / 120 s ≈ 0.53/s.
func TestNATSustainedNewConnectionRate(t *testing.T) {
	natNoLeaks(t)
	const (
		window  = 600 * time.Second
		workers = 8
	)
	n, sink, clock := newTestNAT(t, 500, NATOptions{})
	addr := startNATTestServer(t)
	n.Attach("ep-1")

	start := clock.Now()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for clock.Simulated(clock.Now().Sub(start)) < window {
				c, err := natDialFor(n, clock, "ep-1", addr, 10*time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				if clock.Simulated(clock.Now().Sub(start)) < window {
					ok.Add(1)
				}
				_ = c.Close()
			}
		}()
	}
	wg.Wait()

	rate := float64(ok.Load()) / window.Seconds()
	const want = 64.0 / 120.0
	if rate < want*0.8 || rate > want*1.2 {
		t.Errorf("sustained new-connection rate = %.3f/s (%d in %v), want %.3f/s ± 20%%", rate, ok.Load(), window, want)
	}
	if failed.Load() == 0 {
		t.Error("no dial timed out, want churn beyond the rate to time out")
	}
	drops := n.Stats().Drops[ReasonOutOfResources]
	if drops == 0 || sink.delta(MetricNATDroppedSent, natOutOfRes) != drops {
		t.Errorf("drops = %d, sink %d, want equal and > 0", drops, sink.delta(MetricNATDroppedSent, natOutOfRes))
	}
	t.Logf("%d connections, %d timeouts, %d dropped SYNs in %v simulated", ok.Load(), failed.Load(), drops, window)
}

// Endpoints beyond ⌊IPs × ports / block⌋ get no block and lose all egress;
// a detached endpoint's block is released after the delay and goes to the
// first waiting endpoint.
func TestNATAllocationFailure(t *testing.T) {
	natNoLeaks(t)
	n, sink, clock := newTestNAT(t, 1000, NATOptions{MinPortsPerVM: 2048})
	addr := startNATTestServer(t)
	name := func(i int) string { return fmt.Sprintf("ep-%02d", i) }
	for i := 1; i <= 34; i++ {
		n.Attach(name(i))
	}

	st := n.Stats()
	for i := 1; i <= 34; i++ {
		want := 2048
		if i > 31 {
			want = 0
		}
		if got := st.Endpoints[name(i)].Ports; got != want {
			t.Errorf("%s ports = %d, want %d", name(i), got, want)
		}
	}
	if !st.AllocationFailed {
		t.Error("AllocationFailed = false, want true")
	}
	if v, _ := sink.gauge(MetricNATAllocFailed, nil); v != 1 {
		t.Errorf("nat_allocation_failed = %d, want 1", v)
	}
	ip := map[string]string{"nat_ip": "203.0.113.1"}
	if v, _ := sink.gauge(MetricNATAllocatedPorts, ip); v != 31*2048 {
		t.Errorf("allocated_ports{203.0.113.1} = %d, want %d", v, 31*2048)
	}

	// An endpoint without a block has no egress at all.
	if _, err := natDialFor(n, clock, name(32), addr, 10*time.Second); err == nil {
		t.Fatal("dial from an unallocated endpoint succeeded")
	}
	if d := n.Stats().Endpoints[name(32)].Drops; d < 1 || d != sink.delta(MetricNATDroppedSent, natOutOfRes) {
		t.Errorf("unallocated endpoint drops = %d, sink %d, want equal and > 0", d, sink.delta(MetricNATDroppedSent, natOutOfRes))
	}

	// One release serves the first waiting endpoint only.
	n.Detach(name(5))
	if st := n.Stats(); st.Endpoints[name(32)].Ports != 0 || st.Endpoints[name(5)].Ports != 2048 {
		t.Fatal("block moved before the release delay")
	}
	sink.waitFor(t, "the release of ep-05", func() bool { _, ok := n.Stats().Endpoints[name(5)]; return !ok })
	st = n.Stats()
	if st.Endpoints[name(32)].Ports != 2048 || st.Endpoints[name(33)].Ports != 0 || st.Endpoints[name(34)].Ports != 0 {
		t.Errorf("after one release: ep-32/33/34 ports = %d/%d/%d, want 2048/0/0",
			st.Endpoints[name(32)].Ports, st.Endpoints[name(33)].Ports, st.Endpoints[name(34)].Ports)
	}
	if v, _ := sink.gauge(MetricNATAllocFailed, nil); v != 1 {
		t.Errorf("nat_allocation_failed = %d with two endpoints waiting, want 1", v)
	}

	// A waiting endpoint that goes away stops waiting at once.
	n.Detach(name(34))
	n.Detach(name(6))
	sink.waitFor(t, "nat_allocation_failed = 0", func() bool {
		v, _ := sink.gauge(MetricNATAllocFailed, nil)
		return v == 0
	})
	st = n.Stats()
	if st.Endpoints[name(33)].Ports != 2048 || st.AllocationFailed {
		t.Errorf("ep-33 ports = %d, AllocationFailed = %v; want 2048, false", st.Endpoints[name(33)].Ports, st.AllocationFailed)
	}
	if _, ok := st.Endpoints[name(34)]; ok {
		t.Error("detached unallocated ep-34 still known")
	}
	c, err := natDialFor(n, clock, name(32), addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial from ep-32 after it got a block: %v", err)
	}
	_ = c.Close()
}

// Re-attaching an endpoint while its block is held keeps the block.
func TestNATReattachKeepsBlock(t *testing.T) {
	natNoLeaks(t)
	n, _, _ := newTestNAT(t, 1000, NATOptions{MinPortsPerVM: 32768})
	n.Attach("a")
	n.Attach("b") // waits: capacity is 1
	n.Detach("a")
	n.Attach("a")
	st := n.Stats()
	if !st.Endpoints["a"].Attached || st.Endpoints["a"].Ports != 32768 || st.Endpoints["b"].Ports != 0 {
		t.Errorf("after re-attach: %+v", st.Endpoints)
	}
}

// Dynamic allocation doubles a block when it is close to full; SYNs that
// find no port while the doubling is under way are dropped, none after it.
func TestNATDynamicDoubling(t *testing.T) {
	t.Run("burst past the block drops during the doubling", func(t *testing.T) {
		natNoLeaks(t)
		n, sink, clock := newTestNAT(t, 50, NATOptions{Dynamic: true, MaxPortsPerVM: 64})
		addr := startNATTestServer(t)
		n.Attach("ep-1")
		if p := n.Stats().Endpoints["ep-1"].Ports; p != 32 {
			t.Fatalf("initial ports = %d, want 32", p)
		}

		// 40 at once on 32 ports: 8 wait for the doubling (2 s).
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		var mu sync.Mutex
		var conns []net.Conn
		t.Cleanup(func() {
			for _, c := range conns {
				_ = c.Close()
			}
		})
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := natDialFor(n, clock, "ep-1", addr, 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("dial during doubling: %v", err)
		}
		st := n.Stats().Endpoints["ep-1"]
		if st.Ports != 64 {
			t.Errorf("ports after doubling = %d, want 64", st.Ports)
		}
		// 8 dials, each dropped at 0 s and at 1 s; allow a late timer.
		if st.Drops < 8 || st.Drops > 24 {
			t.Errorf("drops during doubling = %d, want 8..24", st.Drops)
		}
		during := st.Drops

		// After the doubling: up to the max without a drop; then the max holds.
		natOpenN(t, n, clock, "ep-1", addr, 24)
		if d := n.Stats().Endpoints["ep-1"].Drops; d != during {
			t.Errorf("drops after the doubling = %d, want none", d-during)
		}
		if _, err := natDialFor(n, clock, "ep-1", addr, 4*time.Second); err == nil {
			t.Error("dial past max ports succeeded")
		}
		st = n.Stats().Endpoints["ep-1"]
		if st.Ports != 64 || st.Doubling {
			t.Errorf("at max: ports %d doubling %v, want 64 false", st.Ports, st.Doubling)
		}
		if got := sink.delta(MetricNATDroppedSent, natOutOfRes); got != st.Drops {
			t.Errorf("dropped_sent_packets_count = %d, want %d", got, st.Drops)
		}
	})

	t.Run("a slow ramp doubles before the block is full", func(t *testing.T) {
		natNoLeaks(t)
		n, sink, clock := newTestNAT(t, 50, NATOptions{Dynamic: true})
		addr := startNATTestServer(t)
		n.Attach("ep-1")
		natOpenN(t, n, clock, "ep-1", addr, 29) // 29 ≥ 90% of 32
		sink.waitFor(t, "the doubling to 64", func() bool { return n.Stats().Endpoints["ep-1"].Ports == 64 })
		natOpenN(t, n, clock, "ep-1", addr, 11)
		if d := n.Stats().Endpoints["ep-1"].Drops; d != 0 {
			t.Errorf("drops = %d, want 0", d)
		}
		ip := map[string]string{"nat_ip": "203.0.113.1"}
		if v, _ := sink.gauge(MetricNATAllocatedPorts, ip); v != 64 {
			t.Errorf("allocated_ports = %d, want 64", v)
		}
	})

	t.Run("no doubling beyond capacity", func(t *testing.T) {
		natNoLeaks(t)
		n, sink, clock := newTestNAT(t, 50, NATOptions{Dynamic: true, PortsPerIP: 64})
		addr := startNATTestServer(t)
		n.Attach("ep-1")
		n.Attach("ep-2")
		n.Attach("ep-3") // waits
		natOpenN(t, n, clock, "ep-1", addr, 32)
		if _, err := natDialFor(n, clock, "ep-1", addr, 4*time.Second); err == nil {
			t.Error("dial past a block that could not double succeeded")
		}
		if p := n.Stats().Endpoints["ep-1"].Ports; p != 32 {
			t.Errorf("ports = %d, want 32", p)
		}
		if v, _ := sink.gauge(MetricNATAllocFailed, nil); v != 1 {
			t.Errorf("nat_allocation_failed = %d, want 1", v)
		}
	})
}

// Without a deadline the kernel gives up after the last retransmission.
func TestNATKernelGivesUp(t *testing.T) {
	natNoLeaks(t)
	n, sink, _ := newTestNAT(t, 1000, NATOptions{MinPortsPerVM: 1})
	addr := startNATTestServer(t)
	n.Attach("ep-1")
	c, err := n.DialContext(context.Background(), "ep-1", "tcp", addr)
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	defer c.Close()

	_, err = n.DialContext(context.Background(), "ep-1", "tcp", addr)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error = %v, want a timeout", err)
	}
	if want := "dial tcp " + addr + ": connect: connection timed out"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := sink.delta(MetricNATDroppedSent, natOutOfRes); got != 7 {
		t.Errorf("dropped SYNs = %d, want 7 (first + 6 retransmissions)", got)
	}
}

func TestNATDialEnds(t *testing.T) {
	setup := func(t *testing.T) (*NAT, string) {
		natNoLeaks(t)
		n, _, clock := newTestNAT(t, 1, NATOptions{MinPortsPerVM: 1})
		addr := startNATTestServer(t)
		n.Attach("ep-1")
		natOpenN(t, n, clock, "ep-1", addr, 1)
		return n, addr
	}
	waitResult := func(t *testing.T, done <-chan error) error {
		t.Helper()
		limit := time.NewTimer(10 * time.Second)
		defer limit.Stop()
		select {
		case err := <-done:
			return err
		case <-limit.C:
			t.Fatal("waiting dial did not return")
			return nil
		}
	}

	t.Run("cancel", func(t *testing.T) {
		n, addr := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := n.DialContext(ctx, "ep-1", "tcp", addr)
			done <- err
		}()
		cancel()
		if err := waitResult(t, done); !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		n, addr := setup(t)
		done := make(chan error, 1)
		go func() {
			_, err := n.DialContext(context.Background(), "ep-1", "tcp", addr)
			done <- err
		}()
		// Real scale 1: the waiting dial sleeps 1 s before its retransmission,
		// so Close must end the wait, not the schedule.
		if err := n.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if err := waitResult(t, done); err == nil {
			t.Error("dial on a closed NAT succeeded")
		}
	})

	t.Run("unattached", func(t *testing.T) {
		n, addr := setup(t)
		if _, err := n.DialContext(context.Background(), "nobody", "tcp", addr); err == nil || !strings.Contains(err.Error(), "not attached") {
			t.Errorf("error = %v, want not attached", err)
		}
		if _, err := n.DialContext(context.Background(), "ep-1", "udp", addr); err == nil {
			t.Error("udp dial succeeded, want an error")
		}
	})
}

// An HTTP client without keep-alive spends one NAT port per request: each
// closed connection leaves a port in TIME_WAIT, and the real server is
// reached.
func TestNATUnderHTTPClient(t *testing.T) {
	natNoLeaks(t)
	n, sink, clock := newTestNAT(t, 100, NATOptions{MinPortsPerVM: 4})
	api, err := StartExternalAPI(context.Background(), 150*time.Millisecond, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	n.Attach("ep-1")
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return n.DialContext(ctx, "ep-1", network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := client.Get(api.URL())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status = %d", resp.StatusCode)
		}
	}
	dest := "tcp " + api.Addr()
	sink.waitFor(t, "3 ports in TIME_WAIT", func() bool {
		return n.Stats().Endpoints["ep-1"].Destinations[dest].TimeWait == 3
	})
	if got := sink.delta(MetricNATNewConns, natTCP); got != 3 {
		t.Errorf("new_connections_count = %d, want 3", got)
	}
	if got := api.Served(); got != 3 {
		t.Errorf("served = %d, want 3", got)
	}
	if v, _ := sink.gauge(MetricNATPortUsage, natTCP); v != 3 {
		t.Errorf("port_usage = %d, want 3 (TIME_WAIT ports are held)", v)
	}
}

// Every gauge exists from the start, so a query sees zeros, not gaps.
func TestNATInitialGauges(t *testing.T) {
	n, sink, _ := newTestNAT(t, 1, NATOptions{IPs: 2})
	for _, s := range []struct {
		metric string
		labels map[string]string
	}{
		{MetricNATAllocFailed, nil},
		{MetricNATOpenConns, natTCP},
		{MetricNATPortUsage, natTCP},
		{MetricNATAllocatedPorts, map[string]string{"nat_ip": "203.0.113.1"}},
		{MetricNATAllocatedPorts, map[string]string{"nat_ip": "203.0.113.2"}},
	} {
		if v, ok := sink.gauge(s.metric, s.labels); !ok || v != 0 {
			t.Errorf("%s = %d, set %v; want 0, set", natSeriesKey(s.metric, s.labels), v, ok)
		}
	}
	names := slices.Collect(maps.Keys(n.Stats().AllocatedPortsByIP))
	sort.Strings(names)
	if !slices.Equal(names, []string{"203.0.113.1", "203.0.113.2"}) {
		t.Errorf("NAT IP labels = %v", names)
	}
}

// BenchmarkNATDial measures a dial and close through the NAT with plenty of
// ports (no keep-alive): the path a churning client takes.
func BenchmarkNATDial(b *testing.B) {
	clk := clock.NewScaled(1000, nil)
	n := NewNAT(NATOptions{IPs: 2, MinPortsPerVM: 65536, Gateway: natTestGateway}, clk, natDiscardSink{})
	defer n.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { // wait for the client's close, as a server does
				defer wg.Done()
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
			}()
		}
	}()
	defer func() { _ = ln.Close(); wg.Wait() }()
	n.Attach("ep-1")
	addr := ln.Addr().String()
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		c, err := n.DialContext(ctx, "ep-1", "tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}

type natDiscardSink struct{}

func (natDiscardSink) AddDelta(string, Resource, map[string]string, int64) {}
func (natDiscardSink) SetGauge(string, Resource, map[string]string, int64) {}
