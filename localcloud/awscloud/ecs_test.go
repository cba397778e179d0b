package awscloud

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/cutover-dev/cutover/scenarios"
)

// TestIncidentDigestExpired is incident 001's mechanism: the service's
// deployment resolved release-1 to its digest, later builds made the
// keep-last-10 policy expire it, and the tasks that replace two stopped
// ones fail to pull it.
func TestIncidentDigestExpired(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app-prod", "release-1", 12, keepLast(10))}, webService("app-prod:release-1"))
	cl, _ := clients(t, c)
	ctx := context.Background()
	gone := digestFor("app-prod", 1)

	running, err := cl.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("default"), ServiceName: aws.String("web")})
	if err != nil || len(running.TaskArns) != 3 {
		t.Fatalf("ListTasks RUNNING = %v, %v; want 3 tasks", running.TaskArns, err)
	}
	for _, arn := range running.TaskArns[:2] {
		if _, err := cl.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("default"), Task: aws.String(arn), Reason: aws.String("chaos")}); err != nil {
			t.Fatalf("StopTask: %v", err)
		}
	}
	var failed []ecstypes.Task
	eventually(t, "two replacements to fail to start", func() bool {
		failed = nil
		out, err := cl.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web"), DesiredStatus: ecstypes.DesiredStatusStopped})
		if err != nil {
			t.Fatalf("ListTasks STOPPED: %v", err)
		}
		if len(out.TaskArns) == 0 {
			return false
		}
		d, err := cl.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: out.TaskArns})
		if err != nil {
			t.Fatalf("DescribeTasks: %v", err)
		}
		for _, task := range d.Tasks {
			if task.StopCode == ecstypes.TaskStopCodeTaskFailedToStart && aws.ToString(task.LastStatus) == "STOPPED" {
				failed = append(failed, task)
			}
		}
		return len(failed) >= 2
	})
	uri := "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app-prod@" + gone
	want := "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " + uri + ": " + uri + ": not found"
	for _, task := range failed {
		if got := aws.ToString(task.StoppedReason); got != want {
			t.Errorf("stoppedReason = %q\nwant %q", got, want)
		}
		if got := aws.ToString(task.Containers[0].Reason); got != want {
			t.Errorf("container reason = %q, want the same", got)
		}
		if g := aws.ToString(task.Group); g != "service:web" {
			t.Errorf("group = %q, want service:web", g)
		}
	}
	eventually(t, "the throttle event", func() bool {
		return hasEvent(describe(t, cl), "(service web) is unable to consistently start tasks successfully.")
	})
	s := describe(t, cl)
	if s.RunningCount != 1 || s.Deployments[0].FailedTasks < 2 {
		t.Errorf("runningCount %d, failedTasks %d; want 1 task left running and ≥2 failures", s.RunningCount, s.Deployments[0].FailedTasks)
	}
	if !hasEvent(s, "has stopped 1 running tasks") {
		t.Error("no \"has stopped 1 running tasks\" event")
	}

	// The fix that day: redeploy with an image that exists. The new
	// deployment is not held back by the throttle.
	if _, err := cl.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("app-prod:build-12")}},
	}); err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	if _, err := cl.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), TaskDefinition: aws.String("web:2")}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	eventually(t, "the redeploy to complete", func() bool {
		s := describe(t, cl)
		return s.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted && s.RunningCount == 3
	})
}

// TestRollingUpdate deploys a new task definition and waits for it to
// complete: every running task then runs the new revision and its digest.
func TestRollingUpdate(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "release-1", 3, keepLast(10))}, webService("app:release-1"))
	cl, _ := clients(t, c)
	ctx := context.Background()
	reg, err := cl.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:build-3"),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080)}},
		}},
	})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	if reg.TaskDefinition.Revision != 2 {
		t.Fatalf("revision = %d, want 2", reg.TaskDefinition.Revision)
	}
	if _, err := cl.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), TaskDefinition: aws.String("web:2")}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	eventually(t, "the deployment to complete", func() bool {
		s := describe(t, cl)
		return s.Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted && s.RunningCount == 3
	})
	s := describe(t, cl)
	if got := aws.ToString(s.Deployments[0].TaskDefinition); got != aws.ToString(reg.TaskDefinition.TaskDefinitionArn) {
		t.Errorf("PRIMARY task definition = %s, want %s", got, aws.ToString(reg.TaskDefinition.TaskDefinitionArn))
	}
	if len(s.Deployments) < 2 || aws.ToString(s.Deployments[1].Status) != "INACTIVE" {
		t.Errorf("the old deployment is not INACTIVE: %+v", s.Deployments)
	}
	if !hasEvent(s, "(service web) has reached a steady state.") {
		t.Error("no steady state event")
	}
	lt, _ := cl.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web")})
	dt, err := cl.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: lt.TaskArns})
	if err != nil || len(dt.Tasks) != 3 {
		t.Fatalf("DescribeTasks: %v, %d tasks", err, len(dt.Tasks))
	}
	for _, task := range dt.Tasks {
		if !strings.HasSuffix(aws.ToString(task.TaskDefinitionArn), ":task-definition/web:2") ||
			aws.ToString(task.Containers[0].ImageDigest) != digestFor("app", 4) {
			t.Errorf("task %s runs %s %s, want web:2 and build-3's digest", aws.ToString(task.TaskArn),
				aws.ToString(task.TaskDefinitionArn), aws.ToString(task.Containers[0].ImageDigest))
		}
	}
}

// TestCircuitBreakerRollsBack deploys an image that is not in ECR: the
// breaker fails the deployment after its threshold and rolls back.
func TestCircuitBreakerRollsBack(t *testing.T) {
	svc := webService("app:release-1")
	svc.CircuitBreaker = scenarios.ECSCircuitBreaker{Enable: true, Rollback: true}
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "release-1", 0, "")}, svc)
	cl, _ := clients(t, c)
	ctx := context.Background()
	first := aws.ToString(describe(t, cl).TaskDefinition)
	if _, err := cl.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("web"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("app:never-pushed")}},
	}); err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	if _, err := cl.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), TaskDefinition: aws.String("web")}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	var failedDep ecstypes.Deployment
	eventually(t, "the breaker to fail the deployment and roll back", func() bool {
		s := describe(t, cl)
		for _, d := range s.Deployments {
			if d.RolloutState == ecstypes.DeploymentRolloutStateFailed {
				failedDep = d
			}
		}
		return failedDep.Id != nil && aws.ToString(s.Deployments[0].TaskDefinition) == first
	})
	if got := aws.ToString(failedDep.RolloutStateReason); got != circuitBreakerReason {
		t.Errorf("rolloutStateReason = %q, want %q", got, circuitBreakerReason)
	}
	if failedDep.FailedTasks < int32(breakerThreshold(3)) {
		t.Errorf("failedTasks = %d, want at least the threshold %d", failedDep.FailedTasks, breakerThreshold(3))
	}
	s := describe(t, cl)
	if !hasEvent(s, "(deployment "+aws.ToString(failedDep.Id)+") deployment failed: tasks failed to start.") || !hasEvent(s, "rolling back to deployment") {
		t.Errorf("events lack the failure and the rollback: %v", s.Events)
	}
	eventually(t, "the rollback to complete", func() bool {
		return describe(t, cl).Deployments[0].RolloutState == ecstypes.DeploymentRolloutStateCompleted
	})
}

func TestBreakerThreshold(t *testing.T) {
	for _, tc := range []struct{ desired, want int }{{1, 3}, {3, 3}, {4, 3}, {7, 4}, {20, 10}, {401, 200}, {1000, 200}} {
		if got := breakerThreshold(tc.desired); got != tc.want {
			t.Errorf("breakerThreshold(%d) = %d, want %d", tc.desired, got, tc.want)
		}
	}
}

// TestScaleInAndStopTask scales the service in, then stops a task by
// hand: the scheduler stops the extra tasks and replaces the stopped one.
func TestScaleInAndStopTask(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v1"))
	cl, _ := clients(t, c)
	ctx := context.Background()
	if _, err := cl.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	eventually(t, "the scale-in", func() bool { return describe(t, cl).RunningCount == 1 })
	stopped := stoppedTasks(t, cl)
	if len(stopped) != 2 {
		t.Fatalf("%d stopped tasks, want 2", len(stopped))
	}
	for _, task := range stopped {
		if task.StopCode != ecstypes.TaskStopCodeServiceSchedulerInitiated ||
			!strings.HasPrefix(aws.ToString(task.StoppedReason), "Scaling activity initiated by (deployment ecs-svc/") {
			t.Errorf("scaled-in task: %s %q", task.StopCode, aws.ToString(task.StoppedReason))
		}
	}
	lt, err := cl.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web")})
	if err != nil || len(lt.TaskArns) != 1 {
		t.Fatalf("ListTasks = %v, %v", lt, err)
	}
	st, err := cl.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String(lt.TaskArns[0])})
	if err != nil || st.Task.StopCode != ecstypes.TaskStopCodeUserInitiated || aws.ToString(st.Task.StoppedReason) != "Task stopped by user" {
		t.Fatalf("StopTask = %+v, %v; want UserInitiated, Task stopped by user", st, err)
	}
	eventually(t, "the replacement", func() bool {
		lt, err := cl.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web")})
		if err != nil || len(lt.TaskArns) != 1 || lt.TaskArns[0] == aws.ToString(st.Task.TaskArn) {
			return false
		}
		s := describe(t, cl)
		return s.RunningCount == 1
	})
}

// TestFailHealthCheck makes two tasks' health checks fail through the
// local cloud's own operation.
func TestFailHealthCheck(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v1"))
	defer http.DefaultClient.CloseIdleConnections()
	status, out, _ := post(t, c, "CutoverLocalCloud.FailHealthCheck", contentTypeJSON11, `{"cluster":"default","service":"web","count":2,"durationSeconds":0}`)
	arns, _ := out["tasks"].([]any)
	if status != 200 || len(arns) != 2 {
		t.Fatalf("FailHealthCheck = %d %v, want 2 tasks", status, out)
	}
	for _, a := range arns {
		c.mu.Lock()
		tk := c.taskNamed(a.(string))
		addr := tk.server.addr()
		c.mu.Unlock()
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 500 {
			t.Errorf("task %s health: %d, want 500", a, resp.StatusCode)
		}
	}
	// The load balancer marks them unhealthy after its threshold, and the
	// scheduler stops and replaces them, as ECS does: the replacements
	// (the image is there) run, and the service is back at 3.
	cl, _ := clients(t, c)
	failed := map[string]bool{}
	for _, a := range arns {
		failed[a.(string)] = true
	}
	eventually(t, "the two tasks stopped for failed ELB health checks and replaced", func() bool {
		n := 0
		for _, tk := range stoppedTasks(t, cl) {
			if failed[aws.ToString(tk.TaskArn)] && tk.StopCode == ecstypes.TaskStopCodeServiceSchedulerInitiated &&
				strings.HasPrefix(aws.ToString(tk.StoppedReason), "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:") {
				n++
			}
		}
		s := describe(t, cl)
		return n == 2 && s.RunningCount == 3
	})
}

// stoppedTasks describes the service's stopped tasks.
func stoppedTasks(t *testing.T, cl *ecs.Client) []ecstypes.Task {
	t.Helper()
	ctx := context.Background()
	lt, err := cl.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web"), DesiredStatus: ecstypes.DesiredStatusStopped})
	if err != nil {
		t.Fatalf("ListTasks STOPPED: %v", err)
	}
	if len(lt.TaskArns) == 0 {
		return nil
	}
	dt, err := cl.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: lt.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	return dt.Tasks
}
