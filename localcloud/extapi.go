package localcloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// ExternalAPI is the third-party API the application calls: a real HTTP
// server on a loopback port that answers every request after a simulated
// latency with 200 and a small JSON body. Its one address is the single
// destination 3-tuple that makes the NAT's per-destination limit bite.
// It is safe for concurrent use.
type ExternalAPI struct {
	srv     *http.Server
	ln      net.Listener
	cancel  context.CancelFunc // ends handlers' waits on Close
	served  atomic.Int64
	serving sync.WaitGroup // the Serve goroutine
	mu      sync.Mutex
	closing bool           // set by Close; handlers starting later return
	active  sync.WaitGroup // running handlers

	closeOnce sync.Once
	closeErr  error
}

// StartExternalAPI listens on 127.0.0.1:0 and serves until Close. ctx bounds
// the listen; latency is simulated and waited for on clock.
func StartExternalAPI(ctx context.Context, latency time.Duration, clock clock.Clock) (*ExternalAPI, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for external api: %w", err)
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &ExternalAPI{ln: ln, cancel: cancel}
	a.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, latency, clock) }),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	a.serving.Add(1)
	go func() {
		defer a.serving.Done()
		_ = a.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return a, nil
}

func (a *ExternalAPI) serve(w http.ResponseWriter, r *http.Request, latency time.Duration, clock clock.Clock) {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return
	}
	a.active.Add(1)
	a.mu.Unlock()
	defer a.active.Done()
	if err := clock.Sleep(r.Context(), latency); err != nil {
		return // client gone or server closing
	}
	n := a.served.Add(1)
	body := `{"ok":true,"request":` + strconv.FormatInt(n, 10) + "}\n"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

// Addr returns the listen address, "127.0.0.1:PORT".
func (a *ExternalAPI) Addr() string { return a.ln.Addr().String() }

// URL returns the base URL, "http://127.0.0.1:PORT".
func (a *ExternalAPI) URL() string { return "http://" + a.Addr() }

// Served returns how many requests were answered with 200.
func (a *ExternalAPI) Served() int64 { return a.served.Load() }

// Close stops the server: it closes the listener and every connection, ends
// waiting handlers, and returns once they and the serve loop have finished.
func (a *ExternalAPI) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.closing = true
		a.mu.Unlock()
		a.cancel()
		err := a.srv.Close()
		a.serving.Wait()
		a.active.Wait()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			a.closeErr = fmt.Errorf("close external api: %w", err)
		}
	})
	return a.closeErr
}
