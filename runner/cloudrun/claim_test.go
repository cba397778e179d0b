package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// clock is a clock the test sets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// checkClaimed checks that err is a *runner.ClaimedError for service api
// held by holder.
func checkClaimed(t *testing.T, what string, err error, holder string) {
	t.Helper()
	var ce *runner.ClaimedError
	if !errors.As(err, &ce) || ce.Service != "api" || ce.Holder.RunID != holder ||
		!strings.Contains(err.Error(), "held by cutover run "+holder+" since ") {
		t.Errorf("%s: %v, want a ClaimedError: api held by %s", what, err, holder)
	}
}

// annotations reads the service's annotations through the API.
func (e *env) annotations(t *testing.T) map[string]string {
	t.Helper()
	svc, err := e.c.services.GetService(testCtx(t), &runpb.GetServiceRequest{Name: e.c.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return svc.GetAnnotations()
}

// rawSetTraffic changes the split the way another tool would (gcloud, the
// console): a read-modify-write with the plain API client that keeps the
// annotations it does not know.
func rawSetTraffic(t *testing.T, e *env, split ...runner.TrafficTarget) {
	t.Helper()
	ctx := testCtx(t)
	raw := connect(t, e.cloud, e.plane).services
	svc, err := raw.GetService(ctx, &runpb.GetServiceRequest{Name: e.c.Name()})
	if err != nil {
		t.Fatal(err)
	}
	svc.Traffic = trafficProto(split)
	op, err := raw.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("raw UpdateService: %v", err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatalf("raw UpdateService: %v", err)
	}
}

// Two runs of one service: the second is refused, or takes over with
// force, and then the first one's writes are refused and change nothing.
func TestClaimKeepsOneRunPerService(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	a, b := e.c, connect(t, e.cloud, e.plane)
	revisions := len(mustState(t, e.cloud).Revisions)
	latest := []runner.TrafficTarget{{Latest: true, Percent: 100}}
	var first runner.Claim

	for _, step := range []struct {
		name string
		do   func() error
		// claimedBy: the step fails with a ClaimedError naming this run;
		// errContains: with an error that says this.
		claimedBy, errContains string
		// holder holds the service after the step ("": nobody).
		holder string
		check  func(runner.Claim)
	}{
		{name: "a claims", do: func() error { return a.Claim(ctx, "run-a", time.Hour, false) }, holder: "run-a",
			check: func(c runner.Claim) {
				first = c
				if c.Traffic != "LATEST=100%" || c.Expires.Sub(c.Since) != time.Hour || c.Since.Before(fakeBase) {
					t.Errorf("claim %+v, want LATEST=100%% for an hour from a time of Config.Now", c)
				}
			}},
		{name: "a claims again: renewed", do: func() error { return a.Claim(ctx, "run-a", time.Hour, false) }, holder: "run-a",
			check: func(c runner.Claim) {
				if !c.Since.Equal(first.Since) || !c.Expires.After(first.Expires) {
					t.Errorf("renewed claim %+v, want the same since and a later expiry than %+v", c, first)
				}
			}},
		{name: "b is refused", do: func() error { return b.Claim(ctx, "run-b", time.Hour, false) },
			claimedBy: "run-a", holder: "run-a"},
		{name: "b takes over with force", do: func() error { return b.Claim(ctx, "run-b", time.Hour, true) }, holder: "run-b"},
		{name: "a's SetTraffic is refused", do: func() error {
			return a.SetTraffic(ctx, []runner.TrafficTarget{{Revision: e.first, Percent: 100}})
		}, claimedBy: "run-b", holder: "run-b"},
		{name: "a's Deploy is refused", do: func() error {
			_, err := a.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, nil)
			return err
		}, claimedBy: "run-b", holder: "run-b"},
		{name: "a cannot release b's claim", do: func() error { return a.Release(ctx, "run-a") },
			claimedBy: "run-b", holder: "run-b"},
		{name: "b releases", do: func() error { return b.Release(ctx, "run-b") }},
		{name: "releasing again changes nothing", do: func() error { return b.Release(ctx, "run-b") }},
		{name: "b's write after its release is refused", do: func() error { return b.SetTraffic(ctx, latest) },
			errContains: "the claim of cutover run run-b on service api is gone"},
	} {
		err := step.do()
		switch {
		case step.claimedBy != "":
			checkClaimed(t, step.name, err, step.claimedBy)
		case step.errContains != "":
			if err == nil || !strings.Contains(err.Error(), step.errContains) {
				t.Errorf("%s: %v, want an error containing %q", step.name, err, step.errContains)
			}
		case err != nil:
			t.Errorf("%s: %v", step.name, err)
		}
		s := e.service(t)
		if s.Claim.RunID != step.holder {
			t.Errorf("%s: held by %q, want %q", step.name, s.Claim.RunID, step.holder)
		}
		if step.check != nil {
			step.check(s.Claim)
		}
		checkTraffic(t, step.name, s.Traffic, latest...)
	}
	if n := len(mustState(t, e.cloud).Revisions); n != revisions {
		t.Errorf("%d revisions, want still %d: claims make none, and the refused deploy made none", n, revisions)
	}
	for k := range e.annotations(t) {
		if strings.HasPrefix(k, "cutover.dev/") {
			t.Errorf("annotation %s left after the release", k)
		}
	}
}

// An expired claim is taken over without force; before it expires it is
// not. The clock is Config.Now: nothing sleeps.
func TestClaimExpires(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	clk := &clock{t: fakeBase}
	a := connectAt(t, e.cloud, e.plane, clk.now)
	b := connectAt(t, e.cloud, e.plane, clk.now)
	if err := a.Claim(ctx, "run-a", time.Second, false); err != nil {
		t.Fatalf("a claims: %v", err)
	}
	if c := e.service(t).Claim; !c.Live(fakeBase) || c.Live(fakeBase.Add(time.Second)) {
		t.Errorf("claim %+v: want live at %v, expired a second later", c, fakeBase)
	}
	clk.set(fakeBase.Add(999 * time.Millisecond))
	checkClaimed(t, "b before the expiry", b.Claim(ctx, "run-b", time.Minute, false), "run-a")

	clk.set(fakeBase.Add(time.Second))
	if err := b.Claim(ctx, "run-b", time.Minute, false); err != nil {
		t.Fatalf("b takes over the expired claim: %v", err)
	}
	c := e.service(t).Claim
	if c.RunID != "run-b" || !c.Since.Equal(fakeBase.Add(time.Second)) || !c.Expires.Equal(fakeBase.Add(time.Minute+time.Second)) {
		t.Errorf("claim %+v, want run-b's from %v for a minute", c, fakeBase.Add(time.Second))
	}
	checkClaimed(t, "a's write after the takeover", a.SetTraffic(ctx, []runner.TrafficTarget{{Latest: true, Percent: 100}}), "run-b")
}

// Each write of a claimed client records the split it leaves, in the
// same write; the annotations never make a revision, and a deploy still
// reports its revision created and ready.
func TestClaimRecordsTheSplitOfEachWrite(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	revisions := func() int { return len(mustState(t, e.cloud).Revisions) }
	before := revisions()
	if err := e.c.Claim(ctx, "run-a", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if n := revisions(); n != before {
		t.Errorf("%d revisions after the claim, want %d", n, before)
	}
	recorded := func(what, want string) {
		t.Helper()
		s := e.service(t)
		if s.Claim.Traffic != want || canonicalSplit(s.Traffic) != want {
			t.Errorf("%s: the claim says [%s], the service has [%s], want both [%s]", what, s.Claim.Traffic, formatSplit(s.Traffic), want)
		}
	}

	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1", RevisionSuffix: "canary", NoTraffic: true, Tag: "canary"}, got.report)
	if err != nil {
		t.Fatalf("claimed Deploy: %v", err)
	}
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", rev),
		ev(results.EventRevisionReady, "revision", rev, "traffic", e.first+"=100%, api-canary=0% (tag canary)"))
	recorded("after the no-traffic deploy", e.first+"=100%, api-canary=0% (tag canary)")
	if n := revisions(); n != before+1 {
		t.Errorf("%d revisions after one deploy, want %d", n, before+1)
	}

	if err := e.c.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "api-canary", Percent: 10, Tag: "canary"}, {Revision: e.first, Percent: 90}}); err != nil {
		t.Fatalf("claimed SetTraffic: %v", err)
	}
	recorded("after 90/10", e.first+"=90%, api-canary=10% (tag canary)")

	got = events{}
	if _, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d2"}, got.report); err != nil {
		t.Fatalf("claimed cutover Deploy: %v", err)
	}
	if evs := got.get(); len(evs) != 2 || evs[0].Kind != results.EventRevisionCreated || evs[1].Kind != results.EventRevisionReady {
		t.Errorf("events %v, want revision-created, revision-ready", evs)
	}
	recorded("after the cutover deploy", "LATEST=100%")
	if err := e.c.Release(ctx, "run-a"); err != nil {
		t.Fatal(err)
	}
	if n := revisions(); n != before+2 {
		t.Errorf("%d revisions after two deploys and the claim's writes, want %d", n, before+2)
	}
}

// A deploy whose revision fails: the platform puts the split back, and the
// claim follows it, so the run's restore is not refused over a change
// nobody made. The failure is seen by Deploy, or by WaitReady after a
// NoWait deploy.
func TestClaimFollowsAFailedDeploy(t *testing.T) {
	t.Parallel()
	for _, noWait := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoWait=%v", noWait), func(t *testing.T) {
			t.Parallel()
			e := start(t)
			ctx := testCtx(t)
			before := e.service(t).Traffic
			if err := e.c.Claim(ctx, "run-a", time.Hour, false); err != nil {
				t.Fatal(err)
			}
			rev, err := e.c.Deploy(ctx, runner.DeploySpec{Image: brokenImage, DeployID: "d1", NoTraffic: true, Tag: "canary", NoWait: noWait}, nil)
			if noWait {
				if err != nil {
					t.Fatalf("Deploy NoWait: %v", err)
				}
				err = e.c.WaitReady(ctx, rev, nil)
			}
			if err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("the unpullable image: %v, want its failure", err)
			}
			s := e.service(t)
			if s.Claim.Traffic != canonicalSplit(s.Traffic) {
				t.Errorf("after the failed deploy the claim says [%s], the service has [%s]", s.Claim.Traffic, formatSplit(s.Traffic))
			}
			if err := e.c.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: before}); err != nil {
				t.Errorf("Restore after the failed deploy: %v", err)
			}
		})
	}
}

// Restore puts the split back and releases the claim in one write, from
// the client that claimed or from a fresh one; it refuses, changing
// nothing, when someone else changed the service, unless forced.
func TestRestore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// idle: run-a claims and changes nothing.
		idle bool
		// meddle runs between run-a's changes and the restore.
		meddle func(t *testing.T, e *env)
		// fresh restores from a client that never claimed (a new process).
		fresh bool
		force bool
		// conflict is what the refusal's reason says, FIRST for the first
		// revision; "" restores.
		conflict string
	}{
		{name: "restores and releases"},
		{name: "from a fresh process", fresh: true},
		{name: "the split is there already", idle: true},
		{name: "refuses over a third writer", meddle: func(t *testing.T, e *env) {
			rawSetTraffic(t, e, runner.TrafficTarget{Revision: e.first, Percent: 50}, runner.TrafficTarget{Revision: "api-canary", Percent: 50, Tag: "canary"})
		}, conflict: "its traffic is now [FIRST=50%, api-canary=50% (tag canary)], not the [FIRST=90%, api-canary=10% (tag canary)] run run-a left: someone changed it"},
		{name: "refuses while another run holds it", meddle: func(t *testing.T, e *env) {
			if err := connect(t, e.cloud, e.plane).Claim(testCtx(t), "run-b", time.Hour, true); err != nil {
				t.Fatal(err)
			}
		}, conflict: "it is held by cutover run run-b since 2031-01-02T03:04:06Z, not by run run-a"},
		{name: "refuses when the claim is gone", meddle: func(t *testing.T, e *env) {
			if err := e.c.Release(testCtx(t), "run-a"); err != nil {
				t.Fatal(err)
			}
		}, conflict: "no cutover claim of run run-a: it was released or removed by hand"},
		{name: "forced over a third writer", force: true, meddle: func(t *testing.T, e *env) {
			rawSetTraffic(t, e, runner.TrafficTarget{Latest: true, Percent: 100, Tag: "other"})
		}},
		{name: "forced over another run", force: true, meddle: func(t *testing.T, e *env) {
			if err := connect(t, e.cloud, e.plane).Claim(testCtx(t), "run-b", time.Hour, true); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t)
			ctx := testCtx(t)
			before := e.service(t).Traffic
			e.changeAsRunA(ctx, t, tc.idle)
			if tc.meddle != nil {
				tc.meddle(t, e)
			}
			restorer := e.c
			if tc.fresh {
				restorer = connect(t, e.cloud, e.plane)
			}
			pre := e.service(t)
			revisions := len(mustState(t, e.cloud).Revisions)

			err := restorer.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: before, Force: tc.force})

			after := e.service(t)
			if n := len(mustState(t, e.cloud).Revisions); n != revisions {
				t.Errorf("%d revisions after the restore, want %d", n, revisions)
			}
			if tc.conflict != "" {
				checkRestoreRefused(t, e, err, tc.conflict, pre, after)
				return
			}
			if err != nil {
				t.Fatalf("Restore: %v", err)
			}
			checkRestored(t, e, before, after)
		})
	}
}

// changeAsRunA claims the service for run-a and, unless idle, deploys the
// revision api-canary (tag canary) and sends it 10% of the traffic.
func (e *env) changeAsRunA(ctx context.Context, t *testing.T, idle bool) {
	t.Helper()
	if err := e.c.Claim(ctx, "run-a", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if idle {
		return
	}
	if _, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1", RevisionSuffix: "canary", NoTraffic: true, Tag: "canary"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetTraffic(ctx, []runner.TrafficTarget{{Revision: e.first, Percent: 90}, {Revision: "api-canary", Percent: 10, Tag: "canary"}}); err != nil {
		t.Fatal(err)
	}
}

// checkRestoreRefused checks that Restore refused with a ConflictError
// whose reason is conflict (FIRST standing for the first revision), and
// left the service's traffic and claim as they were before it (pre).
func checkRestoreRefused(t *testing.T, e *env, err error, conflict string, pre, after runner.Service) {
	t.Helper()
	var ce *runner.ConflictError
	want := strings.ReplaceAll(conflict, "FIRST", e.first)
	if !errors.As(err, &ce) || ce.Service != "api" || ce.Reason != want {
		t.Fatalf("Restore: %v\nwant a ConflictError with the reason %q", err, want)
	}
	checkTraffic(t, "after the refusal", after.Traffic, pre.Traffic...)
	if after.Claim != pre.Claim {
		t.Errorf("claim %+v after the refusal, want still %+v", after.Claim, pre.Claim)
	}
}

// checkRestored checks that the service is back to the split before and
// released (no claim, no cutover.dev/ annotation), serving it already.
func checkRestored(t *testing.T, e *env, before []runner.TrafficTarget, after runner.Service) {
	t.Helper()
	checkTraffic(t, "after the restore", after.Traffic, before...)
	if after.Claim != (runner.Claim{}) {
		t.Errorf("claim %+v after the restore, want none", after.Claim)
	}
	for k := range e.annotations(t) {
		if strings.HasPrefix(k, "cutover.dev/") {
			t.Errorf("annotation %s left after the restore", k)
		}
	}
	if st := mustState(t, e.cloud); st.Reconciling || len(st.TrafficStatuses) != 1 || !st.TrafficStatuses[0].Latest {
		t.Errorf("served %+v (reconciling %v) when Restore returned, want LATEST=100%%", st.TrafficStatuses, st.Reconciling)
	}
}

func TestCanonicalSplit(t *testing.T) {
	for _, tc := range []struct {
		split []runner.TrafficTarget
		want  string
	}{
		{[]runner.TrafficTarget{{Latest: true, Percent: 100}}, "LATEST=100%"},
		{[]runner.TrafficTarget{{Revision: "b", Percent: 10, Tag: "canary"}, {Revision: "a", Percent: 90}}, "a=90%, b=10% (tag canary)"},
		{[]runner.TrafficTarget{{Revision: "a", Percent: 50}, {Latest: true, Percent: 50}}, "LATEST=50%, a=50%"},
		// Full names are short; an untagged 0% target routes nothing.
		{[]runner.TrafficTarget{{Revision: "projects/p/locations/l/services/api/revisions/a", Percent: 100}, {Revision: "b", Percent: 0}},
			"a=100%"},
		{[]runner.TrafficTarget{{Revision: "a", Percent: 100}, {Revision: "b", Percent: 0, Tag: "x"}, {Revision: "b", Percent: 0, Tag: "w"}},
			"a=100%, b=0% (tag w), b=0% (tag x)"},
	} {
		if got := canonicalSplit(tc.split); got != tc.want {
			t.Errorf("canonicalSplit(%+v) = %q, want %q", tc.split, got, tc.want)
		}
	}
}

func TestServiceOfClaim(t *testing.T) {
	since := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want runner.Claim
	}{
		{"none", nil, runner.Claim{}},
		{"a claim", map[string]string{AnnotationRun: "r1", AnnotationSince: "2031-01-02T03:04:05Z",
			AnnotationExpires: "2031-01-02T04:04:05Z", AnnotationTraffic: "LATEST=100%", "other": "x"},
			runner.Claim{RunID: "r1", Since: since, Expires: since.Add(time.Hour), Traffic: "LATEST=100%"}},
		{"unreadable expiry", map[string]string{AnnotationRun: "r1", AnnotationSince: "2031-01-02T03:04:05Z", AnnotationExpires: "soon"},
			runner.Claim{}},
	} {
		got := serviceOf(&runpb.Service{Annotations: tc.ann}).Claim
		if !got.Since.Equal(tc.want.Since) || !got.Expires.Equal(tc.want.Expires) || got.RunID != tc.want.RunID || got.Traffic != tc.want.Traffic {
			t.Errorf("%s: claim %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestRevisionsListsEveryRevision(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	if _, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1", RevisionSuffix: "v2", NoTraffic: true}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.Revisions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Contains(got, e.first) || !slices.Contains(got, "api-v2") {
		t.Errorf("revisions %v, want %s and api-v2", got, e.first)
	}
}
