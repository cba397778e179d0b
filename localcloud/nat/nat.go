package nat

import (
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"

	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Metric types the gateway records, with the real names and labels.
const (
	MetricDroppedSent    = "router.googleapis.com/nat/dropped_sent_packets_count" // DELTA INT64; labels ip_protocol, reason
	MetricAllocFailed    = "router.googleapis.com/nat/nat_allocation_failed"      // GAUGE BOOL
	MetricAllocatedPorts = "router.googleapis.com/nat/allocated_ports"            // GAUGE INT64; label nat_ip
	MetricPortUsage      = "router.googleapis.com/nat/port_usage"                 // GAUGE INT64; label ip_protocol
	MetricNewConns       = "router.googleapis.com/nat/new_connections_count"      // DELTA INT64; label ip_protocol
	MetricOpenConns      = "router.googleapis.com/nat/open_connections"           // GAUGE INT64; label ip_protocol
)

// Drop reasons of MetricDroppedSent.
const (
	ReasonOutOfResources = "OUT_OF_RESOURCES"
	ReasonEIMConflict    = "ENDPOINT_INDEPENDENCE_CONFLICT"
)

// Sink receives the gateway's measurements; the local cloud's recorder,
// bound to the nat_gateway resource, implements it. It is called with the
// gateway's lock held, so it must not call back into the gateway.
type Sink interface {
	// AddDelta adds n to a DELTA metric.
	AddDelta(metricType string, labels map[string]string, n int64)
	// SetGauge sets a GAUGE metric's current value.
	SetGauge(metricType string, labels map[string]string, v int64)
}

// dynamicHighWater is the share of a block in use for one destination at
// which dynamic allocation asks for a doubling ("close to being out of ports").
const dynamicHighWater = 0.9

// Options configures a gateway. Every field is resolved: FromScenario
// builds them from a defaulted and validated scenarios.CloudNAT, the one
// place their defaults live. Durations are simulated.
type Options struct {
	// IPs is the number of NAT IPs.
	IPs int
	// PortsPerIP is the number of TCP ports per NAT IP.
	PortsPerIP int
	// Dynamic selects dynamic port allocation; false is static.
	Dynamic bool
	// MinPortsPerVM is each endpoint's block, rounded up to a power of 2.
	MinPortsPerVM int
	// MaxPortsPerVM caps dynamic growth, rounded up to a power of 2 and at
	// least MinPortsPerVM (static: MinPortsPerVM).
	MaxPortsPerVM int
	// DynamicDoubleDelay is how long a doubling takes; SYNs that find no
	// free port meanwhile are dropped.
	DynamicDoubleDelay time.Duration
	// TCPTimeWait is how long a 5-tuple stays unusable after its connection
	// closes.
	TCPTimeWait time.Duration
	// BlockReleaseDelay is how long a detached endpoint's block is held
	// before it is released.
	BlockReleaseDelay time.Duration
	// SYNSchedule holds the retransmission offsets from the first SYN.
	SYNSchedule []time.Duration
	// SYNGiveUp is when the kernel gives up on a SYN that is never answered
	// and the dial fails with ETIMEDOUT, if the caller's ctx has not ended it
	// first (never before the last retransmission).
	SYNGiveUp time.Duration
}

// FromScenario returns the options of the gateway a localcloud section's
// nat describes; n must be defaulted and validated (scenarios resolves
// every default, see scenarios.LocalCloud.Defaults).
func FromScenario(n scenarios.CloudNAT) Options {
	minPorts, maxPorts := n.PortsPerVM()
	return Options{
		IPs:                n.IPs,
		PortsPerIP:         n.PortsPerIP,
		Dynamic:            n.Dynamic,
		MinPortsPerVM:      minPorts,
		MaxPortsPerVM:      maxPorts,
		DynamicDoubleDelay: n.DynamicDoubleDelay.D(),
		TCPTimeWait:        n.TCPTimeWait.D(),
		BlockReleaseDelay:  n.BlockRelease.D(),
		SYNSchedule:        n.Syn(),
		SYNGiveUp:          n.SYNGiveUp(),
	}
}

// normalized returns o with port counts rounded to powers of 2 and the SYN
// schedule copied and in order. It sets no default.
func (o Options) normalized() Options {
	o.IPs = max(o.IPs, 1)
	o.MinPortsPerVM = ceilPow2(o.MinPortsPerVM)
	o.MaxPortsPerVM = ceilPow2(o.MaxPortsPerVM)
	if !o.Dynamic || o.MaxPortsPerVM < o.MinPortsPerVM {
		o.MaxPortsPerVM = o.MinPortsPerVM
	}
	o.SYNSchedule = append([]time.Duration(nil), o.SYNSchedule...)
	sort.Slice(o.SYNSchedule, func(i, j int) bool { return o.SYNSchedule[i] < o.SYNSchedule[j] })
	if n := len(o.SYNSchedule); n > 0 && o.SYNGiveUp < o.SYNSchedule[n-1] {
		o.SYNGiveUp = o.SYNSchedule[n-1]
	}
	return o
}

// ceilPow2 rounds n up to a power of 2 (n ≥ 1).
func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Stats is a snapshot of a NAT gateway's state.
type Stats struct {
	// Capacity is how many endpoints fit at MinPortsPerVM:
	// ⌊IPs × PortsPerIP / MinPortsPerVM⌋.
	Capacity int
	// AllocatedPorts is the number of ports in blocks, over all NAT IPs.
	AllocatedPorts int
	// AllocatedPortsByIP is AllocatedPorts per NAT IP label.
	AllocatedPortsByIP map[string]int
	// AllocationFailed is true while an attached endpoint has no block.
	AllocationFailed bool
	// OpenConnections counts open connections over all endpoints.
	OpenConnections int
	// NewConnections counts connections that got a NAT port.
	NewConnections int64
	// Drops counts dropped SYNs by reason (OUT_OF_RESOURCES).
	Drops map[string]int64
	// Endpoints holds every endpoint the gateway knows, by name.
	Endpoints map[string]EndpointStats
}

// EndpointStats is one endpoint's state.
type EndpointStats struct {
	// Ports is the endpoint's block size; 0 means it has no block.
	Ports int
	// Attached is false once the endpoint is detached (its block is held
	// until the release delay passes).
	Attached bool
	// Doubling is true while a dynamic doubling is in progress.
	Doubling bool
	// Drops counts this endpoint's dropped SYNs.
	Drops int64
	// NewConnections counts this endpoint's connections that got a port.
	NewConnections int64
	// Destinations holds port use per destination ("tcp 127.0.0.1:8080").
	Destinations map[string]DestinationStats
}

// DestinationStats is one endpoint's port use for one destination 3-tuple.
type DestinationStats struct {
	// Open counts open connections.
	Open int
	// TimeWait counts ports in TIME_WAIT, not reusable for this destination.
	TimeWait int
}

// Gateway is a Cloud NAT gateway. Endpoints (instances) attach to it and get a
// port block; DialContext opens real loopback connections through it under
// the documented rules: per-destination port limits, the TIME_WAIT 5-tuple
// reuse rule, silent SYN drops with the kernel's retransmission schedule,
// allocation failures beyond IP capacity, and dynamic doubling.
//
// Metrics go to the Sink with the real types and labels. A Gateway is safe
// for concurrent use.
type Gateway struct {
	opts  Options
	clock clock.Clock
	sink  Sink
	ipTag []string // nat_ip label per IP

	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	timers    map[uint64]clock.Timer
	nextTimer uint64
	nextSeq   uint64
	endpoints map[string]*endpointState
	ipFree    []int
	open      int
	newConns  int64
	drops     map[string]int64
	// usage counts (endpoint, destination) pairs by ports held (open +
	// TIME_WAIT), for port_usage = the max, kept in O(1) per change.
	usage    map[int]int
	maxUsage int
	gauges   map[string]int64 // last value set per gauge key
}

type endpointState struct {
	name      string
	seq       uint64 // attach order
	attached  bool
	released  bool  // its block was released; it is gone
	ports     int   // block size; 0 = no block
	portions  []int // ports of the block per NAT IP
	doubling  bool
	releaseID uint64 // pending release timer, 0 = none
	drops     int64
	newConns  int64
	dests     map[string]*destUse
}

type destUse struct {
	open     int
	timeWait int
}

func (d *destUse) held() int { return d.open + d.timeWait }

// New returns a gateway with no endpoints; opts must be resolved (see
// FromScenario). Close it to stop its timers.
func New(opts Options, clk clock.Clock, sink Sink) *Gateway {
	opts = opts.normalized()
	n := &Gateway{
		opts:      opts,
		clock:     clk,
		sink:      sink,
		ipTag:     make([]string, opts.IPs),
		done:      make(chan struct{}),
		timers:    make(map[uint64]clock.Timer),
		nextTimer: 1,
		endpoints: make(map[string]*endpointState),
		ipFree:    make([]int, opts.IPs),
		drops:     make(map[string]int64),
		usage:     make(map[int]int),
		gauges:    make(map[string]int64),
	}
	for i := range n.ipFree {
		n.ipFree[i] = opts.PortsPerIP
		n.ipTag[i] = ipLabel(i)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range n.ipTag {
		n.setGaugeLocked(MetricAllocatedPorts, map[string]string{"nat_ip": n.ipTag[i]}, 0, true)
	}
	n.setGaugeLocked(MetricAllocFailed, nil, 0, true)
	n.setGaugeLocked(MetricOpenConns, tcpLabels(), 0, true)
	n.setGaugeLocked(MetricPortUsage, tcpLabels(), 0, true)
	return n
}

// ipLabel names NAT IP i with an address from the documentation ranges
// (RFC 5737). It is a label only and is never dialed.
func ipLabel(i int) string {
	prefixes := []string{"203.0.113.", "198.51.100.", "192.0.2."}
	if i/254 < len(prefixes) {
		return fmt.Sprintf("%s%d", prefixes[i/254], i%254+1)
	}
	return fmt.Sprintf("nat-ip-%d", i+1)
}

func tcpLabels() map[string]string { return map[string]string{"ip_protocol": "TCP"} }

// Options returns the options in effect, defaults applied.
func (n *Gateway) Options() Options {
	o := n.opts
	o.SYNSchedule = append([]time.Duration(nil), o.SYNSchedule...)
	return o
}

// Capacity returns how many endpoints fit at MinPortsPerVM.
func (n *Gateway) Capacity() int {
	return n.opts.IPs * n.opts.PortsPerIP / n.opts.MinPortsPerVM
}

// Attach adds an endpoint (an instance's IP). It gets a block of
// MinPortsPerVM ports, or none while the IPs' capacity is used up; it then
// waits, in attach order, for released blocks. Attaching an endpoint that is
// detached but still holds its block cancels the release; attaching an
// attached endpoint does nothing.
func (n *Gateway) Attach(endpoint string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if e, ok := n.endpoints[endpoint]; ok {
		if !e.attached { // detached, block still held: keep it
			e.attached = true
			n.cancelTimerLocked(e.releaseID)
			e.releaseID = 0
		}
		return
	}
	n.nextSeq++
	e := &endpointState{
		name:     endpoint,
		seq:      n.nextSeq,
		attached: true,
		portions: make([]int, n.opts.IPs),
		dests:    make(map[string]*destUse),
	}
	n.endpoints[endpoint] = e
	if !n.anyWaitingLocked(e) {
		n.allocateLocked(e, n.opts.MinPortsPerVM)
	}
	n.updateAllocFailedLocked()
}

// Detach marks an endpoint gone. Its block is released after
// BlockReleaseDelay, and endpoints waiting for a block get one as capacity
// frees, in attach order. An endpoint without a block is forgotten at once.
// Until the release, the endpoint can still dial (in-flight work on a
// draining instance).
func (n *Gateway) Detach(endpoint string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.endpoints[endpoint]
	if n.closed || !ok || !e.attached {
		return
	}
	e.attached = false
	if e.ports == 0 {
		e.released = true
		delete(n.endpoints, endpoint)
		n.updateAllocFailedLocked()
		return
	}
	e.releaseID = n.afterLocked(n.opts.BlockReleaseDelay, func() {
		e.releaseID = 0
		n.releaseLocked(e)
	})
}

// releaseLocked returns e's block to the IPs and hands free capacity to the
// waiting endpoints.
func (n *Gateway) releaseLocked(e *endpointState) {
	for i, p := range e.portions {
		n.ipFree[i] += p
		e.portions[i] = 0
	}
	e.ports = 0
	e.released = true
	if n.endpoints[e.name] == e {
		delete(n.endpoints, e.name)
	}
	n.assignWaitingLocked()
	n.updateAllocatedLocked()
	n.updateAllocFailedLocked()
}

// freeLocked returns the number of unallocated ports over all IPs.
func (n *Gateway) freeLocked() int {
	free := 0
	for _, f := range n.ipFree {
		free += f
	}
	return free
}

// allocateLocked adds size ports to e's block, first-fit over the IPs (a
// block may span IPs, which is what the capacity formula assumes). It
// reports false, changing nothing, when the IPs cannot hold them.
func (n *Gateway) allocateLocked(e *endpointState, size int) bool {
	if n.freeLocked() < size {
		return false
	}
	left := size
	for i := range n.ipFree {
		take := min(left, n.ipFree[i])
		n.ipFree[i] -= take
		e.portions[i] += take
		left -= take
		if left == 0 {
			break
		}
	}
	e.ports += size
	n.updateAllocatedLocked()
	return true
}

// waitingLocked returns the attached endpoints without a block, in attach
// order.
func (n *Gateway) waitingLocked() []*endpointState {
	var w []*endpointState
	for _, e := range n.endpoints {
		if e.attached && e.ports == 0 {
			w = append(w, e)
		}
	}
	sort.Slice(w, func(i, j int) bool { return w[i].seq < w[j].seq })
	return w
}

// anyWaitingLocked reports whether an endpoint other than except waits for
// a block.
func (n *Gateway) anyWaitingLocked(except *endpointState) bool {
	for _, e := range n.endpoints {
		if e != except && e.attached && e.ports == 0 {
			return true
		}
	}
	return false
}

// assignWaitingLocked gives blocks to waiting endpoints in attach order
// while capacity lasts.
func (n *Gateway) assignWaitingLocked() {
	for _, e := range n.waitingLocked() {
		if !n.allocateLocked(e, n.opts.MinPortsPerVM) {
			return
		}
	}
}

// DialContext connects to addr from endpoint through the gateway. The
// connection needs a free port of the endpoint's block for the destination
// 3-tuple (network, addr). Without one the SYN is dropped silently
// (dropped_sent_packets_count{OUT_OF_RESOURCES}) and sent again on the SYN
// schedule; a port freed meanwhile lets a retransmission through. When ctx
// ends first the error is Go's own dial timeout ("dial tcp ADDR: i/o
// timeout", a net.Error with Timeout true); when the kernel gives up first it
// is "connect: connection timed out". With a port, addr is dialed for real;
// closing the returned connection puts the port in TIME_WAIT for that
// destination.
//
// Only TCP is modelled; addr must be a loopback address the caller may dial.
func (n *Gateway) DialContext(ctx context.Context, endpoint, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("dial %s %s through nat: only tcp is modelled", network, addr)
	}
	dest := "tcp " + addr
	start := n.clock.Now()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, dialError(network, addr, err)
		}
		d, err := n.acquire(endpoint, dest)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return n.dial(ctx, d, network, addr)
		}
		next := n.opts.SYNGiveUp
		if attempt < len(n.opts.SYNSchedule) {
			next = n.opts.SYNSchedule[attempt]
		}
		wait := next - n.clock.Simulated(n.clock.Now().Sub(start))
		if err := n.wait(ctx, wait); err != nil {
			return nil, dialError(network, addr, err)
		}
		if attempt >= len(n.opts.SYNSchedule) {
			return nil, dialError(network, addr, os.NewSyscallError("connect", syscall.ETIMEDOUT))
		}
	}
}

// errClosed ends waits when the gateway is closed.
var errClosed = errors.New("nat gateway closed")

// wait waits a simulated duration, or until ctx is done or the NAT closes.
func (n *Gateway) wait(ctx context.Context, simulated time.Duration) error {
	if simulated <= 0 {
		return nil
	}
	t := n.clock.NewTimer(simulated)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return errClosed
	case <-t.C():
		return nil
	}
}

// acquire sends one SYN: it takes a port for dest or records a drop. It
// returns nil, nil when the SYN was dropped.
func (n *Gateway) acquire(endpoint, dest string) (*destUse, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("dial %s from %q: %w", dest, endpoint, errClosed)
	}
	e, ok := n.endpoints[endpoint]
	if !ok {
		return nil, fmt.Errorf("dial %s through nat: endpoint %q is not attached", dest, endpoint)
	}
	d := e.dests[dest]
	if d == nil {
		d = &destUse{}
		e.dests[dest] = d
	}
	if e.ports == 0 || d.held() >= e.ports {
		e.drops++
		n.drops[ReasonOutOfResources]++
		n.sink.AddDelta(MetricDroppedSent, map[string]string{"ip_protocol": "TCP", "reason": ReasonOutOfResources}, 1)
		if e.ports > 0 {
			n.maybeDoubleLocked(e)
		}
		return nil, nil
	}
	n.changeUsageLocked(d.held(), d.held()+1)
	d.open++
	n.open++
	n.newConns++
	e.newConns++
	n.sink.AddDelta(MetricNewConns, tcpLabels(), 1)
	n.setGaugeLocked(MetricOpenConns, tcpLabels(), int64(n.open), false)
	if float64(d.held()) >= dynamicHighWater*float64(e.ports) {
		n.maybeDoubleLocked(e)
	}
	return d, nil
}

// maybeDoubleLocked starts a doubling of e's block if the gateway is dynamic,
// e is below its max and no doubling is under way. It completes after
// DynamicDoubleDelay, if capacity allows then. (While an endpoint waits for
// a first block, less than MinPortsPerVM is free, so a doubling never takes
// a waiting endpoint's ports.)
func (n *Gateway) maybeDoubleLocked(e *endpointState) {
	if !n.opts.Dynamic || e.doubling || e.released || e.ports == 0 || e.ports >= n.opts.MaxPortsPerVM {
		return
	}
	e.doubling = true
	n.afterLocked(n.opts.DynamicDoubleDelay, func() {
		e.doubling = false
		if e.released || e.ports == 0 || e.ports >= n.opts.MaxPortsPerVM {
			return
		}
		n.allocateLocked(e, e.ports)
	})
}

// dial opens the real connection for a port taken by acquire.
func (n *Gateway) dial(ctx context.Context, d *destUse, network, addr string) (net.Conn, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, network, addr)
	if err != nil {
		n.mu.Lock()
		n.changeUsageLocked(d.held(), d.held()-1)
		d.open--
		n.open--
		n.setGaugeLocked(MetricOpenConns, tcpLabels(), int64(n.open), false)
		n.mu.Unlock()
		return nil, err
	}
	return &gatewayConn{Conn: c, nat: n, dest: d}, nil
}

// closeConn moves a closed connection's port to TIME_WAIT for its
// destination, and frees it after TCPTimeWait.
func (n *Gateway) closeConn(d *destUse) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d.open--
	n.open--
	n.setGaugeLocked(MetricOpenConns, tcpLabels(), int64(n.open), false)
	if n.closed {
		n.changeUsageLocked(d.held()+1, d.held())
		return
	}
	d.timeWait++
	n.afterLocked(n.opts.TCPTimeWait, func() {
		n.changeUsageLocked(d.held(), d.held()-1)
		d.timeWait--
	})
}

// changeUsageLocked moves one (endpoint, destination) pair from ports held
// from to to, and updates port_usage.
func (n *Gateway) changeUsageLocked(from, to int) {
	if from == to {
		return
	}
	if from > 0 {
		n.usage[from]--
		if n.usage[from] == 0 {
			delete(n.usage, from)
		}
	}
	if to > 0 {
		n.usage[to]++
	}
	switch {
	case to > n.maxUsage:
		n.maxUsage = to
	case from == n.maxUsage && n.usage[from] == 0:
		// Values move by one: the pair that left the max is the new max.
		n.maxUsage = to
	}
	n.setGaugeLocked(MetricPortUsage, tcpLabels(), int64(n.maxUsage), false)
}

func (n *Gateway) updateAllocatedLocked() {
	for i, tag := range n.ipTag {
		// Forced: allocation changes are rare, and a sample per change lets
		// readers see a block move even when the total is unchanged.
		n.setGaugeLocked(MetricAllocatedPorts, map[string]string{"nat_ip": tag},
			int64(n.opts.PortsPerIP-n.ipFree[i]), true)
	}
}

func (n *Gateway) updateAllocFailedLocked() {
	var v int64
	if n.anyWaitingLocked(nil) {
		v = 1
	}
	n.setGaugeLocked(MetricAllocFailed, nil, v, false)
}

// setGaugeLocked sets a gauge on the gateway resource, skipping unchanged
// values unless force.
func (n *Gateway) setGaugeLocked(metric string, labels map[string]string, v int64, force bool) {
	key := metric
	if ip, ok := labels["nat_ip"]; ok {
		key += " " + ip
	}
	if last, ok := n.gauges[key]; ok && last == v && !force {
		return
	}
	n.gauges[key] = v
	n.sink.SetGauge(metric, labels, v)
}

// afterLocked runs f with n.mu held after a simulated duration, unless the
// NAT is closed first. It returns an id for cancelTimerLocked.
func (n *Gateway) afterLocked(simulated time.Duration, f func()) uint64 {
	id := n.nextTimer
	n.nextTimer++
	n.wg.Add(1)
	n.timers[id] = n.clock.AfterFunc(simulated, func() {
		defer n.wg.Done()
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.closed {
			return
		}
		delete(n.timers, id)
		f()
	})
	return id
}

// cancelTimerLocked stops a pending timer from afterLocked.
func (n *Gateway) cancelTimerLocked(id uint64) {
	if t, ok := n.timers[id]; ok {
		delete(n.timers, id)
		if t.Stop() {
			n.wg.Done()
		}
	}
}

// Stats returns a snapshot of the gateway's state.
func (n *Gateway) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Stats{
		Capacity:           n.Capacity(),
		AllocatedPortsByIP: make(map[string]int, len(n.ipTag)),
		AllocationFailed:   n.anyWaitingLocked(nil),
		OpenConnections:    n.open,
		NewConnections:     n.newConns,
		Drops:              make(map[string]int64, len(n.drops)),
		Endpoints:          make(map[string]EndpointStats, len(n.endpoints)),
	}
	for i, tag := range n.ipTag {
		used := n.opts.PortsPerIP - n.ipFree[i]
		s.AllocatedPortsByIP[tag] = used
		s.AllocatedPorts += used
	}
	for r, c := range n.drops {
		s.Drops[r] = c
	}
	for name, e := range n.endpoints {
		es := EndpointStats{
			Ports:          e.ports,
			Attached:       e.attached,
			Doubling:       e.doubling,
			Drops:          e.drops,
			NewConnections: e.newConns,
			Destinations:   make(map[string]DestinationStats, len(e.dests)),
		}
		for k, d := range e.dests {
			if d.held() > 0 {
				es.Destinations[k] = DestinationStats{Open: d.open, TimeWait: d.timeWait}
			}
		}
		s.Endpoints[name] = es
	}
	return s
}

// Close stops the gateway's timers and ends waiting dials with an error. It
// waits for running timer callbacks, so no goroutine of the NAT is left.
// Connections already open stay open; closing them later frees their ports
// without TIME_WAIT.
func (n *Gateway) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.done)
	for id, t := range n.timers {
		delete(n.timers, id)
		if t.Stop() {
			n.wg.Done()
		}
	}
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}

// gatewayConn is a connection through the NAT; Close starts its port's TIME_WAIT.
type gatewayConn struct {
	net.Conn
	nat  *Gateway
	dest *destUse
	once sync.Once
}

// Close closes the real socket with SO_LINGER 0, so the machine running the
// local cloud keeps no TIME_WAIT sockets under churn (the NAT models
// TIME_WAIT itself), and puts the NAT port in TIME_WAIT.
func (c *gatewayConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		err = c.Conn.Close()
		c.nat.closeConn(c.dest)
	})
	return err
}

// dialAddr is a net.Addr for a destination as the caller wrote it.
type dialAddr struct{ network, addr string }

func (a dialAddr) Network() string { return a.network }
func (a dialAddr) String() string  { return a.addr }

// dialError builds the error Go's dialer returns for the same cause:
// "dial tcp ADDR: i/o timeout" for a ctx deadline, "operation was canceled"
// for a cancelled ctx, the cause itself otherwise.
func dialError(network, addr string, cause error) error {
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		cause = timeoutError{}
	case errors.Is(cause, context.Canceled):
		cause = canceledError{}
	}
	return &net.OpError{Op: "dial", Net: network, Addr: dialAddr{network, addr}, Err: cause}
}

// timeoutError reads like Go's net timeout ("i/o timeout") and matches
// context.DeadlineExceeded and os.ErrDeadlineExceeded with errors.Is.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
func (timeoutError) Is(target error) bool {
	return target == context.DeadlineExceeded || target == os.ErrDeadlineExceeded
}

// canceledError reads like Go's "operation was canceled" and matches
// context.Canceled.
type canceledError struct{}

func (canceledError) Error() string        { return "operation was canceled" }
func (canceledError) Is(target error) bool { return target == context.Canceled }
