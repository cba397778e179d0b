package localcloud

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Front-end response bodies; the texts are Cloud Run's where it has one.
const (
	// UpstreamTimeoutBody is the 504 body when a request outlasts the
	// request timeout.
	UpstreamTimeoutBody = `{"code":504,"message":"upstream request timeout"}`
	bodyNoInstance      = "The request was aborted because there was no available instance.\n"
	bodyNoReady         = "The request failed because the service has no ready instance.\n"
	bodyInstanceError   = "The request failed because either the HTTP response was malformed or connection to the instance had an error.\n"
)

// Session affinity cookie.
const (
	// AffinityCookie is the session-affinity cookie's name (observed on
	// Cloud Run, not documented).
	AffinityCookie = "GAESA"
	affinityTTL    = 30 * 24 * time.Hour
)

// frontEnd is a service's load balancer on one URL: the main one, or a
// tag's (each tag gets its own listener, so a tag URL is a plain
// http://127.0.0.1:PORT). It routes by the traffic split or the tag,
// honours the affinity cookie, queues for instance slots and maps upstream
// failures to Cloud Run's responses. It counts request_count per revision
// for the requests that reached an instance.
type frontEnd struct {
	s   *service
	tag string
	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	closing bool
	active  sync.WaitGroup
	done    chan struct{} // closed when Serve returned
}

func newFrontEnd(ctx context.Context, s *service, tag string) (*frontEnd, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fe := &frontEnd{s: s, tag: tag, ln: ln, done: make(chan struct{})}
	base := s.c.ctx
	fe.srv = &http.Server{
		Handler:           fe,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	s.c.goBackground(func() {
		defer close(fe.done)
		_ = fe.srv.Serve(ln)
	})
	return fe, nil
}

func (fe *frontEnd) addr() string { return fe.ln.Addr().String() }
func (fe *frontEnd) url() string  { return "http://" + fe.addr() }

// stop closes the listener and every connection; handlers still running
// end with their requests' contexts.
func (fe *frontEnd) stop() {
	fe.mu.Lock()
	if fe.closing {
		fe.mu.Unlock()
		return
	}
	fe.closing = true
	fe.mu.Unlock()
	_ = fe.srv.Close()
}

// close stops the front end and waits for its handlers.
func (fe *frontEnd) close() {
	fe.stop()
	<-fe.done
	fe.active.Wait()
}

// ServeHTTP routes one request.
func (fe *frontEnd) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	fe.mu.Lock()
	if fe.closing {
		fe.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	fe.active.Add(1)
	fe.mu.Unlock()
	defer fe.active.Done()

	ctx := req.Context()
	rt := fe.s.routes.Load()
	var (
		rev *revision
		in  *instance
	)
	// Session affinity takes precedence over the split, best effort: the
	// pinned instance must still be ready, serve this URL and have a free
	// slot.
	if ck, err := req.Cookie(AffinityCookie); err == nil {
		if p := fe.s.c.lookupInstance(decodeAffinity(ck.Value)); p != nil && p.r.s == fe.s &&
			p.r.tmpl.SessionAffinity && rt.serves(fe.tag, p.r) && p.r.tryAcquire(p) {
			rev, in = p.r, p
		}
	}
	if in == nil {
		rev = rt.pick(fe.tag)
		if rev == nil {
			if fe.tag != "" && rt.tags[fe.tag] == nil {
				http.Error(w, "tag not found\n", http.StatusNotFound)
				return
			}
			writeText(w, http.StatusServiceUnavailable, bodyNoReady)
			return
		}
		var err error
		in, err = rev.acquire(ctx)
		if err != nil {
			w.Header().Set(headerRevision, rev.name)
			switch {
			case ctx.Err() != nil:
			case errors.Is(err, errAtMaxInstances):
				writeText(w, http.StatusTooManyRequests, bodyNoInstance)
			case errors.Is(err, errNotAbsorbed):
				writeText(w, http.StatusInternalServerError, bodyNoInstance)
			default:
				writeText(w, http.StatusServiceUnavailable, bodyNoReady)
			}
			return
		}
		if rev.tmpl.SessionAffinity {
			http.SetCookie(w, &http.Cookie{
				Name:    AffinityCookie,
				Value:   encodeAffinity(in.id),
				Path:    "/",
				Expires: fe.s.c.clock.Now().Add(affinityTTL),
			})
		}
	}
	defer rev.release(in)
	fe.forward(w, req, rev, in)
}

// forward proxies req to the instance within the request timeout.
func (fe *frontEnd) forward(w http.ResponseWriter, req *http.Request, rev *revision, in *instance) {
	c := fe.s.c
	ctx, cancel := c.clock.WithTimeout(req.Context(), rev.tmpl.RequestTimeout)
	defer cancel()
	// in.addr was set before the instance turned ready, which acquire
	// observed under the revision's lock.
	out, err := http.NewRequestWithContext(ctx, req.Method, "http://"+in.addr+req.URL.RequestURI(), req.Body)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error()+"\n")
		return
	}
	out.Header = req.Header.Clone()
	removeHopHeaders(out.Header)
	out.Host = req.Host
	out.ContentLength = req.ContentLength
	if req.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := c.feTransport.RoundTrip(out)
	if err != nil {
		switch {
		case req.Context().Err() != nil:
			// The client left; nothing to answer.
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			fe.count(rev, http.StatusGatewayTimeout)
			w.Header().Set(headerRevision, rev.name)
			w.Header().Set(headerInstance, in.id)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(UpstreamTimeoutBody)))
			w.WriteHeader(http.StatusGatewayTimeout)
			_, _ = io.WriteString(w, UpstreamTimeoutBody)
		default:
			fe.count(rev, http.StatusServiceUnavailable)
			w.Header().Set(headerRevision, rev.name)
			w.Header().Set(headerInstance, in.id)
			writeText(w, http.StatusServiceUnavailable, bodyInstanceError)
		}
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for k, vs := range resp.Header {
		if k == "Set-Cookie" {
			// The front end's own cookie (GAESA) and the app's both go out.
			h[k] = append(h[k], vs...)
			continue
		}
		h[k] = vs
	}
	removeHopHeaders(h)
	fe.count(rev, resp.StatusCode)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// count adds one to run.googleapis.com/request_count of rev.
func (fe *frontEnd) count(rev *revision, code int) {
	cls := strconv.Itoa(code/100) + "xx"
	fe.s.c.rec.AddDelta(MetricRunRequestCount, rev.res,
		map[string]string{"response_code": strconv.Itoa(code), "response_code_class": cls}, 1)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
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

func encodeAffinity(instanceID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(instanceID))
}

func decodeAffinity(v string) string {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	return string(b)
}
