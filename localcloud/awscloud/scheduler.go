package awscloud

import (
	"context"
	"fmt"
	"slices"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
)

// schedule is a service's scheduler: every schedulerTick (simulated) it
// reconciles the service, and every metricEvery it puts RunningTaskCount.
func (c *Cloud) schedule(ctx context.Context, s *service) {
	tick := c.clock.NewTicker(schedulerTick)
	defer tick.Stop()
	metrics := c.clock.NewTicker(metricEvery)
	defer metrics.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
			c.mu.Lock()
			c.reconcile(s)
			c.mu.Unlock()
		case <-metrics.C():
			c.mu.Lock()
			c.putRunning(s)
			c.mu.Unlock()
		}
	}
}

// counts are a deployment's tasks by state.
type counts struct {
	live, pending, running, healthy int
}

// count counts the live tasks of d (all deployments when d is nil). c.mu
// held.
func (c *Cloud) count(s *service, d *deployment) counts {
	var n counts
	for _, t := range s.tasks {
		if !t.live() || (d != nil && t.dep != d) {
			continue
		}
		n.live++
		switch t.last {
		case taskRunning:
			n.running++
			if c.healthy(t) {
				n.healthy++
			}
		default:
			n.pending++
		}
	}
	return n
}

// healthy reports whether a RUNNING task is healthy in its load balancer.
func (c *Cloud) healthy(t *task) bool {
	state, _ := t.svc.lb.Health(t.arn)
	return t.last == taskRunning && state == "healthy"
}

// reconcile is one pass of the service scheduler, as a list of steps.
// c.mu held.
func (c *Cloud) reconcile(s *service) {
	if c.closed {
		return
	}
	c.forget(s)
	c.replaceUnhealthy(s)
	c.checkBreaker(s)
	c.launchNeeded(s)
	c.stopOld(s)
	c.scaleIn(s)
	c.settle(s)
}

// forget drops stopped tasks and INACTIVE deployments older than
// stoppedRetention. c.mu held.
func (c *Cloud) forget(s *service) {
	cutoff := c.clock.Now().Add(-c.clock.Wall(stoppedRetention))
	s.tasks = slices.DeleteFunc(s.tasks, func(t *task) bool {
		return t.last == taskStopped && t.stoppedAt.Before(cutoff)
	})
	s.deployments = slices.DeleteFunc(s.deployments, func(d *deployment) bool {
		return d.status == statusInactive && d.updatedAt.Before(cutoff)
	})
}

// replaceUnhealthy stops RUNNING tasks their load balancer reports
// unhealthy (the scheduler then replaces them); each counts as a failure
// of its deployment (the circuit breaker's stage 2). c.mu held.
func (c *Cloud) replaceUnhealthy(s *service) {
	for _, t := range s.tasks {
		if !t.live() || t.last != taskRunning {
			continue
		}
		if state, _ := s.lb.Health(t.arn); state == "unhealthy" {
			c.stopTask(t, stopScheduler, fmt.Sprintf("Task failed ELB health checks in (target-group %s)", s.lb.TargetGroupARN()))
			t.dep.failed++
			t.dep.updatedAt = c.clock.Now()
		}
	}
}

// launchNeeded starts tasks of the PRIMARY deployment until it has its
// desired count, within maximumPercent of the desired count (rounded
// down) for all deployments together, unless its rollout failed or the
// throttle holds starts back. c.mu held.
func (c *Cloud) launchNeeded(s *service) {
	p := s.primary()
	if p.rollout == rolloutFailed || c.clock.Now().Before(s.nextStart) {
		return
	}
	ceiling := max(s.desired*s.maxPercent/100, 1)
	n := min(p.desired-c.count(s, p).live, ceiling-c.count(s, nil).live)
	if s.startFailures > 0 {
		n = min(n, 1) // a throttled service retries one task at a time
	}
	for range n {
		c.launch(s, p, false)
	}
}

// stopOld stops the tasks of older deployments while the healthy tasks
// stay at or above minimumHealthyPercent of the desired count (rounded
// up). Tasks that are not healthy go first and freely. c.mu held.
func (c *Cloud) stopOld(s *service) {
	p := s.primary()
	floor := (s.desired*s.minHealthy + 99) / 100
	spare := c.count(s, nil).healthy - floor
	for _, t := range s.tasks {
		if !t.live() || t.dep == p {
			continue
		}
		if c.healthy(t) {
			if spare <= 0 {
				continue
			}
			spare--
		}
		c.stopTask(t, stopScheduler, fmt.Sprintf("Scaling activity initiated by (deployment %s)", p.id))
	}
}

// scaleIn stops the PRIMARY deployment's tasks beyond its desired count,
// the ones not yet running first. c.mu held.
func (c *Cloud) scaleIn(s *service) {
	p := s.primary()
	extra := c.count(s, p).live - p.desired
	for _, running := range []bool{false, true} {
		for _, t := range s.tasks {
			if extra <= 0 {
				return
			}
			if t.live() && t.dep == p && (t.last == taskRunning) == running {
				c.stopTask(t, stopScheduler, fmt.Sprintf("Scaling activity initiated by (deployment %s)", p.id))
				extra--
			}
		}
	}
}

// settle updates the deployments' states: an older deployment with no
// task left is INACTIVE; the PRIMARY is COMPLETED when it has its desired
// count of healthy tasks and nothing else runs, and the service then
// reaches a steady state. c.mu held.
func (c *Cloud) settle(s *service) {
	now := c.clock.Now()
	p := s.primary()
	others := 0
	for _, d := range s.deployments[1:] {
		if d.status == statusInactive {
			continue
		}
		if n := c.count(s, d).live; n > 0 {
			others += n
			continue
		}
		d.status, d.updatedAt = statusInactive, now
		c.logf("ecs: %s: deployment %s INACTIVE", s.name, d.id)
	}
	pc := c.count(s, p)
	steady := p.rollout != rolloutFailed && pc.healthy == p.desired && pc.live == p.desired && others == 0
	if steady && p.rollout == rolloutInProgress {
		p.rollout, p.reason, p.updatedAt = rolloutCompleted, fmt.Sprintf("ECS deployment %s completed.", p.id), now
		c.logf("ecs: %s: deployment %s COMPLETED (%s)", s.name, p.id, p.td.name())
	}
	if steady && !s.steady {
		c.addEvent(s, "has reached a steady state.")
	}
	s.steady = steady
}

// checkBreaker trips the circuit breaker of an IN_PROGRESS PRIMARY
// deployment whose failed tasks reached the threshold while none of its
// tasks runs; with rollback it starts a deployment of the last COMPLETED
// one's task definition and digest. c.mu held.
func (c *Cloud) checkBreaker(s *service) {
	p := s.primary()
	if !s.breaker.Enable || p.rollout != rolloutInProgress || p.failed < breakerThreshold(p.desired) {
		return
	}
	if c.count(s, p).running > 0 {
		return // never trips while the deployment has a RUNNING task
	}
	now := c.clock.Now()
	p.rollout, p.reason, p.updatedAt = rolloutFailed, circuitBreakerReason, now
	c.addEvent(s, "(deployment %s) deployment failed: tasks failed to start.", p.id)
	c.logf("ecs: %s: deployment %s FAILED after %d failed tasks", s.name, p.id, p.failed)
	if !s.breaker.Rollback {
		return // the deployment stays PRIMARY and FAILED: nothing more is launched
	}
	// The failed deployment's tasks left are stopped as an older
	// deployment's, by stopOld.
	for _, d := range s.deployments[1:] {
		if d.rollout == rolloutCompleted {
			image := d.image
			back := c.newDeployment(s, d.td, &image)
			c.addEvent(s, "rolling back to deployment %s.", d.id)
			c.logf("ecs: %s: rolling back to %s as %s", s.name, d.id, back.id)
			return
		}
	}
}

// putRunning puts the service's RunningTaskCount. c.mu held.
func (c *Cloud) putRunning(s *service) {
	n := c.count(s, nil).running
	c.store.Put("ECS/ContainerInsights", "RunningTaskCount", []cw.Dimension{
		{Name: "ClusterName", Value: c.aws.Cluster}, {Name: "ServiceName", Value: s.name},
	}, c.clock.Now(), float64(n), "Count")
}
