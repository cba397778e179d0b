package ecs

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAWS is an AWS account with one ECS service behind a load balancer
// and ECR repositories, serving the APIs the driver calls over their real
// protocols on one endpoint: ECS and ECR over awsJson 1.1 (X-Amz-Target),
// ELBv2 over awsQuery (form body, XML answer), and the local cloud's
// CutoverLocalCloud.FailHealthCheck. It holds just enough state. A
// deployment moves on at each DescribeServices: IN_PROGRESS at the first,
// then COMPLETED, or FAILED when its image is not in its repository (a
// stopped task with CannotPullContainerError, and a rollback deployment
// to the last completed task definition, which completes at the next).
// Its clock moves a second at every change. Safe for concurrent use.
type fakeAWS struct {
	srv *httptest.Server

	mu          sync.Mutex
	clock       time.Time
	tds         map[string]map[string]any // by FAMILY:REV, as registered, plus ARN/revision/status
	revs        int                       // the family's last revision
	deployments []*fakeDeployment         // PRIMARY first
	events      []fakeEvent               // newest first, as ECS lists them
	tasks       []*fakeTask
	tags        map[string]string
	desired     int
	repos       map[string]*fakeRepo
	seq         int
	calls       []string          // operations, in order
	bodies      map[string][]byte // the last request body of each operation
	polls       chan struct{}     // a DescribeServices was answered (when set)
	failNext    map[string]int    // operations to fail with ServerException, how many times
	noBreaker   bool              // no circuit breaker: a deployment that cannot pull stays in progress
	// onCall, when set, runs before an operation is served (after it is
	// counted), locked: it may change the fake's fields directly.
	onCall func(op string)
}

type fakeDeployment struct {
	id, status, td, state, reason string
	failed                        int
	created, updated              time.Time
	steps                         int
}

type fakeEvent struct {
	id, message string
	at          time.Time
}

type fakeTask struct {
	arn, td, startedBy, desired, stopCode, stoppedReason, containerReason string
	started, stopped                                                      time.Time
}

type fakeRepo struct {
	policy string
	images []fakeImage
	// preview is what the policy's preview does to each digest
	// (EXPIRE, TRANSITION); previews counts its reads, the first of
	// which is IN_PROGRESS.
	preview  map[string]string
	previews int
}

type fakeImage struct {
	digest   string
	tags     []string
	pushedAt time.Time
}

const (
	fakeRegion  = "ap-northeast-1"
	fakeAccount = "123456789012"
	fakeCluster = "default"
	fakeService = "app"
	fakeTG      = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/app-tg/0123456789abcdef"
	fakeLB      = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/app-lb/fedcba9876543210"
	fakeArnBase = "arn:aws:ecs:ap-northeast-1:123456789012:"
	registry    = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/"
)

var fakeEpoch = time.Date(2031, 1, 2, 3, 0, 0, 0, time.UTC)

// newFake starts an account whose service runs app:2 (image app@d2 of
// repository app, which holds d1 and d2) in 3 tasks, app:1 (app@d1)
// registered before it; edit changes it before it serves.
func newFake(t *testing.T, edit ...func(*fakeAWS)) *fakeAWS {
	t.Helper()
	f := &fakeAWS{clock: fakeEpoch, tds: map[string]map[string]any{}, tags: map[string]string{}, desired: 3,
		repos: map[string]*fakeRepo{"app": {images: []fakeImage{
			{digest: "sha256:d1", tags: []string{"build-1"}, pushedAt: fakeEpoch.Add(-2 * time.Hour)},
			{digest: "sha256:d2", tags: []string{"build-2"}, pushedAt: fakeEpoch.Add(-time.Hour)},
		}}},
		bodies: map[string][]byte{}, failNext: map[string]int{},
	}
	for _, d := range []string{"sha256:d1", "sha256:d2"} {
		f.register(map[string]any{"family": fakeService, "cpu": "256", "memory": "512", "containerDefinitions": []any{
			map[string]any{"name": fakeService, "image": registry + "app@" + d, "essential": true,
				"portMappings": []any{map[string]any{"containerPort": 8080}},
				"environment":  []any{map[string]any{"name": "MODE", "value": "prod"}}},
		}})
	}
	f.deployments = []*fakeDeployment{{id: "ecs-svc/0000000000000000002", status: "PRIMARY", td: f.arn("app:2"),
		state: "COMPLETED", created: fakeEpoch.Add(-30 * time.Minute), updated: fakeEpoch.Add(-29 * time.Minute)}}
	for range 3 {
		f.startTask("app:2", "ecs-svc/0000000000000000002")
	}
	for _, e := range edit {
		e(f)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAWS) arn(rev string) string { return fakeArnBase + "task-definition/" + rev }

func (f *fakeAWS) serviceARN() string {
	return fakeArnBase + "service/" + fakeCluster + "/" + fakeService
}

// tick moves the clock a second and returns it.
func (f *fakeAWS) tick() time.Time {
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *fakeAWS) register(td map[string]any) string {
	f.revs++
	rev := fmt.Sprintf("%s:%d", td["family"], f.revs)
	td["taskDefinitionArn"], td["revision"], td["status"] = f.arn(rev), f.revs, "ACTIVE"
	f.tds[rev] = td
	return rev
}

func (f *fakeAWS) startTask(rev, startedBy string) *fakeTask {
	f.seq++
	t := &fakeTask{arn: fmt.Sprintf("%stask/%s/%032x", fakeArnBase, fakeCluster, f.seq), td: f.arn(rev),
		startedBy: startedBy, desired: "RUNNING", started: f.tick()}
	f.tasks = append(f.tasks, t)
	return t
}

// addEvent adds a service event, as ECS writes them.
func (f *fakeAWS) addEvent(message string) {
	f.seq++
	f.events = slices.Insert(f.events, 0, fakeEvent{id: fmt.Sprintf("ev-%d", f.seq), message: message, at: f.tick()})
}

// image returns the image of a task definition's first container.
func (f *fakeAWS) image(tdARN string) string {
	td := f.tds[lastSegment(tdARN)]
	return td["containerDefinitions"].([]any)[0].(map[string]any)["image"].(string)
}

// pullable says whether the image is in its repository (non-ECR images
// always are).
func (f *fakeAWS) pullable(image string) bool {
	ref, ok := parseECR(image)
	if !ok {
		return true
	}
	repo := f.repos[ref.repository]
	return repo != nil && slices.ContainsFunc(repo.images, func(im fakeImage) bool {
		return im.digest == ref.digest || slices.Contains(im.tags, ref.tag)
	})
}

// advance moves the PRIMARY deployment one step on when it is in
// progress.
func (f *fakeAWS) advance() {
	for _, d := range slices.Clone(f.deployments) {
		if d.state != "IN_PROGRESS" || d.status != "PRIMARY" {
			continue // a deployment replaced by a newer one stops where it is
		}
		if d.steps++; d.steps < 2 {
			continue
		}
		if !f.pullable(f.image(d.td)) {
			f.fail(d)
			continue
		}
		d.state, d.updated = "COMPLETED", f.tick()
		f.deployments = []*fakeDeployment{d}
		for _, t := range f.tasks {
			if t.desired == "RUNNING" {
				t.desired, t.stopCode, t.stoppedReason, t.stopped = "STOPPED", "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment "+d.id+")", f.tick()
			}
		}
		for range f.desired {
			f.startTask(lastSegment(d.td), d.id)
		}
		f.addEvent("(service app) has reached a steady state.")
	}
}

// fail fails a task of d to start, then fails d as the circuit breaker
// does and rolls back (without the breaker, d stays in progress).
func (f *fakeAWS) fail(d *fakeDeployment) {
	image := f.image(d.td)
	f.seq++
	reason := "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref " + image + ": " + image + ": not found"
	f.tasks = append(f.tasks, &fakeTask{arn: fmt.Sprintf("%stask/%s/%032x", fakeArnBase, fakeCluster, f.seq), td: d.td, startedBy: d.id,
		desired: "STOPPED", stopCode: "TaskFailedToStart", stoppedReason: reason, containerReason: reason, stopped: f.tick()})
	if d.failed++; f.noBreaker {
		return
	}
	d.state, d.status, d.failed, d.updated = "FAILED", "ACTIVE", 3, f.tick()
	d.reason = "ECS deployment circuit breaker: tasks failed to start."
	f.addEvent("(service app) (deployment " + d.id + ") deployment failed: tasks failed to start.")
	var last *fakeDeployment
	for _, o := range f.deployments {
		if o.state == "COMPLETED" {
			last = o
		}
	}
	if last != nil {
		f.newDeployment(last.td)
	}
}

// newDeployment makes a PRIMARY deployment of td, in progress.
func (f *fakeAWS) newDeployment(td string) *fakeDeployment {
	for _, o := range f.deployments {
		if o.status == "PRIMARY" {
			o.status = "ACTIVE"
		}
	}
	f.seq++
	d := &fakeDeployment{id: fmt.Sprintf("ecs-svc/%019d", 1000+f.seq), status: "PRIMARY", td: td, state: "IN_PROGRESS", created: f.tick()}
	d.updated = d.created
	f.deployments = slices.Insert(f.deployments, 0, d)
	return d
}

// Wire format helpers.

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// awsError answers an awsJson error.
func awsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// serve dispatches on X-Amz-Target, or on the form's Action.
func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	if target == "" {
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		r.ParseForm()
		op = r.PostForm.Get("Action")
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	f.bodies[op] = body
	if f.onCall != nil {
		f.onCall(op)
	}
	if f.failNext[op] > 0 {
		f.failNext[op]--
		f.mu.Unlock()
		awsError(w, "ServerException", "injected failure")
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	out, errType, errMsg := f.dispatch(target, op, in, r)
	polls := f.polls
	f.mu.Unlock()
	switch {
	case errType != "":
		awsError(w, errType, errMsg)
		return
	case target == "":
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, out.(string))
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}
	if op == "DescribeServices" && polls != nil {
		select {
		case polls <- struct{}{}:
		default:
		}
	}
}

// dispatch serves one operation, locked.
func (f *fakeAWS) dispatch(target, op string, in map[string]any, r *http.Request) (out any, errType, errMsg string) {
	switch {
	case target == "":
		return f.elb(op, r)
	case strings.HasPrefix(target, "AmazonEC2ContainerServiceV20141113."):
		return f.ecsOp(op, in)
	case strings.HasPrefix(target, "AmazonEC2ContainerRegistry_V20150921."):
		return f.ecrOp(op, in)
	case target == "CutoverLocalCloud.FailHealthCheck":
		var tasks []string
		for _, t := range f.tasks {
			if t.desired == "RUNNING" && len(tasks) < int(in["count"].(float64)) {
				tasks = append(tasks, t.arn)
			}
		}
		return map[string]any{"tasks": tasks}, "", ""
	}
	return nil, "UnknownOperationException", target
}

func str(in map[string]any, k string) string { s, _ := in[k].(string); return s }

func (f *fakeAWS) ecsOp(op string, in map[string]any) (any, string, string) {
	switch op {
	case "DescribeServices":
		f.advance()
		return map[string]any{"services": []any{f.serviceJSON()}, "failures": []any{}}, "", ""
	case "DescribeTaskDefinition":
		td, ok := f.tds[lastSegment(str(in, "taskDefinition"))]
		if !ok {
			return nil, "ClientException", "Unable to describe task definition."
		}
		return map[string]any{"taskDefinition": td, "tags": []any{}}, "", ""
	case "RegisterTaskDefinition":
		rev := f.register(in)
		return map[string]any{"taskDefinition": f.tds[rev]}, "", ""
	case "UpdateService":
		if n, ok := in["desiredCount"].(float64); ok {
			f.desired = int(n)
		}
		if td := str(in, "taskDefinition"); td != "" {
			f.newDeployment(f.arn(lastSegment(td)))
		}
		return map[string]any{"service": f.serviceJSON()}, "", ""
	case "ListTasks":
		var arns []string
		for _, t := range f.tasks {
			if t.desired == str(in, "desiredStatus") {
				arns = append(arns, t.arn)
			}
		}
		return map[string]any{"taskArns": arns}, "", ""
	case "DescribeTasks":
		return map[string]any{"tasks": f.tasksJSON(in["tasks"]), "failures": []any{}}, "", ""
	case "StopTask":
		for _, t := range f.tasks {
			if t.arn == str(in, "task") {
				t.desired, t.stopCode, t.stoppedReason, t.stopped = "STOPPED", "UserInitiated", str(in, "reason"), f.tick()
			}
		}
		return map[string]any{}, "", ""
	}
	return f.tagOp(op, in)
}

func (f *fakeAWS) tagOp(op string, in map[string]any) (any, string, string) {
	if str(in, "resourceArn") != f.serviceARN() {
		return nil, "InvalidParameterException", "no such resource " + str(in, "resourceArn")
	}
	switch op {
	case "ListTagsForResource":
		var tags []any
		for _, k := range slices.Sorted(maps.Keys(f.tags)) {
			tags = append(tags, map[string]any{"key": k, "value": f.tags[k]})
		}
		return map[string]any{"tags": tags}, "", ""
	case "TagResource":
		for _, t := range in["tags"].([]any) {
			m := t.(map[string]any)
			f.tags[m["key"].(string)] = m["value"].(string)
		}
		return map[string]any{}, "", ""
	case "UntagResource":
		for _, k := range in["tagKeys"].([]any) {
			delete(f.tags, k.(string))
		}
		return map[string]any{}, "", ""
	}
	return nil, "UnknownOperationException", op
}

func (f *fakeAWS) serviceJSON() map[string]any {
	var deps, events []any
	for _, d := range f.deployments {
		deps = append(deps, map[string]any{"id": d.id, "status": d.status, "taskDefinition": d.td, "rolloutState": d.state,
			"rolloutStateReason": d.reason, "failedTasks": d.failed, "createdAt": epoch(d.created), "updatedAt": epoch(d.updated)})
	}
	for _, e := range f.events {
		events = append(events, map[string]any{"id": e.id, "message": e.message, "createdAt": epoch(e.at)})
	}
	return map[string]any{"serviceArn": f.serviceARN(), "serviceName": fakeService, "status": "ACTIVE", "desiredCount": f.desired,
		"loadBalancers": []any{map[string]any{"targetGroupArn": fakeTG, "containerName": fakeService, "containerPort": 8080}},
		"deployments":   deps, "events": events}
}

func (f *fakeAWS) tasksJSON(arns any) []any {
	var out []any
	for _, a := range arns.([]any) {
		for _, t := range f.tasks {
			if t.arn != a {
				continue
			}
			m := map[string]any{"taskArn": t.arn, "taskDefinitionArn": t.td, "startedBy": t.startedBy, "desiredStatus": t.desired,
				"containers": []any{map[string]any{"name": fakeService, "reason": t.containerReason}}}
			if !t.started.IsZero() {
				m["startedAt"] = epoch(t.started)
			}
			if !t.stopped.IsZero() {
				m["stoppedAt"], m["stopCode"], m["stoppedReason"], m["lastStatus"] = epoch(t.stopped), t.stopCode, t.stoppedReason, "STOPPED"
			}
			out = append(out, m)
		}
	}
	return out
}

func (f *fakeAWS) ecrOp(op string, in map[string]any) (any, string, string) {
	repo, ok := f.repos[str(in, "repositoryName")]
	if !ok {
		return nil, "RepositoryNotFoundException", "The repository does not exist"
	}
	switch op {
	case "BatchGetImage":
		id := in["imageIds"].([]any)[0].(map[string]any)
		for _, im := range repo.images {
			if im.digest == str(id, "imageDigest") || slices.Contains(im.tags, str(id, "imageTag")) {
				return map[string]any{"images": []any{map[string]any{"imageId": map[string]any{"imageDigest": im.digest}, "imageManifest": "{}"}}}, "", ""
			}
		}
		return map[string]any{"images": []any{}, "failures": []any{map[string]any{"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}}}, "", ""
	case "GetLifecyclePolicy":
		if repo.policy == "" {
			return nil, "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist"
		}
		return map[string]any{"lifecyclePolicyText": repo.policy, "repositoryName": str(in, "repositoryName")}, "", ""
	case "StartLifecyclePolicyPreview":
		return map[string]any{"status": "IN_PROGRESS"}, "", ""
	case "GetLifecyclePolicyPreview":
		if repo.previews++; repo.previews == 1 {
			return map[string]any{"status": "IN_PROGRESS"}, "", ""
		}
		var res []any
		for _, id := range in["imageIds"].([]any) {
			dg := str(id.(map[string]any), "imageDigest")
			if a := repo.preview[dg]; a != "" {
				res = append(res, map[string]any{"imageDigest": dg, "action": map[string]any{"type": a}, "appliedRulePriority": 1})
			}
		}
		return map[string]any{"status": "COMPLETE", "previewResults": res}, "", ""
	case "DescribeImages":
		// Two a page, to make the driver page.
		start := 0
		fmt.Sscanf(str(in, "nextToken"), "page-%d", &start)
		out := map[string]any{}
		var details []any
		for _, im := range repo.images[start:min(start+2, len(repo.images))] {
			details = append(details, map[string]any{"imageDigest": im.digest, "imageTags": im.tags, "imagePushedAt": epoch(im.pushedAt)})
		}
		out["imageDetails"] = details
		if start+2 < len(repo.images) {
			out["nextToken"] = fmt.Sprintf("page-%d", start+2)
		}
		return out, "", ""
	}
	return nil, "UnknownOperationException", op
}

// elb answers ELBv2's awsQuery operations in XML.
func (f *fakeAWS) elb(op string, r *http.Request) (any, string, string) {
	esc := func(s string) string {
		var b strings.Builder
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var result string
	switch op {
	case "DescribeTargetGroups":
		if r.PostForm.Get("TargetGroupArns.member.1") != fakeTG {
			return nil, "TargetGroupNotFound", "no such target group"
		}
		result = "<TargetGroups><member><TargetGroupArn>" + esc(fakeTG) + "</TargetGroupArn><LoadBalancerArns><member>" + esc(fakeLB) + "</member></LoadBalancerArns></member></TargetGroups>"
	case "DescribeLoadBalancers":
		result = "<LoadBalancers><member><LoadBalancerArn>" + esc(fakeLB) + "</LoadBalancerArn><DNSName>" + esc(strings.TrimPrefix(f.srv.URL, "http://")) + "</DNSName></member></LoadBalancers>"
	default:
		return nil, "InvalidAction", op
	}
	return fmt.Sprintf(`<%sResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></%sResponse>`,
		op, op, result, op, op), "", ""
}

// Test access.

func (f *fakeAWS) do(fn func(f *fakeAWS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// count returns how many times op was called.
func (f *fakeAWS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.countLocked(op)
}

func (f *fakeAWS) countLocked(op string) int {
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

// body returns the last request body of op, decoded.
func (f *fakeAWS) body(op string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m map[string]any
	_ = json.Unmarshal(f.bodies[op], &m)
	return m
}

// primaryTD returns the PRIMARY deployment's FAMILY:REVISION.
func (f *fakeAWS) primaryTD() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.deployments {
		if d.status == "PRIMARY" {
			return lastSegment(d.td)
		}
	}
	return ""
}
