package awscloud

import (
	"fmt"
	"time"
)

// task is one ECS task of a service. Guarded by Cloud.mu (its server is
// safe for concurrent use on its own).
type task struct {
	id, arn string
	svc     *service
	dep     *deployment
	// initial marks a task Start creates: it stands for one that has run
	// for long, so it pulled its image long ago and needs no ECR image now.
	initial bool

	last, desired   string
	container       string // the container's lastStatus
	createdAt       time.Time
	pullStartedAt   time.Time
	pullStoppedAt   time.Time
	startedAt       time.Time
	stoppingAt      time.Time
	stoppedAt       time.Time
	stopCode        string
	stoppedReason   string
	containerReason string

	server *taskServer // set while RUNNING and STOPPING
}

// live reports whether the scheduler counts the task: it is meant to run.
func (t *task) live() bool { return t.desired == taskRunning }

// launch starts a task of deployment d: PROVISIONING now, PENDING (the
// image pull) after provisionTime; an initial task (one Start makes)
// runs at once, registered healthy. c.mu held.
func (c *Cloud) launch(s *service, d *deployment, initial bool) *task {
	id := c.newTaskID()
	t := &task{
		id: id, arn: c.arn("task/" + c.aws.Cluster + "/" + id), svc: s, dep: d, initial: initial,
		last: taskProvisioning, desired: taskRunning, container: taskPending, createdAt: c.clock.Now(),
	}
	s.tasks = append(s.tasks, t)
	c.addEvent(s, "has started 1 tasks: (task %s).", id)
	if initial {
		// A task that has run for long: it is running, and healthy in
		// its target group, from the local cloud's start.
		c.after(0, func() { c.run(t) })
		return t
	}
	c.after(provisionTime, func() { c.pull(t) })
	return t
}

// pull moves the task to PENDING and pulls its deployment's image for
// PullTime; the image must be in ECR when the pull ends.
func (c *Cloud) pull(t *task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.live() {
		return
	}
	t.last = taskPending
	t.pullStartedAt = c.clock.Now()
	c.after(t.svc.cfg.PullTime.D(), func() { c.pulled(t) })
}

// pulled ends the pull: a missing image fails the task to start (the
// seed's CannotPullContainerError), else the container starts for
// StartTime.
func (c *Cloud) pulled(t *task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.live() {
		return
	}
	ref := t.dep.pullRef()
	if _, ok := c.lookup(ref); !ok && !t.initial {
		uri := c.imageURI(ref)
		c.failStart(t, fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref %s: %s: not found", uri, uri))
		return
	}
	t.pullStoppedAt = c.clock.Now()
	c.after(t.svc.cfg.StartTime.D(), func() { c.run(t) })
}

// run starts the task's server and registers it with the service's load
// balancer.
func (c *Cloud) run(t *task) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.live() {
		return
	}
	ts, err := startTaskServer(c.ctx, c.clock, t.svc.cfg.App, t.id, t.dep.td.name())
	if err != nil {
		c.stopTask(t, stopContainerExited, "Essential container in task exited")
		t.containerReason = err.Error()
		return
	}
	t.server = ts
	t.last, t.container = taskRunning, taskRunning
	t.startedAt = c.clock.Now()
	t.svc.startFailures, t.svc.nextStart = 0, time.Time{}
	if t.initial {
		t.svc.lb.RegisterHealthy(t.arn, ts.addr())
	} else {
		t.svc.lb.Register(t.arn, ts.addr())
	}
	c.addEvent(t.svc, "registered 1 targets in (target-group %s)", t.svc.lb.TargetGroupARN())
	c.logf("ecs: %s: task %s RUNNING on %s (%s)", t.svc.name, t.id, ts.addr(), t.dep.td.name())
}

// failStart stops a task that could not start: stopCode
// TaskFailedToStart, counted by its deployment (the circuit breaker's
// stage 1) and by the service's throttle. c.mu held.
func (c *Cloud) failStart(t *task, reason string) {
	c.stopTask(t, stopFailedToStart, reason)
	t.containerReason = reason
	t.dep.failed++
	t.dep.updatedAt = t.stoppedAt
	s := t.svc
	s.startFailures++
	delay := min(throttleFirst<<min(s.startFailures-1, 20), s.cfg.RestartDelayMax.D())
	s.nextStart = c.clock.Now().Add(c.clock.Wall(delay))
	if s.startFailures >= 2 && (s.throttleEvent.IsZero() || c.clock.Now().Sub(s.throttleEvent) >= c.clock.Wall(throttleEventEvery)) {
		s.throttleEvent = c.clock.Now()
		c.addEvent(s, "is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
	}
	c.logf("ecs: %s: task %s failed to start: %s (next start in %s)", s.name, t.id, reason, delay)
}

// stopTask stops t with its stop code and reason. A task that is not
// RUNNING stops at once; a RUNNING one is deregistered from the load
// balancer, drains for the deregistration delay, then gets StopTimeout to
// finish its requests (STOPPING), then is STOPPED. c.mu held.
func (c *Cloud) stopTask(t *task, code, reason string) {
	if !t.live() {
		return
	}
	now := c.clock.Now()
	t.desired = taskStopped
	t.stopCode, t.stoppedReason = code, reason
	t.stoppingAt = now
	if t.last != taskRunning {
		t.last, t.container, t.stoppedAt = taskStopped, taskStopped, now
		c.logf("ecs: %s: task %s STOPPED (%s: %s)", t.svc.name, t.id, code, reason)
		return
	}
	t.last = taskStopping
	s := t.svc
	s.lb.Deregister(t.arn)
	c.addEvent(s, "has stopped 1 running tasks: (task %s).", t.id)
	c.addEvent(s, "has begun draining connections on 1 tasks.")
	c.logf("ecs: %s: task %s STOPPING (%s: %s)", s.name, t.id, code, reason)
	c.after(s.cfg.LoadBalancer.DeregistrationDelay.D(), func() {
		c.mu.Lock()
		c.addEvent(s, "deregistered 1 targets in (target-group %s)", s.lb.TargetGroupARN())
		c.mu.Unlock()
		c.goTracked(func() {
			t.server.shutdown(s.cfg.StopTimeout.D())
			c.mu.Lock()
			defer c.mu.Unlock()
			t.last, t.container, t.stoppedAt = taskStopped, taskStopped, c.clock.Now()
			c.logf("ecs: %s: task %s STOPPED", s.name, t.id)
		})
	})
}
