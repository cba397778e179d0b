package awscloud

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// taskServer is a RUNNING task's container: a real HTTP server on
// 127.0.0.1 running the service's ECSApp. Requests wait in a FIFO queue
// for one of Concurrency slots and hold it for ServerTime. Safe for
// concurrent use.
type taskServer struct {
	app      scenarios.ECSApp
	clock    clock.Clock
	taskID   string
	revision string
	srv      *http.Server
	ln       net.Listener
	slots    *fifo
	failing  atomic.Bool
	done     chan struct{} // closed when Serve returns
}

// startTaskServer listens on 127.0.0.1:0 and serves in the background
// until shutdown; base is every request's base context.
func startTaskServer(base context.Context, clk clock.Clock, app scenarios.ECSApp, taskID, revision string) (*taskServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts := &taskServer{
		app: app, clock: clk, taskID: taskID, revision: revision, ln: ln,
		slots: newFIFO(max(app.Concurrency, 1)), done: make(chan struct{}),
	}
	ts.srv = &http.Server{
		Handler:           http.HandlerFunc(ts.serve),
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() {
		defer close(ts.done)
		_ = ts.srv.Serve(ln)
	}()
	return ts, nil
}

// addr is "127.0.0.1:PORT".
func (ts *taskServer) addr() string { return ts.ln.Addr().String() }

// serve answers one request: the health path (through the queue when
// HealthInQueue) or an application request.
func (ts *taskServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Task", ts.taskID)
	w.Header().Set("X-Revision", ts.revision)
	if r.URL.Path == ts.app.HealthPath {
		if ts.app.HealthInQueue {
			if err := ts.slots.acquire(r.Context()); err != nil {
				return
			}
			ts.slots.release()
		}
		if ts.failing.Load() {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	if err := ts.slots.acquire(r.Context()); err != nil {
		return
	}
	defer ts.slots.release()
	if err := ts.clock.Sleep(r.Context(), ts.app.ServerTime.D()); err != nil {
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// shutdown stops accepting, lets in-flight requests finish for up to
// stopTimeout (simulated), then closes every connection and waits for
// Serve to return.
func (ts *taskServer) shutdown(stopTimeout time.Duration) {
	ctx, cancel := ts.clock.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = ts.srv.Close()
	}
	_ = ts.srv.Close()
	<-ts.done
}

// fifo is a counting semaphore whose waiters are served in arrival order.
type fifo struct {
	mu      sync.Mutex
	free    int
	waiters []chan struct{}
}

func newFIFO(n int) *fifo { return &fifo{free: n} }

// acquire takes a slot, waiting its turn, or returns ctx's error.
func (q *fifo) acquire(ctx context.Context) error {
	q.mu.Lock()
	if q.free > 0 && len(q.waiters) == 0 {
		q.free--
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		defer q.mu.Unlock()
		for i, w := range q.waiters {
			if w == ch {
				q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted while giving up: pass the slot on.
		q.releaseLocked()
		return ctx.Err()
	}
}

// release returns a slot to the next waiter, or to the pool.
func (q *fifo) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked()
}

func (q *fifo) releaseLocked() {
	if len(q.waiters) > 0 {
		close(q.waiters[0])
		q.waiters = q.waiters[1:]
		return
	}
	q.free++
}
