package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// DefaultRollbackTimeout bounds restoring the traffic split, which runs
// under a context of its own so that it also happens after Ctrl-C.
const DefaultRollbackTimeout = 2 * time.Minute

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
	// beforeChange runs before every change to a service; an error stops
	// the change.
	beforeChange func(service string) error
	// claimed lists the services this run holds, in claim order.
	claimed []string
	// failed is the error of the action that failed, if one did.
	failed error
	// begun is set once the first action starts.
	begun atomic.Bool

	// rmu serializes restores: the first one runs, later callers get its
	// outcome.
	rmu sync.Mutex
	rs  restoreState
}

// newCutover prepares the actions on the services read at preflight.
func newCutover(sc *scenarios.Scenario, platforms map[string]Platform, before map[string]Service, now func() time.Time, rec *recorder) *cutover {
	return &cutover{platforms: platforms, target: sc.Target.Service, sc: sc, now: now, rec: rec, before: before}
}

// ErrUnknownRevision: a traffic action names a revision the service has
// not got and no deploy of the scenario will make. It is the scenario's
// mistake, found against the service.
var ErrUnknownRevision = errors.New("unknown revision")

// Preflight reads every service the scenario's actions touch and checks
// what the scenario names in them: a service that cannot be read, or a
// literal revision name the service has not got and no deploy of the run
// will make, stops the run before anything changes.
func Preflight(ctx context.Context, sc *scenarios.Scenario, platforms map[string]Platform) (map[string]Service, error) {
	before := map[string]Service{}
	for _, name := range actionServices(sc) {
		p, ok := platforms[name]
		if !ok {
			return nil, fmt.Errorf("no platform for service %q", name)
		}
		svc, err := p.Service(ctx)
		if err != nil {
			return nil, fmt.Errorf("read service %q: %w", name, err)
		}
		before[name] = svc
	}
	if err := checkRevisions(ctx, sc, platforms[sc.Target.Service]); err != nil {
		return nil, err
	}
	return before, nil
}

// checkRevisions checks the literal revision names of the traffic actions
// against the target's revisions and the names the run's deploys give.
func checkRevisions(ctx context.Context, sc *scenarios.Scenario, p Platform) error {
	var literal []string
	for _, a := range sc.Actions {
		if a.Traffic == nil {
			continue
		}
		refs := []string{a.Traffic.Revision}
		for _, sp := range a.Traffic.Split {
			refs = append(refs, sp.Revision)
		}
		for _, ref := range refs {
			if ref != "" && !strings.HasPrefix(ref, "@") && ref != scenarios.RevisionLatest && !slices.Contains(literal, ref) {
				literal = append(literal, ref)
			}
		}
	}
	lister, ok := p.(RevisionLister)
	if len(literal) == 0 || !ok {
		return nil
	}
	have, err := lister.Revisions(ctx)
	if err != nil {
		return fmt.Errorf("list the revisions of %s: %w", sc.Target.Service, err)
	}
	for _, a := range sc.Actions {
		if d := a.Deploy; d != nil && d.RevisionSuffix != "" && (d.Service == "" || d.Service == sc.Target.Service) {
			have = append(have, sc.Target.Service+"-"+d.RevisionSuffix)
		}
	}
	var missing []string
	for _, ref := range literal {
		if !slices.Contains(have, ref) {
			missing = append(missing, fmt.Sprintf("%q", ref))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: service %s has no revision %s, and no deploy of this scenario names one so (it has %s)",
			ErrUnknownRevision, sc.Target.Service, strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	return nil
}

// actionServices lists the services a scenario's actions change: the
// target first.
func actionServices(sc *scenarios.Scenario) []string {
	names := []string{sc.Target.Service}
	for _, a := range sc.Actions {
		if a.Deploy != nil && a.Deploy.Service != "" && !slices.Contains(names, a.Deploy.Service) {
			names = append(names, a.Deploy.Service)
		}
	}
	return names
}

// record is the cutover part of the run record as preflight leaves it.
func (c *cutover) record(target results.PlatformTarget, restoreCommand string) *results.Cutover {
	before := c.before[c.target]
	rc := &results.Cutover{
		Service:          before.Name,
		BaselineRevision: before.LatestReadyRevision,
		TrafficBefore:    FormatSplit(before.Traffic),
		RestoreTo:        c.restoreSplits(),
		Rollback:         c.sc.Rollback,
		Target:           target,
		Left:             results.LeftUnchanged,
		RestoreCommand:   restoreCommand,
	}
	for _, name := range c.services() {
		rc.Services = append(rc.Services, results.ServiceRestore{
			Name: name, Resource: c.before[name].Name, Split: pinned(c.before[name]),
		})
	}
	return rc
}

// started reports whether the first action has started.
func (c *cutover) started() bool { return c.begun.Load() }

// services lists the services the actions change: the target first.
func (c *cutover) services() []string { return actionServices(c.sc) }

// event records a platform event on the timeline.
func (c *cutover) event(kind results.EventKind, details map[string]string) {
	c.rec.addEvent(results.Event{Kind: kind, At: c.now(), Details: details})
}

// run executes the actions in order, each no earlier than start+At. It
// returns the first action's error; the actions after it are skipped.
func (c *cutover) run(ctx context.Context, start time.Time) error {
	for i, a := range c.sc.Actions {
		if err := sleepUntil(ctx, c.now, start.Add(a.At.D())); err != nil {
			return nil // the run is over or aborted: nothing failed
		}
		c.begun.Store(true)
		if err := c.do(ctx, a); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			msg := fmt.Sprintf("actions[%d] (%s at %s): %v", i, kindOf(a), a.At, err)
			c.event(results.EventActionFailed, map[string]string{"action": fmt.Sprint(i), "error": err.Error()})
			c.rec.setFailedAction(msg)
			c.failed = errors.New(msg)
			return c.failed
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
	case a.Chaos != nil:
		return "chaos " + a.Chaos.Action
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
	case a.Chaos != nil:
		return c.chaos(ctx, a.Chaos)
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
	if err := c.beforeChange(service); err != nil {
		return err
	}
	c.event(results.EventDeployStart, details)
	report := func(e Event) {
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details["service"] = service
		c.report(e)
		if e.Kind == results.EventRevisionCreated && e.Details["revision"] != "" {
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

// chaos carries out a chaos action on the target service.
func (c *cutover) chaos(ctx context.Context, a *scenarios.ChaosAction) error {
	ch, ok := c.platforms[c.target].(Chaoser)
	if !ok {
		return fmt.Errorf("this platform cannot carry out the chaos action %s", a.Action)
	}
	if err := c.beforeChange(c.target); err != nil {
		return err
	}
	return ch.Chaos(ctx, *a, func(e Event) {
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		e.Details["service"] = c.target
		c.report(e)
	})
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
	c.event(results.EventTrafficApplied, map[string]string{"service": service, "traffic": FormatSplit(svc.Traffic), "latest_ready": svc.LatestReadyRevision})
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
	if err := c.beforeChange(c.target); err != nil {
		return err
	}
	if err := c.platforms[c.target].SetTraffic(ctx, split); err != nil {
		return err
	}
	c.event(results.EventTrafficApplied, map[string]string{"service": c.target, "traffic": FormatSplit(split)})
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
