package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/cutover-dev/cutover/scenarios"
)

// awsClients are unmodified aws-sdk-go-v2 clients pointed at one endpoint
// with static credentials, as a user points them at `cutover localcloud`.
type awsClients struct {
	ecs *ecs.Client
	ecr *ecr.Client
	elb *elbv2.Client
	cw  *cloudwatch.Client
}

func newAWSClients(endpoint string) awsClients {
	cfg := aws.Config{
		Region:       "ap-northeast-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(endpoint),
	}
	return awsClients{ecs: ecs.NewFromConfig(cfg), ecr: ecr.NewFromConfig(cfg), elb: elbv2.NewFromConfig(cfg), cw: cloudwatch.NewFromConfig(cfg)}
}

// startAWSLocalcloud starts `cutover localcloud scenario` for an AWS
// scenario and returns its endpoints.
func startAWSLocalcloud(t *testing.T, scenario string) (endpoints, fmt.Stringer) {
	t.Helper()
	_, ep, errb := startLocalcloudProcess(t, scenario)
	if !strings.HasPrefix(ep.AWSEndpoint, "http://127.0.0.1:") || ep.ControlPlane != "" {
		t.Fatalf("endpoints %+v: want aws_endpoint http://127.0.0.1:PORT and no control_plane\nstderr:\n%s", ep, errb)
	}
	return ep, errb
}

// The AWS SDK's own clients, unmodified, drive the incident through the
// aws_endpoint `cutover localcloud ecr-image-expired` prints: they find
// the cluster and the service, stop two tasks and see their replacements
// fail to pull the expired digest, see ECR report it missing and the
// target group's health, read the ALB's 504s per period from CloudWatch,
// and roll the service onto an image that exists.
func TestAWSClientsDriveTheIncidentThroughTheLocalcloudCommand(t *testing.T) {
	t.Parallel()
	ep, errb := startAWSLocalcloud(t, "ecr-image-expired")
	c := newAWSClients(ep.AWSEndpoint)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	svc := checkClusterAndService(ctx, t, c)
	tg := aws.ToString(svc.LoadBalancers[0].TargetGroupArn)
	checkTargets(ctx, t, c, tg, 3, errb)
	digest := checkFailedReplacements(ctx, t, c, errb)
	bg, err := c.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("xxxxx-app-prod"),
		ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
	if err != nil || len(bg.Failures) != 1 || bg.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound {
		t.Fatalf("BatchGetImage %s: %v, failures %+v; want ImageNotFound", digest, err, bg)
	}
	checkTargets(ctx, t, c, tg, 1, errb)
	n504 := burst(t, ep.Services["app"], 150)
	if n504 == 0 {
		t.Fatalf("a burst of 150 requests at one task of capacity 20/s got no 504\nstderr:\n%s", errb)
	}
	checkELB504s(ctx, t, c, tg, n504, errb)
	checkRollingUpdate(ctx, t, c, svc, errb)
}

func checkClusterAndService(ctx context.Context, t *testing.T, c awsClients) ecstypes.Service {
	t.Helper()
	lc, err := c.ecs.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil || !slices.ContainsFunc(lc.ClusterArns, func(a string) bool { return strings.HasSuffix(a, ":cluster/prod") }) {
		t.Fatalf("ListClusters: %v, %v", err, lc)
	}
	ls, err := c.ecs.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("prod")})
	if err != nil || len(ls.ServiceArns) != 1 || !strings.HasSuffix(ls.ServiceArns[0], ":service/prod/app") {
		t.Fatalf("ListServices: %v, %v", err, ls)
	}
	ds, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"app"}})
	if err != nil || len(ds.Services) != 1 {
		t.Fatalf("DescribeServices: %v, %+v", err, ds)
	}
	svc := ds.Services[0]
	if svc.DesiredCount != 3 || svc.RunningCount != 3 || len(svc.Deployments) != 1 || len(svc.LoadBalancers) != 1 ||
		svc.Deployments[0].RolloutState != ecstypes.DeploymentRolloutStateCompleted {
		t.Fatalf("service %s: desired %d running %d deployments %+v load balancers %+v", aws.ToString(svc.ServiceName),
			svc.DesiredCount, svc.RunningCount, svc.Deployments, svc.LoadBalancers)
	}
	return svc
}

// checkTargets waits until the target group has healthy targets.
func checkTargets(ctx context.Context, t *testing.T, c awsClients, tg string, healthy int, errb fmt.Stringer) {
	t.Helper()
	var states []string
	waitFor(t, ctx, fmt.Sprintf("%d healthy targets", healthy), func() bool {
		th, err := c.elb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			t.Fatalf("DescribeTargetHealth: %v", err)
		}
		states = states[:0]
		n := 0
		for _, d := range th.TargetHealthDescriptions {
			states = append(states, string(d.TargetHealth.State))
			if d.TargetHealth.State == "healthy" {
				n++
			}
		}
		return n == healthy
	}, stringerf(func() string { return fmt.Sprintf("target states %v\n%s", states, errb) }))
}

type stringerf func() string

func (f stringerf) String() string { return f() }

// checkFailedReplacements stops two tasks and waits for a replacement
// stopped with the incident's CannotPullContainerError; it returns the
// digest the replacement could not pull.
func checkFailedReplacements(ctx context.Context, t *testing.T, c awsClients, errb fmt.Stringer) string {
	t.Helper()
	lt, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("app")})
	if err != nil || len(lt.TaskArns) != 3 {
		t.Fatalf("ListTasks: %v, %v", err, lt)
	}
	for _, arn := range lt.TaskArns[:2] {
		if _, err := c.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("prod"), Task: aws.String(arn), Reason: aws.String("test: replace it")}); err != nil {
			t.Fatalf("StopTask: %v", err)
		}
	}
	const want = "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/xxxxx-app-prod@sha256:"
	var failed *ecstypes.Task
	waitFor(t, ctx, "a replacement task that failed to start", func() bool {
		st, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("prod"), ServiceName: aws.String("app"), DesiredStatus: ecstypes.DesiredStatusStopped})
		if err != nil || len(st.TaskArns) == 0 {
			return false
		}
		dt, err := c.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("prod"), Tasks: st.TaskArns})
		if err != nil {
			t.Fatalf("DescribeTasks: %v", err)
		}
		for i, task := range dt.Tasks {
			if task.StopCode == ecstypes.TaskStopCodeTaskFailedToStart {
				failed = &dt.Tasks[i]
				return true
			}
		}
		return false
	}, errb)
	reason := aws.ToString(failed.StoppedReason)
	if !strings.HasPrefix(reason, want) || !strings.HasSuffix(reason, ": not found") {
		t.Fatalf("stoppedReason %q, want the seed's CannotPullContainerError", reason)
	}
	at := strings.LastIndex(reason, "@")
	return strings.TrimSuffix(reason[at+1:], ": not found")
}

// burst sends n requests at once to url and returns how many were 504.
func burst(t *testing.T, url string, n int) int64 {
	t.Helper()
	client := &http.Client{Timeout: 60 * time.Second}
	var got504 atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := client.Get(url)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusGatewayTimeout {
				got504.Add(1)
			}
		})
	}
	wg.Wait()
	return got504.Load()
}

// checkELB504s waits until CloudWatch's HTTPCode_ELB_504_Count, per
// period, adds up to the 504s the clients got.
func checkELB504s(ctx context.Context, t *testing.T, c awsClients, tg string, n504 int64, errb fmt.Stringer) {
	t.Helper()
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{tg}})
	if err != nil || len(tgs.TargetGroups) != 1 || len(tgs.TargetGroups[0].LoadBalancerArns) != 1 {
		t.Fatalf("DescribeTargetGroups: %v, %+v", err, tgs)
	}
	lbArn := tgs.TargetGroups[0].LoadBalancerArns[0]
	lbDim := lbArn[strings.Index(lbArn, ":loadbalancer/")+len(":loadbalancer/"):]
	var sum float64
	var points int
	waitFor(t, ctx, fmt.Sprintf("CloudWatch counting the %d 504s", n504), func() bool {
		now := time.Now()
		out, err := c.cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(now.Add(-5 * time.Minute)), EndTime: aws.Time(now.Add(time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("e504"), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HTTPCode_ELB_504_Count"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(lbDim)}}},
				Period: aws.Int32(6), Stat: aws.String("Sum")}}},
		})
		if err != nil {
			t.Fatalf("GetMetricData: %v", err)
		}
		sum, points = 0, len(out.MetricDataResults[0].Values)
		for _, v := range out.MetricDataResults[0].Values {
			sum += v
		}
		return int64(sum) == n504
	}, stringerf(func() string { return fmt.Sprintf("504 sum %v over %d periods\n%s", sum, points, errb) }))
}

// checkRollingUpdate registers a task definition revision with an image
// that exists and rolls the service onto it.
func checkRollingUpdate(ctx context.Context, t *testing.T, c awsClients, svc ecstypes.Service, errb fmt.Stringer) {
	t.Helper()
	td, err := c.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	defs := td.TaskDefinition.ContainerDefinitions
	defs[0].Image = aws.String("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/xxxxx-app-prod:staging-10")
	reg, err := c.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: td.TaskDefinition.Family, ContainerDefinitions: defs})
	if err != nil {
		t.Fatalf("RegisterTaskDefinition: %v", err)
	}
	newTD := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	if _, err := c.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("prod"), Service: aws.String("app"), TaskDefinition: aws.String(newTD)}); err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	var state ecstypes.DeploymentRolloutState
	waitFor(t, ctx, "the deployment of "+newTD+" completing", func() bool {
		ds, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"app"}})
		if err != nil {
			t.Fatalf("DescribeServices: %v", err)
		}
		for _, d := range ds.Services[0].Deployments {
			if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.TaskDefinition) == newTD {
				state = d.RolloutState
			}
		}
		return state == ecstypes.DeploymentRolloutStateCompleted
	}, stringerf(func() string { return fmt.Sprintf("rollout state %q\n%s", state, errb) }))
}

// The preflight guard catches what incident 001 needed caught: the
// digest production runs is gone (exit 1), or it will be after two more
// pushes; the fixed repository passes. With preflight: strict, a run
// stops before its first request.
func TestPreflightGuardsTheImages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, incident, err := scenarios.Resolve("ecr-image-expired")
	if err != nil {
		t.Fatal(err)
	}
	atRisk := writeScenario(t, dir, "at-risk.yaml", strings.Replace(string(incident), "count: 10,", "count: 8,", 1))
	// The same scenario, cut to 2 s of load and pointed at a server that
	// counts what it gets: a warning run sends it requests (so the counter
	// is on the load's path), a strict one none.
	short := strings.NewReplacer("duration: 30s", "duration: 2s", "at: 8s", "at: 1s",
		"metrics:\n  settle: 90s\n  max_wait: 4m", "metrics: {enabled: false}").Replace(string(incident))
	counted := func(name, preflight string) (string, *atomic.Int64) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
		t.Cleanup(srv.Close)
		sc := strings.Replace(strings.Replace(short, "target:\n  url: \"\"", "preflight: "+preflight+"\ntarget:\n  url: "+srv.URL, 1),
			"name: ecr-image-expired\n", "name: "+name+"\n", 1)
		return writeScenario(t, dir, name+".yaml", sc), &n
	}
	strict, strictGot := counted("strict", "strict")
	warn, warnGot := counted("warn", "warn")
	tests := []struct {
		name string
		args []string
		code ExitCode
		want []string
	}{
		{"expired", []string{"preflight", "ecr-image-expired"}, ExitFail,
			[]string{"1. image-missing (high confidence)", "xxxxx-app-prod@sha256:", "ImageNotFound", "Redeploy with an image that exists"}},
		{"at risk", []string{"preflight", atRisk}, ExitFail, []string{"1. image-at-risk", "expires after 2 more pushes"}},
		{"fixed", []string{"preflight", "ecr-image-expired-fixed"}, ExitPass, []string{"OK"}},
		{"strict run", []string{"run", strict, "--out", "strict-runs"}, ExitFail, []string{"1. image-missing", "no load was sent"}},
		{"warning run", []string{"run", warn, "--out", "warn-runs"}, ExitInconclusive, []string{"PREFLIGHT", "image-missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := runBinary(t, dir, tt.args...)
			out := strings.Join(strings.Fields(inv.stdout+inv.stderr), " ") // prose wraps
			if inv.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", inv.code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if n := strictGot.Load(); n != 0 {
		t.Errorf("a strict run with a missing image sent %d requests", n)
	}
	if n := warnGot.Load(); n == 0 {
		t.Error("the warning run sent no request to the counting server: the strict run's 0 proves nothing")
	}
	if runs, _ := filepath.Glob(filepath.Join(dir, "strict-runs", "*", "run.json")); len(runs) != 0 {
		t.Errorf("a strict preflight left run records %v", runs)
	}
}

// ecsDeploy is a run whose deploy cannot finish (its image is missing),
// against `cutover localcloud ecr-image-expired-fixed`, caught while the
// new task definition rolls out.
type ecsDeploy struct {
	c       awsClients
	ctx     context.Context
	dir     string
	run     *exec.Cmd
	errb    fmt.Stringer
	cloud   fmt.Stringer
	before  string // the task definition the service ran before the run
	primary func() string
}

func startECSDeploy(t *testing.T) *ecsDeploy {
	t.Helper()
	ep, cloudErr := startAWSLocalcloud(t, "ecr-image-expired-fixed")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &ecsDeploy{c: newAWSClients(ep.AWSEndpoint), ctx: ctx, dir: t.TempDir(), cloud: cloudErr}
	sc := writeScenario(t, e.dir, "deploy.yaml", fmt.Sprintf(`version: 1
name: ecs-deploy
target: {platform: ecs, region: ap-northeast-1, cluster: prod, service: app, endpoint: %q, url: %q}
load: {requests: [{path: /}], rate: 10/s, duration: 2m}
actions:
  - at: 1s
    deploy: {image: "xxxxx-app-prod@sha256:%s"}
metrics: {enabled: false}
`, ep.AWSEndpoint, ep.Services["app"], strings.Repeat("0", 64)))
	e.primary = func() string {
		ds, err := e.c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"app"}})
		if err != nil {
			t.Fatalf("DescribeServices: %v", err)
		}
		for _, d := range ds.Services[0].Deployments {
			if aws.ToString(d.Status) == "PRIMARY" {
				return aws.ToString(d.TaskDefinition)
			}
		}
		return ""
	}
	e.before = e.primary()
	var errb *syncBuffer
	e.run, _, errb = startRun(t, e.dir, sc, "--out", "runs")
	e.errb = errb
	waitFor(t, ctx, "the deploy's new task definition rolling out", func() bool { return e.primary() != e.before }, errb)
	return e
}

// checkBack checks, through the ECS API, that the service runs the task
// definition it ran before the run and carries no claim.
func (e *ecsDeploy) checkBack(t *testing.T, after string) {
	t.Helper()
	if got := e.primary(); got != e.before {
		t.Errorf("after %s the service's PRIMARY deployment runs %s, want the task definition before the run, %s\nstderr:\n%s", after, got, e.before, e.errb)
	}
	tags, err := e.c.ecs.ListTagsForResource(e.ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:ap-northeast-1:123456789012:service/prod/app")})
	if err != nil {
		t.Fatalf("ListTagsForResource: %v", err)
	}
	for _, tag := range tags.Tags {
		if strings.HasPrefix(aws.ToString(tag.Key), "cutover") {
			t.Errorf("after %s the run's claim is still on the service: %s=%s", after, aws.ToString(tag.Key), aws.ToString(tag.Value))
		}
	}
}

// SIGINT during an ECS deploy that cannot finish rolls the service back
// to the task definition it ran before, as the ECS API shows after the
// run has exited, and releases the claim.
func TestSIGINTDuringAnECSDeployRollsBack(t *testing.T) {
	t.Parallel()
	e := startECSDeploy(t)
	if err := e.run.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := exitOf(e.run.Wait()); code != ExitAborted {
		t.Fatalf("exit %d after SIGINT, want %d\nstderr:\n%s\nlocal cloud:\n%s", code, ExitAborted, e.errb, e.cloud)
	}
	e.checkBack(t, "SIGINT")
}

// A run killed with -9 during an ECS deploy leaves the service on the new
// task definition; `cutover restore` puts the old one back from the
// record, through the ECS API, and releases the claim.
func TestKill9DuringAnECSDeployIsRestored(t *testing.T) {
	t.Parallel()
	e := startECSDeploy(t)
	if err := e.run.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = e.run.Wait()
	if e.primary() == e.before {
		t.Fatal("the killed run's deploy is not on the service: nothing to restore")
	}
	inv := runBinary(t, e.dir, "restore", onlyRunDir(t, filepath.Join(e.dir, "runs")))
	if inv.code != ExitPass || !strings.Contains(inv.stdout, "restored to "+strings.TrimPrefix(e.before, "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/")) {
		t.Fatalf("restore: exit %d\nstdout:\n%s\nstderr:\n%s", inv.code, inv.stdout, inv.stderr)
	}
	e.checkBack(t, "cutover restore")
}
