package ecs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// DeployIDEnv is the environment variable that carries DeploySpec.DeployID
// into the task definition, so that every deploy is a new revision.
const DeployIDEnv = "CUTOVER_DEPLOY_ID"

// errNoSplit is the refusal of what needs a traffic split.
var errNoSplit = errors.New("ECS has no traffic split")

// Deploy registers a new revision of the task definition the service's
// PRIMARY deployment runs, with spec.Image (when set) in the service's
// container, spec.Env merged into its environment and CUTOVER_DEPLOY_ID
// set, and everything else as it was; it reports revision-created, points
// the service at it (UpdateService) and follows the new deployment,
// reporting each rollout state it reaches (deployment) and revision-ready
// when it is COMPLETED. A deployment that FAILED is an error with its
// reason and, when a task of it stopped, the task's stopped reason (such
// as CannotPullContainerError). spec.NoTraffic, Tag and RevisionSuffix are
// refused: ECS has no traffic split. After Claim, the deploy is made only
// while the claim holds, and the claim records the revision it leaves.
func (d *Driver) Deploy(ctx context.Context, spec runner.DeploySpec, report func(runner.Event)) (string, error) {
	rev, err := d.deploy(ctx, spec, report)
	if err != nil {
		return "", fmt.Errorf("deploy to service %s: %w", d.Name(), err)
	}
	return rev, nil
}

// deploy is Deploy's steps.
func (d *Driver) deploy(ctx context.Context, spec runner.DeploySpec, report func(runner.Event)) (string, error) {
	if err := unsupported(spec); err != nil {
		return "", err
	}
	runID, err := d.checkClaim(ctx)
	if err != nil {
		return "", err
	}
	svc, err := d.describe(ctx)
	if err != nil {
		return "", err
	}
	rev, arn, err := d.register(ctx, svc, spec)
	if err != nil {
		return "", err
	}
	emit(report, d.event(results.EventRevisionCreated, map[string]string{"revision": rev, "service": d.service}))
	depID, err := d.update(ctx, &ecs.UpdateServiceInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return "", err
	}
	if err := d.recordSplit(ctx, runID, rev); err != nil {
		return "", err
	}
	if spec.NoWait {
		return rev, nil
	}
	if err := d.follow(ctx, depID, rev, report); err != nil {
		return "", d.resync(ctx, runID, err)
	}
	emit(report, d.ready(rev))
	return rev, nil
}

// unsupported refuses the deploy options that need a traffic split.
func unsupported(spec runner.DeploySpec) error {
	var opts []string
	if spec.NoTraffic {
		opts = append(opts, "a no-traffic deploy")
	}
	if spec.Tag != "" {
		opts = append(opts, fmt.Sprintf("tag %q", spec.Tag))
	}
	if spec.RevisionSuffix != "" {
		opts = append(opts, fmt.Sprintf("revision suffix %q", spec.RevisionSuffix))
	}
	if len(opts) == 0 {
		return nil
	}
	return fmt.Errorf("%w: a deploy replaces every task of the service and ECS names the revision FAMILY:N itself, so %s is not possible",
		errNoSplit, strings.Join(opts, ", "))
}

// ready is the revision-ready event of revision.
func (d *Driver) ready(revision string) runner.Event {
	return d.event(results.EventRevisionReady, map[string]string{"revision": revision, "service": d.service, "traffic": splitOf(revision)})
}

// register registers the next revision of the task definition of svc's
// PRIMARY deployment, changed by spec, and returns its FAMILY:REVISION and
// ARN.
func (d *Driver) register(ctx context.Context, svc types.Service, spec runner.DeploySpec) (rev, arn string, err error) {
	p := primary(svc)
	if p == nil {
		return "", "", errors.New("the service has no PRIMARY deployment to take the task definition from")
	}
	td, tags, err := d.taskDefinition(ctx, aws.ToString(p.TaskDefinition))
	if err != nil {
		return "", "", err
	}
	in, err := nextRevision(td, tags, containerOf(svc, d.service), spec)
	if err != nil {
		return "", "", fmt.Errorf("task definition %s: %w", lastSegment(aws.ToString(p.TaskDefinition)), err)
	}
	out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.RegisterTaskDefinitionOutput, error) {
		return d.ecs.RegisterTaskDefinition(ctx, in)
	})
	if err != nil {
		return "", "", fmt.Errorf("register a revision of task definition %s: %w", aws.ToString(td.Family), err)
	}
	if out.TaskDefinition == nil {
		return "", "", fmt.Errorf("register a revision of task definition %s: no task definition in the answer", aws.ToString(td.Family))
	}
	arn = aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	return lastSegment(arn), arn, nil
}

// taskDefinition reads a task definition (ARN or FAMILY:REVISION) and its
// tags.
func (d *Driver) taskDefinition(ctx context.Context, name string) (types.TaskDefinition, []types.Tag, error) {
	out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.DescribeTaskDefinitionOutput, error) {
		return d.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{
			TaskDefinition: aws.String(name), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags},
		})
	})
	if err != nil {
		return types.TaskDefinition{}, nil, fmt.Errorf("read task definition %s: %w", lastSegment(name), err)
	}
	if out.TaskDefinition == nil {
		return types.TaskDefinition{}, nil, fmt.Errorf("read task definition %s: no task definition in the answer", lastSegment(name))
	}
	return *out.TaskDefinition, out.Tags, nil
}

// containerOf names the service's container: the one its load balancer
// sends to, else the one named like the service.
func containerOf(svc types.Service, service string) string {
	if len(svc.LoadBalancers) > 0 && aws.ToString(svc.LoadBalancers[0].ContainerName) != "" {
		return aws.ToString(svc.LoadBalancers[0].ContainerName)
	}
	return service
}

// nextRevision is the registration of td's next revision: td as it is,
// with spec's image and environment in the container named container (or
// in the only or first one when none has that name).
func nextRevision(td types.TaskDefinition, tags []types.Tag, container string, spec runner.DeploySpec) (*ecs.RegisterTaskDefinitionInput, error) {
	ctrs := slices.Clone(td.ContainerDefinitions)
	if len(ctrs) == 0 {
		return nil, errors.New("it has no container")
	}
	i := slices.IndexFunc(ctrs, func(c types.ContainerDefinition) bool { return aws.ToString(c.Name) == container })
	i = max(i, 0)
	ctr := &ctrs[i]
	if spec.Image != "" {
		ctr.Image = aws.String(spec.Image)
	}
	env := slices.Clone(ctr.Environment)
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = setEnv(env, k, spec.Env[k])
	}
	if spec.DeployID != "" {
		env = setEnv(env, DeployIDEnv, spec.DeployID)
	}
	ctr.Environment = env
	return &ecs.RegisterTaskDefinitionInput{
		Family:                        td.Family,
		ContainerDefinitions:          ctrs,
		Cpu:                           td.Cpu,
		Memory:                        td.Memory,
		EnableFaultInjection:          td.EnableFaultInjection,
		EphemeralStorage:              td.EphemeralStorage,
		ExecutionRoleArn:              td.ExecutionRoleArn,
		TaskRoleArn:                   td.TaskRoleArn,
		IpcMode:                       td.IpcMode,
		PidMode:                       td.PidMode,
		NetworkMode:                   td.NetworkMode,
		PlacementConstraints:          td.PlacementConstraints,
		ProxyConfiguration:            td.ProxyConfiguration,
		RequiresCompatibilities:       td.RequiresCompatibilities,
		RuntimePlatform:               td.RuntimePlatform,
		TrustedExecutionConfiguration: td.TrustedExecutionConfiguration,
		Volumes:                       td.Volumes,
		Tags:                          tags,
	}, nil
}

// setEnv sets name to value in env.
func setEnv(env []types.KeyValuePair, name, value string) []types.KeyValuePair {
	for i := range env {
		if aws.ToString(env[i].Name) == name {
			env[i].Value = aws.String(value)
			return env
		}
	}
	return append(env, types.KeyValuePair{Name: aws.String(name), Value: aws.String(value)})
}

// SetTraffic puts the service on the one revision split names at 100%
// (LATEST: the latest ready revision) and returns once its deployment is
// COMPLETED; a revision the service runs already is not deployed again,
// only waited for. Any other split is refused: ECS has no traffic split.
// After Claim, it is made only while the claim holds, and the claim
// records the revision it leaves.
func (d *Driver) SetTraffic(ctx context.Context, split []runner.TrafficTarget) error {
	if err := d.setTraffic(ctx, split); err != nil {
		return fmt.Errorf("set traffic of service %s to [%s]: %w", d.Name(), runner.FormatSplit(split), err)
	}
	return nil
}

// setTraffic is SetTraffic's steps.
func (d *Driver) setTraffic(ctx context.Context, split []runner.TrafficTarget) error {
	target, err := oneRevision(split)
	if err != nil {
		return err
	}
	runID, err := d.checkClaim(ctx)
	if err != nil {
		return err
	}
	svc, err := d.describe(ctx)
	if err != nil {
		return err
	}
	want := resolve(target, svc)
	p := primary(svc)
	if p == nil || lastSegment(aws.ToString(p.TaskDefinition)) != want {
		depID, err := d.update(ctx, &ecs.UpdateServiceInput{TaskDefinition: aws.String(want)})
		if err != nil {
			return err
		}
		if err := d.recordSplit(ctx, runID, want); err != nil {
			return err
		}
		p = &types.Deployment{Id: aws.String(depID)}
	}
	if err := d.follow(ctx, aws.ToString(p.Id), want, nil); err != nil {
		return d.resync(ctx, runID, err)
	}
	return nil
}

// oneRevision returns the one target of split, which must route 100%
// without a tag: the only split ECS has.
func oneRevision(split []runner.TrafficTarget) (runner.TrafficTarget, error) {
	if len(split) == 1 && split[0].Percent == 100 && split[0].Tag == "" && (split[0].Latest || split[0].Revision != "") {
		return split[0], nil
	}
	return runner.TrafficTarget{}, fmt.Errorf("%w; a service runs one task definition: give one revision at 100%%, untagged (got [%s])",
		errNoSplit, runner.FormatSplit(split))
}

// resolve names the revision a target routes to on svc: LATEST is the
// latest ready revision.
func resolve(t runner.TrafficTarget, svc types.Service) string {
	if t.Latest {
		return serviceOf(svc, nil).LatestReadyRevision
	}
	return lastSegment(t.Revision)
}

// WaitReady follows the deployment of revision (FAMILY:REVISION; the
// PRIMARY one when two run it) until it is COMPLETED, and reports
// revision-ready; a deployment that FAILED is an error as Deploy's.
func (d *Driver) WaitReady(ctx context.Context, revision string, report func(runner.Event)) error {
	rev := lastSegment(revision)
	err := func() error {
		svc, err := d.describe(ctx)
		if err != nil {
			return err
		}
		var dep *types.Deployment
		for i := range svc.Deployments {
			cand := &svc.Deployments[i]
			if lastSegment(aws.ToString(cand.TaskDefinition)) == rev && (dep == nil || aws.ToString(cand.Status) == "PRIMARY") {
				dep = cand
			}
		}
		if dep == nil {
			return fmt.Errorf("no deployment of the service runs %s", rev)
		}
		d.noteDeployment(*dep, report)
		if err := d.follow(ctx, aws.ToString(dep.Id), rev, report); err != nil {
			return d.resync(ctx, d.claimed(), err)
		}
		return nil
	}()
	if err != nil {
		return fmt.Errorf("wait for revision %s of service %s: %w", rev, d.Name(), err)
	}
	emit(report, d.ready(rev))
	return nil
}

// update calls UpdateService on the service with in's changes and
// returns the id of the PRIMARY deployment it leaves.
func (d *Driver) update(ctx context.Context, in *ecs.UpdateServiceInput) (string, error) {
	in.Cluster, in.Service = aws.String(d.cluster), aws.String(d.service)
	out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.UpdateServiceOutput, error) {
		return d.ecs.UpdateService(ctx, in)
	})
	if err != nil {
		return "", fmt.Errorf("update service: %w", err)
	}
	var svc types.Service
	if out.Service != nil {
		svc = *out.Service
	} else if svc, err = d.describe(ctx); err != nil {
		return "", err
	}
	p := primary(svc)
	if p == nil {
		return "", errors.New("update service: no PRIMARY deployment after it")
	}
	return aws.ToString(p.Id), nil
}

// follow polls the service every d.pollInterval until the deployment id
// (of revision rev) is COMPLETED (nil) or FAILED (a *deploymentError),
// reporting each rollout state it reaches. Polls that fail are tried
// again a few times; a deployment that leaves the service (replaced by
// another) is an error.
func (d *Driver) follow(ctx context.Context, id, rev string, report func(runner.Event)) error {
	t := time.NewTicker(d.pollInterval)
	defer t.Stop()
	failures := 0
	var last types.Deployment
	for {
		svc, err := d.describe(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return d.unfinished(ctx, id, rev, last)
		case err != nil && failures+1 >= maxPollErrors:
			return fmt.Errorf("follow deployment %s of %s: %w", id, rev, err)
		case err != nil:
			failures++
		default:
			failures = 0
			dep := deploymentByID(svc, id)
			if dep == nil {
				return fmt.Errorf("deployment %s of %s is no longer one of the service's: another deployment replaced it", id, rev)
			}
			last = *dep
			d.noteDeployment(*dep, report)
			switch dep.RolloutState {
			case types.DeploymentRolloutStateCompleted:
				return nil
			case types.DeploymentRolloutStateFailed:
				return d.failed(ctx, *dep)
			}
		}
		select {
		case <-ctx.Done():
			return d.unfinished(ctx, id, rev, last)
		case <-t.C:
		}
	}
}

// unfinished is the error of a deployment still in progress when ctx
// ended: its state and, when one of its tasks stopped with a reason, that
// task's (without the circuit breaker, a deployment whose image cannot be
// pulled never FAILS: its tasks keep failing to start). The stopped tasks
// are read after ctx, within a short bound of their own.
func (d *Driver) unfinished(ctx context.Context, id, rev string, last types.Deployment) error {
	msg := fmt.Sprintf("deployment %s of %s is still %s (%d tasks failed)", id, rev, stateOf(last), last.FailedTasks)
	if last.Id != nil {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(d.callTimeout, unfinishedLookup))
		defer cancel()
		if task, reason := d.lastStopped(lctx, last); task != "" {
			msg += fmt.Sprintf(". Task %s stopped: %s", task, reason)
		}
	}
	return fmt.Errorf("%s: %w", msg, ctx.Err())
}

// stateOf names a deployment's rollout state ("unknown" before a read).
func stateOf(dep types.Deployment) string {
	if dep.RolloutState == "" {
		return "unknown"
	}
	return string(dep.RolloutState)
}

// noteDeployment reports dep's rollout state, once per deployment and
// state for the driver: Deploy and Watch report each change once between
// them.
func (d *Driver) noteDeployment(dep types.Deployment, report func(runner.Event)) {
	if report == nil || dep.RolloutState == "" {
		return
	}
	key := aws.ToString(dep.Id) + " " + string(dep.RolloutState)
	d.mu.Lock()
	seen := d.reported[key]
	d.reported[key] = true
	d.mu.Unlock()
	if seen {
		return
	}
	at := aws.ToTime(dep.UpdatedAt)
	if at.IsZero() {
		at = d.now()
	}
	report(runner.Event{Kind: results.EventDeployment, At: at, Details: map[string]string{
		"deployment":      aws.ToString(dep.Id),
		"task_definition": lastSegment(aws.ToString(dep.TaskDefinition)),
		"rollout_state":   string(dep.RolloutState),
		"reason":          aws.ToString(dep.RolloutStateReason),
	}})
}

// failed is the error of a FAILED deployment: its reason and, when one of
// its tasks stopped with a reason, that task's.
func (d *Driver) failed(ctx context.Context, dep types.Deployment) error {
	e := &DeploymentError{
		Deployment: aws.ToString(dep.Id),
		Revision:   lastSegment(aws.ToString(dep.TaskDefinition)),
		Reason:     strings.TrimSpace(aws.ToString(dep.RolloutStateReason)),
	}
	e.Task, e.StoppedReason = d.lastStopped(ctx, dep)
	return e
}

// lastStopped returns the id and the stopped reason of the task of dep
// (started by it, or of its task definition) that stopped last with a
// reason; "" when there is none, or the tasks could not be read.
func (d *Driver) lastStopped(ctx context.Context, dep types.Deployment) (task, reason string) {
	tasks, err := d.stoppedTasks(ctx)
	if err != nil {
		return "", "" // the deployment's own state is the error
	}
	var best *types.Task
	for i := range tasks {
		t := &tasks[i]
		ofDep := aws.ToString(t.StartedBy) == aws.ToString(dep.Id) || aws.ToString(t.TaskDefinitionArn) == aws.ToString(dep.TaskDefinition)
		if ofDep && stoppedReason(*t) != "" && (best == nil || aws.ToTime(t.StoppedAt).After(aws.ToTime(best.StoppedAt))) {
			best = t
		}
	}
	if best == nil {
		return "", ""
	}
	return lastSegment(aws.ToString(best.TaskArn)), stoppedReason(*best)
}

// DeploymentError is a deployment that FAILED.
type DeploymentError struct {
	// Deployment is its id (ecs-svc/…), Revision the task definition it
	// ran (FAMILY:REVISION) and Reason its rolloutStateReason.
	Deployment, Revision, Reason string
	// Task is the id of a task of it that stopped, StoppedReason why
	// (its stoppedReason and its containers' reasons); both empty when
	// none is known.
	Task, StoppedReason string
}

func (e *DeploymentError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = "no reason given"
	}
	s := fmt.Sprintf("deployment %s of %s FAILED: %s", e.Deployment, e.Revision, reason)
	if e.Task != "" {
		sep := ". "
		if strings.HasSuffix(s, ".") {
			sep = " "
		}
		s += fmt.Sprintf("%sTask %s stopped: %s", sep, e.Task, e.StoppedReason)
	}
	return s
}

// stoppedReason is why a task stopped: its stoppedReason, and the reasons
// of its containers that say more.
func stoppedReason(t types.Task) string {
	parts := []string{}
	if r := strings.TrimSpace(aws.ToString(t.StoppedReason)); r != "" {
		parts = append(parts, r)
	}
	for _, c := range t.Containers {
		r := strings.TrimSpace(aws.ToString(c.Reason))
		if r != "" && !slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(p, r) }) {
			parts = append(parts, fmt.Sprintf("container %s: %s", aws.ToString(c.Name), r))
		}
	}
	return strings.Join(parts, "; ")
}

// stoppedTasks lists and describes the service's stopped tasks (ECS keeps
// them for an hour or so).
func (d *Driver) stoppedTasks(ctx context.Context) ([]types.Task, error) {
	arns, err := d.listTasks(ctx, types.DesiredStatusStopped)
	if err != nil {
		return nil, err
	}
	return d.describeTasks(ctx, arns)
}

// listTasks lists the ARNs of the service's tasks of a desired status, in
// the order ECS gives them, every page.
func (d *Driver) listTasks(ctx context.Context, status types.DesiredStatus) ([]string, error) {
	var arns []string
	var token *string
	for {
		out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.ListTasksOutput, error) {
			return d.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: &d.cluster, ServiceName: &d.service, DesiredStatus: status, NextToken: token})
		})
		if err != nil {
			return nil, fmt.Errorf("list %s tasks: %w", strings.ToLower(string(status)), err)
		}
		arns = append(arns, out.TaskArns...)
		if token = out.NextToken; aws.ToString(token) == "" {
			return arns, nil
		}
	}
}

// describeTasks describes tasks, 100 a call.
func (d *Driver) describeTasks(ctx context.Context, arns []string) ([]types.Task, error) {
	var tasks []types.Task
	for chunk := range slices.Chunk(arns, 100) {
		out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.DescribeTasksOutput, error) {
			return d.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: &d.cluster, Tasks: chunk})
		})
		if err != nil {
			return nil, fmt.Errorf("describe tasks: %w", err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks, nil
}
