package ecs

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// Watch reports the service events, stopped tasks and deployment states
// from since on, each once, oldest first; what came before since is not
// reported, and a failed poll is made up for by the next.
func TestWatch(t *testing.T) {
	t.Parallel()
	var since time.Time
	var stoppedBefore, stoppedAfter string
	f := newFake(t, func(f *fakeAWS) {
		f.addEvent("(service app) has reached a steady state.") // before since
		f.tasks[0].desired, f.tasks[0].stopCode, f.tasks[0].stopped = "STOPPED", "UserInitiated", f.tick()
		stoppedBefore = lastSegment(f.tasks[0].arn)
		since = f.tick()
		f.addEvent("(service app) has started 1 tasks: (task 1).")
		f.tasks[1].desired, f.tasks[1].stopCode, f.tasks[1].stoppedReason, f.tasks[1].stopped = "STOPPED", "UserInitiated", "cutover chaos: stop-task", f.tick()
		stoppedAfter = lastSegment(f.tasks[1].arn)
		f.failNext["DescribeServices"], f.failNext["ListTasks"] = 1, 1
		f.polls = make(chan struct{}, 100)
	})
	d := connect(t, f)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	got := make(chan runner.Event, 100)
	done := make(chan error, 1)
	go func() { done <- d.Watch(ctx, since, func(e runner.Event) { got <- e }) }()

	var evs []runner.Event
	receive := func(n int) {
		t.Helper()
		for range n {
			select {
			case e := <-got:
				evs = append(evs, e)
			case <-ctx.Done():
				t.Fatalf("got %q only", strip(evs))
			}
		}
	}
	receive(2)
	// A deployment of app:1: IN_PROGRESS, then COMPLETED with its tasks
	// replaced.
	f.do(func(f *fakeAWS) { f.newDeployment(f.arn("app:1")) })
	receive(4)
	// More polls report nothing again: forget the polls so far, then
	// wait for three more.
	for drained := false; !drained; {
		select {
		case <-f.polls:
		default:
			drained = true
		}
	}
	for range 3 {
		select {
		case <-f.polls:
		case <-ctx.Done():
			t.Fatal("Watch stopped polling")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil at the end of ctx", err)
	}
	close(got)
	for e := range got {
		evs = append(evs, e)
	}

	checkWatched(t, evs, since, stoppedBefore, stoppedAfter)
}

// checkWatched checks what TestWatch's Watch reported: in order, each
// once, nothing from before since.
func checkWatched(t *testing.T, evs []runner.Event, since time.Time, stoppedBefore, stoppedAfter string) {
	t.Helper()
	want := []string{
		"service-event (service app) has started 1 tasks: (task 1).",
		"task-stopped " + stoppedAfter + " app:2 UserInitiated cutover chaos: stop-task",
		"deployment app:1 IN_PROGRESS",
		"deployment app:1 COMPLETED",
		"task-stopped app:2 ServiceSchedulerInitiated", // the one task left of app:2
		"service-event (service app) has reached a steady state.",
	}
	var short []string
	for i, e := range evs {
		short = append(short, watchLine(e))
		if i > 0 && e.At.Before(evs[i-1].At) {
			t.Errorf("event %d at %v, before the one before it (%v)", i, e.At, evs[i-1].At)
		}
		if e.At.Before(since) {
			t.Errorf("event %q at %v, before since %v", strip([]runner.Event{e}), e.At, since)
		}
		if e.Details["task"] == stoppedBefore {
			t.Errorf("the task stopped before since was reported: %v", e.Details)
		}
	}
	if !reflect.DeepEqual(short, want) {
		t.Errorf("Watch reported\n%s\nwant\n%s", strings.Join(short, "\n"), strings.Join(want, "\n"))
	}
	if evs[1].Details["last_status_before"] != "RUNNING" || evs[1].Details["container_reason"] != "" {
		t.Errorf("task-stopped details %v", evs[1].Details)
	}
}

// watchLine renders an event of Watch for comparing: the kind and the
// details that identify it.
func watchLine(e runner.Event) string {
	d := e.Details
	switch e.Kind {
	case results.EventServiceEvent:
		return "service-event " + d["message"]
	case results.EventDeployment:
		return "deployment " + d["task_definition"] + " " + d["rollout_state"]
	case results.EventTaskStopped:
		if d["stopped_reason"] == "cutover chaos: stop-task" {
			return "task-stopped " + d["task"] + " " + d["task_definition"] + " " + d["stop_code"] + " " + d["stopped_reason"]
		}
		return "task-stopped " + d["task_definition"] + " " + d["stop_code"]
	}
	return string(e.Kind)
}

func TestChaos(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		action   scenarios.ChaosAction
		local    bool // against the local cloud (else an AWS endpoint)
		wantErr  string
		check    func(t *testing.T, f *fakeAWS, e runner.Event)
		wantKeys []string // of the chaos event
	}{
		{name: "stop-task", action: scenarios.ChaosAction{Action: scenarios.ChaosStopTask, Count: 2}, local: true,
			wantKeys: []string{"action", "tasks"},
			check: func(t *testing.T, f *fakeAWS, e runner.Event) {
				if f.count("StopTask") != 2 || f.body("ListTasks")["desiredStatus"] != "RUNNING" || f.body("StopTask")["reason"] != DefaultStopReason {
					t.Errorf("%d StopTask calls (last %v, ListTasks %v), want 2 with the default reason, of RUNNING tasks",
						f.count("StopTask"), f.body("StopTask"), f.body("ListTasks"))
				}
				f.do(func(f *fakeAWS) {
					want := lastSegment(f.tasks[0].arn) + "," + lastSegment(f.tasks[1].arn)
					if e.Details["tasks"] != want || f.tasks[0].desired != "STOPPED" || f.tasks[2].desired != "RUNNING" {
						t.Errorf("tasks %q, want the first two, %s, stopped and the third running", e.Details["tasks"], want)
					}
				})
			}},
		{name: "stop-task with a reason", action: scenarios.ChaosAction{Action: scenarios.ChaosStopTask, Count: 9, Reason: "game day"}, local: true,
			wantKeys: []string{"action", "tasks"},
			check: func(t *testing.T, f *fakeAWS, e runner.Event) {
				if f.count("StopTask") != 3 || f.body("StopTask")["reason"] != "game day" || strings.Count(e.Details["tasks"], ",") != 2 {
					t.Errorf("%d StopTask calls (last %v), tasks %q, want the 3 there are with the reason", f.count("StopTask"), f.body("StopTask"), e.Details["tasks"])
				}
			}},
		{name: "scale", action: scenarios.ChaosAction{Action: scenarios.ChaosScale, Desired: 1}, local: true,
			wantKeys: []string{"action", "desired"},
			check: func(t *testing.T, f *fakeAWS, e runner.Event) {
				body := f.body("UpdateService")
				if body["desiredCount"] != 1.0 || body["taskDefinition"] != nil || e.Details["desired"] != "1" {
					t.Errorf("UpdateService %v, event %v; want desiredCount 1 and no task definition", body, e.Details)
				}
			}},
		{name: "fail-health-check", action: scenarios.ChaosAction{Action: scenarios.ChaosFailHealthCheck, Count: 2, For: scenarios.Duration(90 * time.Second)}, local: true,
			wantKeys: []string{"action", "tasks"},
			check: func(t *testing.T, f *fakeAWS, e runner.Event) {
				body := f.body("FailHealthCheck")
				if body["cluster"] != "default" || body["service"] != "app" || body["count"] != 2.0 || body["durationSeconds"] != 90.0 || strings.Count(e.Details["tasks"], ",") != 1 {
					t.Errorf("FailHealthCheck %v, event %v; want default/app, count 2 for 90 s, two tasks", body, e.Details)
				}
			}},
		{name: "fail-health-check on AWS", action: scenarios.ChaosAction{Action: scenarios.ChaosFailHealthCheck, Count: 1},
			wantErr: "chaos fail-health-check on service default/app: fail-health-check needs the local cloud; on AWS use FIS aws:ecs:task-"},
		{name: "unknown", action: scenarios.ChaosAction{Action: "reboot"}, local: true, wantErr: "chaos reboot on service default/app: unknown action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			d := connect(t, f)
			if !tc.local {
				d.endpoint = "" // what New leaves for AWS; no call is made
			}
			var got events
			err := d.Chaos(testCtx(t), tc.action, got.report)
			evs := got.get()
			if tc.wantErr != "" {
				checkErr(t, "Chaos", err, tc.wantErr)
				if len(evs) != 0 {
					t.Errorf("a refused action reported %q", strip(evs))
				}
				return
			}
			if err != nil || len(evs) != 1 || evs[0].Kind != results.EventChaos || evs[0].Details["action"] != tc.action.Action {
				t.Fatalf("Chaos: %v, reported %q; want one chaos event of %s", err, strip(evs), tc.action.Action)
			}
			var keys []string
			for k := range evs[0].Details {
				keys = append(keys, k)
			}
			if !sameSet(keys, tc.wantKeys) {
				t.Errorf("details %v, want the keys %v", evs[0].Details, tc.wantKeys)
			}
			tc.check(t, f, evs[0])
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}
