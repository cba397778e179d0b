package gcp

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/localcloud/internal/lctest"
	"github.com/cutover-dev/cutover/scenarios"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// apiClients are the unmodified Google clients, pointed at a control plane.
type apiClients struct {
	p   *ControlPlane
	svc *run.ServicesClient
	rev *run.RevisionsClient
	met *monitoring.MetricClient
}

// startAPI starts a control plane over c and dials it with the Google
// clients, using only the endpoint, no authentication and insecure
// transport credentials. Cleanup closes the clients, then the plane
// (before the cloud, which startCloud registered first).
func startAPI(t *testing.T, c *localcloud.Cloud) *apiClients {
	t.Helper()
	ctx := context.Background()
	p, err := StartControlPlane(ctx, c)
	if err != nil {
		t.Fatalf("StartControlPlane: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close control plane: %v", err)
		}
	})
	if !strings.HasPrefix(p.Addr(), "127.0.0.1:") {
		t.Fatalf("control plane address %q, want 127.0.0.1:PORT", p.Addr())
	}
	opts := ClientOptions(p.Addr())
	a := &apiClients{p: p}
	if a.svc, err = run.NewServicesClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.svc.Close() })
	if a.rev, err = run.NewRevisionsClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.rev.Close() })
	if a.met, err = monitoring.NewMetricClient(ctx, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.met.Close() })
	return a
}

func serviceResource(c *localcloud.Cloud, name string) string {
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", c.Project(), c.Region(), name)
}

func shortName(resource string) string { return resource[strings.LastIndexByte(resource, '/')+1:] }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setEnv returns env with name set to value.
func setEnv(env []*runpb.EnvVar, name, value string) []*runpb.EnvVar {
	for _, e := range env {
		if e.GetName() == name {
			e.Values = &runpb.EnvVar_Value{Value: value}
			return env
		}
	}
	return append(env, &runpb.EnvVar{Name: name, Values: &runpb.EnvVar_Value{Value: value}})
}

// deployEnv bumps an env var by read-modify-write and waits for the
// operation.
func (a *apiClients) deployEnv(ctx context.Context, t *testing.T, name, value string) (*runpb.Service, error) {
	t.Helper()
	svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	c := svc.Template.Containers[0]
	c.Env = setEnv(c.Env, "DEPLOY_ID", value)
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	return op.Wait(ctx)
}

// revisionsOf sends n GET requests to url from a few workers and counts
// the X-Revision of the answers (loopback only, bounded).
func revisionsOf(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := client.Get(url + "/")
				key := "error"
				if err == nil {
					resp.Body.Close()
					key = resp.Header.Get("X-Revision")
					if resp.StatusCode != http.StatusOK {
						key = fmt.Sprintf("status %d", resp.StatusCode)
					}
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts
}

func checkReady(t *testing.T, what string, c *runpb.Condition, want runpb.Condition_State) {
	t.Helper()
	if c.GetType() != "Ready" || c.GetState() != want {
		t.Errorf("%s: condition %s %v (%s), want Ready %v", what, c.GetType(), c.GetState(), c.GetMessage(), want)
	}
}

// The read-modify-write deploy of a changed env var, through the
// unmodified Cloud Run client: a new revision, ready and serving.
func TestControlPlaneUpdateServiceEnv(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // after the clients, the plane and the cloud
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	name := serviceResource(c, "api")

	before, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	first := checkFirstService(t, before, name)

	svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	svc.Template.Containers[0].Env = setEnv(svc.Template.Containers[0].Env, "DEPLOY_ID", "2")
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	md, err := op.Metadata()
	if err != nil || md.GetLatestCreatedRevision() == first || md.GetGeneration() != 2 {
		t.Errorf("operation metadata: created %q generation %d (%v), want a new revision at generation 2",
			md.GetLatestCreatedRevision(), md.GetGeneration(), err)
	}
	after, err := op.Wait(ctx)
	if err != nil {
		t.Fatalf("op.Wait: %v", err)
	}
	rev := after.GetLatestReadyRevision()
	if rev == first || rev != after.GetLatestCreatedRevision() || !strings.HasPrefix(rev, name+"/revisions/api-00002-") {
		t.Fatalf("after the update: latest ready %q created %q, want a new api-00002-xyz for both (was %q)",
			rev, after.GetLatestCreatedRevision(), first)
	}
	checkUpdated(t, after, before, rev)

	// The service URL now answers from the new revision.
	if got := revisionsOf(t, after.GetUri(), 20); got[shortName(rev)] != 20 {
		t.Errorf("X-Revision of 20 requests: %v, want all %s", got, shortName(rev))
	}

	checkRevisionResource(ctx, t, a, name, rev, first)

	checkNoopUpdate(ctx, t, a, c, after, rev)
}

// checkFirstService checks the service as Start created it and returns its
// first revision's name.
func checkFirstService(t *testing.T, before *runpb.Service, name string) string {
	t.Helper()
	first := before.GetLatestReadyRevision()
	switch {
	case before.GetName() != name:
		t.Errorf("Name %q, want %q", before.GetName(), name)
	case before.GetGeneration() != 1 || before.GetObservedGeneration() != 1 || before.GetReconciling():
		t.Errorf("generation %d observed %d reconciling %v, want 1 1 false",
			before.GetGeneration(), before.GetObservedGeneration(), before.GetReconciling())
	case !strings.HasPrefix(first, name+"/revisions/api-00001-") || first != before.GetLatestCreatedRevision():
		t.Errorf("latest ready %q created %q, want %s/revisions/api-00001-xyz for both", first, before.GetLatestCreatedRevision(), name)
	case before.GetEtag() == "" || !strings.HasPrefix(before.GetUri(), "http://127.0.0.1:"):
		t.Errorf("etag %q uri %q", before.GetEtag(), before.GetUri())
	}
	checkReady(t, "service before", before.GetTerminalCondition(), runpb.Condition_CONDITION_SUCCEEDED)
	tmpl := before.GetTemplate()
	if tmpl.GetScaling().GetMaxInstanceCount() != 100 || tmpl.GetMaxInstanceRequestConcurrency() != 80 ||
		tmpl.GetTimeout().AsDuration() != 300*time.Second || tmpl.GetVpcAccess().GetEgress() != runpb.VpcAccess_ALL_TRAFFIC ||
		tmpl.GetContainers()[0].GetImage() != "gcr.io/demo/api:v1" {
		t.Errorf("template %v does not mirror the scenario's service", tmpl)
	}
	return first
}

// checkUpdated checks the service after an update that made revision rev.
func checkUpdated(t *testing.T, after, before *runpb.Service, rev string) {
	t.Helper()
	if after.GetGeneration() != 2 || after.GetObservedGeneration() != 2 || after.GetReconciling() || after.GetEtag() == before.GetEtag() {
		t.Errorf("after: generation %d observed %d reconciling %v etag %q (before %q)",
			after.GetGeneration(), after.GetObservedGeneration(), after.GetReconciling(), after.GetEtag(), before.GetEtag())
	}
	checkReady(t, "service after", after.GetTerminalCondition(), runpb.Condition_CONDITION_SUCCEEDED)
	ts := after.GetTrafficStatuses()
	if len(ts) != 1 || ts[0].GetType() != runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST ||
		ts[0].GetPercent() != 100 || ts[0].GetRevision() != shortName(rev) {
		t.Errorf("traffic statuses %v, want LATEST 100%% on %s", ts, shortName(rev))
	}
	if tr := after.GetTraffic(); len(tr) != 1 || tr[0].GetType() != ts[0].GetType() || tr[0].GetPercent() != 100 {
		t.Errorf("traffic %v does not match its statuses %v", tr, ts)
	}
	if env := envMap(after.GetTemplate().GetContainers()[0].GetEnv()); env["DEPLOY_ID"] != "2" {
		t.Errorf("template env %v, want DEPLOY_ID=2", env)
	}
}

// checkRevisionResource checks the revision resource of rev and the
// revision list of service name (rev, then first).
func checkRevisionResource(ctx context.Context, t *testing.T, a *apiClients, name, rev, first string) {
	t.Helper()
	// The revision resource.
	r, err := a.rev.GetRevision(ctx, &runpb.GetRevisionRequest{Name: rev})
	if err != nil {
		t.Fatal(err)
	}
	checkReady(t, "revision", r.GetConditions()[0], runpb.Condition_CONDITION_SUCCEEDED)
	if r.GetReconciling() || r.GetService() != name || r.GetGeneration() != 1 || r.GetCreateTime() == nil ||
		r.GetScaling().GetMaxInstanceCount() != 100 || r.GetSessionAffinity() || r.GetMaxInstanceRequestConcurrency() != 80 ||
		envMap(r.GetContainers()[0].GetEnv())["DEPLOY_ID"] != "2" {
		t.Errorf("revision %v", r)
	}
	var listed []string
	for r, err := range a.rev.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: name, PageSize: 1}).All() {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, r.GetName())
	}
	if len(listed) != 2 || listed[0] != rev || listed[1] != first {
		t.Errorf("ListRevisions (one per page) = %v, want [%s %s]", listed, rev, first)
	}
}

// checkNoopUpdate writes the service back unchanged: nothing changes, and
// the two operations so far are listed, done.
func checkNoopUpdate(ctx context.Context, t *testing.T, a *apiClients, c *localcloud.Cloud, after *runpb.Service, rev string) {
	t.Helper()
	// Writing back the same service changes nothing.
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: after})
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done() {
		t.Errorf("an update without changes is not done at once")
	}
	same, err := op.Wait(ctx)
	if err != nil || same.GetGeneration() != 2 || same.GetLatestCreatedRevision() != rev {
		t.Errorf("no-op update: generation %d created %q (%v), want 2 %q", same.GetGeneration(), same.GetLatestCreatedRevision(), err, rev)
	}

	// The operations are listed and can be fetched again.
	n := 0
	for o, err := range a.svc.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: "projects/" + c.Project() + "/locations/" + c.Region()}).All() {
		if err != nil {
			t.Fatal(err)
		}
		if !o.GetDone() {
			t.Errorf("operation %s not done", o.GetName())
		}
		n++
	}
	if n != 2 {
		t.Errorf("ListOperations: %d operations, want 2", n)
	}
}

// A no-traffic deploy with a named revision and a tag, then a 90/10 split.
func TestControlPlaneTrafficSplit(t *testing.T) {
	t.Parallel()
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	name := serviceResource(c, "api")
	svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	old := shortName(svc.GetLatestReadyRevision())
	svc.Template.Revision = "api-green"
	svc.Template.Containers[0].Image = "gcr.io/demo/api:v2"
	svc.Traffic = []*runpb.TrafficTarget{
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: old, Percent: 100},
		{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: "api-green", Tag: "green"},
	}
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	svc, err = op.Wait(ctx)
	if err != nil {
		t.Fatalf("op.Wait: %v", err)
	}
	if got := shortName(svc.GetLatestReadyRevision()); got != "api-green" || svc.GetTemplate().GetRevision() != "api-green" {
		t.Fatalf("latest ready %q template revision %q, want api-green", got, svc.GetTemplate().GetRevision())
	}
	ts := svc.GetTrafficStatuses()
	if len(ts) != 2 || ts[0].GetRevision() != old || ts[0].GetPercent() != 100 ||
		ts[1].GetRevision() != "api-green" || ts[1].GetPercent() != 0 || ts[1].GetTag() != "green" ||
		!strings.HasPrefix(ts[1].GetUri(), "http://127.0.0.1:") || ts[1].GetUri() == svc.GetUri() {
		t.Fatalf("traffic statuses %v, want %s 100%% and api-green 0%% tagged green with its own URI", ts, old)
	}
	if got := revisionsOf(t, svc.GetUri(), 20); got[old] != 20 {
		t.Errorf("main URL: %v, want all on %s", got, old)
	}
	if got := revisionsOf(t, ts[1].GetUri(), 20); got["api-green"] != 20 {
		t.Errorf("tag URL: %v, want all on api-green", got)
	}

	// 90/10, traffic only: no new revision, done once applied.
	svc.Traffic[0].Percent, svc.Traffic[1].Percent = 90, 10
	op, err = a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService 90/10: %v", err)
	}
	svc, err = op.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if svc.GetGeneration() != 3 || shortName(svc.GetLatestCreatedRevision()) != "api-green" {
		t.Errorf("after the split: generation %d latest created %q, want 3 and api-green", svc.GetGeneration(), svc.GetLatestCreatedRevision())
	}
	if ts := svc.GetTrafficStatuses(); len(ts) != 2 || ts[0].GetPercent() != 90 || ts[1].GetPercent() != 10 {
		t.Errorf("traffic statuses %v, want 90/10", ts)
	}
	const n = 2000
	got := revisionsOf(t, svc.GetUri(), n)
	if got[old]+got["api-green"] != n {
		t.Fatalf("%d requests: %v, want every one answered by %s or api-green", n, got, old)
	}
	if share := float64(got["api-green"]) / n; share < 0.07 || share > 0.13 {
		t.Errorf("api-green got %.1f%% of %d requests, want 10%% ± 3%%: %v", share*100, n, got)
	}
}

// An unpullable image: the operation fails with the revision's reason and
// the traffic stays on the old revision.
func TestControlPlaneUnpullableImage(t *testing.T) {
	t.Parallel()
	cfg := lctest.Config(100, lctest.Service("api"))
	cfg.UnpullableImages = []string{"gcr.io/demo/api:broken"}
	c := startCloud(t, cfg)
	a := startAPI(t, c)
	ctx := testCtx(t)
	name := serviceResource(c, "api")
	svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	old := svc.GetLatestReadyRevision()
	svc.Template.Containers[0].Image = "gcr.io/demo/api:broken"
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	_, err = op.Wait(ctx)
	if err == nil {
		t.Fatal("op.Wait succeeded for an unpullable image")
	}
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition ||
		!strings.Contains(st.Message(), "is not ready and cannot serve traffic") || !strings.Contains(st.Message(), "gcr.io/demo/api:broken") {
		t.Errorf("op.Wait error %v, want FAILED_PRECONDITION naming the revision and the image", err)
	}

	svc, err = a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	failed := svc.GetLatestCreatedRevision()
	tc := svc.GetTerminalCondition()
	checkReady(t, "service", tc, runpb.Condition_CONDITION_FAILED)
	if tc.GetReason() != runpb.Condition_CONTAINER_MISSING || !strings.Contains(tc.GetMessage(), "not found") {
		t.Errorf("terminal condition reason %v message %q, want CONTAINER_MISSING, image not found", tc.GetReason(), tc.GetMessage())
	}
	if failed == old || svc.GetLatestReadyRevision() != old || svc.GetReconciling() || svc.GetObservedGeneration() != 1 || svc.GetGeneration() != 2 {
		t.Errorf("created %q ready %q reconciling %v observed %d generation %d, want the failed revision created, %q still ready, observed 1 of 2",
			failed, svc.GetLatestReadyRevision(), svc.GetReconciling(), svc.GetObservedGeneration(), svc.GetGeneration(), old)
	}
	if ts := svc.GetTrafficStatuses(); len(ts) != 1 || ts[0].GetRevision() != shortName(old) || ts[0].GetPercent() != 100 {
		t.Errorf("traffic statuses %v, want 100%% on %s", ts, shortName(old))
	}
	if got := revisionsOf(t, svc.GetUri(), 20); got[shortName(old)] != 20 {
		t.Errorf("X-Revision: %v, want all on the old revision %s", got, shortName(old))
	}
	r, err := a.rev.GetRevision(ctx, &runpb.GetRevisionRequest{Name: failed})
	if err != nil {
		t.Fatal(err)
	}
	checkReady(t, "failed revision", r.GetConditions()[0], runpb.Condition_CONDITION_FAILED)
	if r.GetConditions()[0].GetReason() != runpb.Condition_CONTAINER_MISSING || r.GetReconciling() {
		t.Errorf("failed revision: reason %v reconciling %v", r.GetConditions()[0].GetReason(), r.GetReconciling())
	}

	// Fixing the image deploys again and takes the traffic.
	svc.Template.Containers[0].Image = "gcr.io/demo/api:v3"
	op, err = a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	svc, err = op.Wait(ctx)
	if err != nil {
		t.Fatalf("fixed image: %v", err)
	}
	if svc.GetLatestReadyRevision() != svc.GetLatestCreatedRevision() || svc.GetObservedGeneration() != 3 {
		t.Errorf("fixed image: ready %q created %q observed %d", svc.GetLatestReadyRevision(), svc.GetLatestCreatedRevision(), svc.GetObservedGeneration())
	}
}

// CreateService adds a service that serves once its operation is done.
func TestControlPlaneCreateService(t *testing.T) {
	t.Parallel()
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	op, err := a.svc.CreateService(ctx, &runpb.CreateServiceRequest{
		Parent:    "projects/" + c.Project() + "/locations/" + c.Region(),
		ServiceId: "worker",
		Service: &runpb.Service{Template: &runpb.RevisionTemplate{
			Containers: []*runpb.Container{{Image: "gcr.io/demo/worker:v1",
				Env: []*runpb.EnvVar{{Name: "MODE", Values: &runpb.EnvVar_Value{Value: "batch"}}}}},
			Scaling: &runpb.RevisionScaling{MinInstanceCount: 1, MaxInstanceCount: 3},
		}},
	})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	svc, err := op.Wait(ctx)
	if err != nil {
		t.Fatalf("op.Wait: %v", err)
	}
	if svc.GetName() != serviceResource(c, "worker") || svc.GetLatestReadyRevision() == "" || svc.GetGeneration() != 1 ||
		svc.GetTemplate().GetScaling().GetMinInstanceCount() != 1 || svc.GetTemplate().GetVpcAccess().GetEgress() != runpb.VpcAccess_PRIVATE_RANGES_ONLY {
		t.Errorf("created service %v", svc)
	}
	if got := revisionsOf(t, svc.GetUri(), 5); got[shortName(svc.GetLatestReadyRevision())] != 5 {
		t.Errorf("X-Revision: %v", got)
	}
	var names []string
	for s, err := range a.svc.ListServices(ctx, &runpb.ListServicesRequest{Parent: "projects/" + c.Project() + "/locations/" + c.Region()}).All() {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, shortName(s.GetName()))
	}
	if strings.Join(names, ",") != "api,worker" {
		t.Errorf("ListServices = %v, want [api worker]", names)
	}
	st, err := c.Service("worker")
	if err != nil || st.Template.Env["MODE"] != "batch" {
		t.Errorf("data plane: %+v %v", st.Template, err)
	}
}

// Every invalid request gets the status code Google uses, and changes
// nothing.
func TestControlPlaneInvalidRequests(t *testing.T) {
	t.Parallel()
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	name := serviceResource(c, "api")
	parent := "projects/" + c.Project() + "/locations/" + c.Region()
	stale, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	first := shortName(stale.GetLatestReadyRevision())
	if _, err := a.deployEnv(ctx, t, name, "2"); err != nil {
		t.Fatal(err)
	}
	fresh := func() *runpb.Service {
		svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	before := fresh()
	update := func(edit func(*runpb.Service)) func() error {
		return func() error {
			svc := fresh()
			edit(svc)
			_, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
			return err
		}
	}
	revision := func(rev string, pct int32) *runpb.TrafficTarget {
		return &runpb.TrafficTarget{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION, Revision: rev, Percent: pct}
	}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"get unknown service", func() error {
			_, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: parent + "/services/nope"})
			return err
		}, codes.NotFound},
		{"get malformed name", func() error {
			_, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: "services/api"})
			return err
		}, codes.InvalidArgument},
		{"get other project", func() error {
			_, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: "projects/other/locations/" + c.Region() + "/services/api"})
			return err
		}, codes.NotFound},
		{"get other location", func() error {
			_, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: "projects/" + c.Project() + "/locations/mars1/services/api"})
			return err
		}, codes.NotFound},
		{"update unknown service", update(func(s *runpb.Service) { s.Name = parent + "/services/nope" }), codes.NotFound},
		{"update without a service", func() error {
			_, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{})
			return err
		}, codes.InvalidArgument},
		{"update with a stale etag", func() error {
			stale.Template.Containers[0].Image = "gcr.io/demo/api:v9"
			_, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: stale})
			return err
		}, codes.FailedPrecondition},
		{"traffic sums to 90", update(func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{revision(first, 90)}
		}), codes.InvalidArgument},
		{"traffic sums to 110", update(func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{revision(first, 90), revision(shortName(s.GetLatestReadyRevision()), 20)}
		}), codes.InvalidArgument},
		{"traffic to an unknown revision", update(func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{revision("api-nope", 100)}
		}), codes.InvalidArgument},
		{"traffic to an unknown revision with a new template", update(func(s *runpb.Service) {
			s.Template.Containers[0].Image = "gcr.io/demo/api:v8"
			s.Traffic = []*runpb.TrafficTarget{revision("api-nope", 100)}
		}), codes.InvalidArgument},
		{"LATEST traffic naming a revision", update(func(s *runpb.Service) {
			s.Traffic = []*runpb.TrafficTarget{{Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, Revision: first, Percent: 100}}
		}), codes.InvalidArgument},
		{"revision name without the service prefix", update(func(s *runpb.Service) {
			s.Template.Revision = "green"
		}), codes.InvalidArgument},
		{"revision name of an existing revision", update(func(s *runpb.Service) {
			s.Template.Revision = first
			s.Template.Containers[0].Image = "gcr.io/demo/api:v7"
		}), codes.AlreadyExists},
		{"template without containers", update(func(s *runpb.Service) { s.Template.Containers = nil }), codes.InvalidArgument},
		{"template without a template", update(func(s *runpb.Service) { s.Template = nil }), codes.InvalidArgument},
		{"env from a secret", update(func(s *runpb.Service) {
			s.Template.Containers[0].Env = append(s.Template.Containers[0].Env, &runpb.EnvVar{Name: "K",
				Values: &runpb.EnvVar_ValueSource{ValueSource: &runpb.EnvVarSource{}}})
		}), codes.InvalidArgument},
		{"timeout over an hour", update(func(s *runpb.Service) { s.Template.Timeout = durationpb.New(2 * time.Hour) }), codes.InvalidArgument},
		{"min instances above max", update(func(s *runpb.Service) {
			s.Template.Scaling = &runpb.RevisionScaling{MinInstanceCount: 5, MaxInstanceCount: 2}
		}), codes.InvalidArgument},
		{"service-level scaling", update(func(s *runpb.Service) {
			s.Scaling = &runpb.ServiceScaling{MinInstanceCount: 3}
		}), codes.InvalidArgument},
		{"create an existing service", func() error {
			_, err := a.svc.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: "api", Service: fresh()})
			return err
		}, codes.AlreadyExists},
		{"create with a bad id", func() error {
			_, err := a.svc.CreateService(ctx, &runpb.CreateServiceRequest{Parent: parent, ServiceId: "Bad_Name", Service: fresh()})
			return err
		}, codes.InvalidArgument},
		{"get unknown revision", func() error {
			_, err := a.rev.GetRevision(ctx, &runpb.GetRevisionRequest{Name: name + "/revisions/api-nope"})
			return err
		}, codes.NotFound},
		{"list revisions of an unknown service", func() error {
			_, err := a.rev.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: parent + "/services/nope"}).Next()
			return err
		}, codes.NotFound},
		{"list services with a bad page token", func() error {
			_, err := a.svc.ListServices(ctx, &runpb.ListServicesRequest{Parent: parent, PageToken: "garbage"}).Next()
			return err
		}, codes.InvalidArgument},
		{"get unknown operation", func() error {
			_, err := a.svc.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: parent + "/operations/nope"})
			return err
		}, codes.NotFound},
		{"list operations with a filter", func() error {
			_, err := a.svc.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, Filter: "done=true"}).Next()
			return err
		}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != tt.want {
				t.Errorf("code %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	after := fresh()
	if after.GetGeneration() != before.GetGeneration() || after.GetLatestCreatedRevision() != before.GetLatestCreatedRevision() {
		t.Errorf("invalid requests changed the service: generation %d → %d, latest created %s → %s",
			before.GetGeneration(), after.GetGeneration(), before.GetLatestCreatedRevision(), after.GetLatestCreatedRevision())
	}
}

// The control plane closes while an operation is in flight: Close
// returns, the watcher is gone (goleak in the env test covers the rest).
func TestControlPlaneCloseWithPendingOperation(t *testing.T) {
	t.Parallel()
	// The first revision's instances are warm; a later revision's wait for
	// their egress (10 h simulated) before they are ready.
	svc := lctest.Service("api")
	svc.StartupProbeEgress = true
	svc.EgressReadyDelay = scenarios.Duration(10 * time.Hour)
	c := startCloud(t, lctest.Config(100, svc))
	a := startAPI(t, c)
	ctx := testCtx(t)
	if _, err := c.Service("api"); err != nil {
		t.Fatal(err)
	}
	s, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: serviceResource(c, "api")})
	if err != nil {
		t.Fatal(err)
	}
	s.Template.Containers[0].Image = "gcr.io/demo/api:slow"
	op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: s})
	if err != nil {
		t.Fatal(err)
	}
	if op.Done() {
		t.Fatal("operation done before its revision is ready")
	}
	done := make(chan error, 1)
	go func() { done <- a.p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not return with an operation in flight")
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := a.svc.GetService(short, &runpb.GetServiceRequest{Name: serviceResource(c, "api")}); err == nil {
		t.Errorf("GetService after Close succeeded")
	}
}
