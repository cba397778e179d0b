package nat

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
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

// Options returns the options in effect (normalized).
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
