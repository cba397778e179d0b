package ecs

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// Watch polls the service every Config.PollInterval until ctx ends (it
// returns nil then) and reports, each once and each poll's oldest first:
// the service events ECS wrote from since on (service-event, At their
// createdAt), the tasks that stopped from since on (task-stopped, At their
// stoppedAt) and every rollout state a deployment reaches
// (deployment; one Deploy reported already is not reported again). A
// read that fails is tried again on the next poll.
func (d *Driver) Watch(ctx context.Context, since time.Time, report func(runner.Event)) error {
	w := &watcher{d: d, since: since, events: map[string]bool{}, tasks: map[string]bool{}}
	t := time.NewTicker(d.pollInterval)
	defer t.Stop()
	for {
		for _, e := range w.poll(ctx) {
			report(e)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watcher is one Watch's memory of what it reported.
type watcher struct {
	d      *Driver
	since  time.Time
	polled bool            // a poll of the service succeeded
	events map[string]bool // service event ids seen
	tasks  map[string]bool // stopped task ARNs done with
}

// poll reads the service and its stopped tasks once and returns what is
// new, oldest first.
func (w *watcher) poll(ctx context.Context) []runner.Event {
	var evs []runner.Event
	collect := func(e runner.Event) { evs = append(evs, e) }
	if svc, err := w.d.describe(ctx); err == nil {
		w.serviceEvents(svc, collect)
		w.deployments(svc, collect)
		w.polled = true
	}
	w.stoppedTasks(ctx, collect)
	slices.SortStableFunc(evs, func(a, b runner.Event) int { return a.At.Compare(b.At) })
	return evs
}

// serviceEvents reports the service's events from since on not seen
// before; ECS lists them newest first.
func (w *watcher) serviceEvents(svc types.Service, report func(runner.Event)) {
	for _, e := range slices.Backward(svc.Events) {
		id, at := aws.ToString(e.Id), aws.ToTime(e.CreatedAt)
		if w.events[id] || at.Before(w.since) {
			continue
		}
		w.events[id] = true
		report(runner.Event{Kind: results.EventServiceEvent, At: at,
			Details: map[string]string{"message": aws.ToString(e.Message), "id": id}})
	}
}

// deployments reports the rollout states of the service's deployments;
// at the first poll, a state reached before since is taken as known.
func (w *watcher) deployments(svc types.Service, report func(runner.Event)) {
	for _, dep := range svc.Deployments {
		if !w.polled && aws.ToTime(dep.UpdatedAt).Before(w.since) {
			w.d.noteDeployment(dep, func(runner.Event) {})
			continue
		}
		w.d.noteDeployment(dep, report)
	}
}

// stoppedTasks reports the tasks that stopped from since on, once each;
// a task still stopping is looked at again on the next poll.
func (w *watcher) stoppedTasks(ctx context.Context, report func(runner.Event)) {
	arns, err := w.d.listTasks(ctx, types.DesiredStatusStopped)
	if err != nil {
		return
	}
	arns = slices.DeleteFunc(arns, func(a string) bool { return w.tasks[a] })
	tasks, err := w.d.describeTasks(ctx, arns)
	if err != nil {
		return
	}
	for _, t := range tasks {
		if t.StoppedAt == nil {
			continue
		}
		w.tasks[aws.ToString(t.TaskArn)] = true
		if t.StoppedAt.Before(w.since) {
			continue
		}
		report(runner.Event{Kind: results.EventTaskStopped, At: *t.StoppedAt, Details: taskStopped(t)})
	}
}

// taskStopped is the details of a task-stopped event.
func taskStopped(t types.Task) map[string]string {
	var reasons []string
	for _, c := range t.Containers {
		if r := strings.TrimSpace(aws.ToString(c.Reason)); r != "" {
			reasons = append(reasons, r)
		}
	}
	before := "PENDING" // it never started
	if t.StartedAt != nil {
		before = "RUNNING"
	}
	return map[string]string{
		"task":               lastSegment(aws.ToString(t.TaskArn)),
		"task_definition":    lastSegment(aws.ToString(t.TaskDefinitionArn)),
		"stop_code":          string(t.StopCode),
		"stopped_reason":     aws.ToString(t.StoppedReason),
		"container_reason":   strings.Join(reasons, "; "),
		"last_status_before": before,
	}
}
