package localcloud

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// appClient is an instance's outbound HTTP client, modelled on Node's
// fetch (undici) rather than Go's http.Transport: a request that needs a
// new connection dials it itself and waits for that connect (up to the
// connect timeout) even if another pooled connection frees up meanwhile.
// Go's Transport would hand the request the freed connection and hide the
// stuck SYN; undici does not, which is why a cold pool behind an
// exhausted NAT shows "fetch failed".
//
// With keep-alive, connections are pooled per destination (and route) and
// closed after the keep-alive timeout idle; without, each call opens and
// closes its own. It is safe for concurrent use.
type appClient struct {
	in *instance

	mu     sync.Mutex
	closed bool
	idle   map[string][]*pconn // per callTarget.key, most recently used last
}

// pconn is one HTTP/1.1 connection of the pool.
type pconn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func newAppClient(in *instance) *appClient {
	return &appClient{in: in, idle: map[string][]*pconn{}}
}

// dialStats counts the app's connects per route and destination, for
// tests and diagnostics. It is safe for concurrent use.
type dialStats struct {
	mu sync.Mutex
	m  map[string]dialCount // by callTarget.key ("nat ADDR" or "ADDR")
}

type dialCount struct{ dials, failed int64 }

func (d *dialStats) add(t *callTarget, failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]dialCount{}
	}
	c := d.m[t.key]
	c.dials++
	if failed {
		c.failed++
	}
	d.m[t.key] = c
}

func (d *dialStats) snapshot() map[string]dialCount {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]dialCount, len(d.m))
	for k, v := range d.m {
		out[k] = v
	}
	return out
}

// connectError is a failed connect; timeout is true when the connect
// timeout ran out (Node's ConnectTimeoutError).
type connectError struct {
	addr    string
	timeout bool
	err     error
}

func (e *connectError) Error() string {
	if e.timeout {
		return fmt.Sprintf("connect to %s: connect timeout", e.addr)
	}
	return fmt.Sprintf("connect to %s: %v", e.addr, e.err)
}

func (e *connectError) Unwrap() error { return e.err }

// do makes one call: GET t.path on t.addr. It returns the status and body,
// or an error when the call failed (connect, reset, timeout).
func (a *appClient) do(ctx context.Context, t *callTarget, depth int) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		var pc *pconn
		if t.keepalive {
			pc = a.getIdle(t.key)
		}
		reused := pc != nil
		if pc == nil {
			var err error
			if pc, err = a.dial(ctx, t); err != nil {
				return 0, nil, err
			}
		}
		status, body, keep, err := pc.roundTrip(ctx, t, depth)
		if err != nil {
			pc.conn.Close()
			// A pooled connection the server closed meanwhile: try once
			// more on a new one, as undici does for idempotent requests.
			if reused && attempt == 0 && ctx.Err() == nil && isStaleConn(err) {
				continue
			}
			return 0, nil, fmt.Errorf("call %s: %w", t.to, err)
		}
		if t.keepalive && keep {
			a.putIdle(t.key, pc)
		} else {
			pc.conn.Close()
		}
		return status, body, nil
	}
}

// dial opens a connection for t within the app's connect timeout: first
// waiting for the instance's VPC egress when t enters the VPC, then through
// the NAT gateway or directly.
func (a *appClient) dial(ctx context.Context, t *callTarget) (*pconn, error) {
	in := a.in
	clock := in.c.clock
	dctx, cancel := clock.WithTimeout(ctx, in.r.s.cfg.App.ConnectTimeout.D())
	defer cancel()
	var conn net.Conn
	err := func() error {
		if t.vpc {
			if err := in.waitEgress(dctx); err != nil {
				return err
			}
		}
		var err error
		if t.nat {
			conn, err = in.c.nat.DialContext(dctx, in.endpoint, "tcp", t.addr)
		} else {
			var d net.Dialer
			conn, err = d.DialContext(dctx, "tcp", t.addr)
			if err == nil {
				conn = lingerConn{conn}
			}
		}
		return err
	}()
	in.c.dials.add(t, err != nil)
	if err != nil {
		timedOut := dctx.Err() != nil && ctx.Err() == nil
		return nil, &connectError{addr: t.addr, timeout: timedOut, err: err}
	}
	return &pconn{conn: conn, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 1024)}, nil
}

// waitEgress holds a connect until the instance's VPC egress is programmed:
// until then SYNs vanish, and the kernel's retransmission that follows
// gets through. Nothing is counted by the NAT.
func (in *instance) waitEgress(ctx context.Context) error {
	clock := in.c.clock
	now := clock.Now()
	if !now.Before(in.egressReadyAt) {
		return nil
	}
	for _, off := range in.c.nat.Options().SYNSchedule {
		at := now.Add(clock.Wall(off))
		if !at.Before(in.egressReadyAt) {
			return clock.Sleep(ctx, off)
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// aLongTimeAgo is a deadline in the past, to unblock a read at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes one request and reads its response. keep reports
// whether the connection can be reused.
func (pc *pconn) roundTrip(ctx context.Context, t *callTarget, depth int) (status int, body []byte, keep bool, err error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			// ctx ended meanwhile and the deadline may be in the past: the
			// connection must not go back to the pool.
			keep = false
		}
	}()
	bw := pc.bw
	bw.WriteString("GET ")
	bw.WriteString(t.path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(t.addr)
	bw.WriteString("\r\nUser-Agent: node\r\nAccept: */*\r\n" + headerDepth + ": ")
	bw.WriteString(strconv.Itoa(depth))
	bw.WriteString("\r\n")
	if t.self {
		bw.WriteString(headerSelf + ": 1\r\n")
	}
	if !t.keepalive {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(pc.br, nil)
	if err != nil {
		return 0, nil, false, err
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode, body, !resp.Close, nil
}

func (a *appClient) getIdle(key string) *pconn {
	timeout := a.in.c.clock.Wall(a.in.r.s.cfg.App.KeepAliveTimeout.D())
	now := a.in.c.clock.Now()
	var expired []*pconn
	defer func() {
		for _, pc := range expired { // the sweeper was about to close them
			pc.conn.Close()
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		list := a.idle[key]
		if len(list) == 0 {
			return nil
		}
		pc := list[len(list)-1]
		list[len(list)-1] = nil
		a.idle[key] = list[:len(list)-1]
		if now.Sub(pc.idleAt) < timeout {
			return pc
		}
		expired = append(expired, pc)
	}
}

func (a *appClient) putIdle(key string, pc *pconn) {
	pc.idleAt = a.in.c.clock.Now()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		pc.conn.Close()
		return
	}
	a.idle[key] = append(a.idle[key], pc)
	a.mu.Unlock()
}

// sweep closes connections idle longer than the keep-alive timeout.
func (a *appClient) sweep(now time.Time) {
	timeout := a.in.c.clock.Wall(a.in.r.s.cfg.App.KeepAliveTimeout.D())
	var expired []*pconn
	a.mu.Lock()
	for key, list := range a.idle {
		keep := list[:0]
		for _, pc := range list {
			if now.Sub(pc.idleAt) >= timeout {
				expired = append(expired, pc)
			} else {
				keep = append(keep, pc)
			}
		}
		clear(list[len(keep):])
		a.idle[key] = keep
	}
	a.mu.Unlock()
	for _, pc := range expired {
		pc.conn.Close()
	}
}

// closeAll closes every pooled connection; later ones are closed as they
// come back.
func (a *appClient) closeAll() {
	a.mu.Lock()
	a.closed = true
	idle := a.idle
	a.idle = map[string][]*pconn{}
	a.mu.Unlock()
	for _, list := range idle {
		for _, pc := range list {
			pc.conn.Close()
		}
	}
}

// lingerConn closes with SO_LINGER 0, so that connection churn leaves no
// TIME_WAIT sockets on the machine running the local cloud.
type lingerConn struct{ net.Conn }

func (c lingerConn) Close() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return c.Conn.Close()
}

// isStaleConn reports whether err is what a pooled connection closed by
// the server gives on reuse.
func isStaleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) ||
		errors.Is(err, syscall.EPIPE)
}

func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

func isRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
