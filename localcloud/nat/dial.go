package nat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

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
