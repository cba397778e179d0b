package ecs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

func TestDeploy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		spec runner.DeploySpec
		// cancelAtPoll: the new deployment stays in progress, and the
		// deploy's context is cancelled at the DescribeServices after the
		// cancelAtPoll-th one after UpdateService (0: never).
		cancelAtPoll int
		wantRev      string
		// wantErr are in the error; "" wants none.
		wantErr    []string
		wantEvents []runner.Event
		// wantPrimary runs the service afterwards.
		wantPrimary string
	}{
		{name: "completes", spec: runner.DeploySpec{Image: registry + "app@sha256:d1", Env: map[string]string{"FEATURE": "on"}, DeployID: "d1"},
			wantRev: "app:3", wantPrimary: "app:3", wantEvents: []runner.Event{
				ev(results.EventRevisionCreated, "revision", "app:3", "service", "app"),
				ev(results.EventDeployment, "deployment", "ecs-svc/0000000000000001004", "task_definition", "app:3", "rollout_state", "IN_PROGRESS", "reason", ""),
				ev(results.EventDeployment, "deployment", "ecs-svc/0000000000000001004", "task_definition", "app:3", "rollout_state", "COMPLETED", "reason", ""),
				ev(results.EventRevisionReady, "revision", "app:3", "service", "app", "traffic", "app:3=100%"),
			}},
		{name: "fails to pull", spec: runner.DeploySpec{Image: registry + "app@sha256:gone", DeployID: "d1"},
			wantErr: []string{
				"deploy to service default/app: deployment ecs-svc/0000000000000001004 of app:3 FAILED: ECS deployment circuit breaker: tasks failed to start. Task ",
				" stopped: CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " + registry + "app@sha256:gone",
				": not found",
			},
			wantPrimary: "app:2", // rolled back
			wantEvents: []runner.Event{
				ev(results.EventRevisionCreated, "revision", "app:3", "service", "app"),
				ev(results.EventDeployment, "deployment", "ecs-svc/0000000000000001004", "task_definition", "app:3", "rollout_state", "IN_PROGRESS", "reason", ""),
				ev(results.EventDeployment, "deployment", "ecs-svc/0000000000000001004", "task_definition", "app:3", "rollout_state", "FAILED",
					"reason", "ECS deployment circuit breaker: tasks failed to start."),
			}},
		{name: "no traffic", spec: runner.DeploySpec{NoTraffic: true, Tag: "canary", DeployID: "d1"}, wantPrimary: "app:2",
			wantErr: []string{"ECS has no traffic split: a deploy replaces every task of the service and ECS names the revision FAMILY:N itself, so a no-traffic deploy, tag \"canary\" is not possible"}},
		{name: "revision suffix", spec: runner.DeploySpec{RevisionSuffix: "v2"}, wantPrimary: "app:2",
			wantErr: []string{"ECS has no traffic split", `revision suffix "v2"`}},
		{name: "context ends", spec: runner.DeploySpec{DeployID: "d1"}, cancelAtPoll: 1, wantPrimary: "app:3",
			wantErr: []string{"deployment ecs-svc/0000000000000001004 of app:3 is still IN_PROGRESS (0 tasks failed): context canceled"},
			wantEvents: []runner.Event{
				ev(results.EventRevisionCreated, "revision", "app:3", "service", "app"),
				ev(results.EventDeployment, "deployment", "ecs-svc/0000000000000001004", "task_definition", "app:3", "rollout_state", "IN_PROGRESS", "reason", ""),
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			d := connect(t, f)
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			if tc.cancelAtPoll > 0 {
				stallThenCancel(f, tc.cancelAtPoll, cancel)
			}
			var got events
			rev, err := d.Deploy(ctx, tc.spec, got.report)
			checkErr(t, "Deploy", err, tc.wantErr...)
			if rev != tc.wantRev {
				t.Errorf("Deploy = %q, want %q", rev, tc.wantRev)
			}
			checkEvents(t, got.get(), tc.wantEvents...)
			if p := f.primaryTD(); p != tc.wantPrimary {
				t.Errorf("the service runs %s, want %s", p, tc.wantPrimary)
			}
			if len(tc.wantErr) > 0 && strings.Contains(tc.wantErr[0], "no traffic split") && f.count("RegisterTaskDefinition") != 0 {
				t.Error("a refused deploy registered a task definition")
			}
		})
	}
}

// Without the circuit breaker a deployment whose image is gone never
// fails; when the deploy's context ends, its error still names the pull
// error of a task that failed to start.
func TestDeployWithoutCircuitBreaker(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(f *fakeAWS) { f.noBreaker = true })
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	f.do(func(f *fakeAWS) {
		f.onCall = func(op string) {
			if op == "DescribeServices" && len(f.deployments) > 1 && f.deployments[0].failed == 2 {
				cancel()
			}
		}
	})
	_, err := connect(t, f).Deploy(ctx, runner.DeploySpec{Image: registry + "app@sha256:gone"}, nil)
	checkErr(t, "Deploy", err, "deployment ecs-svc/0000000000000001004 of app:3 is still IN_PROGRESS (", " tasks failed). Task ",
		" stopped: CannotPullContainerError: ", ": context canceled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Deploy: %v, want context.Canceled", err)
	}
}

// stallThenCancel keeps the deployments in progress from the first poll
// after UpdateService on, and cancels at the poll after the at-th.
func stallThenCancel(f *fakeAWS, at int, cancel func()) {
	updated, polls := false, 0
	f.do(func(f *fakeAWS) {
		f.onCall = func(op string) {
			if op == "UpdateService" {
				updated = true
			} else if op == "DescribeServices" && updated {
				for _, d := range f.deployments {
					d.steps = -100 // never done
				}
				if polls++; polls == at+1 {
					cancel()
				}
			}
		}
	})
}

// checkErr checks that err contains every one of want, or is nil when
// want is empty.
func checkErr(t *testing.T, what string, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
		return
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v\nwant an error containing %q", what, err, w)
		}
	}
}

// The new revision keeps everything the old one had: CPU, memory, port
// mappings, environment; the image and the environment change in the
// service's container, and CUTOVER_DEPLOY_ID is set.
func TestDeployKeepsTheTaskDefinition(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	if _, err := connect(t, f).Deploy(testCtx(t), runner.DeploySpec{Image: registry + "app@sha256:d1", Env: map[string]string{"FEATURE": "on", "MODE": "canary"}, DeployID: "d7"}, nil); err != nil {
		t.Fatal(err)
	}
	reg := f.body("RegisterTaskDefinition")
	if reg["family"] != "app" || reg["cpu"] != "256" || reg["memory"] != "512" {
		t.Errorf("registered %v, want family app, cpu 256, memory 512 kept", reg)
	}
	ctr := reg["containerDefinitions"].([]any)[0].(map[string]any)
	env := map[string]string{}
	for _, e := range ctr["environment"].([]any) {
		m := e.(map[string]any)
		env[m["name"].(string)] = m["value"].(string)
	}
	wantEnv := map[string]string{"MODE": "canary", "FEATURE": "on", DeployIDEnv: "d7"}
	if ctr["image"] != registry+"app@sha256:d1" || !reflect.DeepEqual(env, wantEnv) || ctr["portMappings"] == nil || ctr["essential"] != true {
		t.Errorf("container %v (env %v), want the new image, env %v, the port mappings and essential kept", ctr, env, wantEnv)
	}
	if got := f.body("UpdateService"); got["taskDefinition"] != f.arn("app:3") || got["cluster"] != "default" || got["service"] != "app" {
		t.Errorf("UpdateService %v, want the new revision's ARN on default/app", got)
	}
}

// A NoWait deploy returns once the service runs the new revision;
// WaitReady follows it.
func TestDeployNoWaitThenWaitReady(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	d := connect(t, f)
	ctx := testCtx(t)
	var got events
	rev, err := d.Deploy(ctx, runner.DeploySpec{DeployID: "d1", NoWait: true}, got.report)
	if err != nil || rev != "app:3" {
		t.Fatalf("Deploy NoWait = %q, %v; want app:3", rev, err)
	}
	checkEvents(t, got.get(), ev(results.EventRevisionCreated, "revision", "app:3", "service", "app"))
	got = events{}
	if err := d.WaitReady(ctx, rev, got.report); err != nil {
		t.Fatal(err)
	}
	evs := got.get()
	if len(evs) != 3 || evs[2].Kind != results.EventRevisionReady || evs[1].Details["rollout_state"] != "COMPLETED" {
		t.Errorf("WaitReady reported %q, want IN_PROGRESS, COMPLETED, revision-ready", strip(evs))
	}
}

func TestSetTraffic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		split       []runner.TrafficTarget
		wantUpdates int
		wantPrimary string
		wantErr     string
	}{
		{name: "already running", split: []runner.TrafficTarget{{Revision: "app:2", Percent: 100}}, wantPrimary: "app:2"},
		{name: "latest is the ready revision", split: []runner.TrafficTarget{{Latest: true, Percent: 100}}, wantPrimary: "app:2"},
		{name: "back to app:1", split: []runner.TrafficTarget{{Revision: "app:1", Percent: 100}}, wantUpdates: 1, wantPrimary: "app:1"},
		{name: "by ARN", split: []runner.TrafficTarget{{Revision: fakeArnBase + "task-definition/app:1", Percent: 100}}, wantUpdates: 1, wantPrimary: "app:1"},
		{name: "a split", split: []runner.TrafficTarget{{Revision: "app:1", Percent: 90}, {Revision: "app:2", Percent: 10}}, wantPrimary: "app:2",
			wantErr: "set traffic of service default/app to [app:1=90%, app:2=10%]: ECS has no traffic split; a service runs one task definition: give one revision at 100%, untagged (got [app:1=90%, app:2=10%])"},
		{name: "a tag", split: []runner.TrafficTarget{{Revision: "app:1", Percent: 100, Tag: "blue"}}, wantPrimary: "app:2", wantErr: "ECS has no traffic split"},
		{name: "nothing", wantPrimary: "app:2", wantErr: "ECS has no traffic split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			err := connect(t, f).SetTraffic(testCtx(t), tc.split)
			if tc.wantErr == "" {
				checkErr(t, "SetTraffic", err)
			} else {
				checkErr(t, "SetTraffic", err, tc.wantErr)
				if !errors.Is(err, errNoSplit) {
					t.Errorf("SetTraffic: %v, want errNoSplit", err)
				}
			}
			if n := f.count("UpdateService"); n != tc.wantUpdates {
				t.Errorf("%d UpdateService calls, want %d", n, tc.wantUpdates)
			}
			if p := f.primaryTD(); p != tc.wantPrimary {
				t.Errorf("the service runs %s, want %s", p, tc.wantPrimary)
			}
		})
	}
}

// SetTraffic to a revision whose image is gone fails as a deploy does.
func TestSetTrafficFails(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(f *fakeAWS) { f.repos["app"].images = f.repos["app"].images[1:] }) // d1 expired
	err := connect(t, f).SetTraffic(testCtx(t), []runner.TrafficTarget{{Revision: "app:1", Percent: 100}})
	checkErr(t, "SetTraffic", err, "of app:1 FAILED: ECS deployment circuit breaker", "CannotPullContainerError")
	var de *DeploymentError
	if !errors.As(err, &de) || de.Revision != "app:1" || !strings.HasPrefix(de.StoppedReason, "CannotPullContainerError") {
		t.Errorf("SetTraffic: %#v, want a DeploymentError of app:1 with the pull error", de)
	}
}
