package alb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// Config is one load balancer: its name (also its target group's), where
// it lives, its timeouts and health check, and where its metrics go.
type Config struct {
	// Name, Region and Account name the balancer and its target group:
	// arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID
	// and …:targetgroup/NAME/ID, with CloudWatch dimensions "app/NAME/ID"
	// and "targetgroup/NAME/ID" (ID: 16 hex characters derived from NAME).
	Name, Region, Account string
	// LB holds the idle and connect timeouts, the deregistration delay and
	// the health check, all simulated and already defaulted.
	LB scenarios.ALBLoadBalancer
	// HealthPath is the health check's path, e.g. /health.
	HealthPath string
	// Clock converts and waits for every simulated duration.
	Clock clock.Clock
	// Store receives the AWS/ApplicationELB metrics (nil: none are kept).
	Store *cw.Store
	// Logf logs state changes (may be nil).
	Logf func(format string, args ...any)
}

// validate returns every problem of c, joined.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Name == "" {
		bad("name is empty")
	}
	if c.Clock == nil {
		bad("clock is nil")
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		bad("health path %q does not start with /", c.HealthPath)
	}
	hc := c.LB.HealthCheck
	if hc.Interval <= 0 || hc.Timeout <= 0 {
		bad("health check interval %v and timeout %v must be positive", hc.Interval, hc.Timeout)
	}
	if hc.HealthyThreshold < 1 || hc.UnhealthyThreshold < 1 {
		bad("health check thresholds %d/%d must be at least 1", hc.HealthyThreshold, hc.UnhealthyThreshold)
	}
	if c.LB.IdleTimeout <= 0 || c.LB.ConnectTimeout <= 0 {
		bad("idle timeout %v and connect timeout %v must be positive", c.LB.IdleTimeout, c.LB.ConnectTimeout)
	}
	if c.LB.DeregistrationDelay < 0 {
		bad("deregistration delay %v is negative", c.LB.DeregistrationDelay)
	}
	return errors.Join(errs...)
}

// LoadBalancer is one running Application Load Balancer with its target
// group. Its methods are safe for concurrent use.
type LoadBalancer struct {
	cfg     Config
	clk     clock.Clock
	sink    sink
	lbDim   string // "app/NAME/ID"
	tgDim   string // "targetgroup/NAME/ID"
	created time.Time

	ln      net.Listener
	srv     *http.Server
	proxy   *http.Transport // front end → target
	checker *http.Transport // health checks, one connection each

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // Serve, health checks, the gauge ticker
	active sync.WaitGroup // front-end handlers; Add under mu while !closed

	mu      sync.Mutex
	targets []*target // registered and draining, in registration order
	next    int       // round-robin cursor
	closed  bool
}

// sink is where metrics go: a *cw.Store, or a test's recorder.
type sink interface {
	Put(namespace, metric string, dims []cw.Dimension, at time.Time, value float64, unit string)
}

type discard struct{}

func (discard) Put(string, string, []cw.Dimension, time.Time, float64, string) {}

// dialer connects the front end to a target; tests replace it.
type dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Start opens the balancer's front end on 127.0.0.1:0 with no targets
// registered. The front end and the health checks run until Close.
func Start(ctx context.Context, cfg Config) (*LoadBalancer, error) {
	var s sink = discard{}
	if cfg.Store != nil {
		s = cfg.Store
	}
	return start(ctx, cfg, s, nil)
}

func start(ctx context.Context, cfg Config, s sink, dial dialer) (*LoadBalancer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("start load balancer %q: %w", cfg.Name, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start load balancer %q: %w", cfg.Name, err)
	}
	lb := &LoadBalancer{
		cfg:     cfg,
		clk:     cfg.Clock,
		sink:    s,
		lbDim:   "app/" + cfg.Name + "/" + resourceID("loadbalancer", cfg.Name),
		tgDim:   "targetgroup/" + cfg.Name + "/" + resourceID("targetgroup", cfg.Name),
		created: cfg.Clock.Now(),
		ln:      ln,
	}
	lb.ctx, lb.cancel = context.WithCancel(context.WithoutCancel(ctx))
	lb.proxy = lb.newProxyTransport(dial)
	lb.checker = &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	lb.srv = &http.Server{
		Handler:           http.HandlerFunc(lb.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		// ALB closes a client connection idle for the idle timeout too.
		IdleTimeout: cfg.Clock.Wall(cfg.LB.IdleTimeout.D()),
		BaseContext: func(net.Listener) context.Context { return lb.ctx },
	}
	lb.goBackground(func() { _ = lb.srv.Serve(ln) })
	tick := lb.clk.NewTicker(hostCountEvery)
	lb.goBackground(func() { lb.publishHostCounts(tick) })
	return lb, nil
}

// newProxyTransport returns the front end's connection pool to the
// targets, whose dials are bounded by the connect timeout.
func (lb *LoadBalancer) newProxyTransport(dial dialer) *http.Transport {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			cctx, cancel := lb.clk.WithTimeout(ctx, lb.cfg.LB.ConnectTimeout.D())
			defer cancel()
			conn, err := dial(cctx, network, addr)
			if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, fmt.Errorf("connect to target %s: %w", addr, errConnectTimeout)
			}
			return conn, err
		},
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

func (lb *LoadBalancer) goBackground(f func()) {
	lb.wg.Add(1)
	go func() {
		defer lb.wg.Done()
		f()
	}()
}

// resourceID is the 16-hex-character ID of an ELBv2 resource, derived from
// its kind and name so that a scenario's ARNs are the same on every run.
func resourceID(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "/" + name))
	return hex.EncodeToString(sum[:8])
}

// URL returns the front end's address, "http://127.0.0.1:PORT".
func (lb *LoadBalancer) URL() string { return "http://" + lb.ln.Addr().String() }

// ARN returns the load balancer's ARN.
func (lb *LoadBalancer) ARN() string {
	return "arn:aws:elasticloadbalancing:" + lb.cfg.Region + ":" + lb.cfg.Account + ":loadbalancer/" + lb.lbDim
}

// TargetGroupARN returns the ARN of the balancer's target group.
func (lb *LoadBalancer) TargetGroupARN() string {
	return "arn:aws:elasticloadbalancing:" + lb.cfg.Region + ":" + lb.cfg.Account + ":" + lb.tgDim
}

// Close stops the front end and the health checks: the listener and every
// connection close, requests in flight to targets are abandoned. It waits
// for the balancer's goroutines until ctx ends.
func (lb *LoadBalancer) Close(ctx context.Context) error {
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		return nil
	}
	lb.closed = true
	for _, t := range lb.targets {
		t.stopTimers()
	}
	lb.mu.Unlock()
	lb.cancel()
	err := lb.srv.Close()
	done := make(chan struct{})
	go func() {
		lb.wg.Wait()
		lb.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("close load balancer %q: %w", lb.cfg.Name, ctx.Err())
	}
	lb.proxy.CloseIdleConnections()
	lb.checker.CloseIdleConnections()
	return err
}

func (lb *LoadBalancer) logf(format string, args ...any) {
	if lb.cfg.Logf != nil {
		lb.cfg.Logf(format, args...)
	}
}
