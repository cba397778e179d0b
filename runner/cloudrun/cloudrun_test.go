package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/localcloud/localcloudtest"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
	"go.uber.org/goleak"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const brokenImage = "gcr.io/demo/api:broken"

// fakeNow is a clock for event stamps: every call is one second later
// than the one before, from a time far from the wall clock's.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

var fakeBase = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

func (f *fakeNow) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.t.IsZero() {
		f.t = fakeBase
	}
	f.t = f.t.Add(time.Second)
	return f.t
}

// env is a local cloud with one service "api", its control plane on
// loopback and a Client for the service.
type env struct {
	cloud *localcloud.Cloud
	plane *gcp.ControlPlane
	c     *Client
	first string // the service's first revision
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// start starts the local cloud (time scale 200: a 3 s cold start takes
// 15 ms) and its control plane, and connects a Client to it through the
// endpoint. Cleanup closes the client, the plane and the cloud, in that
// order.
func start(t *testing.T, edit ...func(*scenarios.CloudService)) *env {
	t.Helper()
	var svc scenarios.CloudService
	svc.Defaults()
	svc.Name = "api"
	svc.Image = "gcr.io/demo/api:v1"
	for _, f := range edit {
		f(&svc)
	}
	var lc scenarios.LocalCloud
	lc.Defaults()
	lc.TimeScale = 200
	lc.Seed = 1
	lc.UnpullableImages = []string{brokenImage}
	lc.Services = []scenarios.CloudService{svc}

	cloud, plane := localcloudtest.Start(t, lc)
	e := &env{cloud: cloud, plane: plane, c: connect(t, cloud, plane)}
	st, err := cloud.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	e.first = st.LatestReadyRevision
	return e
}

// connect returns a Client for "api" on the plane, stamping events with a
// fakeNow, and polling faster than by default to keep the tests short.
func connect(t *testing.T, cloud *localcloud.Cloud, plane *gcp.ControlPlane, opts ...option.ClientOption) *Client {
	t.Helper()
	return connectAt(t, cloud, plane, (&fakeNow{}).now, opts...)
}

// connectAt is connect with the clock now.
func connectAt(t *testing.T, cloud *localcloud.Cloud, plane *gcp.ControlPlane, now func() time.Time, opts ...option.ClientOption) *Client {
	t.Helper()
	if !strings.HasPrefix(plane.Addr(), "127.0.0.1:") {
		t.Fatalf("control plane on %q, want loopback", plane.Addr())
	}
	c, err := New(context.Background(), Config{
		Project: cloud.Project(), Region: cloud.Region(), Service: "api",
		Host: plane.Addr(),
		Now:  now,
	}, append(gcp.ClientOptions(plane.Addr()), opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.pollInterval = 20 * time.Millisecond
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close client: %v", err)
		}
	})
	return c
}

// events records what a Deploy reports.
type events struct {
	mu   sync.Mutex
	list []runner.Event
}

func (e *events) report(ev runner.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

func (e *events) get() []runner.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]runner.Event(nil), e.list...)
}

// checkEvents compares kinds and details, and checks that the stamps come
// from Config.Now, in order.
func checkEvents(t *testing.T, got []runner.Event, want ...runner.Event) {
	t.Helper()
	strip := func(evs []runner.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, fmt.Sprintf("%s %v", e.Kind, e.Details))
		}
		return out
	}
	if !reflect.DeepEqual(strip(got), strip(want)) {
		t.Errorf("events:\n got %q\nwant %q", strip(got), strip(want))
	}
	prev := fakeBase
	for _, e := range got {
		if !e.At.After(prev) {
			t.Errorf("event %s at %v, want a stamp from Config.Now after %v", e.Kind, e.At, prev)
		}
		prev = e.At
	}
}

func ev(kind results.EventKind, kv ...string) runner.Event {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return runner.Event{Kind: kind, Details: d}
}

func (e *env) service(t *testing.T) runner.Service {
	t.Helper()
	s, err := e.c.Service(testCtx(t))
	if err != nil {
		t.Fatalf("Service: %v", err)
	}
	return s
}

func (e *env) revision(t *testing.T, name string) localcloud.RevisionState {
	t.Helper()
	st, err := e.cloud.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Revisions {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("revision %q not in the local cloud", name)
	return localcloud.RevisionState{}
}

func checkTraffic(t *testing.T, what string, got []runner.TrafficTarget, want ...runner.TrafficTarget) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s traffic %+v, want %+v", what, got, want)
	}
}

// servedBy sends n requests to the service's URL (loopback) and counts
// the revisions that answered.
func servedBy(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	got := map[string]int{}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		got[resp.Header.Get("X-Revision")]++
	}
	return got
}

func TestServiceMapsLatestAndNamedTargets(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)

	s := e.service(t)
	url, err := e.cloud.ServiceURL("api")
	if err != nil {
		t.Fatal(err)
	}
	want := runner.Service{
		Name:                  "projects/local-project/locations/asia-northeast1/services/api",
		URL:                   url,
		LatestReadyRevision:   e.first,
		LatestCreatedRevision: e.first,
		Traffic:               []runner.TrafficTarget{{Latest: true, Percent: 100}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Service:\n got %+v\nwant %+v", s, want)
	}

	// A split set behind the API's back, through the data plane.
	green, err := e.cloud.Deploy(ctx, "api", localcloud.RevisionSpec{Suffix: "green", Traffic: []localcloud.TrafficTarget{
		{Latest: true, Percent: 70}, {Revision: e.first, Percent: 30, Tag: "stable"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.cloud.WaitRevision(ctx, "api", green); err != nil {
		t.Fatal(err)
	}
	s = e.service(t)
	if s.LatestCreatedRevision != "api-green" || s.LatestReadyRevision != "api-green" {
		t.Errorf("latest created %q ready %q, want api-green (short names)", s.LatestCreatedRevision, s.LatestReadyRevision)
	}
	checkTraffic(t, "Service", s.Traffic,
		runner.TrafficTarget{Latest: true, Percent: 70},
		runner.TrafficTarget{Revision: e.first, Percent: 30, Tag: "stable"})
}

// The default cutover: a read-modify-write of the template, the events of
// the operation, LATEST takes the traffic; a named revision and then an
// unnamed one.
func TestDeployCutover(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{Env: map[string]string{"FEATURE": "on"}, DeployID: "d1"}, got.report)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if rev == "" || rev == e.first || !strings.HasPrefix(rev, "api-") {
		t.Fatalf("Deploy returned %q, want a new revision of api (first %q)", rev, e.first)
	}
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", rev),
		ev(results.EventRevisionReady, "revision", rev, "traffic", rev+"=100%"))
	r := e.revision(t, rev)
	if r.Template.Env["FEATURE"] != "on" || r.Template.Env[DeployIDEnv] != "d1" || r.Template.Image != "gcr.io/demo/api:v1" {
		t.Errorf("new revision's template: image %q env %v, want the v1 image with FEATURE=on and %s=d1",
			r.Template.Image, r.Template.Env, DeployIDEnv)
	}
	if r.Ready.State != localcloud.ConditionSucceeded || r.Percent != 100 {
		t.Errorf("new revision: %s, serving %d%%, want ready and serving 100%%", r.Ready.State, r.Percent)
	}
	s := e.service(t)
	if s.LatestReadyRevision != rev {
		t.Errorf("latest ready %q, want %q", s.LatestReadyRevision, rev)
	}
	checkTraffic(t, "after the cutover", s.Traffic, runner.TrafficTarget{Latest: true, Percent: 100})

	// A named revision with a new image; the env merges into what is there.
	got = events{}
	rev, err = e.c.Deploy(ctx, runner.DeploySpec{Image: "gcr.io/demo/api:v2", Env: map[string]string{"OTHER": "x"},
		DeployID: "d2", RevisionSuffix: "green"}, got.report)
	if err != nil || rev != "api-green" {
		t.Fatalf("Deploy with a suffix: %q, %v, want api-green", rev, err)
	}
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", "api-green"),
		ev(results.EventRevisionReady, "revision", "api-green", "traffic", "api-green=100%"))
	r = e.revision(t, "api-green")
	wantEnv := map[string]string{"FEATURE": "on", "OTHER": "x", DeployIDEnv: "d2"}
	if r.Template.Image != "gcr.io/demo/api:v2" || !reflect.DeepEqual(r.Template.Env, wantEnv) {
		t.Errorf("api-green: image %q env %v, want v2 and %v", r.Template.Image, r.Template.Env, wantEnv)
	}

	// Without a suffix the platform names it again: the template's name
	// from the last deploy is not reused.
	rev, err = e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d3"}, nil)
	if err != nil {
		t.Fatalf("Deploy after a named revision: %v", err)
	}
	if rev == "api-green" || !strings.HasPrefix(rev, "api-0000") {
		t.Errorf("Deploy after a named revision made %q, want a platform-named one", rev)
	}
	if s := e.service(t); s.LatestReadyRevision != rev {
		t.Errorf("latest ready %q, want %q", s.LatestReadyRevision, rev)
	}
}

// A no-traffic deploy keeps the split, pins LATEST and adds the new
// revision at 0% with its tag; a second one moves the tag.
func TestDeployNoTraffic(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "Run 7/b", NoTraffic: true, Tag: "canary"}, got.report)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if !regexp.MustCompile(`^api-00002-[a-z]{3}$`).MatchString(rev) {
		t.Errorf("Deploy returned %q, want api-00002-xyz (short, as Cloud Run names its own)", rev)
	}
	split := e.first + "=100%, " + rev + "=0% (tag canary)"
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", rev),
		ev(results.EventRevisionReady, "revision", rev, "traffic", split))
	s := e.service(t)
	checkTraffic(t, "after a no-traffic deploy", s.Traffic,
		runner.TrafficTarget{Revision: e.first, Percent: 100},
		runner.TrafficTarget{Revision: rev, Percent: 0, Tag: "canary"})
	if s.LatestReadyRevision != rev {
		t.Errorf("latest ready %q, want the new revision, ready without traffic", s.LatestReadyRevision)
	}
	if by := servedBy(t, s.URL, 20); by[e.first] != 20 {
		t.Errorf("20 requests answered by %v, want all by %s", by, e.first)
	}

	rev, err = e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d2", RevisionSuffix: "blue", NoTraffic: true, Tag: "canary"}, nil)
	if err != nil || rev != "api-blue" {
		t.Fatalf("second no-traffic deploy: %q, %v, want api-blue", rev, err)
	}
	checkTraffic(t, "after the tag moved", e.service(t).Traffic,
		runner.TrafficTarget{Revision: e.first, Percent: 100},
		runner.TrafficTarget{Revision: "api-blue", Percent: 0, Tag: "canary"})
}

func TestSetTraffic(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	next, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	split := []runner.TrafficTarget{{Revision: e.first, Percent: 90}, {Revision: next, Percent: 10, Tag: "new"}}
	if err := e.c.SetTraffic(ctx, split); err != nil {
		t.Fatalf("SetTraffic 90/10: %v", err)
	}
	checkTraffic(t, "after 90/10", e.service(t).Traffic, split...)
	st, err := e.cloud.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	if st.Reconciling || len(st.TrafficStatuses) != 2 || st.TrafficStatuses[0].Percent != 90 || st.TrafficStatuses[1].Revision != next {
		t.Errorf("served split %+v (reconciling %v), want 90/10 served when SetTraffic returns", st.TrafficStatuses, st.Reconciling)
	}

	if err := e.c.SetTraffic(ctx, []runner.TrafficTarget{{Latest: true, Percent: 100}}); err != nil {
		t.Fatalf("SetTraffic LATEST: %v", err)
	}
	checkTraffic(t, "back to LATEST", e.service(t).Traffic, runner.TrafficTarget{Latest: true, Percent: 100})

	// A split the API rejects is an error that is not retried.
	attempts := 0
	e.c.beforeUpdate = func(context.Context, int) { attempts++ }
	err = e.c.SetTraffic(ctx, []runner.TrafficTarget{{Revision: e.first, Percent: 50}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `set traffic of service "projects/local-project/locations/asia-northeast1/services/api" to [`+e.first+`=50%]`) {
		t.Errorf("SetTraffic to 50%%: %v, want INVALID_ARGUMENT naming the service and the split", err)
	}
	if attempts != 1 {
		t.Errorf("%d attempts for an invalid split, want 1", attempts)
	}
}

// The LRO failure path: the revision is created, never ready; the error
// names it and the reason, and the traffic stays where it was.
func TestDeployImageNotFound(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{Image: brokenImage, DeployID: "d1"}, got.report)
	if err == nil {
		t.Fatalf("Deploy of an unpullable image returned %q and no error", rev)
	}
	s := e.service(t)
	failed := s.LatestCreatedRevision
	if failed == e.first {
		t.Fatalf("no revision was created")
	}
	want := fmt.Sprintf(`revision %q failed: Image '%s' not found`, failed, brokenImage)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `deploy to service "projects/`) {
		t.Errorf("Deploy error %q, want it to contain %q", err, want)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Deploy error code %v, want the operation's FAILED_PRECONDITION through %%w", status.Code(err))
	}
	checkEvents(t, got.get(), ev(results.EventRevisionCreated, "revision", failed))
	if s.LatestReadyRevision != e.first {
		t.Errorf("latest ready %q, want still %q", s.LatestReadyRevision, e.first)
	}
	checkTraffic(t, "after the failure", s.Traffic, runner.TrafficTarget{Latest: true, Percent: 100})
	if by := servedBy(t, s.URL, 10); by[e.first] != 10 {
		t.Errorf("10 requests answered by %v, want all by the old revision %s", by, e.first)
	}
}

// NoWait returns once the revision is created; WaitReady follows it to
// ready or to its failure.
func TestDeployNoWaitThenWaitReady(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1", NoWait: true}, got.report)
	if err != nil || rev == "" || rev == e.first {
		t.Fatalf("Deploy NoWait: %q, %v, want a new revision", rev, err)
	}
	checkEvents(t, got.get(), ev(results.EventRevisionCreated, "revision", rev))
	if err := e.c.WaitReady(ctx, rev, got.report); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", rev),
		ev(results.EventRevisionReady, "revision", rev, "traffic", rev+"=100%"))
	if r := e.revision(t, rev); r.Ready.State != localcloud.ConditionSucceeded {
		t.Errorf("revision %s is %s after WaitReady", rev, r.Ready.State)
	}

	got = events{}
	broken, err := e.c.Deploy(ctx, runner.DeploySpec{Image: brokenImage, DeployID: "d2", NoWait: true}, got.report)
	if err != nil {
		t.Fatalf("Deploy NoWait of an unpullable image: %v (it is only created yet)", err)
	}
	err = e.c.WaitReady(ctx, "projects/local-project/locations/asia-northeast1/services/api/revisions/"+broken, got.report)
	want := fmt.Sprintf(`revision %q failed: Image '%s' not found`, broken, brokenImage)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("WaitReady: %v, want an error containing %q", err, want)
	}
	checkEvents(t, got.get(), ev(results.EventRevisionCreated, "revision", broken))

	if err := e.c.WaitReady(ctx, "api-nope", nil); status.Code(err) != codes.NotFound {
		t.Errorf("WaitReady of a missing revision: %v, want NOT_FOUND", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.c.WaitReady(cctx, rev, nil); !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Errorf("WaitReady with a cancelled context: %v, want cancelled", err)
	}
}

// A write between Deploy's read and its write: the server rejects the
// stale etag, the driver reads again, applies the deploy on top of the
// other change and succeeds.
func TestDeployRetriesOnEtagConflict(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	other := connect(t, e.cloud, e.plane)
	var attempts []int
	e.c.beforeUpdate = func(ctx context.Context, attempt int) {
		attempts = append(attempts, attempt)
		if attempt == 0 {
			if err := other.SetTraffic(ctx, []runner.TrafficTarget{{Revision: e.first, Percent: 100, Tag: "stable"}}); err != nil {
				t.Errorf("concurrent SetTraffic: %v", err)
			}
		}
	}
	var got events
	rev, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1", RevisionSuffix: "canary", NoTraffic: true, Tag: "canary"}, got.report)
	if err != nil {
		t.Fatalf("Deploy with a concurrent write: %v", err)
	}
	if !reflect.DeepEqual(attempts, []int{0, 1}) {
		t.Errorf("attempts %v, want [0 1]: one conflict, one retry", attempts)
	}
	checkEvents(t, got.get(),
		ev(results.EventRevisionCreated, "revision", rev),
		ev(results.EventRevisionReady, "revision", rev, "traffic", e.first+"=100% (tag stable), api-canary=0% (tag canary)"))
	checkTraffic(t, "after the retried deploy", e.service(t).Traffic,
		runner.TrafficTarget{Revision: e.first, Percent: 100, Tag: "stable"},
		runner.TrafficTarget{Revision: "api-canary", Percent: 0, Tag: "canary"})
	if n := len(mustState(t, e.cloud).Revisions); n != 2 {
		t.Errorf("%d revisions, want 2: the rejected write made none", n)
	}
}

// A service that changes before every write: the driver gives up after
// its attempts and says so.
func TestSetTrafficGivesUpOnPersistentConflict(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	other := connect(t, e.cloud, e.plane)
	e.c.updateAttempts = 3
	e.c.conflictBackoff = time.Millisecond
	var attempts []int
	e.c.beforeUpdate = func(ctx context.Context, attempt int) {
		attempts = append(attempts, attempt)
		tag := fmt.Sprintf("t%d", attempt)
		if err := other.SetTraffic(ctx, []runner.TrafficTarget{{Latest: true, Percent: 100, Tag: tag}}); err != nil {
			t.Errorf("concurrent SetTraffic: %v", err)
		}
	}
	err := e.c.SetTraffic(ctx, []runner.TrafficTarget{{Revision: e.first, Percent: 100}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("SetTraffic: %v, want FAILED_PRECONDITION after 3 attempts", err)
	}
	if !reflect.DeepEqual(attempts, []int{0, 1, 2}) {
		t.Errorf("attempts %v, want [0 1 2]", attempts)
	}
	checkTraffic(t, "after giving up", e.service(t).Traffic, runner.TrafficTarget{Latest: true, Percent: 100, Tag: "t2"})
}

func mustState(t *testing.T, c *localcloud.Cloud) localcloud.ServiceState {
	t.Helper()
	st, err := c.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestNewNeedsTheService(t *testing.T) {
	_, err := New(context.Background(), Config{Project: "p", Host: "127.0.0.1:1"}, gcp.ClientOptions("127.0.0.1:1")...)
	if err == nil || !strings.Contains(err.Error(), "region, service not set") {
		t.Errorf("New without region and service: %v", err)
	}
}

// revision-created is reported while the revision is still starting, not
// when the operation ends.
func TestDeployReportsCreatedBeforeReady(t *testing.T) {
	t.Parallel()
	// A 60 s cold start is 300 ms of wall-clock time at scale 200.
	e := start(t, func(s *scenarios.CloudService) { s.ColdStart = scenarios.Duration(60 * time.Second) })
	ctx := testCtx(t)
	var states []localcloud.ConditionState
	report := func(ev runner.Event) {
		states = append(states, e.revision(t, ev.Details["revision"]).Ready.State)
	}
	if _, err := e.c.Deploy(ctx, runner.DeploySpec{DeployID: "d1"}, report); err != nil {
		t.Fatal(err)
	}
	want := []localcloud.ConditionState{localcloud.ConditionPending, localcloud.ConditionSucceeded}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("revision states when created and ready were reported: %v, want %v", states, want)
	}
}

// failUpdates is a client interceptor that fails UpdateService calls with
// code, without sending them, while fail says so; it counts the calls.
type failUpdates struct {
	code  codes.Code
	fail  func(call int) bool
	mu    sync.Mutex
	calls map[string]int
}

func (f *failUpdates) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	name := method[strings.LastIndexByte(method, '/')+1:]
	f.mu.Lock()
	f.calls[name]++
	n := f.calls[name]
	f.mu.Unlock()
	if name == "UpdateService" && f.fail(n) {
		return status.Error(f.code, "injected "+f.code.String())
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (f *failUpdates) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// ABORTED is retried from a fresh read; a FAILED_PRECONDITION on a service
// that did not change is not an etag conflict and is not retried.
func TestUpdateRetriesAbortedNotOtherPreconditions(t *testing.T) {
	t.Parallel()
	e := start(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name      string
		code      codes.Code
		fail      func(int) bool
		wantErr   bool
		wantReads int
		wantWrite int
	}{
		{"aborted once", codes.Aborted, func(n int) bool { return n == 1 }, false, 2, 2},
		{"failed precondition", codes.FailedPrecondition, func(int) bool { return true }, true, 2, 1},
	} {
		f := &failUpdates{code: tc.code, fail: tc.fail, calls: map[string]int{}}
		c := connect(t, e.cloud, e.plane, option.WithGRPCDialOption(grpc.WithUnaryInterceptor(f.intercept)))
		c.conflictBackoff = time.Millisecond
		err := c.SetTraffic(ctx, []runner.TrafficTarget{{Latest: true, Percent: 100, Tag: strings.ReplaceAll(tc.name, " ", "-")}})
		if (err != nil) != tc.wantErr || tc.wantErr && (status.Code(err) != tc.code || strings.Contains(err.Error(), "gave up")) {
			t.Errorf("%s: SetTraffic: %v, want error %v", tc.name, err, tc.wantErr)
		}
		if r, w := f.count("GetService"), f.count("UpdateService"); r != tc.wantReads || w != tc.wantWrite {
			t.Errorf("%s: %d reads, %d writes, want %d and %d", tc.name, r, w, tc.wantReads, tc.wantWrite)
		}
	}
}

// deadEndpoint returns the address of a port on 127.0.0.1 that refuses
// connections: it was listened on, then closed.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentEndpoint returns the address of a port on 127.0.0.1 that accepts
// connections and never answers, as a host behind a black hole would.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// An API that cannot be reached is named as such, within a few seconds,
// whatever deadline the caller has; a caller that gave up is not told the
// API is unreachable.
func TestUnreachableAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		endpoint    func(*testing.T) string
		callTimeout time.Duration
		// deadline is the caller's (0: none; <0: cancelled before the call).
		deadline time.Duration
		// want is in the error after "is unreachable: "; "" wants no
		// UnreachableError.
		want string
	}{
		{name: "refused", endpoint: deadEndpoint, want: "rpc error: code = Unavailable"},
		// The case that waited out the caller's deadline: the generated
		// client retried UNAVAILABLE until then.
		{name: "refused, caller deadline", endpoint: deadEndpoint, deadline: 2 * time.Minute, want: "rpc error: code = Unavailable"},
		{name: "no answer", endpoint: silentEndpoint, callTimeout: 300 * time.Millisecond, want: "no answer within 300ms: "},
		{name: "no answer, caller deadline", endpoint: silentEndpoint, callTimeout: 300 * time.Millisecond, deadline: time.Minute,
			want: "no answer within 300ms: "},
		{name: "caller gave up", endpoint: silentEndpoint, deadline: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.endpoint(t)
			c, err := New(context.Background(), Config{Project: "p", Region: "r", Service: "api", Host: addr, CallTimeout: tc.callTimeout},
				gcp.ClientOptions(addr)...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			switch {
			case tc.deadline > 0:
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
			case tc.deadline < 0:
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			}
			defer cancel()
			calls := []struct {
				name string
				do   func() error
			}{
				{"Service", func() error { _, err := c.Service(ctx); return err }},
				{"SetTraffic", func() error { return c.SetTraffic(ctx, []runner.TrafficTarget{{Latest: true, Percent: 100}}) }},
				{"Claim", func() error { return c.Claim(ctx, "run-a", time.Hour, false) }},
				{"Restore", func() error {
					return c.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: []runner.TrafficTarget{{Latest: true, Percent: 100}}})
				}},
			}
			for _, call := range calls {
				began := time.Now()
				err := call.do()
				took := time.Since(began)
				t.Logf("%s against %s: %v after %v", call.name, addr, err, took)
				if took > 30*time.Second {
					t.Errorf("%s took %v, want a few seconds at most", call.name, took)
				}
				if tc.want == "" {
					if errors.Is(err, runner.ErrUnreachable) || err == nil {
						t.Errorf("%s with a cancelled context: %v, want the cancellation, not unreachable", call.name, err)
					}
					continue
				}
				want := "the Cloud Run API at " + addr + " is unreachable: "
				var ue *runner.UnreachableError
				if !errors.Is(err, runner.ErrUnreachable) || !errors.As(err, &ue) || ue.Host != addr ||
					!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), want+tc.want) {
					t.Errorf("%s: %v\nwant errors.Is ErrUnreachable and %q", call.name, err, want+tc.want+"…")
				}
			}
		})
	}
}
