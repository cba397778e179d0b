package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// DefaultRollbackTimeout bounds restoring the traffic split, which runs
// under a context of its own so that it also happens after Ctrl-C.
const DefaultRollbackTimeout = 2 * time.Minute

// ErrRestoreFailed is wrapped by the error Run returns when the traffic
// split recorded before the run could not be put back.
var ErrRestoreFailed = errors.New("restore the traffic split")

// FormatSplit renders a split for people and records: "api-00001-abc=90%,
// api-00002-xyz=10% (tag canary)", with LATEST for latest-ready targets.
func FormatSplit(split []TrafficTarget) string {
	parts := make([]string, 0, len(split))
	for _, t := range split {
		name := t.Revision
		if t.Latest {
			name = "LATEST"
		}
		p := fmt.Sprintf("%s=%d%%", name, t.Percent)
		if t.Tag != "" {
			p += " (tag " + t.Tag + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// cutover carries out a scenario's actions on a platform, records their
// events, and restores the split recorded at preflight when asked.
type cutover struct {
	// platforms holds a platform per service the actions touch; target is
	// the service traffic and wait actions apply to.
	platforms map[string]Platform
	target    string
	sc        *scenarios.Scenario
	now       func() time.Time
	rec       *recorder
	// before holds each service as read at preflight.
	before map[string]Service
	// deployed is the revision of the latest deploy action on the target.
	deployed string
}

// newCutover reads every service the actions touch (preflight).
func newCutover(ctx context.Context, sc *scenarios.Scenario, platforms map[string]Platform, now func() time.Time, rec *recorder) (*cutover, error) {
	c := &cutover{platforms: platforms, target: sc.Target.Service, sc: sc, now: now, rec: rec, before: map[string]Service{}}
	for _, name := range c.services() {
		p, ok := platforms[name]
		if !ok {
			return nil, fmt.Errorf("no platform for service %q", name)
		}
		svc, err := p.Service(ctx)
		if err != nil {
			return nil, fmt.Errorf("read service %q: %w", name, err)
		}
		c.before[name] = svc
	}
	return c, nil
}

// services lists the services the actions change: the target first.
func (c *cutover) services() []string {
	names := []string{c.target}
	for _, a := range c.sc.Actions {
		if a.Deploy != nil && a.Deploy.Service != "" && !slices.Contains(names, a.Deploy.Service) {
			names = append(names, a.Deploy.Service)
		}
	}
	return names
}

// event records a platform event on the timeline.
func (c *cutover) event(kind string, details map[string]string) {
	c.rec.addEvent(results.Event{Kind: kind, At: c.now(), Details: details})
}

// run executes the actions in order, each no earlier than start+At. It
// returns the first action's error; the actions after it are skipped.
func (c *cutover) run(ctx context.Context, start time.Time) error {
	for i, a := range c.sc.Actions {
		if err := sleepUntil(ctx, c.now, start.Add(a.At.D())); err != nil {
			return nil // the run is over or aborted: nothing failed
		}
		if err := c.do(ctx, a); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			msg := fmt.Sprintf("actions[%d] (%s at %s): %v", i, kindOf(a), a.At, err)
			c.event(EventActionFailed, map[string]string{"action": fmt.Sprint(i), "error": err.Error()})
			c.rec.setFailedAction(msg)
			return errors.New(msg)
		}
	}
	return nil
}

func kindOf(a scenarios.Action) string {
	switch {
	case a.Deploy != nil:
		return "deploy"
	case a.Traffic != nil:
		return "traffic"
	default:
		return "wait"
	}
}

func (c *cutover) do(ctx context.Context, a scenarios.Action) error {
	switch {
	case a.Deploy != nil:
		return c.deploy(ctx, a.Deploy)
	case a.Traffic != nil:
		return c.traffic(ctx, a.Traffic)
	default:
		w, ok := c.platforms[c.target].(Waiter)
		if !ok {
			return errors.New("this platform cannot wait for a revision")
		}
		return w.WaitReady(ctx, c.deployed, c.report)
	}
}

// report records the events a platform reports, stamped by the runner's
// clock when the platform left them unstamped.
func (c *cutover) report(e Event) {
	if e.At.IsZero() {
		e.At = c.now()
	}
	c.rec.addEvent(e.record())
}

func (c *cutover) deploy(ctx context.Context, d *scenarios.DeployAction) error {
	service := d.Service
	if service == "" {
		service = c.target
	}
	details := map[string]string{"service": service, "traffic": d.Traffic}
	if d.Image != "" {
		details["image"] = d.Image
	}
	if d.RevisionSuffix != "" {
		details["revision_suffix"] = d.RevisionSuffix
	}
	c.event(EventDeployStart, details)
	report := func(e Event) {
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details["service"] = service
		c.report(e)
		if e.Kind == EventRevisionCreated && e.Details["revision"] != "" {
			c.created(service, e.Details["revision"])
		}
	}
	rev, err := c.platforms[service].Deploy(ctx, DeploySpec{
		Image:          d.Image,
		Env:            d.Env,
		DeployID:       fmt.Sprintf("%s-%d", c.rec.runID(), c.now().UnixNano()),
		RevisionSuffix: d.RevisionSuffix,
		NoTraffic:      d.Traffic == scenarios.DeployTrafficNone,
		Tag:            d.Tag,
		NoWait:         !d.Wait,
	}, report)
	if err != nil {
		return err
	}
	c.created(service, rev)
	if d.Wait {
		return c.applied(ctx, service)
	}
	return nil
}

// created notes a revision a deploy created, once.
func (c *cutover) created(service, rev string) {
	if service == c.target {
		if c.deployed == rev {
			return
		}
		c.deployed = rev
	}
	c.rec.addDeployed(rev)
}

// applied records the split a service serves now.
func (c *cutover) applied(ctx context.Context, service string) error {
	svc, err := c.platforms[service].Service(ctx)
	if err != nil {
		return fmt.Errorf("read the traffic split of %s: %w", service, err)
	}
	c.event(EventTrafficApplied, map[string]string{"service": service, "traffic": FormatSplit(svc.Traffic), "latest_ready": svc.LatestReadyRevision})
	return nil
}

// resolve turns a scenario revision reference into a traffic target.
func (c *cutover) resolve(ref string, percent int, tag string) (TrafficTarget, error) {
	t := TrafficTarget{Percent: percent, Tag: tag}
	switch ref {
	case scenarios.RevisionLatest:
		t.Latest = true
	case scenarios.RevisionDeployed:
		if c.deployed == "" {
			return t, errors.New("@deployed: no revision was deployed")
		}
		t.Revision = c.deployed
	case scenarios.RevisionBaseline:
		base := c.before[c.target].LatestReadyRevision
		if base == "" {
			return t, errors.New("@baseline: the service had no ready revision")
		}
		t.Revision = base
	default:
		t.Revision = ref
	}
	return t, nil
}

func (c *cutover) traffic(ctx context.Context, t *scenarios.TrafficAction) error {
	if len(t.Split) > 0 {
		split := make([]TrafficTarget, 0, len(t.Split))
		for _, s := range t.Split {
			tt, err := c.resolve(s.Revision, s.Percent, s.Tag)
			if err != nil {
				return err
			}
			split = append(split, tt)
		}
		return c.setTraffic(ctx, split)
	}
	for i, p := range t.Steps {
		if i > 0 {
			if err := sleepUntil(ctx, c.now, c.now().Add(t.Every.D())); err != nil {
				return err
			}
		}
		target, err := c.resolve(t.Revision, p, "")
		if err != nil {
			return err
		}
		split := []TrafficTarget{target}
		if p < 100 {
			rest, err := c.resolve(scenarios.RevisionBaseline, 100-p, "")
			if err != nil {
				return err
			}
			split = append(split, rest)
		}
		if err := c.setTraffic(ctx, split); err != nil {
			return fmt.Errorf("step %d%%: %w", p, err)
		}
	}
	return nil
}

func (c *cutover) setTraffic(ctx context.Context, split []TrafficTarget) error {
	if err := c.platforms[c.target].SetTraffic(ctx, split); err != nil {
		return err
	}
	c.event(EventTrafficApplied, map[string]string{"service": c.target, "traffic": FormatSplit(split)})
	return nil
}

// pinned returns the split a service served before the run, with LATEST
// resolved to the revision it served then: restoring LATEST itself would
// leave a newly deployed, ready revision serving.
func pinned(svc Service) []TrafficTarget {
	split := make([]TrafficTarget, 0, len(svc.Traffic))
	for _, t := range svc.Traffic {
		if t.Latest && svc.LatestReadyRevision != "" {
			t.Latest, t.Revision = false, svc.LatestReadyRevision
		}
		split = append(split, t)
	}
	return split
}

// restoreSplits describes what a restore puts back, per service.
func (c *cutover) restoreSplits() string {
	var parts []string
	for _, name := range c.services() {
		parts = append(parts, fmt.Sprintf("%s: %s", name, FormatSplit(pinned(c.before[name]))))
	}
	return strings.Join(parts, "; ")
}

// restore puts back what every touched service served at preflight, under
// a context of its own so that it runs after the run's context is
// cancelled. It tries every service, and reports each one that failed.
func (c *cutover) restore(ctx context.Context, why string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultRollbackTimeout)
	defer cancel()
	c.event(EventRollbackStart, map[string]string{"reason": why, "traffic": c.restoreSplits()})
	var errs []error
	for _, name := range c.services() {
		split := pinned(c.before[name])
		if err := c.platforms[name].SetTraffic(rctx, split); err != nil {
			c.event(EventRollbackFailed, map[string]string{"service": name, "error": err.Error(), "traffic": FormatSplit(split)})
			errs = append(errs, fmt.Errorf("%w of %s to %s: %w", ErrRestoreFailed, c.before[name].Name, FormatSplit(split), err))
			continue
		}
		c.event(EventRollbackDone, map[string]string{"service": name, "traffic": FormatSplit(split)})
	}
	return errors.Join(errs...)
}

// shouldRestore applies the rollback policy to how the run ended.
func shouldRestore(policy string, aborted, failed bool) (bool, string) {
	switch {
	case policy == scenarios.RollbackNever:
		return false, ""
	case aborted && policy != scenarios.RollbackNever:
		return true, "run aborted"
	case policy == scenarios.RollbackAlways:
		return true, "rollback: always"
	case failed && policy == scenarios.RollbackOnFailure:
		return true, "cutover failed"
	}
	return false, ""
}

// sleepUntil waits until t or until ctx is done.
func sleepUntil(ctx context.Context, now func() time.Time, t time.Time) error {
	d := t.Sub(now())
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// sortEvents orders events by time, keeping the order of equal times.
func sortEvents(es []results.Event) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].At.Before(es[j].At) })
}
