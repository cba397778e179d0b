package reporters

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

// The ECS side's fixture: incident 001 replayed on the local cloud.

const (
	ecsTaskARN   = "arn:aws:ecs:ap-northeast-1:123456789012:task/default/"
	ecsImage     = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web-prod@sha256:9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	ecsOldImage  = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web-prod@sha256:1b2c3d4e5f60718293a4b5c6d7e8f901"
	ecsPullError = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " +
		ecsImage + ": " + ecsImage + ": not found"
	ecsHealthReason = "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/web/6d0ecf831eec9f09)"
)

// ecsEvents are incident 001's events: the preflight's warning, a chaos
// action failing two tasks' health checks, ECS stopping them and failing
// to start their replacements, then the last task going.
func ecsEvents() []results.Event {
	ev := func(kind results.EventKind, sec float64, kv ...string) results.Event {
		d := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i]] = kv[i+1]
		}
		return results.Event{Kind: kind, At: at(time.Duration(sec * float64(time.Second))), Details: d}
	}
	return []results.Event{
		ev(results.EventPreflightFinding, 0, "cause", "image-missing", "image", ecsImage,
			"message", "task definition web:7 (running) names "+ecsImage+", which is not in ECR (ImageNotFound)"),
		ev(results.EventPreflightFinding, 0, "cause", "image-at-risk", "image", ecsOldImage,
			"message", "task definition web:6 (the rollback's) names "+ecsOldImage+": the lifecycle policy expires it after 2 more pushes"),
		ev(results.EventChaos, 6, "action", "fail-health-check",
			"tasks", ecsTaskARN+"0f1e2d3c4b5a69788796a5b4c3d2e1f0,"+ecsTaskARN+"1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"),
		ev(results.EventTaskStopped, 9, "task", ecsTaskARN+"0f1e2d3c4b5a69788796a5b4c3d2e1f0", "task_definition",
			"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:7", "stop_code", "ServiceSchedulerInitiated", "stopped_reason", ecsHealthReason),
		ev(results.EventTaskStopped, 12, "task", ecsTaskARN+"5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "task_definition",
			"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:7", "stop_code", "TaskFailedToStart", "stopped_reason", ecsPullError,
			"last_status_before", "PENDING"),
		ev(results.EventServiceEvent, 13, "id", "4c2b7e90-0000-4000-8000-000000000001",
			"message", "(service web) is unable to consistently start tasks successfully."),
		ev(results.EventDeployment, 14, "deployment", "ecs-svc/1234567890123456789", "rollout_state", "IN_PROGRESS",
			"task_definition", "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:7"),
		ev(results.EventTaskStopped, 20, "task", ecsTaskARN+"9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d", "task_definition",
			"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:7", "stop_code", "TaskFailedToStart", "stopped_reason", ecsPullError),
		ev(results.EventTaskStopped, 30, "task", ecsTaskARN+"1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", "task_definition",
			"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/web:7", "stop_code", "ServiceSchedulerInitiated", "stopped_reason", ecsHealthReason),
	}
}

// ecsSignals are the CloudWatch series of the load balancer and the
// service per 6 s period (time scale 10).
var ecsSignals = map[string][]float64{
	"alb_elb_504":              {0, 0, 240, 240, 240, 0, 0},
	"alb_elb_503":              {0, 0, 0, 0, 0, 600, 600},
	"alb_elb_5xx":              {0, 0, 240, 240, 240, 600, 600},
	"alb_healthy_hosts":        {3, 2, 1, 1, 1, 0, 0},
	"ecs_running_tasks":        {3, 3, 1, 1, 1, 0, 0},
	"alb_target_response_time": {0.04, 0.05, 9.6, 9.8, 9.7, 0, 0},
}

var ecsKeys = []string{"alb_elb_504", "alb_elb_503", "alb_elb_5xx", "alb_healthy_hosts", "ecs_running_tasks", "alb_target_response_time"}

// ecsImageExpiredRun is incident 001 on the local cloud (time scale 10,
// 6 s periods): the preflight warned that the running task definition's
// image is gone; a chaos action failed two tasks' health checks at +6s;
// their replacements could not pull the image; the one task left answered
// late (504, +12s to +30s), then it went too (503 from +30s).
func ecsImageExpiredRun() *results.Run {
	run := &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         "20261123-233658-ecr-image-expired-5c1d",
		Scenario:      scenarioJSON(map[string]any{"version": 1, "name": "ecr-image-expired"}),
		ScenarioName:  "ecr-image-expired",
		ToolVersion:   "v0.1.0",
		State:         results.StateComplete,
		StartedAt:     start,
		EndedAt:       at(50 * time.Second),
		Load:          results.LoadInfo{Model: "open", AskedRate: 100, AchievedRate: 100, Duration: 42, Workers: 64},
		Latency:       results.Latency{P50: 14, P90: 5000, P95: 9600, P99: 9900, Max: 10000, Mean: 1800},
		Events:        ecsEvents(),
		Verdict: results.Verdict{
			Status: results.StatusFail,
			Reasons: []string{
				"error rate 45.7% (1,920 of 4,200 requests), over the threshold error_rate < 1%",
				"cause: image-missing (high confidence)",
			},
			ErrorRateUpper95: 0.47,
		},
		Preflight: ecsPreflight(),
		Findings:  ecsFindings(),
	}
	totals := map[results.Class]int64{}
	for i := range 42 {
		w := results.Window{Start: at(time.Duration(i) * time.Second), Requests: 100, ByClass: map[results.Class]int64{}, P50: 14, P99: 30}
		switch {
		case i >= 30:
			w.Errors, w.ByClass[results.ClassStatus503] = 100, 100
		case i >= 12:
			w.Errors, w.ByClass[results.ClassStatus504], w.P99 = 40, 40, 9900
		}
		addWindow(run, totals, w)
	}
	run.Totals.ByClass = totals
	run.Totals.ByStatus = map[string]int64{"200": 2280, "503": 1200, "504": 720}
	run.Diagnosis = &results.Diagnosis{
		Metrics: results.MetricsCovered, Period: 6, TimeScale: 10, Settle: 18, Waited: 18,
		Signals: ecsKeys,
		Buckets: bucketsOf(run.Timeline, 6*time.Second, []string{"before", "during", "during", "during", "during", "during", "during"}, ecsSignals),
	}
	run.Series = seriesOf(ecsKeys, ecsSignals, 6*time.Second, 7)
	return run
}

func ecsPreflight() []results.Finding {
	return []results.Finding{
		{
			Cause: "image-missing", Confidence: "high",
			Evidence: []string{
				"Task definition web:7, which the service runs, names " + ecsImage + ": ECR has no such image (BatchGetImage: ImageNotFound).",
				"A task replaced now cannot start: its image cannot be pulled.",
			},
			Remedy: []string{
				"Redeploy with an image that exists in ECR (the fix that day).",
				"Tag production images (e.g. prod-*) and give them a rule of higher priority, so only unused images expire.",
			},
		},
		{
			Cause: "image-at-risk", Confidence: "medium",
			Evidence: []string{"Task definition web:6, which a rollback returns to, names " + ecsOldImage + ": the lifecycle policy expires it after 2 more pushes."},
			Remedy:   []string{"Keep more images: raise the lifecycle policy's countNumber, or expire by age (sinceImagePushed)."},
		},
	}
}

func ecsFindings() []results.Finding {
	return []results.Finding{
		{
			Cause: "image-missing", Confidence: "high", Explained: 1920, Primary: 1920,
			AlsoConsistent: []string{"no-healthy-targets", "overloaded-target"},
			Evidence: []string{
				"2 tasks failed to start (stopCode TaskFailedToStart) from 23:37:10 UTC (chaos +6s) to 23:37:18 UTC: ECS could not pull the image.",
				"ECS's reason: \"" + ecsPullError + "\".",
				"The load balancer's healthy hosts (HealthyHostCount) fell from 3 to 1 (23:37:10 UTC), then 0 (23:37:28 UTC).",
				"From the first failed start on (23:37:10–23:37:40 UTC, chaos +6s to +36s), 1,920 errors followed (status_503 1,200, status_504 720), all above the pre-cutover rate of 0%.",
				"The preflight guard warned before the load: task definition web:7 (running) names " + ecsImage + ", which is not in ECR (ImageNotFound).",
				"Confidence high: ECS reported the failed starts, the service's capacity fell and the errors followed.",
			},
			Remedy: []string{
				"Redeploy with an image that exists in ECR (the fix that day).",
				"Keep more images: raise the lifecycle policy's countNumber, or expire by age (sinceImagePushed).",
				"Run `cutover preflight` before a deploy, or set preflight: strict.",
			},
		},
		{
			Cause: "no-healthy-targets", Confidence: "high", Explained: 1200,
			Evidence: []string{
				"1,200 client 503s (status_503) in 2 periods of 6 s, where the load balancer had no healthy target (HealthyHostCount 0) and answered 503 itself: 600 and 600 per period (HTTPCode_ELB_503_Count).",
				"It is how the errors came about, not why: the 1,200 errors its evidence covers are attributed first to image-missing, the root cause.",
			},
			Remedy: []string{"Keep tasks registered and healthy while others are replaced: minimumHealthyPercent 100 (and maximumPercent 200)."},
		},
		{
			Cause: "overloaded-target", Confidence: "high", Explained: 720,
			Evidence: []string{
				"Clients got 720 504 responses (status_504) in 3 periods of 6 s, where the load balancer answered 504 itself (HTTPCode_ELB_504_Count: 240; 240 and 240 per period) with fewer tasks behind it than before.",
				"It is how the errors came about, not why: the 720 errors its evidence covers are attributed first to image-missing, the root cause.",
			},
			Remedy: []string{"Scale out: more tasks (desiredCount), or target-tracking auto scaling on ALBRequestCountPerTarget or CPU."},
		},
	}
}
