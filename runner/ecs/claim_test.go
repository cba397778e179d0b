package ecs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// checkClaimed checks that err is a *runner.ClaimedError for service app
// held by holder.
func checkClaimed(t *testing.T, what string, err error, holder string) {
	t.Helper()
	var ce *runner.ClaimedError
	if !errors.As(err, &ce) || ce.Service != "app" || ce.Holder.RunID != holder ||
		!strings.Contains(err.Error(), "held by cutover run "+holder+" since ") {
		t.Errorf("%s: %v, want a ClaimedError: app held by %s", what, err, holder)
	}
}

// claimTags returns the claim's tags on the fake's service.
func claimTags(f *fakeAWS) map[string]string {
	out := map[string]string{}
	f.do(func(f *fakeAWS) {
		for k, v := range f.tags {
			if strings.HasPrefix(k, claimPrefix) {
				out[k] = v
			}
		}
	})
	return out
}

// Two runs of one service: the second is refused, or takes over with
// force, and then the first one's writes are refused and change nothing.
func TestClaimKeepsOneRunPerService(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(f *fakeAWS) { f.tags["team"] = "payments" })
	ctx := testCtx(t)
	a, b := connect(t, f), connect(t, f)
	var first runner.Claim
	for _, step := range []struct {
		name                   string
		do                     func() error
		claimedBy, errContains string
		holder                 string // holds the service after the step
		check                  func(runner.Claim)
	}{
		{name: "a claims", do: func() error { return a.Claim(ctx, "run-a", time.Hour, false) }, holder: "run-a",
			check: func(c runner.Claim) {
				first = c
				if c.Traffic != "app:2=100%" || c.Expires.Sub(c.Since) != time.Hour || c.Since.Before(fakeBase) {
					t.Errorf("claim %+v, want app:2=100%% for an hour from a time of Config.Now", c)
				}
			}},
		{name: "a claims again: renewed", do: func() error { return a.Claim(ctx, "run-a", time.Hour, false) }, holder: "run-a",
			check: func(c runner.Claim) {
				if !c.Since.Equal(first.Since) || !c.Expires.After(first.Expires) {
					t.Errorf("renewed claim %+v, want the same since and a later expiry than %+v", c, first)
				}
			}},
		{name: "b is refused", do: func() error { return b.Claim(ctx, "run-b", time.Hour, false) }, claimedBy: "run-a", holder: "run-a"},
		{name: "b takes over with force", do: func() error { return b.Claim(ctx, "run-b", time.Hour, true) }, holder: "run-b"},
		{name: "a's SetTraffic is refused", do: func() error {
			return a.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "app:1", Percent: 100}})
		}, claimedBy: "run-b", holder: "run-b"},
		{name: "a's Deploy is refused", do: func() error {
			_, err := a.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, nil)
			return err
		}, claimedBy: "run-b", holder: "run-b"},
		{name: "a cannot release b's claim", do: func() error { return a.Release(ctx, "run-a") }, claimedBy: "run-b", holder: "run-b"},
		{name: "b releases", do: func() error { return b.Release(ctx, "run-b") }},
		{name: "releasing again changes nothing", do: func() error { return b.Release(ctx, "run-b") }},
		{name: "b's write after its release is refused", do: func() error {
			return b.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "app:1", Percent: 100}})
		}, errContains: "the claim of cutover run run-b on service app is gone"},
	} {
		err := step.do()
		switch {
		case step.claimedBy != "":
			checkClaimed(t, step.name, err, step.claimedBy)
		case step.errContains != "":
			checkErr(t, step.name, err, step.errContains)
		default:
			checkErr(t, step.name, err)
		}
		s := service(t, a)
		if s.Claim.RunID != step.holder {
			t.Errorf("%s: held by %q, want %q", step.name, s.Claim.RunID, step.holder)
		}
		if step.check != nil {
			step.check(s.Claim)
		}
		if p := f.primaryTD(); p != "app:2" {
			t.Errorf("%s: the service runs %s, want still app:2", step.name, p)
		}
	}
	if n := f.count("RegisterTaskDefinition") + f.count("UpdateService"); n != 0 {
		t.Errorf("%d registrations and updates, want none: claims make none, and the refused changes made none", n)
	}
	if tags := claimTags(f); len(tags) != 0 {
		t.Errorf("claim tags %v left after the release", tags)
	}
	f.do(func(f *fakeAWS) {
		if f.tags["team"] != "payments" {
			t.Errorf("tags %v, want the service's own tag kept", f.tags)
		}
	})
}

// An expired claim is taken over without force; before it expires it is
// not. The clock is Config.Now: nothing sleeps.
func TestClaimExpires(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	ctx := testCtx(t)
	clk := &clock{t: fakeBase}
	a, b := connectAt(t, f, clk.now), connectAt(t, f, clk.now)
	if err := a.Claim(ctx, "run-a", time.Second, false); err != nil {
		t.Fatalf("a claims: %v", err)
	}
	if c := service(t, a).Claim; !c.Live(fakeBase) || c.Live(fakeBase.Add(time.Second)) {
		t.Errorf("claim %+v: want live at %v, expired a second later", c, fakeBase)
	}
	clk.set(fakeBase.Add(999 * time.Millisecond))
	checkClaimed(t, "b before the expiry", b.Claim(ctx, "run-b", time.Minute, false), "run-a")

	clk.set(fakeBase.Add(time.Second))
	if err := b.Claim(ctx, "run-b", time.Minute, false); err != nil {
		t.Fatalf("b takes over the expired claim: %v", err)
	}
	c := service(t, a).Claim
	if c.RunID != "run-b" || !c.Since.Equal(fakeBase.Add(time.Second)) || !c.Expires.Equal(fakeBase.Add(time.Minute+time.Second)) {
		t.Errorf("claim %+v, want run-b's from %v for a minute", c, fakeBase.Add(time.Second))
	}
	checkClaimed(t, "a's write after the takeover", a.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "app:1", Percent: 100}}), "run-b")
}

// A claim written between another run's write and its read back: the
// earlier writer is told it lost.
func TestClaimReadsBack(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	ctx := testCtx(t)
	a := connect(t, f)
	f.do(func(f *fakeAWS) {
		f.onCall = func(op string) {
			if op == "ListTagsForResource" && f.countLocked("TagResource") == 1 {
				f.tags[TagRun] = "run-b" // b's claim lands between a's write and its read back
			}
		}
	})
	checkClaimed(t, "a's claim overwritten before its read back", a.Claim(ctx, "run-a", time.Hour, false), "run-b")
	if a.claimed() != "" {
		t.Errorf("a thinks it holds the claim of %s", a.claimed())
	}
}

// Each write of a claimed driver records the revision it leaves; a
// deploy that fails and is rolled back leaves the claim on the revision
// the rollback runs, so the run's restore is not refused over a change
// nobody made.
func TestClaimRecordsTheRevisionOfEachWrite(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	ctx := testCtx(t)
	d := connect(t, f)
	if err := d.Claim(ctx, "run-a", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	recorded := func(what, want string) {
		t.Helper()
		s := service(t, d)
		if s.Claim.Traffic != want || runner.FormatSplit(s.Traffic) != want {
			t.Errorf("%s: the claim says [%s], the service has [%s], want both [%s]", what, s.Claim.Traffic, runner.FormatSplit(s.Traffic), want)
		}
	}
	if _, err := d.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, nil); err != nil {
		t.Fatal(err)
	}
	recorded("after the deploy", "app:3=100%")
	_, err := d.Deploy(ctx, runner.DeploySpec{Image: registry + "app@sha256:gone", DeployID: "d2"}, nil)
	checkErr(t, "the failed deploy", err, "of app:4 FAILED")
	recorded("after the failed deploy and its rollback", "app:3=100%")
	if err := d.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "app:1", Percent: 100}}); err != nil {
		t.Fatal(err)
	}
	recorded("after SetTraffic", "app:1=100%")
	if err := d.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: []runner.TrafficTarget{{Revision: "app:2", Percent: 100}}}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if p := f.primaryTD(); p != "app:2" {
		t.Errorf("after the restore the service runs %s, want app:2", p)
	}
}

// Restore puts the revision back and releases the claim, from the driver
// that claimed or from a fresh one; it refuses, changing nothing, when
// someone else changed the service, unless forced.
func TestRestore(t *testing.T) {
	t.Parallel()
	before := []runner.TrafficTarget{{Revision: "app:2", Percent: 100}}
	for _, tc := range []struct {
		name string
		// idle: run-a claims and changes nothing; else it deploys app:3.
		idle   bool
		meddle func(t *testing.T, f *fakeAWS)
		fresh  bool
		force  bool
		// conflict is the refusal's reason; "" restores.
		conflict    string
		wantUpdates int // UpdateService calls of the restore
	}{
		{name: "restores and releases", wantUpdates: 1},
		{name: "from a fresh process", fresh: true, wantUpdates: 1},
		{name: "the revision is there already", idle: true},
		{name: "refuses over a third writer", meddle: func(t *testing.T, f *fakeAWS) {
			f.do(func(f *fakeAWS) { f.newDeployment(f.arn("app:1")) })
		}, conflict: "its traffic is now [app:1=100%], not the [app:3=100%] run run-a left: someone changed it"},
		{name: "refuses while another run holds it", meddle: func(t *testing.T, f *fakeAWS) {
			if err := connect(t, f).Claim(testCtx(t), "run-b", time.Hour, true); err != nil {
				t.Fatal(err)
			}
		}, conflict: "it is held by cutover run run-b since 2031-01-02T03:04:06Z, not by run run-a"},
		{name: "refuses when the claim is gone", meddle: func(t *testing.T, f *fakeAWS) {
			f.do(func(f *fakeAWS) { clear(f.tags) })
		}, conflict: "no cutover claim of run run-a: it was released or removed by hand"},
		{name: "forced over a third writer", force: true, wantUpdates: 1, meddle: func(t *testing.T, f *fakeAWS) {
			f.do(func(f *fakeAWS) { f.newDeployment(f.arn("app:1")) })
		}},
		{name: "forced over another run", force: true, wantUpdates: 1, meddle: func(t *testing.T, f *fakeAWS) {
			if err := connect(t, f).Claim(testCtx(t), "run-b", time.Hour, true); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			ctx := testCtx(t)
			d := connect(t, f)
			if err := d.Claim(ctx, "run-a", time.Hour, false); err != nil {
				t.Fatal(err)
			}
			if !tc.idle {
				if _, err := d.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if tc.meddle != nil {
				tc.meddle(t, f)
			}
			restorer := d
			if tc.fresh {
				restorer = connect(t, f)
			}
			pre, updates := claimTags(f), f.count("UpdateService")
			preTD := f.primaryTD()

			err := restorer.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: before, Force: tc.force})

			if n := f.count("UpdateService") - updates; n != tc.wantUpdates {
				t.Errorf("%d UpdateService calls by the restore, want %d", n, tc.wantUpdates)
			}
			checkRestore(t, f, d, err, tc.conflict, pre, preTD)
		})
	}
}

// checkRestore checks a restore to app:2: refused with the reason
// conflict, leaving the claim tags (pre) and the revision running (preTD)
// as they were; or, without a conflict, done: app:2 ready and running,
// and no claim.
func checkRestore(t *testing.T, f *fakeAWS, d *Driver, err error, conflict string, pre map[string]string, preTD string) {
	t.Helper()
	if conflict != "" {
		var ce *runner.ConflictError
		if !errors.As(err, &ce) || ce.Service != "app" || ce.Reason != conflict {
			t.Fatalf("Restore: %v\nwant a ConflictError with the reason %q", err, conflict)
		}
		if got := claimTags(f); len(got) != len(pre) || f.primaryTD() != preTD {
			t.Errorf("after the refusal: claim %v, running %s; want %v and %s as before", got, f.primaryTD(), pre, preTD)
		}
		return
	}
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	s := service(t, d)
	if s.Claim != (runner.Claim{}) || len(claimTags(f)) != 0 || f.primaryTD() != "app:2" || s.LatestReadyRevision != "app:2" {
		t.Errorf("after the restore: %+v, claim tags %v; want app:2 ready and running, no claim", s, claimTags(f))
	}
}

func TestClaimOf(t *testing.T) {
	since := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		tags map[string]string
		want runner.Claim
	}{
		{"none", nil, runner.Claim{}},
		{"a claim", map[string]string{TagRun: "r1", TagSince: "2031-01-02T03:04:05Z", TagExpires: "2031-01-02T04:04:05Z", TagTraffic: "app:3", "other": "x"},
			runner.Claim{RunID: "r1", Since: since, Expires: since.Add(time.Hour), Traffic: "app:3=100%"}},
		{"unreadable expiry", map[string]string{TagRun: "r1", TagSince: "2031-01-02T03:04:05Z", TagExpires: "soon"}, runner.Claim{}},
	} {
		got := serviceOf(types.Service{}, tc.tags).Claim
		if !got.Since.Equal(tc.want.Since) || !got.Expires.Equal(tc.want.Expires) || got.RunID != tc.want.RunID || got.Traffic != tc.want.Traffic {
			t.Errorf("%s: claim %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// The claim must be readable by other tools too: no "%" in a value
// (ECS refuses it in tags).
func TestClaimTagValues(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	if err := connect(t, f).Claim(testCtx(t), "20310102T030405-smoke", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	for k, v := range claimTags(f) {
		if strings.ContainsAny(v, "%,") {
			t.Errorf("tag %s=%q: ECS allows letters, digits, spaces and + - = . _ : / @ only", k, v)
		}
	}
}

// A run that scales the service (a scale chaos action) gets the desired
// count it claimed the service with back on restore.
func TestRestorePutsTheDesiredCountBack(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	ctx := testCtx(t)
	d := connect(t, f)
	var before int
	f.do(func(f *fakeAWS) { before = f.desired })
	if err := d.Claim(ctx, "run-a", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if err := d.Chaos(ctx, scenarios.ChaosAction{Action: scenarios.ChaosScale, Desired: before + 4}, func(runner.Event) {}); err != nil {
		t.Fatal(err)
	}
	split := service(t, d).Traffic
	if err := d.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: split}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	var after int
	f.do(func(f *fakeAWS) { after = f.desired })
	if after != before || len(claimTags(f)) != 0 {
		t.Errorf("after the restore desired %d (want %d), claim tags %v", after, before, claimTags(f))
	}
}
