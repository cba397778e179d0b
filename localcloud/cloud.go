package localcloud

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/localcloud/nat"
	"github.com/cutover-dev/cutover/scenarios"
)

// Options are the process-level settings of a local cloud; everything about
// the simulated world comes from the scenario's localcloud section.
type Options struct {
	// Clock drives simulated time; nil means the scaled wall clock,
	// clock.NewScaled(TimeScale, nil).
	Clock clock.Clock
	// Logf receives lifecycle lines (revision ready, instance failed, …);
	// nil discards them.
	Logf func(format string, args ...any)
}

// Cloud is a running local cloud: its services with their front ends,
// revisions and instances, the Cloud NAT gateway, the external API, the
// database and the metrics recorder. Its methods are safe for concurrent
// use. Close it to stop every server and goroutine it started.
type Cloud struct {
	cfg   scenarios.LocalCloud
	clock clock.Clock
	rec   *Recorder
	nat   *nat.Gateway
	ext   *ExternalAPI
	db    *database
	logf  func(format string, args ...any)

	// ctx ends when the cloud closes; every server's base context and every
	// background wait derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // goroutines: servers, instance lifecycles, loops

	// feTransport carries front end → instance requests.
	feTransport *http.Transport
	dials       dialStats

	// starting is true while Start creates the first revisions, whose
	// first instances stand for ones that have run for long (warm egress).
	starting atomic.Bool

	mu         sync.Mutex
	closed     bool
	services   map[string]*service
	order      []string
	rng        *rand.Rand
	unpullable map[string]bool
	instances  map[string]*instance // live instances by id, for affinity and sweeping
}

// Start starts the local cloud a scenario's localcloud section describes
// and returns once every service's first revision is ready. cfg must be
// resolved: already defaulted and validated, as scenarios.Parse returns it
// (or cfg.Defaults and cfg.Validate for one built in code); Start checks
// that cheaply and sets no default itself. ctx bounds the start only; the
// cloud runs until Close.
func Start(ctx context.Context, cfg scenarios.LocalCloud, opts Options) (*Cloud, error) {
	if err := checkResolved(cfg); err != nil {
		return nil, fmt.Errorf("start local cloud: %w", err)
	}
	c := newCloud(ctx, cfg, opts)
	fail := func(err error) (*Cloud, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Close(cctx)
		return nil, fmt.Errorf("start local cloud: %w", err)
	}
	if err := c.startDependencies(ctx); err != nil {
		return fail(err)
	}
	if err := c.startServices(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// errUnresolved is what Start says of a section nobody defaulted.
var errUnresolved = errors.New("the localcloud section is not resolved: call its Defaults and Validate first (scenarios.Parse does)")

// checkResolved rejects a section without services, or one whose defaults
// were never set (a resolved section has a time scale and a metric period).
func checkResolved(cfg scenarios.LocalCloud) error {
	switch {
	case !cfg.Enabled():
		return errors.New("no services configured")
	case cfg.TimeScale < 1 || cfg.Metrics.Period <= 0 || cfg.NAT.IPs < 1:
		return errUnresolved
	}
	return nil
}

// newCloud builds the cloud's state, its recorder and its NAT gateway; it
// starts no server.
func newCloud(ctx context.Context, cfg scenarios.LocalCloud, opts Options) *Cloud {
	cfg.Services = slices.Clone(cfg.Services) // the cloud keeps its own copy
	for i := range cfg.Services {
		cfg.Services[i].App.Calls = slices.Clone(cfg.Services[i].App.Calls)
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.NewScaled(cfg.TimeScale, nil)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(clk.Now().UnixNano())
	}
	c := &Cloud{
		cfg:   cfg,
		clock: clk,
		logf:  logf,
		rec: NewRecorder(clk, RecorderOptions{
			Period:    cfg.Metrics.Period.D(),
			LagNAT:    cfg.Metrics.LagNAT.D(),
			LagRun:    cfg.Metrics.LagRun.D(),
			Retention: cfg.Metrics.Retention.D(),
		}),
		feTransport: &http.Transport{
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
		services:   map[string]*service{},
		rng:        rand.New(rand.NewPCG(seed, seed>>1|1)),
		unpullable: map[string]bool{},
		instances:  map[string]*instance{},
	}
	for _, img := range cfg.UnpullableImages {
		c.unpullable[img] = true
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.nat = nat.New(nat.FromScenario(cfg.NAT), clk, resourceSink{c.rec, Resource{Type: ResourceNATGateway, Labels: map[string]string{
		"project_id":   cfg.Project,
		"region":       cfg.Region,
		"router_id":    cfg.NAT.Router,
		"gateway_name": cfg.NAT.Gateway,
	}}})
	return c
}

// startDependencies starts what the services call: the external API and
// the database.
func (c *Cloud) startDependencies(ctx context.Context) error {
	var err error
	if c.ext, err = StartExternalAPI(ctx, c.cfg.ExternalAPI.Latency.D(), c.clock); err != nil {
		return err
	}
	c.db, err = startDatabase(ctx, c, c.cfg.Database.Latency.D())
	return err
}

// startServices starts every service's front end, then its autoscaler and
// first revision, and waits for the first revisions to be ready.
func (c *Cloud) startServices(ctx context.Context) error {
	// Every front end first: instances resolve service:NAME calls to them.
	for _, sc := range c.cfg.Services {
		s, err := newService(ctx, c, sc)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.services[sc.Name] = s
		c.order = append(c.order, sc.Name)
		c.mu.Unlock()
	}
	var first []*revision
	c.starting.Store(true)
	for _, name := range c.order {
		s := c.services[name]
		s.startScaler()
		rev, err := s.deploy(RevisionSpec{Traffic: []TrafficTarget{{Latest: true, Percent: 100}}}, true)
		if err != nil {
			return err
		}
		first = append(first, rev)
	}
	c.starting.Store(false)
	c.goBackground(c.sweepLoop)
	for _, rev := range first {
		if _, err := rev.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// goBackground runs f in a goroutine that Close waits for.
func (c *Cloud) goBackground(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Close stops the local cloud: front ends, instances (without grace), the
// NAT gateway, the external API and the database. It returns once every
// goroutine and listener it started is gone, or ctx ends first.
func (c *Cloud) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	services := make([]*service, 0, len(c.services))
	for _, name := range c.order {
		services = append(services, c.services[name])
	}
	c.mu.Unlock()

	c.cancel()
	var errs []error
	for _, s := range services {
		s.close()
	}
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close local cloud: waiting for instances: %w", ctx.Err()))
	}
	c.feTransport.CloseIdleConnections()
	if err := c.nat.Close(); err != nil {
		errs = append(errs, err)
	}
	if c.ext != nil {
		if err := c.ext.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.db != nil {
		if err := c.db.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Clock returns the cloud's clock.
func (c *Cloud) Clock() clock.Clock { return c.clock }

// Recorder returns the metrics recorder.
func (c *Cloud) Recorder() *Recorder { return c.rec }

// NAT returns the Cloud NAT gateway.
func (c *Cloud) NAT() *nat.Gateway { return c.nat }

// ExternalAPI returns the external API server.
func (c *Cloud) ExternalAPI() *ExternalAPI { return c.ext }

// Config returns the configuration the cloud was started with.
func (c *Cloud) Config() scenarios.LocalCloud { return c.cfg }

// Project and Region name the cloud's resources.
func (c *Cloud) Project() string { return c.cfg.Project }

// Region returns the region the services live in.
func (c *Cloud) Region() string { return c.cfg.Region }

// ServiceNames lists the services in configuration order.
func (c *Cloud) ServiceNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// ServiceURL returns a service's front-end URL, "http://127.0.0.1:PORT".
func (c *Cloud) ServiceURL(name string) (string, error) {
	s, err := c.service(name)
	if err != nil {
		return "", err
	}
	return s.fe.url(), nil
}

// Service returns a snapshot of a service, its revisions and instances.
func (c *Cloud) Service(name string) (ServiceState, error) {
	s, err := c.service(name)
	if err != nil {
		return ServiceState{}, err
	}
	return s.state(), nil
}

// Deploy creates a new revision of a service from spec (zero fields keep
// the latest created revision's values) and returns its name at once; the
// revision starts its instances in the background. Unless spec.Traffic says
// otherwise, the service's traffic split is kept: with the default split
// (100% to LATEST) the new revision takes all traffic once it is ready.
// WaitRevision waits for that.
func (c *Cloud) Deploy(ctx context.Context, serviceName string, spec RevisionSpec) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("deploy %q: %w", serviceName, err)
	}
	s, err := c.service(serviceName)
	if err != nil {
		return "", fmt.Errorf("deploy: %w", err)
	}
	rev, err := s.deploy(spec, false)
	if err != nil {
		return "", fmt.Errorf("deploy %q: %w", serviceName, err)
	}
	return rev.name, nil
}

// WaitRevision waits until a revision is ready, and the traffic that waited
// for it is served, or it failed (an error wrapping ErrRevisionFailed with
// its reason), or ctx ends.
func (c *Cloud) WaitRevision(ctx context.Context, serviceName, revision string) (RevisionState, error) {
	s, err := c.service(serviceName)
	if err != nil {
		return RevisionState{}, err
	}
	rev, err := s.revision(revision)
	if err != nil {
		return RevisionState{}, err
	}
	return rev.wait(ctx)
}

// SetTraffic replaces a service's traffic split. The percents must sum to
// 100, named revisions must exist and not have failed, and tags must be
// unique. The split is served once every revision it names is ready.
func (c *Cloud) SetTraffic(serviceName string, targets []TrafficTarget) error {
	s, err := c.service(serviceName)
	if err != nil {
		return fmt.Errorf("set traffic: %w", err)
	}
	if err := s.setTraffic(targets); err != nil {
		return fmt.Errorf("set traffic of %q: %w", serviceName, err)
	}
	return nil
}

// MarkUnpullable makes image unpullable from now on: revisions created
// later with it never become ready.
func (c *Cloud) MarkUnpullable(image string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unpullable[image] = true
}

func (c *Cloud) isUnpullable(image string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unpullable[image]
}

func (c *Cloud) service(name string) (*service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	s, ok := c.services[name]
	if !ok {
		return nil, fmt.Errorf("service %q: %w", name, ErrNotFound)
	}
	return s, nil
}

// randomLetters returns n random lower-case letters.
func (c *Cloud) randomLetters(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + c.rng.IntN(26))
	}
	return string(b)
}

func (c *Cloud) removeInstance(in *instance) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.instances, in.id)
}

func (c *Cloud) lookupInstance(id string) *instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.instances[id]
}

// sweepLoop closes pooled app connections that were idle longer than
// their keep-alive timeout, every simulated second.
func (c *Cloud) sweepLoop() {
	t := c.clock.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C():
		}
		c.mu.Lock()
		list := make([]*instance, 0, len(c.instances))
		for _, in := range c.instances {
			list = append(list, in)
		}
		c.mu.Unlock()
		now := c.clock.Now()
		for _, in := range list {
			in.client.sweep(now)
		}
	}
}
