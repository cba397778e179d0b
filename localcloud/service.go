package localcloud

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/scenarios"
)

// service is one Cloud Run service: its front ends, its revisions in
// creation order and its traffic split.
//
// Lock order: service.mu, then revision.mu, then Cloud.mu (a leaf).
type service struct {
	c    *Cloud
	name string
	cfg  scenarios.CloudService
	fe   *frontEnd // the main URL

	// routes is what the front ends route by; replaced whole on change.
	routes atomic.Pointer[routeTable]

	mu            sync.Mutex
	closed        bool
	generation    int64
	createTime    time.Time
	updateTime    time.Time
	revisions     []*revision
	byName        map[string]*revision
	revCounter    int
	latestCreated *revision
	latestReady   *revision
	traffic       []TrafficTarget // as asked
	applied       []TrafficTarget // as served
	pending       bool            // traffic not yet served
	tagFEs        map[string]*frontEnd
	retiredFEs    []*frontEnd // stopped tag front ends, waited for on close
	cond          Condition
}

func newService(ctx context.Context, c *Cloud, cfg scenarios.CloudService) (*service, error) {
	now := c.clock.Now()
	s := &service{
		c:          c,
		name:       cfg.Name,
		cfg:        cfg,
		createTime: now,
		updateTime: now,
		byName:     map[string]*revision{},
		tagFEs:     map[string]*frontEnd{},
		cond:       Condition{Type: "Ready", State: ConditionPending, LastTransitionTime: now},
	}
	s.routes.Store(&routeTable{})
	fe, err := newFrontEnd(ctx, s, "")
	if err != nil {
		return nil, fmt.Errorf("start front end of service %q: %w", cfg.Name, err)
	}
	s.fe = fe
	return s, nil
}

// startScaler starts the autoscaler loop: every scale interval, each
// revision compares its demand with its instances.
func (s *service) startScaler() {
	s.c.goBackground(func() {
		t := s.c.clock.NewTicker(s.cfg.ScaleInterval.D())
		defer t.Stop()
		for {
			select {
			case <-s.c.ctx.Done():
				return
			case <-t.C():
			}
			s.mu.Lock()
			revs := slices.Clone(s.revisions)
			s.mu.Unlock()
			now := s.c.clock.Now()
			for _, r := range revs {
				r.scale(now)
			}
		}
	})
}

var (
	suffixRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	tagRE    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,44}[a-z0-9])?$`)
)

// baseTemplate is the template of the first revision, from the scenario.
func (s *service) baseTemplate() Template {
	return Template{
		Image:           s.cfg.Image,
		Env:             map[string]string{},
		Scaling:         Scaling{MinInstances: s.cfg.MinInstances, MaxInstances: s.cfg.MaxInstances},
		Concurrency:     s.cfg.Concurrency,
		RequestTimeout:  s.cfg.RequestTimeout.D(),
		Egress:          s.cfg.Egress,
		SessionAffinity: s.cfg.SessionAffinity,
	}
}

// deploy creates a revision from spec over the latest created template.
func (s *service) deploy(spec RevisionSpec, first bool) (*revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	t := s.baseTemplate()
	if s.latestCreated != nil {
		t = s.latestCreated.tmpl
		t.Env = maps.Clone(t.Env)
	}
	if spec.Image != "" {
		t.Image = spec.Image
	}
	if spec.Env != nil {
		t.Env = maps.Clone(spec.Env)
	}
	if spec.Scaling != nil {
		t.Scaling = *spec.Scaling
	}
	if spec.Concurrency != 0 {
		t.Concurrency = spec.Concurrency
	}
	if spec.RequestTimeout != 0 {
		t.RequestTimeout = spec.RequestTimeout
	}
	if spec.Egress != "" {
		t.Egress = spec.Egress
	}
	if spec.SessionAffinity != nil {
		t.SessionAffinity = *spec.SessionAffinity
	}
	if err := checkTemplate(t); err != nil {
		return nil, err
	}

	var name string
	if spec.Suffix != "" {
		if !suffixRE.MatchString(spec.Suffix) || len(s.name)+1+len(spec.Suffix) > 63 {
			return nil, fmt.Errorf("revision suffix %q: lower-case letters, digits and dashes, at most %d characters: %w",
				spec.Suffix, 62-len(s.name), ErrInvalidArgument)
		}
		name = s.name + "-" + spec.Suffix
		if _, taken := s.byName[name]; taken {
			return nil, fmt.Errorf("revision %q: %w", name, ErrAlreadyExists)
		}
	} else {
		for {
			name = fmt.Sprintf("%s-%05d-%s", s.name, s.revCounter+1, s.c.randomLetters(3))
			if _, taken := s.byName[name]; !taken {
				break
			}
		}
	}
	if spec.Traffic != nil {
		if err := s.checkTrafficLocked(spec.Traffic, name); err != nil {
			return nil, err
		}
	}

	s.revCounter++
	unpullable := spec.Unpullable || s.c.isUnpullable(t.Image)
	r := newRevision(s, name, len(s.revisions), t, unpullable)
	r.initial = first && s.c.starting.Load()
	s.revisions = append(s.revisions, r)
	s.byName[name] = r
	s.latestCreated = r
	s.generation++
	s.updateTime = r.createTime
	if spec.Traffic != nil {
		s.traffic = slices.Clone(spec.Traffic)
		s.pending = true
	}
	s.reconcileLocked()
	if !first {
		s.c.logf("service %s: revision %s created (image %s)", s.name, name, t.Image)
	}
	r.scale(s.c.clock.Now()) // start its first instances now
	return r, nil
}

func checkTemplate(t Template) error {
	switch {
	case t.Image == "":
		return fmt.Errorf("template: image is required: %w", ErrInvalidArgument)
	case t.Concurrency < 1 || t.Concurrency > 1000:
		return fmt.Errorf("template: concurrency must be between 1 and 1000, got %d: %w", t.Concurrency, ErrInvalidArgument)
	case t.Scaling.MinInstances < 0 || t.Scaling.MaxInstances < 1 || t.Scaling.MinInstances > t.Scaling.MaxInstances:
		return fmt.Errorf("template: scaling min %d max %d: need 0 ≤ min ≤ max and max ≥ 1: %w",
			t.Scaling.MinInstances, t.Scaling.MaxInstances, ErrInvalidArgument)
	case t.RequestTimeout <= 0:
		return fmt.Errorf("template: request timeout must be positive: %w", ErrInvalidArgument)
	case t.Egress != EgressAllTraffic && t.Egress != EgressPrivateRangesOnly:
		return fmt.Errorf("template: egress %q: must be %s or %s: %w", t.Egress, EgressAllTraffic, EgressPrivateRangesOnly, ErrInvalidArgument)
	}
	return nil
}

// setTraffic replaces the traffic split.
func (s *service) setTraffic(targets []TrafficTarget) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.checkTrafficLocked(targets, ""); err != nil {
		return err
	}
	s.traffic = slices.Clone(targets)
	s.pending = true
	s.generation++
	s.updateTime = s.c.clock.Now()
	s.reconcileLocked()
	return nil
}

// checkTrafficLocked validates a split; newName is a revision about to be
// created that it may name.
func (s *service) checkTrafficLocked(targets []TrafficTarget, newName string) error {
	if len(targets) == 0 {
		return fmt.Errorf("traffic: at least one target is required: %w", ErrInvalidArgument)
	}
	sum := 0
	tags := map[string]bool{}
	for i, t := range targets {
		switch {
		case t.Latest && t.Revision != "":
			return fmt.Errorf("traffic[%d]: name a revision or LATEST, not both: %w", i, ErrInvalidArgument)
		case !t.Latest && t.Revision == "":
			return fmt.Errorf("traffic[%d]: name a revision or LATEST: %w", i, ErrInvalidArgument)
		case t.Percent < 0 || t.Percent > 100:
			return fmt.Errorf("traffic[%d]: percent %d is not between 0 and 100: %w", i, t.Percent, ErrInvalidArgument)
		}
		if t.Revision != "" && t.Revision != newName {
			r, ok := s.byName[t.Revision]
			if !ok {
				return fmt.Errorf("traffic[%d]: revision %q does not exist: %w", i, t.Revision, ErrInvalidArgument)
			}
			if st, _, _ := r.phase(); st == ConditionFailed {
				return fmt.Errorf("traffic[%d]: revision %q failed and cannot serve traffic: %w", i, t.Revision, ErrInvalidArgument)
			}
		}
		if t.Tag != "" {
			if !tagRE.MatchString(t.Tag) {
				return fmt.Errorf("traffic[%d]: tag %q: lower-case letters, digits and dashes, starting with a letter: %w",
					i, t.Tag, ErrInvalidArgument)
			}
			if tags[t.Tag] {
				return fmt.Errorf("traffic[%d]: tag %q is used twice: %w", i, t.Tag, ErrInvalidArgument)
			}
			tags[t.Tag] = true
		}
		sum += t.Percent
	}
	if sum != 100 {
		return fmt.Errorf("traffic: percents sum to %d, not 100: %w", sum, ErrInvalidArgument)
	}
	return nil
}

// revisionReady is called by a revision that just became ready, before its
// waiters are released.
func (s *service) revisionReady(r *revision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latestReady == nil || r.index > s.latestReady.index {
		s.latestReady = r
	}
	s.c.logf("service %s: revision %s ready", s.name, r.name)
	s.reconcileLocked()
}

// revisionFailed is called by a revision that just failed.
func (s *service) revisionFailed(r *revision) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, reason, msg := r.phase()
	s.c.logf("service %s: revision %s failed: %s: %s", s.name, r.name, reason, msg)
	s.reconcileLocked()
}

// reconcileLocked serves the asked-for traffic once every revision it names
// is ready (or drops it if one failed), rebuilds the routes, and updates the
// Ready condition.
func (s *service) reconcileLocked() {
	if s.pending {
		ok, failed := true, false
		for _, t := range s.traffic {
			if t.Latest {
				ok = ok && s.latestReady != nil
				continue
			}
			switch st, _, _ := s.byName[t.Revision].phase(); st {
			case ConditionFailed:
				failed = true
			case ConditionPending:
				ok = false
			}
		}
		switch {
		case failed:
			s.traffic = slices.Clone(s.applied)
			s.pending = false
		case ok:
			s.applied = slices.Clone(s.traffic)
			s.pending = false
		}
	}
	s.buildRoutesLocked()
	s.updateConditionLocked()
}

func (s *service) updateConditionLocked() {
	c := Condition{Type: "Ready", State: ConditionPending}
	if r := s.latestCreated; r != nil {
		st, reason, msg := r.phase()
		switch {
		case st == ConditionFailed:
			c.State = ConditionFailed
			c.Reason = reason
			c.Message = fmt.Sprintf("Revision '%s' is not ready and cannot serve traffic. %s", r.name, msg)
		case st == ConditionSucceeded && !s.pending:
			c.State = ConditionSucceeded
		default:
			c.Reason = reason
		}
	}
	if c.State != s.cond.State || c.Reason != s.cond.Reason {
		c.LastTransitionTime = s.c.clock.Now()
		s.cond = c
	}
}

// buildRoutesLocked turns the served split into a route table and keeps
// one front end per tag.
func (s *service) buildRoutesLocked() {
	rt := &routeTable{percent: map[*revision]int{}, tags: map[string]*revision{}}
	type share struct {
		r   *revision
		pct int
	}
	var shares []share
	for _, t := range s.applied {
		r := s.latestReady
		if !t.Latest {
			r = s.byName[t.Revision]
		}
		if t.Percent > 0 {
			shares = append(shares, share{r, t.Percent})
			if r != nil {
				rt.percent[r] += t.Percent
			}
		}
		if t.Tag != "" && r != nil {
			rt.tags[t.Tag] = r
		}
	}
	// Spread the shares over 100 slots by smooth weighted round robin, so
	// that any 100 consecutive requests follow the split exactly.
	cur := make([]int, len(shares))
	for i := range rt.slots {
		best := -1
		for j, sh := range shares {
			cur[j] += sh.pct
			if best < 0 || cur[j] > cur[best] {
				best = j
			}
		}
		if best >= 0 {
			cur[best] -= 100
			rt.slots[i] = shares[best].r
		}
	}
	for _, r := range s.revisions {
		r.inTraffic.Store(rt.percent[r] > 0)
	}
	// One front end per tag.
	for tag, fe := range s.tagFEs {
		if _, keep := rt.tags[tag]; !keep {
			fe.stop()
			s.retiredFEs = append(s.retiredFEs, fe)
			delete(s.tagFEs, tag)
		}
	}
	for tag := range rt.tags {
		if _, ok := s.tagFEs[tag]; ok || s.closed {
			continue
		}
		fe, err := newFrontEnd(s.c.ctx, s, tag)
		if err != nil {
			s.c.logf("service %s: tag %s: %v", s.name, tag, err)
			delete(rt.tags, tag)
			continue
		}
		s.tagFEs[tag] = fe
	}
	for _, t := range s.applied {
		r := s.latestReady
		if !t.Latest {
			r = s.byName[t.Revision]
		}
		st := TrafficStatus{Latest: t.Latest, Percent: t.Percent, Tag: t.Tag}
		if r != nil {
			st.Revision = r.name
		}
		if fe, ok := s.tagFEs[t.Tag]; ok && t.Tag != "" {
			st.URL = fe.url()
		}
		rt.statuses = append(rt.statuses, st)
	}
	s.routes.Store(rt)
}

// revision returns the revision called name.
func (s *service) revision(name string) (*revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("revision %q of service %q: %w", name, s.name, ErrNotFound)
	}
	return r, nil
}

// state returns a snapshot of the service.
func (s *service) state() ServiceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.routes.Load()
	st := ServiceState{
		Name:            s.name,
		Project:         s.c.cfg.Project,
		Region:          s.c.cfg.Region,
		URL:             s.fe.url(),
		Generation:      s.generation,
		CreateTime:      s.createTime,
		UpdateTime:      s.updateTime,
		Traffic:         slices.Clone(s.traffic),
		TrafficStatuses: slices.Clone(rt.statuses),
		Reconciling:     s.pending,
		Ready:           s.cond,
	}
	if r := s.latestCreated; r != nil {
		st.Template = r.tmpl
		st.Template.Env = maps.Clone(r.tmpl.Env)
		st.LatestCreatedRevision = r.name
		if ph, _, _ := r.phase(); ph == ConditionPending {
			st.Reconciling = true
		}
	}
	if s.latestReady != nil {
		st.LatestReadyRevision = s.latestReady.name
	}
	for _, r := range s.revisions {
		rs := r.state()
		rs.Percent = rt.percent[r]
		for tag, tr := range rt.tags {
			if tr == r {
				rs.Tags = append(rs.Tags, tag)
			}
		}
		slices.Sort(rs.Tags)
		st.Revisions = append(st.Revisions, rs)
	}
	return st
}

// close stops the service's front ends; instances stop with the cloud's
// context.
func (s *service) close() {
	s.mu.Lock()
	s.closed = true
	fes := append([]*frontEnd{s.fe}, s.retiredFEs...)
	for _, fe := range s.tagFEs {
		fes = append(fes, fe)
	}
	s.mu.Unlock()
	for _, fe := range fes {
		fe.close()
	}
}

// routeTable is an immutable routing decision for the front ends.
type routeTable struct {
	// slots spread the percent split over 100 requests; nil entries are
	// shares that have no ready revision (LATEST before any is ready).
	slots    [100]*revision
	next     atomic.Uint64
	percent  map[*revision]int
	tags     map[string]*revision
	statuses []TrafficStatus
}

// pick returns the revision for the next request on the front end of tag
// ("" for the main URL), or nil when none can serve.
func (rt *routeTable) pick(tag string) *revision {
	if tag != "" {
		return rt.tags[tag]
	}
	return rt.slots[(rt.next.Add(1)-1)%uint64(len(rt.slots))]
}

// serves reports whether r takes requests on the front end of tag.
func (rt *routeTable) serves(tag string, r *revision) bool {
	if tag != "" {
		return rt.tags[tag] == r
	}
	return rt.percent[r] > 0
}
