package awscloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/alb"
	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// Options are the process-level settings of the AWS local cloud;
// everything about the simulated world comes from the scenario's
// localcloud section.
type Options struct {
	// Logf receives lifecycle lines (task started and stopped, deployment
	// states, images pushed and expired); nil discards them.
	Logf func(format string, args ...any)
	// Clock drives simulated time; nil means the scaled wall clock,
	// clock.NewScaled(TimeScale, nil).
	Clock clock.Clock
}

// Cloud is a running AWS local cloud: ECR repositories, one ECS cluster
// with its services, their tasks and load balancers, and the CloudWatch
// store, served on one endpoint. Its methods are safe for concurrent use.
// Close it to stop every server and goroutine it started.
type Cloud struct {
	aws   scenarios.CloudAWS
	clock clock.Clock
	logf  func(format string, args ...any)
	store *cw.Store

	ctx    context.Context // ends when the cloud closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // scheduler goroutines, timer callbacks, drains

	ln  net.Listener
	srv *http.Server

	// mu guards the whole world below; the load balancers and task
	// servers have locks of their own, taken after it, never before.
	mu        sync.Mutex
	closed    bool
	seq       uint64 // identifiers
	timerSeq  uint64
	timers    map[uint64]clock.Timer
	repos     map[string]*repository
	repoOrder []string
	taskDefs  map[string][]*taskDef
	services  map[string]*service
	order     []string
}

// Start starts the AWS local cloud lc.AWS describes (defaulted: Start
// sets no default itself) and returns once every service's first tasks
// are RUNNING and healthy in their load balancer, or ctx ends. The first
// tasks stand for tasks that have run for long: they pulled their image
// before the history builds, so they start even if the lifecycle policy
// has since expired it; every later task pulls from ECR. ctx bounds the
// start only; the cloud runs until Close.
func Start(ctx context.Context, lc scenarios.LocalCloud, opts Options) (*Cloud, error) {
	if !lc.AWS.Enabled() {
		return nil, errors.New("start aws local cloud: no ecs service")
	}
	c := newCloud(lc, opts)
	fail := func(err error) (*Cloud, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Close(cctx)
		return nil, fmt.Errorf("start aws local cloud: %w", err)
	}
	if err := c.build(ctx); err != nil {
		return fail(err)
	}
	if err := c.serve(); err != nil {
		return fail(err)
	}
	if err := c.waitSteady(ctx); err != nil {
		return fail(err)
	}
	return c, nil
}

// newCloud returns a cloud with nothing started.
func newCloud(lc scenarios.LocalCloud, opts Options) *Cloud {
	clk := opts.Clock
	if clk == nil {
		clk = clock.NewScaled(lc.TimeScale, nil)
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &Cloud{
		aws: lc.AWS, clock: clk, logf: logf,
		store:  cw.NewStore(clk, lc.Metrics.Period.D(), lc.AWS.MetricsLag.D()),
		timers: map[uint64]clock.Timer{}, repos: map[string]*repository{},
		taskDefs: map[string][]*taskDef{}, services: map[string]*service{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// build creates the repositories, the services with their load balancers
// and first deployments, pushes the images, and launches the first tasks
// and the schedulers.
func (c *Cloud) build(ctx context.Context) error {
	start := c.clock.Now()
	for _, sc := range c.aws.Services {
		if err := c.addService(ctx, sc, start); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.seedRepositories(start); err != nil {
		return err
	}
	for _, name := range c.order {
		s := c.services[name]
		for range s.desired {
			c.launch(s, s.primary(), true)
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.schedule(c.ctx, s)
		}()
	}
	return nil
}

// addService starts the service's load balancer and registers its first
// task definition and deployment (its image resolves later, once the
// repositories are seeded).
func (c *Cloud) addService(ctx context.Context, sc scenarios.ECSService, start time.Time) error {
	if sc.Name == "" || sc.Image == "" {
		return fmt.Errorf("ecs service %q: name and image are required", sc.Name)
	}
	// The balancer lives as long as the cloud, not the start's ctx.
	lb, err := alb.Start(c.ctx, alb.Config{
		Name: sc.Name, Region: c.aws.Region, Account: c.aws.Account, LB: sc.LoadBalancer,
		HealthPath: sc.App.HealthPath, Clock: c.clock, Store: c.store, Logf: c.logf,
	})
	if err != nil {
		return fmt.Errorf("ecs service %q: load balancer: %w", sc.Name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.services[sc.Name]; dup {
		_ = lb.Close(ctx)
		return fmt.Errorf("ecs service %q: defined twice", sc.Name)
	}
	s := &service{
		cfg: sc, name: sc.Name, arn: c.arn("service/" + c.aws.Cluster + "/" + sc.Name), lb: lb,
		desired: sc.DesiredCount, minHealthy: sc.MinimumHealthyPercent, maxPercent: sc.MaximumPercent,
		breaker: sc.CircuitBreaker, createdAt: start,
	}
	c.services[sc.Name] = s
	c.order = append(c.order, sc.Name)
	td := c.registerTaskDef(&taskDef{
		family: sc.Name, containers: []containerDef{c.serviceContainer(sc)},
		cpu: "256", memory: "512", networkMode: "awsvpc", requires: []string{"FARGATE"},
	})
	ref := parseImage(sc.Image)
	c.newDeployment(s, td, &ref)
	return nil
}

// serviceContainer is the container definition of a service's first task
// definition.
func (c *Cloud) serviceContainer(sc scenarios.ECSService) containerDef {
	var env []keyValue
	for k, v := range sc.Env {
		env = append(env, keyValue{Name: k, Value: v})
	}
	slices.SortFunc(env, func(a, b keyValue) int { return strings.Compare(a.Name, b.Name) })
	essential := true
	return containerDef{
		Name: sc.Name, Image: c.imageURI(parseImage(sc.Image)), Essential: &essential, Environment: env,
		PortMappings: []portMapping{{ContainerPort: containerPort, HostPort: containerPort, Protocol: "tcp"}},
	}
}

// waitSteady waits until every service has reached a steady state, for
// at most the time its first tasks need to start and pass their health
// checks (simulated), or until ctx ends.
func (c *Cloud) waitSteady(ctx context.Context) error {
	var bound time.Duration
	for _, sc := range c.aws.Services {
		hc := sc.LoadBalancer.HealthCheck
		need := provisionTime + sc.PullTime.D() + sc.StartTime.D() +
			time.Duration(hc.HealthyThreshold+1)*(hc.Interval.D()+hc.Timeout.D()) + time.Minute
		bound = max(bound, need)
	}
	wctx, cancel := c.clock.WithTimeout(ctx, bound)
	defer cancel()
	tick := c.clock.NewTicker(schedulerTick)
	defer tick.Stop()
	for {
		if c.allSteady() {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("wait for the first tasks to be running and healthy: %w", wctx.Err())
		case <-tick.C():
		}
	}
}

// allSteady reports whether every service is in a steady state.
func (c *Cloud) allSteady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.services {
		if !s.steady {
			return false
		}
	}
	return true
}

// Endpoint returns the URL of the one endpoint that serves ECS, ECR,
// ELBv2 and CloudWatch: "http://127.0.0.1:PORT".
func (c *Cloud) Endpoint() string { return "http://" + c.ln.Addr().String() }

// ServiceURL returns the URL of the service's load balancer.
func (c *Cloud) ServiceURL(service string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.services[service]
	if !ok {
		return "", fmt.Errorf("ecs service %q: not found", service)
	}
	return s.lb.URL(), nil
}

// ServiceNames returns the services' names in scenario order.
func (c *Cloud) ServiceNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// balancers returns every service's load balancer, for the ELBv2 API.
func (c *Cloud) balancers() []*alb.LoadBalancer {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*alb.LoadBalancer, 0, len(c.order))
	for _, name := range c.order {
		out = append(out, c.services[name].lb)
	}
	return out
}

// after calls f (without c.mu) after a simulated duration, unless the
// cloud closes first. c.mu held.
func (c *Cloud) after(d time.Duration, f func()) {
	if c.closed {
		return
	}
	c.timerSeq++
	id := c.timerSeq
	c.wg.Add(1)
	c.timers[id] = c.clock.AfterFunc(d, func() {
		defer c.wg.Done()
		c.mu.Lock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		c.mu.Unlock()
		if ok {
			f()
		}
	})
}

// goTracked runs f in a goroutine Close waits for, unless the cloud is
// closed.
func (c *Cloud) goTracked(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// Close stops the endpoint, the schedulers, every task and load
// balancer, and waits for every goroutine the cloud started, or until ctx
// ends.
func (c *Cloud) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for id, t := range c.timers {
		if t.Stop() {
			c.wg.Done()
		}
		delete(c.timers, id)
	}
	var servers []*taskServer
	var lbs []*alb.LoadBalancer
	for _, name := range c.order {
		s := c.services[name]
		lbs = append(lbs, s.lb)
		for _, t := range s.tasks {
			if t.server != nil {
				servers = append(servers, t.server)
			}
		}
	}
	c.mu.Unlock()
	c.cancel()
	var errs []error
	if c.srv != nil {
		errs = append(errs, c.srv.Shutdown(ctx))
	}
	for _, ts := range servers {
		_ = ts.srv.Close()
		<-ts.done
	}
	for _, lb := range lbs {
		errs = append(errs, lb.Close(ctx))
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("close aws local cloud: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
