package localcloud

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// database stands in for a Cloud SQL instance: one HTTP server on two
// loopback listeners, its private address (reached inside the VPC, never
// through NAT) and its public one (through NAT under all-traffic egress),
// answering every query after a simulated latency.
type database struct {
	private, public net.Listener
	srv             *http.Server
	cancel          context.CancelFunc
	serving         sync.WaitGroup

	mu      sync.Mutex
	closing bool
	active  sync.WaitGroup
}

func startDatabase(ctx context.Context, c *Cloud, latency time.Duration) (*database, error) {
	var lc net.ListenConfig
	private, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for database: %w", err)
	}
	public, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		private.Close()
		return nil, fmt.Errorf("listen for database: %w", err)
	}
	base, cancel := context.WithCancel(c.ctx)
	db := &database{private: private, public: public, cancel: cancel}
	db.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			db.mu.Lock()
			if db.closing {
				db.mu.Unlock()
				panic(http.ErrAbortHandler)
			}
			db.active.Add(1)
			db.mu.Unlock()
			defer db.active.Done()
			if err := c.clock.Sleep(r.Context(), latency); err != nil {
				panic(http.ErrAbortHandler) // client gone or closing: no response
			}
			const body = `{"rows":1}` + "\n"
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write([]byte(body))
		}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	for _, ln := range []net.Listener{private, public} {
		db.serving.Add(1)
		go func() {
			defer db.serving.Done()
			_ = db.srv.Serve(ln)
		}()
	}
	return db, nil
}

func (db *database) privateAddr() string { return db.private.Addr().String() }
func (db *database) publicAddr() string  { return db.public.Addr().String() }

func (db *database) close() error {
	db.mu.Lock()
	db.closing = true
	db.mu.Unlock()
	db.cancel()
	err := db.srv.Close()
	db.serving.Wait()
	db.active.Wait()
	if err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}
