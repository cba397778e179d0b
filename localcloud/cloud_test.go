package localcloud

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/internal/lctest"
	"github.com/cutover-dev/cutover/scenarios"
	"go.uber.org/goleak"
)

func startCloud(t *testing.T, cfg scenarios.LocalCloud) *Cloud {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, cfg, Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

type reply struct {
	status   int
	body     string
	revision string
	instance string
	cookie   string
}

func get(t *testing.T, client *http.Client, url string, cookie string) reply {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, body: string(b), revision: resp.Header.Get("X-Revision"), instance: resp.Header.Get("X-Instance")}
	for _, c := range resp.Cookies() {
		if c.Name == AffinityCookie {
			r.cookie = c.Name + "=" + c.Value
		}
	}
	return r
}

func TestVerticalSlice(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs after the cloud's Close
	cfg := lctest.Config(50, lctest.Service("api", lctest.Call("external_api")))
	c := startCloud(t, cfg)
	url, err := c.ServiceURL("api")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	r := get(t, client, url+"/", "")
	if r.status != 200 || !strings.HasPrefix(r.revision, "api-00001-") || r.instance == "" {
		t.Fatalf("first request: %+v", r)
	}
	if c.ExternalAPI().Served() < 1 {
		t.Errorf("external API served %d requests, want ≥ 1", c.ExternalAPI().Served())
	}
	st := c.NAT().Stats()
	if st.NewConnections < 1 {
		t.Errorf("NAT new connections = %d, want ≥ 1", st.NewConnections)
	}

	rev, err := c.Deploy(context.Background(), "api", RevisionSpec{Image: "gcr.io/demo/api:v2"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rev, "api-00002-") {
		t.Errorf("revision name %q, want api-00002-xyz", rev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WaitRevision(ctx, "api", rev); err != nil {
		t.Fatal(err)
	}
	r = get(t, client, url+"/", "")
	if r.status != 200 || r.revision != rev {
		t.Fatalf("after deploy: %+v, want revision %s", r, rev)
	}
	svc, _ := c.Service("api")
	if svc.LatestReadyRevision != rev || svc.Generation != 2 || svc.Ready.State != ConditionSucceeded {
		t.Errorf("service state: latest ready %s gen %d ready %+v", svc.LatestReadyRevision, svc.Generation, svc.Ready)
	}
	client.CloseIdleConnections()
}

func TestRevisionNames(t *testing.T) {
	c := startCloud(t, lctest.Config(50, lctest.Service("api")))
	ctx := context.Background()
	st, _ := c.Service("api")
	re := regexp.MustCompile(`^api-\d{5}-[a-z]{3}$`)
	if !re.MatchString(st.LatestReadyRevision) || !strings.HasPrefix(st.LatestReadyRevision, "api-00001-") {
		t.Errorf("first revision %q, want api-00001-xyz", st.LatestReadyRevision)
	}
	second, err := c.Deploy(ctx, "api", RevisionSpec{})
	if err != nil || !strings.HasPrefix(second, "api-00002-") || !re.MatchString(second) {
		t.Errorf("second revision %q, %v; want api-00002-xyz", second, err)
	}
	named, err := c.Deploy(ctx, "api", RevisionSpec{Suffix: "blue"})
	if err != nil || named != "api-blue" {
		t.Errorf("revision with suffix: %q, %v; want api-blue", named, err)
	}
	if _, err := c.Deploy(ctx, "api", RevisionSpec{Suffix: "blue"}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("a taken suffix: %v, want ErrAlreadyExists", err)
	}
	if _, err := c.Deploy(ctx, "api", RevisionSpec{Suffix: "Not_Valid"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("an invalid suffix: %v, want ErrInvalidArgument", err)
	}
	if _, err := c.Deploy(ctx, "nope", RevisionSpec{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown service: %v, want ErrNotFound", err)
	}
	if _, err := c.WaitRevision(ctx, "api", "api-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown revision: %v, want ErrNotFound", err)
	}
	st, _ = c.Service("api")
	if st.Generation != 3 || st.LatestCreatedRevision != "api-blue" || len(st.Revisions) != 3 {
		t.Errorf("generation %d, latest created %s, %d revisions; want 3, api-blue, 3", st.Generation, st.LatestCreatedRevision, len(st.Revisions))
	}
}

func TestTrafficSplitTagsAndLatest(t *testing.T) {
	svc := lctest.Service("api")
	svc.App.ServerTime = 0
	c := startCloud(t, lctest.Config(50, svc))
	ctx := context.Background()
	first := mustService(t, c, "api").LatestReadyRevision
	second, err := c.Deploy(ctx, "api", RevisionSpec{Image: "api:v2", Traffic: []TrafficTarget{
		{Revision: first, Percent: 100}, {Latest: true, Tag: "canary"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitRevision(ctx, "api", second); err != nil {
		t.Fatal(err)
	}
	st := mustService(t, c, "api")
	var canary string
	for _, ts := range st.TrafficStatuses {
		if ts.Tag == "canary" {
			canary = ts.URL
			if ts.Revision != second || !ts.Latest {
				t.Errorf("canary status %+v, want LATEST resolved to %s", ts, second)
			}
		}
	}
	if canary == "" || canary == st.URL {
		t.Fatalf("no tag URL in %+v", st.TrafficStatuses)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	if r := get(t, client, canary+"/", ""); r.revision != second {
		t.Errorf("the tag URL served %s, want %s", r.revision, second)
	}
	if r := get(t, client, st.URL+"/", ""); r.revision != first {
		t.Errorf("the main URL served %s, want %s (the tagged revision has 0%%)", r.revision, first)
	}

	if err := c.SetTraffic("api", []TrafficTarget{{Revision: first, Percent: 90}, {Revision: second, Percent: 10, Tag: "canary"}}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for range 1000 {
		counts[get(t, client, st.URL+"/", "").revision]++
	}
	if counts[first] < 870 || counts[first] > 930 || counts[first]+counts[second] != 1000 {
		t.Errorf("90/10 split over 1000 requests: %v", counts)
	}
	st = mustService(t, c, "api")
	if st.Generation != 3 || st.Reconciling {
		t.Errorf("generation %d reconciling %v, want 3 false", st.Generation, st.Reconciling)
	}
}

func mustService(t *testing.T, c *Cloud, name string) ServiceState {
	t.Helper()
	st, err := c.Service(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSetTrafficInvalid(t *testing.T) {
	c := startCloud(t, lctest.Config(50, lctest.Service("api")))
	rev := mustService(t, c, "api").LatestReadyRevision
	tests := []struct {
		name    string
		targets []TrafficTarget
	}{
		{"empty", nil},
		{"sum not 100", []TrafficTarget{{Revision: rev, Percent: 90}}},
		{"unknown revision", []TrafficTarget{{Revision: "api-nope", Percent: 100}}},
		{"latest and a revision", []TrafficTarget{{Latest: true, Revision: rev, Percent: 100}}},
		{"neither", []TrafficTarget{{Percent: 100}}},
		{"negative", []TrafficTarget{{Latest: true, Percent: 110}, {Revision: rev, Percent: -10}}},
		{"tag twice", []TrafficTarget{{Latest: true, Percent: 100, Tag: "a"}, {Revision: rev, Tag: "a"}}},
		{"bad tag", []TrafficTarget{{Latest: true, Percent: 100, Tag: "Bad_Tag"}}},
	}
	for _, tt := range tests {
		if err := c.SetTraffic("api", tt.targets); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tt.name, err)
		}
	}
	if err := c.SetTraffic("nope", []TrafficTarget{{Latest: true, Percent: 100}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown service: %v, want ErrNotFound", err)
	}
	if g := mustService(t, c, "api").Generation; g != 1 {
		t.Errorf("generation %d after rejected updates, want 1", g)
	}
}

func TestUnpullableImage(t *testing.T) {
	c := startCloud(t, lctest.Config(50, lctest.Service("api")))
	ctx := context.Background()
	old := mustService(t, c, "api").LatestReadyRevision
	c.MarkUnpullable("gcr.io/demo/api@sha256:gone")
	for _, spec := range []RevisionSpec{{Image: "gcr.io/demo/api@sha256:gone"}, {Image: "gcr.io/demo/api:v9", Unpullable: true}} {
		rev, err := c.Deploy(ctx, "api", spec)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.WaitRevision(ctx, "api", rev)
		if !errors.Is(err, ErrRevisionFailed) {
			t.Fatalf("WaitRevision(%s) = %v, want ErrRevisionFailed", rev, err)
		}
		if st.Ready.State != ConditionFailed || st.Ready.Reason != ReasonContainerMissing ||
			!strings.Contains(st.Ready.Message, spec.Image) {
			t.Errorf("ready condition %+v, want failed, %s, naming the image", st.Ready, ReasonContainerMissing)
		}
		svc := mustService(t, c, "api")
		if svc.LatestReadyRevision != old || svc.LatestCreatedRevision != rev || svc.Ready.State != ConditionFailed {
			t.Errorf("service: latest ready %s created %s ready %+v; want %s, %s, failed", svc.LatestReadyRevision, svc.LatestCreatedRevision, svc.Ready, old, rev)
		}
		client := &http.Client{Timeout: 10 * time.Second}
		if r := get(t, client, svc.URL+"/", ""); r.status != 200 || r.revision != old {
			t.Errorf("after the failed deploy the service answered %d from %s, want 200 from %s", r.status, r.revision, old)
		}
		client.CloseIdleConnections()
	}
}

// A queued request gets 429 at max instances past the queue timeout, and
// only the request that reached the instance is counted.
func TestQueueThen429(t *testing.T) {
	svc := lctest.Service("api")
	svc.MinInstances, svc.MaxInstances, svc.Concurrency = 1, 1, 1
	svc.App.ServerTime = scenarios.Duration(20 * time.Second)
	svc.QueueTimeout = scenarios.Duration(5 * time.Second)
	cfg := lctest.Config(20, svc)
	cfg.Metrics.LagRun = scenarios.Duration(time.Second)
	cfg.Metrics.Period = scenarios.Duration(5 * time.Second)
	c := startCloud(t, cfg)
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	first := make(chan reply, 1)
	go func() { first <- get(t, client, url+"/", "") }()
	// Wait until the first request holds the only slot.
	for mustService(t, c, "api").Revisions[0].Instances[0].InFlight == 0 {
		runtime.Gosched()
	}
	r := get(t, client, url+"/", "")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "no available instance") {
		t.Errorf("second request: %d %q, want 429 no available instance", r.status, r.body)
	}
	if r := <-first; r.status != 200 {
		t.Errorf("first request: %d, want 200", r.status)
	}
	rev := mustService(t, c, "api").LatestReadyRevision
	deadline := c.Clock().Now().Add(c.Clock().Wall(30 * time.Second))
	var codes map[string]int64
	for c.Clock().Now().Before(deadline) {
		codes = map[string]int64{}
		for _, s := range c.Recorder().Query(MetricRunRequestCount, c.Recorder().Origin(), c.Clock().Now()) {
			for _, p := range s.Points {
				codes[s.MetricLabels["response_code"]] += p.Value
			}
			if s.Resource.Labels["revision_name"] != rev || s.Resource.Type != ResourceRunRevision {
				t.Errorf("request_count on %+v, want revision %s", s.Resource, rev)
			}
		}
		if codes["200"] > 0 {
			break
		}
		_ = c.Clock().Sleep(context.Background(), time.Second)
	}
	if codes["200"] != 1 || codes["429"] != 0 {
		t.Errorf("request_count by code %v, want one 200 and no 429 (it never reached an instance)", codes)
	}
}

func TestRequestTimeout504(t *testing.T) {
	svc := lctest.Service("api")
	svc.RequestTimeout = scenarios.Duration(2 * time.Second)
	svc.App.ServerTime = scenarios.Duration(30 * time.Second)
	c := startCloud(t, lctest.Config(20, svc))
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	r := get(t, client, url+"/", "")
	if r.status != 504 || r.body != UpstreamTimeoutBody || r.revision == "" || r.instance == "" {
		t.Errorf("got %d %q (revision %q instance %q), want 504 %s with X-Revision and X-Instance", r.status, r.body, r.revision, r.instance, UpstreamTimeoutBody)
	}
}

// With no ready instance (scaled to zero, a cold start longer than the
// request timeout) a request gets 503.
func TestNoReadyInstance503(t *testing.T) {
	svc := lctest.Service("api")
	svc.IdleRetention = scenarios.Duration(time.Second)
	svc.ColdStart = scenarios.Duration(60 * time.Second)
	svc.QueueTimeout = scenarios.Duration(2 * time.Second)
	svc.RequestTimeout = scenarios.Duration(4 * time.Second)
	c := startCloud(t, lctest.Config(50, svc))
	// Wait for the first instance to be retired.
	for len(mustService(t, c, "api").Revisions[0].Instances) > 0 {
		_ = c.Clock().Sleep(context.Background(), time.Second)
	}
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	if r := get(t, client, url+"/", ""); r.status != 503 {
		t.Errorf("got %d %q, want 503", r.status, r.body)
	}
	if n := len(mustService(t, c, "api").Revisions[0].Instances); n != 1 {
		t.Errorf("%d instances starting, want 1 (scale from zero)", n)
	}
}

// A retired instance finishes its request in flight within the grace, and
// is killed past it.
func TestDrainWithGrace(t *testing.T) {
	tests := []struct {
		name       string
		serverTime time.Duration
		want       int
	}{
		{"finishes within the grace", 3 * time.Second, 200},
		{"killed past the grace", 60 * time.Second, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := lctest.Service("api")
			svc.MinInstances = 2
			svc.ShutdownGrace = scenarios.Duration(10 * time.Second)
			svc.App.ServerTime = scenarios.Duration(tt.serverTime)
			c := startCloud(t, lctest.Config(20, svc))
			url, _ := c.ServiceURL("api")
			client := &http.Client{Timeout: 20 * time.Second}
			defer client.CloseIdleConnections()
			done := make(chan reply, 1)
			go func() { done <- get(t, client, url+"/", "") }()
			var busy *instance
			s, _ := c.service("api")
			r := s.revisions[0]
			for busy == nil {
				r.mu.Lock()
				for _, in := range r.instances {
					if in.inflight > 0 {
						busy = in
					}
				}
				r.mu.Unlock()
				runtime.Gosched()
			}
			r.mu.Lock()
			r.retireLocked(busy) // SIGTERM
			r.mu.Unlock()
			// New requests go to the other instance.
			if got := get(t, client, url+"/", "").instance; got == busy.id {
				t.Errorf("a new request went to the draining instance")
			}
			if got := <-done; got.status != tt.want {
				t.Errorf("the request in flight got %d, want %d", got.status, tt.want)
			}
			for c.lookupInstance(busy.id) != nil {
				runtime.Gosched()
			}
		})
	}
}

func TestSessionAffinityCookie(t *testing.T) {
	svc := lctest.Service("api")
	svc.MinInstances = 3
	svc.SessionAffinity = true
	c := startCloud(t, lctest.Config(50, svc))
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ck *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == "GAESA" {
			ck = x
		}
	}
	if ck == nil || ck.Path != "/" {
		t.Fatalf("cookies %v, want GAESA with Path=/", resp.Cookies())
	}
	if ttl := ck.Expires.Sub(c.Clock().Now()); ttl < 29*24*time.Hour || ttl > 31*24*time.Hour {
		t.Errorf("the cookie expires in %v, want 30 days", ttl)
	}
	pinned := resp.Header.Get("X-Instance")
	for range 20 {
		r := get(t, client, url+"/", AffinityCookie+"="+ck.Value)
		if r.instance != pinned || r.cookie != "" {
			t.Fatalf("with the cookie: instance %s (new cookie %q), want %s and no new cookie", r.instance, r.cookie, pinned)
		}
	}
	// A cookie naming no live instance is replaced.
	r := get(t, client, url+"/", AffinityCookie+"="+encodeAffinity("api-gone-1"))
	if r.cookie == "" || decodeAffinity(strings.TrimPrefix(r.cookie, AffinityCookie+"=")) != r.instance {
		t.Errorf("a stale cookie: new cookie %q for instance %s, want one naming it", r.cookie, r.instance)
	}
}

// An app that keeps login sessions in instance memory: the first response
// carries both the front end's GAESA and the app's SID; the session works
// on its instance and is unknown (401, a new SID) on any other.
func TestSessionStateLivesOnItsInstance(t *testing.T) {
	svc := lctest.Service("api")
	svc.MinInstances = 2
	svc.SessionAffinity = true
	svc.App.SessionState = true
	c := startCloud(t, lctest.Config(50, svc))
	url, _ := c.ServiceURL("api")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := map[string]string{}
	for _, x := range resp.Cookies() {
		cookies[x.Name] = x.Value
	}
	home := resp.Header.Get("X-Instance")
	if cookies[AffinityCookie] == "" || !strings.HasPrefix(cookies["SID"], home+".") {
		t.Fatalf("first response from %s set cookies %v; want GAESA and a SID of that instance", home, cookies)
	}
	both := AffinityCookie + "=" + cookies[AffinityCookie] + "; SID=" + cookies["SID"]
	if r := get(t, client, url+"/", both); r.status != http.StatusOK || r.instance != home {
		t.Errorf("back on its instance: %d from %s, want 200 from %s", r.status, r.instance, home)
	}
	// A session another instance opened (what a re-pinned client carries)
	// is unknown here: 401, and a new session of this instance.
	stale := AffinityCookie + "=" + cookies[AffinityCookie] + "; SID=api-00001-other-9.1"
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Header.Set("Cookie", stale)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var fresh string
	for _, x := range resp.Cookies() {
		if x.Name == "SID" {
			fresh = x.Value
		}
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "session not found") || !strings.HasPrefix(fresh, home+".") {
		t.Errorf("a session from another instance: %d %q, new SID %q; want 401 session not found and a SID of %s",
			resp.StatusCode, body, fresh, home)
	}
}

// Calls route by egress and via: loopback and private-ranges-only public
// calls never touch NAT; all-traffic public calls do.
func TestEgressRouting(t *testing.T) {
	loop := lctest.Service("loop", lctest.Call("self", func(c *scenarios.CloudCall) { c.Via = "loopback" }),
		lctest.Call("database", func(c *scenarios.CloudCall) { c.Via = "private-ip" }))
	private := lctest.Service("private", lctest.Call("external_api"), lctest.Call("self"))
	private.Egress = "private-ranges-only"
	public := lctest.Service("public", lctest.Call("external_api"), lctest.Call("service:loop"))
	c := startCloud(t, lctest.Config(50, loop, private, public))
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, name := range []string{"loop", "private", "public"} {
		url, _ := c.ServiceURL(name)
		if r := get(t, client, url+"/", ""); r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	loopURL, _ := c.ServiceURL("loop")
	dials := c.dials.snapshot()
	for key := range dials {
		if strings.HasPrefix(key, "nat ") && key != "nat "+c.ext.Addr() && key != "nat "+strings.TrimPrefix(loopURL, "http://") {
			t.Errorf("connection through NAT to %s", key)
		}
	}
	if dials["nat "+c.ext.Addr()].dials == 0 || dials["nat "+strings.TrimPrefix(loopURL, "http://")].dials == 0 {
		t.Errorf("the all-traffic service did not go through NAT: %v", dials)
	}
	for ep := range c.NAT().Stats().Endpoints {
		if !strings.HasPrefix(ep, "public-") && !strings.HasPrefix(ep, "loop-") {
			t.Errorf("NAT endpoint %s of a private-ranges-only service", ep)
		}
	}
}

// The autoscaler adds instances under load and retires idle ones.
func TestAutoscaling(t *testing.T) {
	svc := lctest.Service("api")
	svc.Concurrency = 10
	svc.IdleRetention = scenarios.Duration(10 * time.Second)
	svc.App.ServerTime = scenarios.Duration(2 * time.Second)
	c := startCloud(t, lctest.Config(20, svc))
	url, _ := c.ServiceURL("api")
	l := &lcLoad{url: url, rate: 200, maxInFlight: 200}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l.run(ctx, t)
	// 10 requests a simulated second of 2 s: 20 in flight, 6 per instance at 60%.
	peak := 0
	for _, r := range mustService(t, c, "api").Revisions {
		peak = max(peak, len(r.Instances))
	}
	if peak < 3 {
		t.Errorf("%d instances under load, want ≥ 3", peak)
	}
	if n := lcErrors(lcCount(l.snapshot(), 0, time.Hour)); n > 0 {
		t.Errorf("%d errors while scaling out", n)
	}
	for len(mustService(t, c, "api").Revisions[0].Instances) > 0 {
		_ = c.Clock().Sleep(context.Background(), time.Second) // min 0: idle instances go
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	cfg := lctest.Config(50, lctest.Service("api", lctest.Call("external_api"), lctest.Call("database"), lctest.Call("self")))
	cfg.Services[0].MinInstances = 2
	ctx := context.Background()
	c, err := Start(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	url, _ := c.ServiceURL("api")
	rev, _ := c.Deploy(ctx, "api", RevisionSpec{Traffic: []TrafficTarget{{Latest: true, Percent: 100, Tag: "next"}}})
	if _, err := c.WaitRevision(ctx, "api", rev); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for range 20 {
		get(t, client, url+"/", "")
	}
	client.CloseIdleConnections()
	st := mustService(t, c, "api")
	addrs := []string{strings.TrimPrefix(url, "http://"), c.ext.Addr(), c.db.publicAddr(), c.db.privateAddr()}
	for _, ts := range st.TrafficStatuses {
		if ts.URL != "" {
			addrs = append(addrs, strings.TrimPrefix(ts.URL, "http://"))
		}
	}
	for _, r := range st.Revisions {
		for _, in := range r.Instances {
			addrs = append(addrs, in.Addr)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Close(cctx); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, ignore)
	for _, a := range addrs {
		if conn, err := net.Dial("tcp", a); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Close", a)
		}
	}
	if _, err := c.Service("api"); !errors.Is(err, ErrClosed) {
		t.Errorf("Service after Close: %v, want ErrClosed", err)
	}
}

// Start takes a resolved section and sets no default itself: one nobody
// defaulted is rejected, not completed.
func TestStartRejectsUnresolved(t *testing.T) {
	var lc scenarios.LocalCloud
	lc.Services = []scenarios.CloudService{lctest.Service("api")}
	c, err := Start(context.Background(), lc, Options{})
	if !errors.Is(err, errUnresolved) || c != nil {
		t.Errorf("Start(undefaulted) = %v, %v; want errUnresolved", c, err)
	}
}
