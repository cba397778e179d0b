package alb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
)

// Why a forwarded request ended early (the cause of its context).
var (
	errIdleTimeout    = errors.New("target did not answer within the idle timeout")
	errConnectTimeout = errors.New("connect to target timed out")
	errDeregistered   = errors.New("target deregistered")
)

// serveHTTP is the front end: it picks a target and forwards the request.
func (lb *LoadBalancer) serveHTTP(w http.ResponseWriter, req *http.Request) {
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	lb.active.Add(1)
	lb.mu.Unlock()
	defer lb.active.Done()
	lb.count(mRequestCount, lb.lbDims())
	t := lb.pick()
	if t == nil {
		lb.answer(w, http.StatusServiceUnavailable)
		return
	}
	lb.count(mRequestCount, lb.tgDims())
	lb.forward(w, req, t)
}

// pick returns the next target round robin over the healthy ones, or over
// every initial and unhealthy one when none is healthy (ALB fails open);
// nil when only draining targets, or none, are registered.
func (lb *LoadBalancer) pick() *target {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var healthy, other []*target
	for _, t := range lb.targets {
		switch t.state {
		case StateHealthy:
			healthy = append(healthy, t)
		case StateInitial, StateUnhealthy:
			other = append(other, t)
		}
	}
	if len(healthy) == 0 {
		healthy = other
	}
	if len(healthy) == 0 {
		return nil
	}
	lb.next++
	return healthy[lb.next%len(healthy)]
}

// forward proxies req to t and relays the answer, or answers 502/504 when
// the target fails it.
func (lb *LoadBalancer) forward(w http.ResponseWriter, req *http.Request, t *target) {
	ctx, cancel := context.WithCancelCause(req.Context())
	defer cancel(nil)
	stopGone := context.AfterFunc(t.gone, func() { cancel(context.Cause(t.gone)) })
	defer stopGone()
	idleTimeout := lb.cfg.LB.IdleTimeout.D()
	idle := lb.clk.AfterFunc(idleTimeout, func() { cancel(errIdleTimeout) })
	defer idle.Stop()

	out := lb.outbound(ctx, req, t.addr)
	sent := lb.clk.Now()
	resp, err := lb.proxy.RoundTrip(out)
	if err != nil {
		lb.failed(w, req, ctx, err)
		return
	}
	defer resp.Body.Close()
	idle.Reset(idleTimeout)
	lb.countTarget(resp.StatusCode, lb.clk.Simulated(lb.clk.Now().Sub(sent)))
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	removeHopHeaders(h)
	w.WriteHeader(resp.StatusCode)
	lb.relayBody(w, resp.Body, func() { idle.Reset(idleTimeout) })
}

// relayBody copies the target's body to the client, flushing as it comes;
// each read restarts the idle timer. A body cut short aborts the client's
// connection, as the status is already sent.
func (lb *LoadBalancer) relayBody(w http.ResponseWriter, body io.Reader, active func()) {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			active()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

// failed answers a request the target did not answer.
func (lb *LoadBalancer) failed(w http.ResponseWriter, req *http.Request, ctx context.Context, err error) {
	cause := context.Cause(ctx)
	switch {
	case req.Context().Err() != nil:
		// The client left (ALB logs 460); nothing to answer.
	case errors.Is(cause, errIdleTimeout), errors.Is(err, errConnectTimeout):
		lb.answer(w, http.StatusGatewayTimeout)
	default:
		// Reset, closed or refused connection, or the deregistration
		// delay ended.
		lb.logf("alb %s: target failed: %v (%v)", lb.cfg.Name, err, cause)
		lb.answer(w, http.StatusBadGateway)
	}
}

// outbound builds the request to the target at addr, with ALB's headers.
func (lb *LoadBalancer) outbound(ctx context.Context, req *http.Request, addr string) *http.Request {
	out := req.Clone(ctx)
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", addr
	out.Host = req.Host
	if req.ContentLength == 0 {
		out.Body = nil
	}
	removeHopHeaders(out.Header)
	if out.Header.Get("X-Amzn-Trace-Id") == "" {
		out.Header.Set("X-Amzn-Trace-Id", lb.traceID())
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		if prior := out.Header.Get("X-Forwarded-For"); prior != "" {
			ip = prior + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Header.Set("X-Forwarded-Proto", "http")
	out.Header.Set("X-Forwarded-Port", lb.port())
	return out
}

// traceID returns a new X-Amzn-Trace-Id: Root=1-<epoch seconds>-<96 bits>.
func (lb *LoadBalancer) traceID() string {
	return fmt.Sprintf("Root=1-%08x-%08x%016x", lb.clk.Now().Unix(), rand.Uint32(), rand.Uint64())
}

// hopHeaders are the hop-by-hop headers a proxy does not forward.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopHeaders(h http.Header) {
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// statusTitles are the titles of ALB's own error pages.
var statusTitles = map[int]string{
	http.StatusBadGateway:         "502 Bad Gateway",
	http.StatusServiceUnavailable: "503 Service Temporarily Unavailable",
	http.StatusGatewayTimeout:     "504 Gateway Time-out",
}

// ErrorPage returns the HTML body of ALB's own answer with status code.
func ErrorPage(code int) string {
	title := statusTitles[code]
	if title == "" {
		title = strconv.Itoa(code) + " " + http.StatusText(code)
	}
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" +
		title + "</h1></center>\r\n</body>\r\n</html>\r\n"
}

// answer writes the balancer's own answer and counts it.
func (lb *LoadBalancer) answer(w http.ResponseWriter, code int) {
	lb.countELB(code)
	body := ErrorPage(code)
	h := w.Header()
	clear(h)
	h.Set("Server", "awselb/2.0")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
