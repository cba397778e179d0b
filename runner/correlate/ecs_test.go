package correlate

import (
	"slices"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// seedReason is incident 001's CannotPullContainerError, as ECS gives it.
const seedReason = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " +
	"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app-prod@sha256:4f2a9c0d1e: " +
	"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app-prod@sha256:4f2a9c0d1e: not found"

// failedStart is a task-stopped event of a task that could not pull its
// image.
func failedStart(m, s int, task string) results.Event {
	return ev(results.EventTaskStopped, at(m, s), "task", task, "task_definition", "app:7",
		"stop_code", StopCodeFailedToStart, "stopped_reason", seedReason, "last_status_before", "PENDING")
}

// ecsSeries are the CloudWatch series of an ECS service behind an ALB.
func ecsSeries(e504, e503, hosts, tasks, rt []float64) []results.Series {
	fivexx := make([]float64, len(e504))
	for i := range fivexx {
		fivexx[i] = e504[i] + e503[i]
	}
	return []results.Series{
		series(results.QueryALB504, nil, e504...),
		series(results.QueryALB503, nil, e503...),
		series(results.QueryALB5XX, nil, fivexx...),
		series(results.QueryALBHealthyHosts, nil, hosts...),
		series(results.QueryECSRunningTasks, nil, tasks...),
		series(results.QueryALBResponseTime, nil, rt...),
	}
}

// incident001 is incident 001 replayed: the preflight guard warns that
// the production digest is gone; at minute 3 a chaos action fails the
// health check of two of the three tasks; ECS replaces them, and the
// replacements cannot pull their image (from 3:50 on). The one task left
// carries the load and answers late (504 from the ALB, minutes 4–7), then
// it goes too and the ALB has no target (503, minutes 8–11).
func incident001() Input {
	const n = 12
	table := map[int]map[results.Class]int64{}
	e504, e503 := zeros(n), zeros(n)
	for m, k := range map[int]int64{4: 1200, 5: 1500, 6: 1400, 7: 1300} {
		table[m] = map[results.Class]int64{results.ClassStatus504: k, results.ClassResponseTimeout: 20}
		e504[m] = float64(k)
	}
	for m := 8; m < n; m++ {
		table[m] = map[results.Class]int64{results.ClassStatus503: 5000}
		e503[m] = 5000
	}
	return Input{
		Timeline: timeline(n, 6000, errsAt(table), nil),
		Events: []results.Event{
			ev(results.EventPreflightFinding, at(0, 0), "cause", CauseImageMissing, "image", "app-prod@sha256:4f2a9c0d1e",
				"message", "the task definition app:7 names 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app-prod@sha256:4f2a9c0d1e, which is not in ECR (ImageNotFound)"),
			ev(results.EventChaos, at(3, 0), "action", "fail-health-check", "tasks", "2"),
			ev(results.EventTaskStopped, at(3, 30), "task", "a1", "stop_code", "ServiceSchedulerInitiated",
				"stopped_reason", "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app/0123)"),
			ev(results.EventTaskStopped, at(3, 31), "task", "a2", "stop_code", "ServiceSchedulerInitiated",
				"stopped_reason", "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app/0123)"),
			failedStart(3, 50, "b1"), failedStart(3, 52, "b2"),
			failedStart(5, 10, "c1"), failedStart(7, 40, "c2"), failedStart(8, 20, "c3"),
			ev(results.EventServiceEvent, at(4, 0), "message", "(service app) is unable to consistently start tasks successfully."),
		},
		Series: ecsSeries(e504, e503,
			[]float64{3, 3, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},
			[]float64{3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
			[]float64{0.05, 0.05, 0.05, 0.06, 9.5, 9.8, 9.7, 9.6, 0, 0, 0, 0}),
		Period: minute,
	}
}

// allTasksGone is a service scaled to zero at minute 3 with no image
// problem: every request after it gets the ALB's 503.
func allTasksGone() Input {
	const n = 10
	table := map[int]map[results.Class]int64{}
	e503 := zeros(n)
	for m := 4; m < 8; m++ {
		table[m] = map[results.Class]int64{results.ClassStatus503: 6000}
		e503[m] = 6000
	}
	return Input{
		Timeline: timeline(n, 6000, errsAt(table), nil),
		Events:   []results.Event{ev(results.EventChaos, at(3, 5), "action", "scale", "desired", "0")},
		Series: ecsSeries(zeros(n), e503,
			[]float64{2, 2, 2, 2, 0, 0, 0, 0, 2, 2},
			[]float64{2, 2, 2, 1, 0, 0, 0, 0, 2, 2},
			slices.Repeat([]float64{0.04}, n)),
		Period: minute,
	}
}

// cleanECS is a healthy ECS run: a deployment that completes, every task
// healthy, no error.
func cleanECS() Input {
	const n = 10
	return Input{
		Timeline: timeline(n, 6000, nil, nil),
		Events: []results.Event{
			ev(results.EventDeployStart, at(3, 0), "service", "app"),
			ev(results.EventDeployment, at(3, 5), "deployment", "ecs-svc/1", "rollout_state", "IN_PROGRESS"),
			ev(results.EventTaskStopped, at(4, 0), "task", "old1", "stop_code", "ServiceSchedulerInitiated", "stopped_reason", "Scaling activity initiated by (deployment ecs-svc/1)"),
			ev(results.EventDeployment, at(5, 0), "deployment", "ecs-svc/1", "rollout_state", "COMPLETED"),
		},
		Series: ecsSeries(zeros(n), zeros(n), slices.Repeat([]float64{3}, n), slices.Repeat([]float64{3}, n), slices.Repeat([]float64{0.04}, n)),
		Period: minute,
	}
}

// withoutErrors is in with no client error (and no ALB 5xx).
func withoutErrors(in Input, failed bool) Input {
	in.Timeline = timeline(12, 6000, nil, nil)
	for i := range in.Series {
		if q := in.Series[i].Query; q == results.QueryALB504 || q == results.QueryALB503 || q == results.QueryALB5XX {
			in.Series[i] = series(q, nil, zeros(12)...)
		}
	}
	if failed {
		in.Events = append(in.Events, ev(results.EventDeployment, at(9, 0), "deployment", "ecs-svc/2",
			"rollout_state", "FAILED", "reason", "ECS deployment circuit breaker: tasks failed to start."))
	}
	return in
}

// earlyOverload is incident 001 with the replacements failing only from
// minute 5 on: the 504s of minute 4 come before any failed start, so they
// are the overloaded target's own.
func earlyOverload() Input {
	in := incident001()
	var events []results.Event
	for _, e := range in.Events {
		if e.Kind != results.EventTaskStopped || e.Details["stop_code"] != StopCodeFailedToStart || e.At.After(at(5, 0)) {
			events = append(events, e)
		}
	}
	in.Events = events
	return in
}

// withoutEvent is in without its events of kind.
func withoutEvent(in Input, kind results.EventKind) Input {
	var events []results.Event
	for _, e := range in.Events {
		if e.Kind != kind {
			events = append(events, e)
		}
	}
	in.Events = events
	return in
}

// preflightOnly is a clean ECS run whose preflight found the running
// image gone: no task was replaced, so nothing needed it.
func preflightOnly() Input {
	in := cleanECS()
	in.Events = append(in.Events, incident001().Events[0])
	return in
}

// failingAllAlong is a service that answers some 500s all along, with a
// task that stopped an hour before the run.
func failingAllAlong() Input {
	in := cleanECS()
	in.Timeline = timeline(10, 6000, func(int) map[results.Class]int64 { return map[results.Class]int64{results.ClassStatus500: 60} }, nil)
	in.Events = []results.Event{ev(results.EventTaskStopped, at(-60, 0), "task", "old", "stop_code", "EssentialContainerExited", "stopped_reason", "Essential container in task exited")}
	return in
}

type ecsCase struct {
	name    string
	in      Input
	causes  []string         // the causes, in order
	ruled   []string         // ruled out
	primary map[string]int64 // cause → primary errors
	quote   map[string][]string
	remedy  map[string][]string
}

func TestAnalyzeECS(t *testing.T) {
	tests := []ecsCase{
		{
			name: "incident 001: image missing, then an overloaded task, then none", in: incident001(),
			causes:  []string{CauseImageMissing, CauseNoHealthyTargets, CauseOverloadedTarget},
			ruled:   []string{CauseUpstreamTimeout}, // the client timeouts
			primary: map[string]int64{CauseImageMissing: 25480, CauseNoHealthyTargets: 0, CauseOverloadedTarget: 0},
			quote: map[string][]string{
				CauseImageMissing: {"5 tasks failed to start (stopCode TaskFailedToStart) from 12:03:50 UTC (chaos +50s)", "CannotPullContainerError",
					"app-prod@sha256:4f2a9c0d1e is gone", "fell from 3 to 1 (12:04:00 UTC), then 0 (12:08:00 UTC)",
					"running tasks (RunningTaskCount) fell from 3 to 1", "25,480 errors followed (status_503 20,000, status_504 5,400, response_timeout 80), all above",
					"5,400 answers 504 Gateway Time-out and 20,000 answers 503", "25,400 5XX in all", "The preflight guard warned before the load: the task definition app:7",
					"the chaos action fail-health-check", "Task failed ELB health checks", "Confidence high"},
				CauseOverloadedTarget: {"5,400 504 responses (status_504) and 80 requests timed out", "4 periods of 60 s", "1,200; 1,500; 1,400 and 1,300 per period",
					"idle timeout", "rose from 0.05 s before to 9.8 s", "attributed first to image-missing, the root cause"},
				CauseNoHealthyTargets: {"20,000 client 503s", "HealthyHostCount 0", "no registered targets", "attributed first to image-missing"},
			},
			remedy: map[string][]string{
				CauseImageMissing:     {"image that exists in ECR", "countNumber", "sinceImagePushed", "prod-*", "per environment", "more often", "cutover preflight", "preflight: strict"},
				CauseOverloadedTarget: {"Scale out", "minimumHealthyPercent"},
			},
		},
		{
			name: "504s before the first failed start are the overloaded target's own", in: earlyOverload(),
			causes:  []string{CauseImageMissing, CauseOverloadedTarget, CauseNoHealthyTargets},
			ruled:   []string{CauseUpstreamTimeout},
			primary: map[string]int64{CauseImageMissing: 24260, CauseOverloadedTarget: 1220, CauseNoHealthyTargets: 0},
		},
		{
			name: "every task gone: no healthy targets", in: allTasksGone(),
			causes:  []string{CauseNoHealthyTargets},
			primary: map[string]int64{CauseNoHealthyTargets: 24000},
			quote: map[string][]string{CauseNoHealthyTargets: {"24,000 client 503s (status_503) in 4 periods", "6,000; 6,000; 6,000 and 6,000 per period",
				"no registered targets", "fell from 2 to 0", "Confidence high"}},
			remedy: map[string][]string{CauseNoHealthyTargets: {"minimumHealthyPercent 100"}},
		},
		{
			// Nothing started the incident that the record knows of: the
			// rate before it is that of the periods before the first
			// failed start.
			name: "no chaos action, no deploy: the first task stopped starts it", in: withoutEvent(incident001(), results.EventChaos),
			causes:  []string{CauseImageMissing, CauseNoHealthyTargets, CauseOverloadedTarget},
			ruled:   []string{CauseUpstreamTimeout},
			primary: map[string]int64{CauseImageMissing: 25480},
			quote:   map[string][]string{CauseImageMissing: {"from 12:03:50 UTC (task-stopped +20s)", "fell from 3 to 1 (12:04:00 UTC)"}},
		},
		{name: "a clean ECS run: nothing", in: cleanECS()},
		{
			// ECS lists the tasks that stopped in the hour before the run:
			// they start no cutover, and the errors of a service failing
			// all along are its baseline.
			name: "a task stopped before the run starts no cutover", in: failingAllAlong(),
			causes: []string{CausePreExistingErrors},
		},
		{
			name: "the preflight warned, no task needed the image: it explains nothing", in: preflightOnly(),
			ruled: []string{CauseImageMissing},
			quote: map[string][]string{CauseImageMissing: {"The preflight guard warned before the load: the task definition app:7", "nothing needed it yet"}},
		},
		{
			name: "failed starts, no client error: it explains no error", in: withoutErrors(incident001(), false),
			ruled: []string{CauseImageMissing},
		},
		{
			name: "failed starts failed the deployment: a cause with no error", in: withoutErrors(incident001(), true),
			causes: []string{CauseImageMissing},
			quote:  map[string][]string{CauseImageMissing: {"No client saw an error", "Confidence high: ECS reported the failed starts."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t) })
	}
}

func (tt ecsCase) check(t *testing.T) {
	a := Analyze(tt.in)
	checkAccounting(t, tt.in, a)
	if got := causes(a.Findings); !slices.Equal(got, tt.causes) {
		t.Fatalf("causes %v, want %v\n%s", got, tt.causes, dump(a.Findings))
	}
	if got := causes(a.RuledOut); !slices.Equal(got, tt.ruled) {
		t.Errorf("ruled out %v, want %v\n%s", got, tt.ruled, dump(a.RuledOut))
	}
	for _, f := range a.Findings {
		if want, ok := tt.primary[f.Cause]; ok && f.Primary != want {
			t.Errorf("%s: primary %d, want %d", f.Cause, f.Primary, want)
		}
	}
	for cause, quotes := range tt.quote {
		f, _ := find(slices.Concat(a.Findings, a.RuledOut), cause)
		text := strings.Join(f.Evidence, "\n")
		for _, q := range quotes {
			if !strings.Contains(text, q) {
				t.Errorf("%s: evidence does not quote %q:\n%s", cause, q, text)
			}
		}
	}
	for cause, want := range tt.remedy {
		f, _ := find(a.Findings, cause)
		text := strings.Join(f.Remedy, "\n")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: remedy does not say %q:\n%s", cause, w, text)
			}
		}
	}
}

// The Cloud Run rules leave the ECS side's errors alone: the ALB's 504s
// are not upstream request timeouts, and a failed ECS deploy is
// revision-not-ready beside image-missing, not instead of it.
func TestAnalyzeECSLeavesCloudRunRulesOut(t *testing.T) {
	in := incident001()
	in.Events = append(in.Events, ev(results.EventActionFailed, at(9, 0), "action", "0", "error",
		`deploy to service "app": deployment ecs-svc/2 failed: ECS deployment circuit breaker: tasks failed to start.`))
	a := Analyze(in)
	checkAccounting(t, in, a)
	if a.Findings[0].Cause != CauseImageMissing {
		t.Fatalf("top = %v, want %s first\n%s", causes(a.Findings), CauseImageMissing, dump(a.Findings))
	}
	if f, ok := find(a.Findings, CauseRevisionNotReady); !ok || f.Primary != 0 {
		t.Errorf("revision-not-ready: %+v, want a cause by its failed action with no primary error", f)
	}
	for _, c := range []string{CauseUpstreamTimeout, CausePreExistingErrors, CauseEgressNotReady} {
		if f, ok := find(a.Findings, c); ok {
			t.Errorf("%s claims errors of the ECS side: %+v", c, f)
		}
	}
}
