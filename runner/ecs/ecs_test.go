package ecs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeNow is a clock for event stamps and claims: every call is one second
// later than the one before, from fakeBase.
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

// clock is a clock the test sets.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect returns a Driver for the fake's service, stamping with a
// fakeNow and polling every few milliseconds.
func connect(t *testing.T, f *fakeAWS) *Driver {
	t.Helper()
	return connectAt(t, f, (&fakeNow{}).now)
}

func connectAt(t *testing.T, f *fakeAWS, now func() time.Time) *Driver {
	t.Helper()
	d, err := New(context.Background(), Config{Region: fakeRegion, Cluster: fakeCluster, Service: fakeService,
		Endpoint: f.srv.URL, PollInterval: 5 * time.Millisecond, Now: now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// events records what a call reports.
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

// strip renders events as "kind details" for comparing.
func strip(evs []runner.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %v", e.Kind, e.Details))
	}
	return out
}

func checkEvents(t *testing.T, got []runner.Event, want ...runner.Event) {
	t.Helper()
	if !reflect.DeepEqual(strip(got), strip(want)) {
		t.Errorf("events:\n got %q\nwant %q", strip(got), strip(want))
	}
}

func ev(kind results.EventKind, kv ...string) runner.Event {
	d := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i]] = kv[i+1]
	}
	return runner.Event{Kind: kind, Details: d}
}

func service(t *testing.T, d *Driver) runner.Service {
	t.Helper()
	s, err := d.Service(testCtx(t))
	if err != nil {
		t.Fatalf("Service: %v", err)
	}
	return s
}

func TestServiceMapsTheService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		edit                func(*fakeAWS)
		wantReady, wantLast string
	}{
		{name: "one completed deployment", wantReady: "app:2", wantLast: "app:2"},
		{name: "a deployment in progress", edit: func(f *fakeAWS) {
			f.newDeployment(f.arn("app:1")).steps = -100 // stays in progress
		}, wantReady: "app:2", wantLast: "app:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*fakeAWS)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			f := newFake(t, edits...)
			s := service(t, connect(t, f))
			want := runner.Service{
				Name: f.serviceARN(), URL: f.srv.URL,
				LatestReadyRevision: tc.wantReady, LatestCreatedRevision: tc.wantLast,
				Traffic: []runner.TrafficTarget{{Revision: tc.wantLast, Percent: 100}},
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("Service:\n got %+v\nwant %+v", s, want)
			}
		})
	}
}

func TestLoadBalancerDimensions(t *testing.T) {
	t.Parallel()
	lb, tg, err := connect(t, newFake(t)).LoadBalancerDimensions(testCtx(t))
	if err != nil || lb != "app/app-lb/fedcba9876543210" || tg != "targetgroup/app-tg/0123456789abcdef" {
		t.Errorf("LoadBalancerDimensions = %q, %q, %v; want app/app-lb/fedcba9876543210, targetgroup/app-tg/0123456789abcdef", lb, tg, err)
	}
}

func TestNewNeedsTheService(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Region: "r"}, "cluster, service not set"},
		{Config{Region: "r", Cluster: "c", Service: "s", Endpoint: "127.0.0.1:4566"}, `endpoint "127.0.0.1:4566": want http://HOST:PORT`},
	} {
		if _, err := New(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// deadEndpoint returns a port on 127.0.0.1 that refuses connections.
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

// silentEndpoint returns a port on 127.0.0.1 that accepts connections and
// never answers.
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

// An API that cannot be reached is named as such, within a few seconds;
// a caller that gave up is not told the API is unreachable.
func TestUnreachableAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		endpoint func(*testing.T) string
		// cancelled: the caller's context is done before the calls.
		cancelled bool
		want      string // after "is unreachable: "; "" wants no UnreachableError
	}{
		{name: "refused", endpoint: deadEndpoint, want: "operation error ECS: "},
		{name: "no answer", endpoint: silentEndpoint, want: "no answer within 300ms: "},
		{name: "caller gave up", endpoint: silentEndpoint, cancelled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.endpoint(t)
			d, err := New(context.Background(), Config{Region: fakeRegion, Cluster: fakeCluster, Service: fakeService,
				Endpoint: "http://" + addr, CallTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			for _, c := range []struct {
				name string
				do   func() error
			}{
				{"Service", func() error { _, err := d.Service(ctx); return err }},
				{"SetTraffic", func() error { return d.SetTraffic(ctx, []runner.TrafficTarget{{Revision: "app:1", Percent: 100}}) }},
				{"Claim", func() error { return d.Claim(ctx, "run-a", time.Hour, false) }},
				{"Restore", func() error {
					return d.Restore(ctx, runner.RestoreSpec{RunID: "run-a", Split: []runner.TrafficTarget{{Revision: "app:1", Percent: 100}}})
				}},
				{"CheckImages", func() error { _, err := d.CheckImages(ctx, nil); return err }},
			} {
				began := time.Now()
				err := c.do()
				if took := time.Since(began); took > 10*time.Second {
					t.Errorf("%s took %v, want a few seconds at most", c.name, took)
				}
				if tc.want == "" {
					if err == nil || errors.Is(err, runner.ErrUnreachable) {
						t.Errorf("%s with a cancelled context: %v, want the cancellation, not unreachable", c.name, err)
					}
					continue
				}
				want := "the ECS API at " + addr + " is unreachable: " + tc.want
				t.Logf("%s: %v", c.name, err)
				var ue *runner.UnreachableError
				if !errors.Is(err, runner.ErrUnreachable) || !errors.As(err, &ue) || ue.Host != addr || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v\nwant errors.Is ErrUnreachable and %q", c.name, err, want+"…")
				}
				if strings.Contains(err.Error(), "Credential=") || strings.Contains(err.Error(), "Signature=") {
					t.Errorf("%s: %v shows the request's signature", c.name, err)
				}
			}
		})
	}
}
