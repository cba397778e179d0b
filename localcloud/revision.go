package localcloud

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of revision.acquire; the front end turns them into responses.
var (
	errNoReadyInstance = errors.New("no ready instance")             // 503
	errAtMaxInstances  = errors.New("no available instance at max")  // 429
	errNotAbsorbed     = errors.New("no available instance to take") // 500
)

// revision is one immutable template with its instances, the queue of
// requests waiting for an instance slot, and the autoscaler's state.
type revision struct {
	s          *service
	c          *Cloud
	name       string
	index      int // creation order within the service
	tmpl       Template
	unpullable bool
	initial    bool // the service's first revision, started with the cloud
	createTime time.Time
	res        Resource
	// inTraffic is true while the revision has a percent of the main URL;
	// only then do its min instances apply.
	inTraffic atomic.Bool
	done      chan struct{} // closed once ready or failed

	mu         sync.Mutex
	cond       Condition
	instances  []*instance // starting, ready and draining
	waiters    list.List   // of *waiter, oldest first
	nextInst   int
	lastActive int64 // instance_count values last set, to skip unchanged ones
	lastIdle   int64
	gaugesSet  bool
}

// waiter is a request queued for an instance slot; the slot arrives on ch.
type waiter struct {
	ch   chan *instance
	elem *list.Element
}

func newRevision(s *service, name string, index int, t Template, unpullable bool) *revision {
	now := s.c.clock.Now()
	return &revision{
		s:          s,
		c:          s.c,
		name:       name,
		index:      index,
		tmpl:       t,
		unpullable: unpullable,
		createTime: now,
		res: Resource{Type: ResourceRunRevision, Labels: map[string]string{
			"project_id":         s.c.cfg.Project,
			"service_name":       s.name,
			"revision_name":      name,
			"location":           s.c.cfg.Region,
			"configuration_name": s.name,
		}},
		done: make(chan struct{}),
		cond: Condition{Type: "Ready", State: ConditionPending, Reason: ReasonMinInstancesWarming, LastTransitionTime: now},
	}
}

// phase returns the Ready condition's state, reason and message.
func (r *revision) phase() (ConditionState, string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cond.State, r.cond.Reason, r.cond.Message
}

// wait waits until the revision is ready or failed.
func (r *revision) wait(ctx context.Context) (RevisionState, error) {
	select {
	case <-r.done:
	case <-ctx.Done():
		return r.state(), fmt.Errorf("wait for revision %q: %w", r.name, ctx.Err())
	case <-r.c.ctx.Done():
		return r.state(), fmt.Errorf("wait for revision %q: %w", r.name, ErrClosed)
	}
	st := r.state()
	if st.Ready.State == ConditionFailed {
		return st, fmt.Errorf("revision %q: %s: %s: %w", r.name, st.Ready.Reason, st.Ready.Message, ErrRevisionFailed)
	}
	return st, nil
}

// state returns a snapshot (without Percent and Tags, which the service
// fills in).
func (r *revision) state() RevisionState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RevisionState{
		Name:       r.name,
		Service:    r.s.name,
		Generation: 1,
		CreateTime: r.createTime,
		Template:   r.tmpl,
		Ready:      r.cond,
		Queued:     r.waiters.Len(),
	}
	st.Template.Env = maps.Clone(r.tmpl.Env)
	for _, in := range r.instances {
		st.Instances = append(st.Instances, in.stateLocked())
	}
	return st
}

// minInstancesLocked is how many instances the revision keeps however
// idle: its min instances while it serves traffic, and at least one while
// it is not ready yet (a deploy starts an instance to check it).
func (r *revision) minInstancesLocked() int {
	n := 0
	if r.inTraffic.Load() {
		n = r.tmpl.Scaling.MinInstances
	}
	if r.cond.State == ConditionPending {
		n = max(n, r.tmpl.Scaling.MinInstances, 1)
	}
	return n
}

// scale is one autoscaler evaluation: demand is the requests in flight
// plus those queued; the revision wants ceil(demand / (target ×
// concurrency)) instances within its min and max. It starts the missing
// ones at once and retires ready instances that have been idle for the
// idle retention while it has more than it wants. It also records
// container/instance_count.
func (r *revision) scale(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cond.State != ConditionFailed {
		demand, alive := r.waiters.Len(), 0
		for _, in := range r.instances {
			demand += in.inflight
			if in.state == InstanceStarting || in.state == InstanceReady {
				alive++
			}
		}
		target := max(1, r.tmpl.Concurrency*r.s.cfg.TargetUtilization/100)
		want := (demand + target - 1) / target
		want = min(max(want, r.minInstancesLocked()), r.tmpl.Scaling.MaxInstances)
		for ; alive < want; alive++ {
			if !r.startInstanceLocked() {
				break
			}
		}
		if alive > want {
			retention := r.c.clock.Wall(r.s.cfg.IdleRetention.D())
			var idle []*instance
			for _, in := range r.instances {
				if in.state == InstanceReady && in.inflight == 0 && now.Sub(in.idleSince) >= retention {
					idle = append(idle, in)
				}
			}
			slices.SortFunc(idle, func(a, b *instance) int { return a.idleSince.Compare(b.idleSince) })
			for _, in := range idle[:min(len(idle), alive-want)] {
				r.retireLocked(in)
			}
		}
	}
	r.recordInstanceCountLocked()
}

// recordInstanceCountLocked sets container/instance_count by state: an
// instance that served a request since the last evaluation, or has one in
// flight, is active; other started instances are idle.
func (r *revision) recordInstanceCountLocked() {
	var active, idle int64
	for _, in := range r.instances {
		if in.state != InstanceReady && in.state != InstanceDraining {
			continue
		}
		if in.inflight > 0 || in.servedSinceTick {
			active++
		} else {
			idle++
		}
		in.servedSinceTick = false
	}
	if r.gaugesSet && active == r.lastActive && idle == r.lastIdle {
		return
	}
	r.gaugesSet, r.lastActive, r.lastIdle = true, active, idle
	r.c.rec.SetGauge(MetricRunInstanceCount, r.res, map[string]string{"state": "active"}, active)
	r.c.rec.SetGauge(MetricRunInstanceCount, r.res, map[string]string{"state": "idle"}, idle)
}

// startInstanceLocked creates an instance and starts its lifecycle; it
// reports false when the cloud is closing.
func (r *revision) startInstanceLocked() bool {
	r.nextInst++
	in := newInstance(r, r.name+"-"+strconv.Itoa(r.nextInst))
	in.warm = r.initial && r.cond.State == ConditionPending
	if !r.c.startInstance(in) {
		return false
	}
	r.instances = append(r.instances, in)
	return true
}

// retireLocked starts the SIGTERM-style drain of a ready instance: it takes
// no new request and finishes those in flight within the shutdown grace.
func (r *revision) retireLocked(in *instance) {
	if in.state != InstanceReady {
		return
	}
	in.state = InstanceDraining
	close(in.drainCh)
	if in.inflight == 0 {
		in.drainedOnce.Do(func() { close(in.drainedCh) })
	}
}

// pickLocked returns a ready instance with a free slot, or nil: the less
// loaded of two picked at random (the "power of two choices" that Envoy's
// least-request balancing uses), so a new instance takes a growing share
// rather than every request at once.
func (r *revision) pickLocked() *instance {
	var a, b *instance
	n := 0
	for _, in := range r.instances {
		if in.state != InstanceReady || in.inflight >= r.tmpl.Concurrency {
			continue
		}
		n++
		// Reservoir-sample two distinct candidates.
		switch {
		case n == 1:
			a = in
		case n == 2:
			b = in
		default:
			if j := rand.IntN(n); j == 0 {
				a = in
			} else if j == 1 {
				b = in
			}
		}
	}
	if b == nil || (a != nil && a.inflight <= b.inflight) {
		return a
	}
	return b
}

// tryAcquire takes a slot on in if it is ready and has one free (session
// affinity's best effort).
func (r *revision) tryAcquire(in *instance) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.state != InstanceReady || in.inflight >= r.tmpl.Concurrency {
		return false
	}
	in.inflight++
	in.servedSinceTick = true
	return true
}

// acquire takes a slot on an instance, queueing for up to the queue
// timeout when every instance is busy or still starting. The slot must be
// given back with release.
func (r *revision) acquire(ctx context.Context) (*instance, error) {
	r.mu.Lock()
	if r.cond.State == ConditionFailed {
		r.mu.Unlock()
		return nil, errNoReadyInstance
	}
	if in := r.pickLocked(); in != nil {
		in.inflight++
		in.servedSinceTick = true
		r.mu.Unlock()
		return in, nil
	}
	w := &waiter{ch: make(chan *instance, 1)}
	w.elem = r.waiters.PushBack(w)
	alive := 0
	for _, in := range r.instances {
		if in.state == InstanceStarting || in.state == InstanceReady {
			alive++
		}
	}
	if alive == 0 && r.tmpl.Scaling.MaxInstances > 0 {
		r.startInstanceLocked() // scale from zero without waiting for the next evaluation
	}
	r.mu.Unlock()

	// A queued request waits for the queue timeout; past it, if the
	// revision can still grow, until the request timeout (Cloud Run keeps
	// requests pending while it scales out); at max instances it gets 429.
	queue := r.s.cfg.QueueTimeout.D()
	t := r.c.clock.NewTimer(queue)
	defer t.Stop()
	extended := false
	for {
		var cause error
		select {
		case in := <-w.ch:
			if in == nil { // the revision failed
				return nil, errNoReadyInstance
			}
			return in, nil
		case <-t.C():
		case <-ctx.Done():
			cause = ctx.Err()
		}
		in, done, err := r.dequeue(w, cause, extended)
		if done {
			return in, err
		}
		extended = true
		t.Reset(max(r.tmpl.RequestTimeout-queue, 0))
	}
}

// dequeue settles a waiter whose wait ended by cause (nil: its timer). It
// returns done false when the wait should go on until the request timeout.
func (r *revision) dequeue(w *waiter, cause error, extended bool) (*instance, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.elem == nil { // a slot was handed over meanwhile, or the revision failed
		in := <-w.ch
		switch {
		case in == nil:
			return nil, true, errNoReadyInstance
		case cause != nil:
			r.releaseLocked(in)
			return nil, true, cause
		}
		return in, true, nil
	}
	if cause != nil {
		r.waiters.Remove(w.elem)
		w.elem = nil
		return nil, true, cause
	}
	ready, alive := 0, 0
	for _, in := range r.instances {
		switch in.state {
		case InstanceReady:
			ready++
			alive++
		case InstanceStarting:
			alive++
		}
	}
	atMax := alive >= r.tmpl.Scaling.MaxInstances
	if !extended && !atMax && alive > 0 {
		return nil, false, nil
	}
	r.waiters.Remove(w.elem)
	w.elem = nil
	switch {
	case ready == 0:
		return nil, true, errNoReadyInstance
	case atMax:
		return nil, true, errAtMaxInstances
	}
	return nil, true, errNotAbsorbed
}

// release gives back a slot taken by acquire or tryAcquire.
func (r *revision) release(in *instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked(in)
}

func (r *revision) releaseLocked(in *instance) {
	if in.state == InstanceReady && r.waiters.Len() > 0 {
		r.handOverLocked(in) // the slot goes to the oldest waiter as it is
		return
	}
	in.inflight--
	if in.inflight == 0 {
		in.idleSince = r.c.clock.Now()
		if in.state == InstanceDraining {
			in.drainedOnce.Do(func() { close(in.drainedCh) })
		}
	}
}

// handOverLocked gives a slot of in to the oldest waiter.
func (r *revision) handOverLocked(in *instance) {
	w := r.waiters.Remove(r.waiters.Front()).(*waiter)
	w.elem = nil
	in.servedSinceTick = true
	w.ch <- in
}

// instanceReady marks in ready, hands its slots to queued requests, and
// makes the revision ready when enough of its instances are.
func (r *revision) instanceReady(in *instance) {
	r.mu.Lock()
	if in.state != InstanceStarting {
		r.mu.Unlock()
		return
	}
	now := r.c.clock.Now()
	in.state = InstanceReady
	in.readyTime = now
	in.idleSince = now
	for in.inflight < r.tmpl.Concurrency && r.waiters.Len() > 0 {
		in.inflight++
		r.handOverLocked(in)
	}
	becameReady := false
	if r.cond.State == ConditionPending {
		ready := 0
		for _, x := range r.instances {
			if x.state == InstanceReady {
				ready++
			}
		}
		if ready >= max(1, r.tmpl.Scaling.MinInstances) {
			becameReady = true
			r.cond = Condition{Type: "Ready", State: ConditionSucceeded, LastTransitionTime: now}
		}
	}
	r.mu.Unlock()
	if becameReady {
		r.s.revisionReady(r) // routes traffic to it before anyone waiting hears
		close(r.done)
	}
}

// instanceFailed records an instance that could not start; a revision
// that is not ready yet fails with the instance's reason.
func (r *revision) instanceFailed(in *instance, reason, msg string) {
	r.mu.Lock()
	in.state = InstanceFailed
	in.reason = msg
	r.removeLocked(in)
	failed := false
	if r.cond.State == ConditionPending {
		failed = true
		r.cond = Condition{Type: "Ready", State: ConditionFailed, Reason: reason, Message: msg,
			LastTransitionTime: r.c.clock.Now()}
		// Nothing will serve the queued requests.
		for r.waiters.Len() > 0 {
			w := r.waiters.Remove(r.waiters.Front()).(*waiter)
			w.elem = nil
			close(w.ch)
		}
	}
	r.mu.Unlock()
	if failed {
		r.s.revisionFailed(r)
		close(r.done)
	}
}

// instanceStopped forgets an instance that has shut down.
func (r *revision) instanceStopped(in *instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.state != InstanceFailed {
		in.state = InstanceStopped
	}
	r.removeLocked(in)
}

func (r *revision) removeLocked(in *instance) {
	if i := slices.Index(r.instances, in); i >= 0 {
		r.instances = slices.Delete(r.instances, i, i+1)
	}
}
