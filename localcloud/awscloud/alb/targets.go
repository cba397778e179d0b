package alb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// Target health states, as DescribeTargetHealth reports them.
const (
	// StateInitial: registered, the first health check not passed yet.
	StateInitial = "initial"
	// StateHealthy: passing its health checks; it gets requests.
	StateHealthy = "healthy"
	// StateUnhealthy: failed UnhealthyThreshold checks in a row; it gets
	// requests only when no target is healthy (fail open).
	StateUnhealthy = "unhealthy"
	// StateDraining: deregistered, within its deregistration delay; no
	// new requests.
	StateDraining = "draining"
	// StateUnused: not in the target group.
	StateUnused = "unused"
)

// Target health reasons, as DescribeTargetHealth reports them.
const (
	// ReasonRegistrationInProgress: initial, before its first check.
	ReasonRegistrationInProgress = "Elb.RegistrationInProgress"
	// ReasonInitialHealthChecking: initial, checks under way.
	ReasonInitialHealthChecking = "Elb.InitialHealthChecking"
	// ReasonResponseCodeMismatch: the check answered other than 200.
	ReasonResponseCodeMismatch = "Target.ResponseCodeMismatch"
	// ReasonTimeout: the check got no answer within its timeout.
	ReasonTimeout = "Target.Timeout"
	// ReasonFailedHealthChecks: the check's connection failed.
	ReasonFailedHealthChecks = "Target.FailedHealthChecks"
	// ReasonDeregistrationInProgress: draining.
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	// ReasonNotRegistered: unused.
	ReasonNotRegistered = "Target.NotRegistered"
)

// hostCountEvery is how often the host-count gauges are put, simulated.
const hostCountEvery = 10 * time.Second

// target is one registered (or draining) target. Its fields after addr
// are guarded by the balancer's mu.
type target struct {
	id, addr string
	// gone ends when the target leaves the group (its deregistration delay
	// is over, or the balancer closes): requests still in flight to it end
	// with errDeregistered.
	gone       context.Context
	remove     context.CancelCauseFunc
	stopChecks context.CancelFunc

	state, reason string
	code          int // the last failed check's status, for ResponseCodeMismatch
	passes, fails int // consecutive
	checks        int // results recorded, for tests
	drain         clock.Timer
}

func (t *target) stopTimers() {
	if t.drain != nil {
		t.drain.Stop()
	}
}

// description is DescribeTargetHealth's TargetHealth.Description.
func (t *target) description() string { return describe(t.reason, t.code) }

func describe(reason string, code int) string {
	switch reason {
	case ReasonRegistrationInProgress:
		return "Target registration is in progress"
	case ReasonInitialHealthChecking:
		return "Initial health checks in progress"
	case ReasonResponseCodeMismatch:
		return fmt.Sprintf("Health checks failed with these codes: [%d]", code)
	case ReasonTimeout:
		return "Request timed out"
	case ReasonFailedHealthChecks:
		return "Health checks failed"
	case ReasonDeregistrationInProgress:
		return "Target deregistration is in progress"
	case ReasonNotRegistered:
		return "Target is not registered to the target group"
	}
	return ""
}

// Register adds a target (id: the task ARN; addr: "127.0.0.1:PORT") in
// state initial; its first health check starts at once. Registering an id
// that is registered and not draining does nothing; a draining one starts
// over as a new registration.
func (lb *LoadBalancer) Register(id, addr string) { lb.register(id, addr, StateInitial) }

// RegisterHealthy adds a target that was healthy before the local cloud
// started (the tasks a service already runs): it is routable at once and
// is health checked from then on like any target.
func (lb *LoadBalancer) RegisterHealthy(id, addr string) { lb.register(id, addr, StateHealthy) }

func (lb *LoadBalancer) register(id, addr, state string) {
	lb.mu.Lock()
	if lb.closed {
		lb.mu.Unlock()
		return
	}
	if old := lb.findLocked(id); old != nil {
		if old.state != StateDraining {
			lb.mu.Unlock()
			return
		}
		lb.removeLocked(old)
	}
	t := &target{id: id, addr: addr, state: state}
	if state == StateInitial {
		t.reason = ReasonRegistrationInProgress
	}
	t.gone, t.remove = context.WithCancelCause(lb.ctx)
	checks, stop := context.WithCancel(t.gone)
	t.stopChecks = stop
	lb.targets = append(lb.targets, t)
	// Started under mu while not closed, so Close waits for it.
	tick := lb.clk.NewTicker(lb.cfg.LB.HealthCheck.Interval.D())
	lb.goBackground(func() { lb.healthCheck(checks, t, tick) })
	lb.mu.Unlock()
	lb.logf("alb %s: register %s (%s) %s", lb.cfg.Name, id, addr, state)
}

// Deregister starts draining a target: it gets no new requests and no
// more health checks; after the deregistration delay it leaves the group
// and requests still in flight to it end with 502. An unknown or draining
// id does nothing.
func (lb *LoadBalancer) Deregister(id string) {
	lb.mu.Lock()
	t := lb.findLocked(id)
	if lb.closed || t == nil || t.state == StateDraining {
		lb.mu.Unlock()
		return
	}
	t.state, t.reason = StateDraining, ReasonDeregistrationInProgress
	t.stopChecks()
	t.drain = lb.clk.AfterFunc(lb.cfg.LB.DeregistrationDelay.D(), func() {
		lb.mu.Lock()
		lb.removeLocked(t)
		lb.mu.Unlock()
		lb.logf("alb %s: %s deregistered", lb.cfg.Name, id)
	})
	lb.mu.Unlock()
	lb.logf("alb %s: draining %s", lb.cfg.Name, id)
}

// Health returns a target's state and reason as DescribeTargetHealth
// reports them: unused and Target.NotRegistered for an id not in the
// group; a healthy target has no reason.
func (lb *LoadBalancer) Health(id string) (state, reason string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if t := lb.findLocked(id); t != nil {
		return t.state, t.reason
	}
	return StateUnused, ReasonNotRegistered
}

func (lb *LoadBalancer) findLocked(id string) *target {
	for _, t := range lb.targets {
		if t.id == id {
			return t
		}
	}
	return nil
}

// removeLocked takes t out of the group and ends its requests in flight.
func (lb *LoadBalancer) removeLocked(t *target) {
	for i, p := range lb.targets {
		if p == t {
			lb.targets = append(lb.targets[:i:i], lb.targets[i+1:]...)
			break
		}
	}
	t.stopTimers()
	t.remove(errDeregistered)
}

// healthCheck checks t at once and then at every tick until ctx ends.
func (lb *LoadBalancer) healthCheck(ctx context.Context, t *target, tick clock.Ticker) {
	defer tick.Stop()
	for {
		lb.mu.Lock()
		if t.state == StateInitial && t.checks == 0 {
			t.reason = ReasonInitialHealthChecking
		}
		lb.mu.Unlock()
		r := lb.check(ctx, t.addr)
		if ctx.Err() != nil {
			return
		}
		lb.record(t, r)
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
	}
}

// checkResult is one health check's outcome: reason is empty for a pass.
type checkResult struct {
	reason string
	code   int
}

// check sends one health check to addr within the check timeout.
func (lb *LoadBalancer) check(ctx context.Context, addr string) checkResult {
	cctx, cancel := lb.clk.WithTimeout(ctx, lb.cfg.LB.HealthCheck.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, "http://"+addr+lb.cfg.HealthPath, nil)
	if err != nil {
		return checkResult{reason: ReasonFailedHealthChecks}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := lb.checker.RoundTrip(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	switch {
	case err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded):
		return checkResult{reason: ReasonTimeout}
	case err != nil:
		return checkResult{reason: ReasonFailedHealthChecks}
	case resp.StatusCode != http.StatusOK:
		return checkResult{reason: ReasonResponseCodeMismatch, code: resp.StatusCode}
	}
	return checkResult{}
}

// record applies one check's result to t and puts the host counts when
// its state changed.
func (lb *LoadBalancer) record(t *target, r checkResult) {
	lb.mu.Lock()
	if t.state == StateDraining || t.gone.Err() != nil {
		lb.mu.Unlock()
		return
	}
	before := t.state
	t.apply(r, lb.cfg.LB.HealthCheck)
	t.checks++
	after, reason := t.state, t.reason
	lb.mu.Unlock()
	if after != before {
		lb.logf("alb %s: target %s %s → %s %s", lb.cfg.Name, t.id, before, after, reason)
	}
}

// apply moves t through initial → healthy ⇄ unhealthy by the thresholds.
func (t *target) apply(r checkResult, hc scenarios.ALBHealthCheck) {
	if r.reason == "" {
		t.passes, t.fails = t.passes+1, 0
	} else {
		t.passes, t.fails = 0, t.fails+1
	}
	pass := r.reason == ""
	switch {
	case t.state == StateInitial && pass,
		t.state == StateUnhealthy && t.passes >= hc.HealthyThreshold:
		t.state, t.reason, t.code = StateHealthy, "", 0
	case !pass && (t.state == StateUnhealthy || t.fails >= hc.UnhealthyThreshold):
		t.state, t.reason, t.code = StateUnhealthy, r.reason, r.code
	}
}

// hostCounts returns how many targets are healthy and unhealthy.
func (lb *LoadBalancer) hostCounts() (healthy, unhealthy int) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, t := range lb.targets {
		switch t.state {
		case StateHealthy:
			healthy++
		case StateUnhealthy:
			unhealthy++
		}
	}
	return healthy, unhealthy
}

// publishHostCounts puts the host-count gauges at every tick until the
// balancer closes.
func (lb *LoadBalancer) publishHostCounts(tick clock.Ticker) {
	defer tick.Stop()
	for {
		select {
		case <-lb.ctx.Done():
			return
		case <-tick.C():
			lb.putHostCounts()
		}
	}
}
