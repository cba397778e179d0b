package nat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
	"go.uber.org/goleak"
)

// noLeaks fails the test if it leaves goroutines behind. It runs after every
// other cleanup (cleanups run last-registered first).
func noLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// sinkCall is one call the fake sink received.
type sinkCall struct {
	gauge  bool
	metric string
	labels map[string]string
	v      int64
}

// fakeSink records every call, keeps delta sums and current gauge values,
// and wakes waiters on every call.
type fakeSink struct {
	mu      sync.Mutex
	calls   []sinkCall
	deltas  map[string]int64
	gauges  map[string]int64
	changed chan struct{}
}

func newFakeSink() *fakeSink {
	return &fakeSink{deltas: map[string]int64{}, gauges: map[string]int64{}, changed: make(chan struct{}, 1)}
}

func seriesKey(metric string, labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteString(metric)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%s", k, labels[k])
	}
	return b.String()
}

func (s *fakeSink) record(c sinkCall) {
	s.mu.Lock()
	s.calls = append(s.calls, sinkCall{c.gauge, c.metric, maps.Clone(c.labels), c.v})
	if c.gauge {
		s.gauges[seriesKey(c.metric, c.labels)] = c.v
	} else {
		s.deltas[seriesKey(c.metric, c.labels)] += c.v
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *fakeSink) AddDelta(metric string, labels map[string]string, n int64) {
	s.record(sinkCall{false, metric, labels, n})
}

func (s *fakeSink) SetGauge(metric string, labels map[string]string, v int64) {
	s.record(sinkCall{true, metric, labels, v})
}

func (s *fakeSink) delta(metric string, labels map[string]string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deltas[seriesKey(metric, labels)]
}

func (s *fakeSink) gauge(metric string, labels map[string]string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.gauges[seriesKey(metric, labels)]
	return v, ok
}

func (s *fakeSink) snapshot() []sinkCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// waitFor re-checks cond after every sink call until it holds (for work
// that finishes in another goroutine, such as a transport closing its
// connection), failing the test after a generous wall-clock limit.
func (s *fakeSink) waitFor(t *testing.T, what string, cond func() bool) {
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
	tcpOnly        = map[string]string{"ip_protocol": "TCP"}
	outOfResources = map[string]string{"ip_protocol": "TCP", "reason": ReasonOutOfResources}
)

// checkSinkCalls asserts every call used a real NAT metric with its kind,
// and exactly the metric's labels.
func checkSinkCalls(t *testing.T, calls []sinkCall) {
	t.Helper()
	want := map[string]struct {
		gauge  bool
		labels []string
	}{
		MetricDroppedSent:    {false, []string{"ip_protocol", "reason"}},
		MetricNewConns:       {false, []string{"ip_protocol"}},
		MetricOpenConns:      {true, []string{"ip_protocol"}},
		MetricPortUsage:      {true, []string{"ip_protocol"}},
		MetricAllocatedPorts: {true, []string{"nat_ip"}},
		MetricAllocFailed:    {true, nil},
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
		if got := slices.Sorted(maps.Keys(c.labels)); !slices.Equal(got, w.labels) {
			t.Errorf("%s labels %v, want keys %v", c.metric, c.labels, w.labels)
		}
		if p, ok := c.labels["ip_protocol"]; ok && p != "TCP" {
			t.Errorf("%s ip_protocol %q, want TCP", c.metric, p)
		}
		if r, ok := c.labels["reason"]; ok && r != ReasonOutOfResources {
			t.Errorf("%s reason %q, want %s", c.metric, r, ReasonOutOfResources)
		}
		if c.metric == MetricAllocFailed && c.v != 0 && c.v != 1 {
			t.Errorf("%s = %d, want 0 or 1", c.metric, c.v)
		}
	}
}

// epoch is where every test's fake clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// resolved returns the options of a defaulted scenario NAT section after
// edit: the gateway takes its defaults from scenarios, like the local cloud.
func resolved(edit func(*scenarios.CloudNAT)) Options {
	var lc scenarios.LocalCloud
	lc.Defaults()
	n := lc.NAT
	if edit != nil {
		edit(&n)
	}
	return FromScenario(n)
}

// newTestGateway returns a gateway on a fake clock at scale 1 (wall time is
// simulated time) with a fake sink; the gateway is closed and the sink's
// calls are checked at cleanup.
func newTestGateway(t *testing.T, edit func(*scenarios.CloudNAT)) (*Gateway, *fakeSink, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(epoch, 1)
	sink := newFakeSink()
	n := New(resolved(edit), fake, sink)
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close nat: %v", err)
		}
		checkSinkCalls(t, sink.snapshot())
	})
	return n, sink, fake
}

// startTestServer starts a loopback server that reads and discards until the
// client closes. It is stopped at cleanup.
func startTestServer(t *testing.T) string {
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

// dialResult is how a dial through the gateway ended.
type dialResult struct {
	conn net.Conn
	err  error
}

// startDial dials from endpoint to addr in its own goroutine, with a connect
// timeout on the fake clock (0: none, the kernel gives up). The timeout's
// timer is gone before the result is sent.
func startDial(n *Gateway, f *clock.Fake, endpoint, addr string, timeout time.Duration) <-chan dialResult {
	done := make(chan dialResult, 1)
	go func() {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if timeout > 0 {
			ctx, cancel = f.WithTimeout(ctx, timeout)
		}
		c, err := n.DialContext(ctx, endpoint, "tcp", addr)
		cancel()
		done <- dialResult{c, err}
	}()
	return done
}

// waitDial returns the result of a dial that needs no more fake time.
func waitDial(t *testing.T, done <-chan dialResult) dialResult {
	t.Helper()
	limit := time.NewTimer(20 * time.Second)
	defer limit.Stop()
	select {
	case r := <-done:
		return r
	case <-limit.C:
		t.Fatal("dial did not return")
		return dialResult{}
	}
}

// dial dials like startDial and drives the fake clock from one SYN of the
// schedule to the next, each time once the dial has parked for it, and to
// the connect timeout, until the dial returns. Nothing else may move the
// clock meanwhile; timers of the gateway that fall due on the way fire in
// order.
func dial(t *testing.T, n *Gateway, f *clock.Fake, endpoint, addr string, timeout time.Duration) dialResult {
	t.Helper()
	start := f.Now()
	done := startDial(n, f, endpoint, addr, timeout)
	o := n.Options()
	for _, off := range append(o.SYNSchedule, o.SYNGiveUp) {
		select {
		case r := <-done:
			return r
		case <-f.WhenDue(start.Add(off)): // parked until this SYN
		}
		if timeout > 0 && off >= timeout {
			f.Advance(start.Add(timeout).Sub(f.Now()))
			return waitDial(t, done)
		}
		f.Advance(start.Add(off).Sub(f.Now()))
	}
	return waitDial(t, done)
}

// openN opens count connections from endpoint to addr that need no wait,
// failing on any error; they are closed at cleanup.
func openN(t *testing.T, n *Gateway, f *clock.Fake, endpoint, addr string, count int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, count)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := range count {
		r := waitDial(t, startDial(n, f, endpoint, addr, 10*time.Second))
		if r.err != nil {
			t.Fatalf("dial %d of %d to %s: %v", i+1, count, addr, r.err)
		}
		conns = append(conns, r.conn)
	}
	return conns
}

func TestCapacity(t *testing.T) {
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
			n, _, _ := newTestGateway(t, func(o *scenarios.CloudNAT) {
				o.IPs, o.MinPortsPerVM, o.Dynamic = tt.ips, tt.ports, tt.dynamic
			})
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
// destination; the 65th SYN is dropped at 0, 1, 3 and 7 s, and the dial
// ends at its 10 s connect timeout.
func TestPerDestinationLimit(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, nil)
	addr := startTestServer(t)
	n.Attach("ep-1")

	openN(t, n, f, "ep-1", addr, 64)

	err := dial(t, n, f, "ep-1", addr, 10*time.Second).err
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
	if ep.Drops != 4 {
		t.Errorf("drops = %d, want 4 (SYN at 0, 1, 3, 7 s)", ep.Drops)
	}
	if got := sink.delta(MetricDroppedSent, outOfResources); got != 4 || st.Drops[ReasonOutOfResources] != 4 {
		t.Errorf("dropped_sent_packets_count = %d, stats total %d, want 4", got, st.Drops[ReasonOutOfResources])
	}
	if d := ep.Destinations["tcp "+addr]; d.Open != 64 || d.TimeWait != 0 {
		t.Errorf("destination use = %+v, want 64 open", d)
	}
	if v, _ := sink.gauge(MetricPortUsage, tcpOnly); v != 64 {
		t.Errorf("port_usage = %d, want 64", v)
	}
	if v, _ := sink.gauge(MetricOpenConns, tcpOnly); v != 64 {
		t.Errorf("open_connections = %d, want 64", v)
	}
	if got := sink.delta(MetricNewConns, tcpOnly); got != 64 {
		t.Errorf("new_connections_count = %d, want 64", got)
	}
}

// Ports are reserved per destination 3-tuple: the same block serves 64
// connections to A and 64 to B at once.
func TestDestinationsAreIndependent(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, nil)
	a, b := startTestServer(t), startTestServer(t)
	n.Attach("ep-1")
	n.Attach("ep-2")

	var wg sync.WaitGroup
	for _, addr := range []string{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			openN(t, n, f, "ep-1", addr, 64)
		}()
	}
	wg.Wait()
	openN(t, n, f, "ep-2", a, 64) // another endpoint has its own block

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
	if v, _ := sink.gauge(MetricPortUsage, tcpOnly); v != 64 {
		t.Errorf("port_usage = %d, want 64 (max over endpoints and destinations)", v)
	}
	if r := dial(t, n, f, "ep-1", a, 2*time.Second); r.err == nil {
		t.Error("65th dial to A succeeded, want it dropped")
	}
	if d := n.Stats().Endpoints["ep-1"].Drops; d != 2 {
		t.Errorf("drops of the 65th dial = %d, want 2 (SYN at 0 and 1 s, timeout at 2 s)", d)
	}
}

// A closed connection's port stays in TIME_WAIT for its destination; a dial
// waiting for it succeeds on the first SYN retransmission after it frees,
// and every SYN before that is counted as a drop.
func TestRetransmissionAfterTimeWait(t *testing.T) {
	tests := []struct {
		timeWait    time.Duration
		wantDrops   int64
		wantLatency time.Duration // the retransmission that gets through
		description string
	}{
		{2 * time.Second, 2, 3 * time.Second, "SYNs at 0 and 1 s dropped, the one at 3 s passes"},
		{20 * time.Second, 5, 31 * time.Second, "SYNs at 0..15 s dropped, the one at 31 s passes"},
	}
	for _, tt := range tests {
		t.Run(tt.timeWait.String(), func(t *testing.T) {
			noLeaks(t)
			n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) {
				o.MinPortsPerVM, o.TCPTimeWait = 2, scenarios.Duration(tt.timeWait)
			})
			addr := startTestServer(t)
			n.Attach("ep-1")
			for _, c := range openN(t, n, f, "ep-1", addr, 2) {
				if err := c.Close(); err != nil {
					t.Fatalf("close: %v", err)
				}
			}
			if d := n.Stats().Endpoints["ep-1"].Destinations["tcp "+addr]; d.TimeWait != 2 || d.Open != 0 {
				t.Fatalf("after close: %+v, want 2 in TIME_WAIT", d)
			}

			start := f.Now()
			r := dial(t, n, f, "ep-1", addr, 100*time.Second)
			if r.err != nil {
				t.Fatalf("dial: %v (%s)", r.err, tt.description)
			}
			defer r.conn.Close()
			if latency := f.Now().Sub(start); latency != tt.wantLatency {
				t.Errorf("connect latency %v, want %v: %s", latency, tt.wantLatency, tt.description)
			}
			drops := n.Stats().Endpoints["ep-1"].Drops
			if drops != tt.wantDrops {
				t.Errorf("drops = %d, want %d: %s", drops, tt.wantDrops, tt.description)
			}
			if got := sink.delta(MetricDroppedSent, outOfResources); got != drops {
				t.Errorf("dropped_sent_packets_count = %d, want %d", got, drops)
			}
		})
	}
}

// The sustained rate of new connections from one endpoint to one
// destination is ports / TIME_WAIT: 64 / 120 s. A client that dials again
// as soon as a dial ends, with a 10 s connect timeout, gets 64 connections
// at 0, 120, 240, 360 and 480 s; in between, twelve dials per TIME_WAIT
// time out after SYNs at 0, 1, 3 and 7 s each.
func TestSustainedNewConnectionRate(t *testing.T) {
	noLeaks(t)
	const window = 600 * time.Second
	n, sink, f := newTestGateway(t, nil)
	addr := startTestServer(t)
	n.Attach("ep-1")

	var ok, failed int64
	for f.Now().Sub(epoch) < window {
		r := dial(t, n, f, "ep-1", addr, 10*time.Second)
		if r.err != nil {
			failed++
			continue
		}
		ok++
		_ = r.conn.Close()
	}
	if ok != 5*64 || failed != 5*12 {
		t.Errorf("%d connections and %d timeouts in %v, want %d and %d (rate 64/120 s)", ok, failed, window, 5*64, 5*12)
	}
	drops := n.Stats().Drops[ReasonOutOfResources]
	if drops != 4*failed || sink.delta(MetricDroppedSent, outOfResources) != drops {
		t.Errorf("drops = %d, sink %d, want %d (4 per timed-out dial)", drops, sink.delta(MetricDroppedSent, outOfResources), 4*failed)
	}
}

// Endpoints beyond ⌊IPs × ports / block⌋ get no block and lose all egress;
// a detached endpoint's block is released after the delay and goes to the
// first waiting endpoint.
func TestAllocationFailure(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.MinPortsPerVM = 2048 })
	release := n.Options().BlockReleaseDelay
	addr := startTestServer(t)
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
	if v, _ := sink.gauge(MetricAllocFailed, nil); v != 1 {
		t.Errorf("nat_allocation_failed = %d, want 1", v)
	}
	ip := map[string]string{"nat_ip": "203.0.113.1"}
	if v, _ := sink.gauge(MetricAllocatedPorts, ip); v != 31*2048 {
		t.Errorf("allocated_ports{203.0.113.1} = %d, want %d", v, 31*2048)
	}

	// An endpoint without a block has no egress at all.
	if r := dial(t, n, f, name(32), addr, 10*time.Second); r.err == nil {
		t.Fatal("dial from an unallocated endpoint succeeded")
	}
	if d := n.Stats().Endpoints[name(32)].Drops; d != 4 || d != sink.delta(MetricDroppedSent, outOfResources) {
		t.Errorf("unallocated endpoint drops = %d, sink %d, want 4", d, sink.delta(MetricDroppedSent, outOfResources))
	}

	// One release serves the first waiting endpoint only.
	n.Detach(name(5))
	f.Advance(release - time.Nanosecond)
	if st := n.Stats(); st.Endpoints[name(32)].Ports != 0 || st.Endpoints[name(5)].Ports != 2048 {
		t.Fatal("block moved before the release delay")
	}
	f.Advance(time.Nanosecond)
	st = n.Stats()
	if _, ok := st.Endpoints[name(5)]; ok {
		t.Error("ep-05 still known after the release delay")
	}
	if st.Endpoints[name(32)].Ports != 2048 || st.Endpoints[name(33)].Ports != 0 || st.Endpoints[name(34)].Ports != 0 {
		t.Errorf("after one release: ep-32/33/34 ports = %d/%d/%d, want 2048/0/0",
			st.Endpoints[name(32)].Ports, st.Endpoints[name(33)].Ports, st.Endpoints[name(34)].Ports)
	}
	if v, _ := sink.gauge(MetricAllocFailed, nil); v != 1 {
		t.Errorf("nat_allocation_failed = %d with two endpoints waiting, want 1", v)
	}

	// A waiting endpoint that goes away stops waiting at once.
	n.Detach(name(34))
	n.Detach(name(6))
	f.Advance(release)
	if v, _ := sink.gauge(MetricAllocFailed, nil); v != 0 {
		t.Errorf("nat_allocation_failed = %d after the second release, want 0", v)
	}
	st = n.Stats()
	if st.Endpoints[name(33)].Ports != 2048 || st.AllocationFailed {
		t.Errorf("ep-33 ports = %d, AllocationFailed = %v; want 2048, false", st.Endpoints[name(33)].Ports, st.AllocationFailed)
	}
	if _, ok := st.Endpoints[name(34)]; ok {
		t.Error("detached unallocated ep-34 still known")
	}
	r := waitDial(t, startDial(n, f, name(32), addr, 10*time.Second))
	if r.err != nil {
		t.Fatalf("dial from ep-32 after it got a block: %v", r.err)
	}
	_ = r.conn.Close()
}

// Re-attaching an endpoint while its block is held keeps the block.
func TestReattachKeepsBlock(t *testing.T) {
	noLeaks(t)
	n, _, _ := newTestGateway(t, func(o *scenarios.CloudNAT) { o.MinPortsPerVM = 32768 })
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
func TestDynamicDoubling(t *testing.T) {
	t.Run("burst past the block drops during the doubling", testDoublingBurst)
	t.Run("a slow ramp doubles before the block is full", testDoublingRamp)
	t.Run("no doubling beyond capacity", testNoDoublingBeyondCapacity)
}

// 40 dials at once on 32 ports: the 29th starts a doubling (2 s); the 8
// that find no port are dropped at 0 and 1 s and pass at 3 s.
func testDoublingBurst(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.Dynamic, o.MaxPortsPerVM = true, 64 })
	addr := startTestServer(t)
	n.Attach("ep-1")
	if p := n.Stats().Endpoints["ep-1"].Ports; p != 32 {
		t.Fatalf("initial ports = %d, want 32", p)
	}
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	results := make(chan dialResult, 40)
	for range 40 {
		go func() { results <- <-startDial(n, f, "ep-1", addr, 10*time.Second) }()
	}
	collect := func(k int) {
		for range k {
			r := <-results
			if r.err != nil {
				t.Fatalf("dial during doubling: %v", r.err)
			}
			conns = append(conns, r.conn)
		}
	}
	collect(32)
	// Parked: the doubling's timer, and each of the 8 dials' timeout and SYN.
	<-f.WhenWaiters(1 + 8 + 8)
	f.Advance(time.Second) // the 8 are dropped again and wait for 3 s
	<-f.WhenWaiters(1 + 8 + 8)
	f.Advance(time.Second) // the doubling completes
	if st := n.Stats().Endpoints["ep-1"]; st.Ports != 64 || st.Drops != 16 {
		t.Errorf("at 2 s: ports %d, drops %d; want 64, 16", st.Ports, st.Drops)
	}
	f.Advance(time.Second)
	collect(8)

	// After the doubling: up to the max without a drop; then the max holds.
	openN(t, n, f, "ep-1", addr, 24)
	if d := n.Stats().Endpoints["ep-1"].Drops; d != 16 {
		t.Errorf("drops after the doubling = %d, want none", d-16)
	}
	if r := dial(t, n, f, "ep-1", addr, 4*time.Second); r.err == nil {
		t.Error("dial past max ports succeeded")
	}
	st := n.Stats().Endpoints["ep-1"]
	if st.Ports != 64 || st.Doubling || st.Drops != 16+3 {
		t.Errorf("at max: ports %d doubling %v drops %d, want 64 false 19 (SYNs at 0, 1, 3 s)", st.Ports, st.Doubling, st.Drops)
	}
	if got := sink.delta(MetricDroppedSent, outOfResources); got != st.Drops {
		t.Errorf("dropped_sent_packets_count = %d, want %d", got, st.Drops)
	}
}

func testDoublingRamp(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.Dynamic = true })
	addr := startTestServer(t)
	n.Attach("ep-1")
	openN(t, n, f, "ep-1", addr, 29) // 29 ≥ 90% of 32
	if st := n.Stats().Endpoints["ep-1"]; !st.Doubling || st.Ports != 32 {
		t.Fatalf("after 29: doubling %v ports %d, want true 32", st.Doubling, st.Ports)
	}
	f.Advance(n.Options().DynamicDoubleDelay)
	if p := n.Stats().Endpoints["ep-1"].Ports; p != 64 {
		t.Fatalf("ports after the doubling delay = %d, want 64", p)
	}
	openN(t, n, f, "ep-1", addr, 11)
	if d := n.Stats().Endpoints["ep-1"].Drops; d != 0 {
		t.Errorf("drops = %d, want 0", d)
	}
	ip := map[string]string{"nat_ip": "203.0.113.1"}
	if v, _ := sink.gauge(MetricAllocatedPorts, ip); v != 64 {
		t.Errorf("allocated_ports = %d, want 64", v)
	}
}

func testNoDoublingBeyondCapacity(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.Dynamic, o.PortsPerIP = true, 64 })
	addr := startTestServer(t)
	n.Attach("ep-1")
	n.Attach("ep-2")
	n.Attach("ep-3") // waits
	openN(t, n, f, "ep-1", addr, 32)
	if r := dial(t, n, f, "ep-1", addr, 4*time.Second); r.err == nil {
		t.Error("dial past a block that could not double succeeded")
	}
	if st := n.Stats().Endpoints["ep-1"]; st.Ports != 32 || st.Drops != 3 {
		t.Errorf("ports = %d, drops %d; want 32, 3", st.Ports, st.Drops)
	}
	if v, _ := sink.gauge(MetricAllocFailed, nil); v != 1 {
		t.Errorf("nat_allocation_failed = %d, want 1", v)
	}
}

// Without a deadline the kernel gives up after the last retransmission.
func TestKernelGivesUp(t *testing.T) {
	noLeaks(t)
	n, sink, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.MinPortsPerVM = 1 })
	addr := startTestServer(t)
	n.Attach("ep-1")
	openN(t, n, f, "ep-1", addr, 1)

	start := f.Now()
	err := dial(t, n, f, "ep-1", addr, 0).err
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error = %v, want a timeout", err)
	}
	if want := "dial tcp " + addr + ": connect: connection timed out"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if got := sink.delta(MetricDroppedSent, outOfResources); got != 7 {
		t.Errorf("dropped SYNs = %d, want 7 (first + 6 retransmissions)", got)
	}
	if took := f.Now().Sub(start); took != 127*time.Second {
		t.Errorf("gave up after %v, want 127s", took)
	}
}

func TestDialEnds(t *testing.T) {
	setup := func(t *testing.T) (*Gateway, *clock.Fake, string) {
		noLeaks(t)
		n, _, f := newTestGateway(t, func(o *scenarios.CloudNAT) { o.MinPortsPerVM = 1 })
		addr := startTestServer(t)
		n.Attach("ep-1")
		openN(t, n, f, "ep-1", addr, 1)
		return n, f, addr
	}

	t.Run("cancel", func(t *testing.T) {
		n, _, addr := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan dialResult, 1)
		go func() {
			c, err := n.DialContext(ctx, "ep-1", "tcp", addr)
			done <- dialResult{c, err}
		}()
		cancel()
		if r := waitDial(t, done); !errors.Is(r.err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", r.err)
		}
	})

	t.Run("close", func(t *testing.T) {
		n, f, addr := setup(t)
		done := startDial(n, f, "ep-1", addr, 0)
		<-f.WhenDue(epoch.Add(time.Second)) // waiting for its first retransmission
		if err := n.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		if r := waitDial(t, done); r.err == nil {
			t.Error("dial on a closed NAT succeeded")
		}
	})

	t.Run("unattached", func(t *testing.T) {
		n, _, addr := setup(t)
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
func TestUnderHTTPClient(t *testing.T) {
	noLeaks(t)
	n, sink, _ := newTestGateway(t, func(o *scenarios.CloudNAT) { o.MinPortsPerVM = 4 })
	var served atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)
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
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status = %d", resp.StatusCode)
		}
	}
	dest := "tcp " + api.Listener.Addr().String()
	sink.waitFor(t, "3 ports in TIME_WAIT", func() bool {
		return n.Stats().Endpoints["ep-1"].Destinations[dest].TimeWait == 3
	})
	if got := sink.delta(MetricNewConns, tcpOnly); got != 3 {
		t.Errorf("new_connections_count = %d, want 3", got)
	}
	if got := served.Load(); got != 3 {
		t.Errorf("served = %d, want 3", got)
	}
	if v, _ := sink.gauge(MetricPortUsage, tcpOnly); v != 3 {
		t.Errorf("port_usage = %d, want 3 (TIME_WAIT ports are held)", v)
	}
}

// Every gauge exists from the start, so a query sees zeros, not gaps.
func TestInitialGauges(t *testing.T) {
	n, sink, _ := newTestGateway(t, func(o *scenarios.CloudNAT) { o.IPs = 2 })
	for _, s := range []struct {
		metric string
		labels map[string]string
	}{
		{MetricAllocFailed, nil},
		{MetricOpenConns, tcpOnly},
		{MetricPortUsage, tcpOnly},
		{MetricAllocatedPorts, map[string]string{"nat_ip": "203.0.113.1"}},
		{MetricAllocatedPorts, map[string]string{"nat_ip": "203.0.113.2"}},
	} {
		if v, ok := sink.gauge(s.metric, s.labels); !ok || v != 0 {
			t.Errorf("%s = %d, set %v; want 0, set", seriesKey(s.metric, s.labels), v, ok)
		}
	}
	names := slices.Collect(maps.Keys(n.Stats().AllocatedPortsByIP))
	sort.Strings(names)
	if !slices.Equal(names, []string{"203.0.113.1", "203.0.113.2"}) {
		t.Errorf("NAT IP labels = %v", names)
	}
}

// BenchmarkDial measures a dial and close through the NAT with plenty of
// ports (no keep-alive): the path a churning client takes.
func BenchmarkDial(b *testing.B) {
	n := New(resolved(func(o *scenarios.CloudNAT) { o.IPs, o.MinPortsPerVM = 2, 65536 }), clock.NewScaled(1000, nil), discardSink{})
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

type discardSink struct{}

func (discardSink) AddDelta(string, map[string]string, int64) {}
func (discardSink) SetGauge(string, map[string]string, int64) {}
