package localcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/scenarios"
)

// Headers the local cloud's app model uses between its own servers.
const (
	headerRevision = "X-Revision"
	headerInstance = "X-Instance"
	// headerSelf marks a self-call: the callee runs the app model without
	// its self calls (the caching-proxy leg of the seed incident).
	headerSelf = "X-Cutover-Self"
	// headerDepth counts hops, to stop call loops between services.
	headerDepth = "X-Cutover-Depth"
	maxDepth    = 8
)

// instance is one container instance: a real HTTP server on 127.0.0.1
// running the service's application model, with its own NAT endpoint and
// connection pools. Fields marked "r.mu" are guarded by its revision's mu.
type instance struct {
	r          *revision
	c          *Cloud
	id         string
	createTime time.Time
	// endpoint is the NAT endpoint ("" when the egress never uses NAT).
	endpoint      string
	egressReadyAt time.Time
	client        *appClient
	// warm is set on the first revision's first instances, which stand for
	// instances that have run for a long time: their egress works at once.
	warm bool

	drainCh     chan struct{} // closed when the instance is retired (SIGTERM)
	drainedCh   chan struct{} // closed when a draining instance has nothing in flight
	drainedOnce sync.Once

	// r.mu
	state           string
	inflight        int
	idleSince       time.Time
	readyTime       time.Time
	servedSinceTick bool
	reason          string
	addr            string

	// calls are resolved when the instance starts listening.
	calls []callTarget

	mu       sync.Mutex
	closing  bool
	sessions int            // login sessions opened here (SessionState)
	active   sync.WaitGroup // running handlers
}

func newInstance(r *revision, id string) *instance {
	in := &instance{
		r:          r,
		c:          r.c,
		id:         id,
		createTime: r.c.clock.Now(),
		state:      InstanceStarting,
		drainCh:    make(chan struct{}),
		drainedCh:  make(chan struct{}),
	}
	if r.tmpl.Egress == EgressAllTraffic {
		in.endpoint = id
	}
	in.client = newAppClient(in)
	return in
}

// startInstance registers in and runs its lifecycle in a goroutine; it
// reports false when the cloud is closing.
func (c *Cloud) startInstance(in *instance) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.instances[in.id] = in
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		in.run(c.ctx)
	}()
	return true
}

func (in *instance) stateLocked() InstanceState {
	return InstanceState{
		ID:          in.id,
		Addr:        in.addr,
		State:       in.state,
		InFlight:    in.inflight,
		CreateTime:  in.createTime,
		ReadyTime:   in.readyTime,
		NATEndpoint: in.endpoint,
		Reason:      in.reason,
	}
}

// run is the instance's lifecycle: scale-out delay, cold start (or an image
// pull that fails), an optional egress startup probe, serving, and on
// retirement a drain of at most the shutdown grace.
func (in *instance) run(ctx context.Context) {
	c, cfg := in.c, &in.r.s.cfg
	defer c.removeInstance(in)
	defer in.r.instanceStopped(in)
	if err := c.clock.Sleep(ctx, cfg.ScaleOutDelay.D()); err != nil {
		return
	}
	// The instance gets its IP, so its NAT block, as it is created.
	if in.endpoint != "" {
		c.nat.Attach(in.endpoint)
		defer c.nat.Detach(in.endpoint)
	}
	in.egressReadyAt = c.clock.Now()
	if !in.warm {
		in.egressReadyAt = in.egressReadyAt.Add(c.clock.Wall(cfg.EgressReadyDelay.D()))
	}
	if err := c.clock.Sleep(ctx, cfg.ColdStart.D()); err != nil {
		return
	}
	if in.r.unpullable {
		msg := fmt.Sprintf("Image '%s' not found.", in.r.tmpl.Image)
		c.logf("instance %s: failed to start: %s", in.id, msg)
		in.r.instanceFailed(in, ReasonContainerMissing, msg)
		return
	}
	if cfg.StartupProbeEgress {
		// The startup probe fails until egress works.
		if wait := in.egressReadyAt.Sub(c.clock.Now()); wait > 0 {
			if err := c.clock.Sleep(ctx, c.clock.Simulated(wait)); err != nil {
				return
			}
		}
	}
	in.serve(ctx)
}

// serve runs the instance's HTTP server until ctx ends or, once it is
// draining, its requests finish or the shutdown grace passes; then it
// kills it (listener, connections, handlers).
func (in *instance) serve(ctx context.Context) {
	c, cfg := in.c, &in.r.s.cfg
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		c.logf("instance %s: listen: %v", in.id, err)
		in.r.instanceFailed(in, "CONTAINER_FAILED", fmt.Sprintf("listen: %v", err))
		return
	}
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{
		Handler:           in,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ictx },
	}
	in.calls = in.resolveCalls(ln.Addr().String())
	in.r.mu.Lock()
	in.addr = ln.Addr().String()
	in.r.mu.Unlock()
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		_ = srv.Serve(ln)
	}()
	in.r.instanceReady(in)

	select {
	case <-ctx.Done():
	case <-in.drainCh:
		grace := c.clock.NewTimer(cfg.ShutdownGrace.D())
		select {
		case <-in.drainedCh:
		case <-grace.C():
			c.logf("instance %s: killed after the shutdown grace with requests in flight", in.id)
		case <-ctx.Done():
		}
		grace.Stop()
	}
	// SIGKILL: close the listener and every connection, end handlers.
	in.mu.Lock()
	in.closing = true
	in.mu.Unlock()
	cancel()
	_ = srv.Close()
	<-serveDone
	in.active.Wait()
	in.client.closeAll()
}

// callTarget is one resolved call of the app model.
type callTarget struct {
	to        string // as configured, for messages
	key       string // connection pool key
	addr      string // host:port to dial
	path      string
	count     int
	keepalive bool
	self      bool // a call to the same service
	proxy     bool // made only on a self-call
	nat       bool // through the NAT gateway
	vpc       bool // enters the VPC, so waits for egress to be programmed
}

// resolveCalls maps the configured calls to addresses and routes: with
// all-traffic egress every public destination goes through NAT; with
// private-ranges-only none does. A private-IP database enters the VPC
// either way; loopback never leaves the instance.
func (in *instance) resolveCalls(ownAddr string) []callTarget {
	c := in.c
	allTraffic := in.r.tmpl.Egress == EgressAllTraffic
	var out []callTarget
	for _, call := range in.r.s.cfg.App.Calls {
		t := callTarget{to: call.To, path: call.Path, count: call.Count, keepalive: call.KeepAlive,
			proxy: call.Proxy, nat: allTraffic, vpc: allTraffic}
		via := call.Via
		if via == "" {
			via = scenarios.ViaPublicURL
		}
		switch {
		case call.To == scenarios.CallExternalAPI:
			t.addr = c.ext.Addr()
		case call.To == scenarios.CallSelf:
			t.self = true
			t.addr = in.r.s.fe.addr()
			if via == scenarios.ViaLoopback {
				t.addr, t.nat, t.vpc = ownAddr, false, false
			}
		case call.To == scenarios.CallDatabase:
			t.addr = c.db.publicAddr()
			if via == scenarios.ViaPrivateIP {
				t.addr, t.nat, t.vpc = c.db.privateAddr(), false, true
			}
		case strings.HasPrefix(call.To, scenarios.CallServicePrefix):
			name := strings.TrimPrefix(call.To, scenarios.CallServicePrefix)
			s, err := c.service(name)
			if err != nil {
				continue // validated at start; only a closing cloud gets here
			}
			t.addr = s.fe.addr()
		}
		t.key = t.addr
		if t.nat {
			t.key = "nat " + t.addr
		}
		out = append(out, t)
	}
	return out
}

// ServeHTTP runs the application model for one request: the calls (on a
// self-call, the proxy calls and the others but self), in order or at once,
// then the server time, then 200. A failed call answers 502 with
// Node's "fetch failed"; an upstream error status is passed on as
// "Upstream returned N. body=…", except on a self-call, whose proxy leg
// relays the upstream's status and body unchanged.
func (in *instance) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	in.mu.Lock()
	if in.closing {
		in.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	in.active.Add(1)
	in.mu.Unlock()
	defer in.active.Done()

	h := w.Header()
	h.Set(headerRevision, in.r.name)
	h.Set(headerInstance, in.id)
	ctx := req.Context()
	depth, _ := strconv.Atoi(req.Header.Get(headerDepth))
	if depth > maxDepth {
		writeJSON(w, http.StatusLoopDetected, map[string]any{"message": "call loop: more than 8 hops"})
		return
	}
	isSelfCall := req.Header.Get(headerSelf) == "1"
	if in.r.s.cfg.App.SessionState && !isSelfCall && !in.session(w, req) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "session not found: log in again"})
		return
	}
	var todo []*callTarget
	for i := range in.calls {
		t := &in.calls[i]
		if isSelfCall && t.self || !isSelfCall && t.proxy {
			continue
		}
		todo = append(todo, t)
	}
	var failed *callResult
	if in.r.s.cfg.App.Parallel {
		failed = in.callParallel(ctx, todo, depth+1)
	} else {
		for _, t := range todo {
			if res := in.callN(ctx, t, depth+1); res.failed() {
				failed = &res
				break
			}
		}
	}
	if failed != nil {
		switch {
		case ctx.Err() != nil:
			panic(http.ErrAbortHandler) // the front end gave up, or the instance was killed
		case failed.err != nil:
			writeJSON(w, http.StatusBadGateway, fetchFailedBody(failed.err, in.r.s.cfg.App.ConnectTimeout.D()))
		case isSelfCall:
			// The proxy leg relays the upstream's answer as it is.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(failed.body)))
			w.WriteHeader(failed.status)
			_, _ = w.Write(failed.body)
		default:
			msg := fmt.Sprintf("Upstream returned %d. body=%s", failed.status, bytes.TrimRight(failed.body, "\r\n"))
			writeJSON(w, failed.status, map[string]any{"message": msg})
		}
		return
	}
	if err := in.c.clock.Sleep(ctx, in.r.s.cfg.App.ServerTime.D()); err != nil {
		panic(http.ErrAbortHandler) // no response at all, as from a killed container
	}
	writeJSON(w, http.StatusOK, map[string]any{"revision": in.r.name, "instance": in.id})
}

// sessionCookie is the app's own login-session cookie (SessionState).
const sessionCookie = "SID"

// session checks the request's login session, which lives in this
// instance's memory: a request without one opens one here; a request with
// one this instance opened is fine; one another instance opened is
// unknown here, so the client gets a new session and false.
func (in *instance) session(w http.ResponseWriter, req *http.Request) bool {
	c, err := req.Cookie(sessionCookie)
	if err == nil && strings.HasPrefix(c.Value, in.id+".") {
		return true
	}
	in.mu.Lock()
	in.sessions++
	n := in.sessions
	in.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: fmt.Sprintf("%s.%d", in.id, n), Path: "/", HttpOnly: true})
	return err != nil
}

// callResult is the outcome of one call.
type callResult struct {
	status int
	body   []byte
	err    error
}

// failed reports whether the call failed or answered an error status.
func (r callResult) failed() bool { return r.err != nil || r.status >= 400 }

// callN makes a call t.count times in a row, stopping at the first failure.
func (in *instance) callN(ctx context.Context, t *callTarget, depth int) callResult {
	var res callResult
	for range t.count {
		res.status, res.body, res.err = in.client.do(ctx, t, depth)
		if res.failed() {
			break
		}
	}
	return res
}

// callParallel runs every call at once (each its count times in a row) and
// returns the first to fail, after all have finished: Promise.all rejects
// with the first rejection.
func (in *instance) callParallel(ctx context.Context, todo []*callTarget, depth int) *callResult {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed *callResult
	)
	for _, t := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := in.callN(ctx, t, depth); res.failed() {
				mu.Lock()
				if failed == nil {
					failed = &res
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// writeJSON writes v as JSON, without escaping HTML characters.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fetchFailedBody describes a failed call the way Node's fetch (undici)
// reports it: TypeError "fetch failed" with the cause.
func fetchFailedBody(err error, connectTimeout time.Duration) map[string]any {
	var ce *connectError
	cause := map[string]any{"name": "SocketError", "code": "UND_ERR_SOCKET", "message": "other side closed"}
	switch {
	case errors.As(err, &ce) && ce.timeout:
		cause = map[string]any{"name": "ConnectTimeoutError", "code": "UND_ERR_CONNECT_TIMEOUT",
			"message": fmt.Sprintf("Connect Timeout Error (attempted address: %s, timeout: %dms)",
				ce.addr, connectTimeout.Milliseconds())}
	case errors.As(err, &ce):
		code := "ECONNREFUSED"
		if !isRefused(ce.err) {
			code = "ECONNRESET"
		}
		cause = map[string]any{"name": "Error", "code": code, "message": fmt.Sprintf("connect %s %s", code, ce.addr)}
	case isReset(err):
		cause = map[string]any{"name": "Error", "code": "ECONNRESET", "message": "read ECONNRESET"}
	default:
		cause["message"] = "other side closed: " + err.Error()
	}
	return map[string]any{"message": "fetch failed", "name": "TypeError", "cause": cause}
}
