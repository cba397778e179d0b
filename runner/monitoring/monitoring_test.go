package monitoring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// natScenario is a local cloud whose NAT runs out: one service on two
// instances with 32 NAT ports each, every request opening a new connection
// to the external API (5 s simulated, so hundreds are open at once), and
// TIME_WAIT holding each closed 5-tuple for 120 s. At time scale 60 a
// simulated minute, the metric period, is one wall second; the ingestion
// lags are three periods, so a fetch right after the load cannot be
// covered yet, and is soon after.
const natScenario = `
version: 1
name: monitoring-source
target:
  url: ""
load:
  requests: [{path: /}]
  rate: 100/s
  duration: 2s
localcloud:
  time_scale: 60
  project: mon-project
  region: asia-northeast1
  seed: 1
  nat:
    router: test-router
    gateway: test-gateway
    min_ports_per_vm: 32
  external_api:
    latency: 5s
  metrics:
    lag_nat: 180s
    lag_run: 180s
  services:
    - name: api
      image: gcr.io/demo/api:v1
      min_instances: 2
      max_instances: 2
      concurrency: 250
      cold_start: 1s
      app:
        server_time: 100ms
        connect_timeout: 10s
        calls:
          - {to: external_api, keepalive: false}
`

// env is a running local cloud with its control plane on loopback.
type env struct {
	cloud *localcloud.Cloud
	plane *gcp.ControlPlane
	cfg   scenarios.LocalCloud
	// period is the metric period on the wall clock.
	period time.Duration
}

func startEnv(t *testing.T) *env {
	t.Helper()
	sc, err := scenarios.Parse("monitoring-source.yaml", []byte(natScenario))
	if err != nil {
		t.Fatalf("parse scenario: %v", err)
	}
	cloud, plane := localcloudtest.Start(t, sc.LocalCloud)
	if !strings.HasPrefix(plane.Addr(), "127.0.0.1:") {
		t.Fatalf("control plane on %q, want loopback", plane.Addr())
	}
	return &env{cloud: cloud, plane: plane, cfg: cloud.Config(), period: cloud.Recorder().Period()}
}

// connect returns a Source for the env's service and gateway through the
// real client, closed at cleanup.
func (e *env) connect(t *testing.T, queries []Query) *Source {
	t.Helper()
	s, err := New(context.Background(), Config{
		Project: e.cloud.Project(), Region: e.cloud.Region(), Service: "api",
		Router: e.cfg.NAT.Router, Gateway: e.cfg.NAT.Gateway,
		Queries: queries,
	}, gcp.ClientOptions(e.plane.Addr())...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// burst sends total GET requests to url from workers goroutines at once,
// loopback only, and counts the responses by status class ("2xx", "5xx")
// or "transport" for a request that got no response.
func burst(ctx context.Context, t *testing.T, url string, workers, total int) map[string]int64 {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("service URL %q is not on loopback", url)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var (
		mu     sync.Mutex
		counts = map[string]int64{}
		wg     sync.WaitGroup
		next   = make(chan struct{}, total)
	)
	for range total {
		next <- struct{}{}
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				class := "transport"
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
				if err != nil {
					t.Error(err)
					return
				}
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					class = fmt.Sprintf("%dxx", resp.StatusCode/100)
				}
				mu.Lock()
				counts[class]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts
}

func sum(s results.Series) float64 {
	var n float64
	for _, p := range s.Points {
		n += p.Value
	}
	return n
}

func byQuery(series []results.Series) map[results.Query][]results.Series {
	m := map[results.Query][]results.Series{}
	for _, s := range series {
		m[s.Query] = append(m[s.Query], s)
	}
	return m
}

// A load that exhausts the NAT's ports, read back through the real
// Monitoring client: the drops by reason and the request counts by class
// and revision match what happened, on the period grid, oldest first; the
// window is not covered until the ingestion lag has passed, and then it is.
func TestFetchFromLocalCloud(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	src := e.connect(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	P := e.period
	if sim := e.cloud.Clock().Simulated(P); sim != time.Minute {
		t.Fatalf("metric period %v (%v simulated), want a simulated minute", P, sim)
	}
	url, err := e.cloud.ServiceURL("api")
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.cloud.Service("api")
	if err != nil {
		t.Fatal(err)
	}
	revision := st.LatestReadyRevision

	start := time.Now()
	counts := burst(ctx, t, url, 300, 1500)
	end := time.Now()
	drops := e.cloud.NAT().Stats().Drops[localcloud.ReasonOutOfResources]
	t.Logf("load %v: %v; NAT drops %d", end.Sub(start).Round(time.Millisecond), counts, drops)
	if drops == 0 || counts["2xx"] == 0 || counts["5xx"] == 0 || counts["transport"] != 0 {
		t.Fatalf("the load gave %v and %d NAT drops; want 2xx, 5xx, no transport errors and drops", counts, drops)
	}

	// Right after the load, the last periods are inside the ingestion lag.
	series, covered, err := src.Fetch(ctx, start, end, P)
	if err != nil {
		t.Fatalf("Fetch right after the load: %v", err)
	}
	if covered {
		t.Fatalf("Fetch right after the load (lag %v) is covered; newest points %v",
			e.cloud.Recorder().Lag(MetricNATDroppedSent), describe(series))
	}

	// The local cloud's sample periods start at its own start, not on the
	// period grid, so the sample holding the load's last requests can end
	// up to a period after end: ask one more period to see all of them.
	fetchEnd := end.Add(P)
	series = e.fetchCovered(ctx, t, src, start, fetchEnd)
	t.Logf("covered %v after the load", time.Since(end).Round(time.Millisecond))

	from, to := alignWindow(start, fetchEnd, P)
	qs := byQuery(series)
	for _, name := range src.Queries() {
		if len(qs[name]) == 0 {
			t.Errorf("query %s has no series", name)
		}
	}
	for _, s := range series {
		checkGrid(t, s, P, from, to)
	}
	checkFetchedBurst(t, qs, drops, counts, revision)
}

// fetchCovered fetches [start, end] every quarter period until the answer
// covers it, and returns that answer; it fails the test when twice the
// ingestion lag and ten periods more have passed first.
func (e *env) fetchCovered(ctx context.Context, t *testing.T, src *Source, start, end time.Time) []results.Series {
	t.Helper()
	P := e.period
	deadline := time.Now().Add(2*e.cloud.Recorder().Lag(MetricNATDroppedSent) + 10*P + 5*time.Second)
	tick := time.NewTicker(P / 4)
	defer tick.Stop()
	for polls := 1; ; polls++ {
		series, covered, err := src.Fetch(ctx, start, end, P)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if covered {
			t.Logf("covered after %d fetches", polls)
			return series
		}
		if time.Now().After(deadline) {
			t.Fatalf("never covered after %d fetches; newest points %v", polls, describe(series))
		}
		<-tick.C
	}
}

// checkFetchedBurst checks the series of a burst against what it did: the
// NAT drops (drops of them), no allocation failure, new connections, and
// the request counts by class (counts) of the one revision.
func checkFetchedBurst(t *testing.T, qs map[results.Query][]results.Series, drops int64, counts map[string]int64, revision string) {
	t.Helper()
	// NAT drops: one series, by reason, every drop of the run.
	if got := qs[results.QueryNATDroppedSent]; len(got) != 1 || len(got[0].Labels) != 1 ||
		got[0].Labels["reason"] != localcloud.ReasonOutOfResources || sum(got[0]) != float64(drops) ||
		got[0].MetricType != MetricNATDroppedSent {
		t.Errorf("nat_dropped_sent = %v, want one OUT_OF_RESOURCES series summing to %d", got, drops)
	}
	// No allocation failure: every endpoint got its block.
	for _, s := range qs[results.QueryNATAllocationFailed] {
		if sum(s) != 0 {
			t.Errorf("nat_allocation_failed = %v, want 0 throughout", s.Points)
		}
	}
	if got := qs[results.QueryNATNewConnections]; len(got) != 1 || sum(got[0]) == 0 {
		t.Errorf("nat_new_connections = %v, want one series with connections", got)
	}
	// Request counts: by class and revision, as the clients saw them.
	byClass := map[string]float64{}
	for _, s := range qs[results.QueryRunRequestCount] {
		if len(s.Labels) != 1 || s.Resource["revision_name"] != revision || len(s.Resource) != 1 {
			t.Errorf("run_request_count series labels %v resource %v, want response_code_class and revision %s", s.Labels, s.Resource, revision)
		}
		byClass[s.Labels["response_code_class"]] += sum(s)
	}
	if byClass["2xx"] != float64(counts["2xx"]) || byClass["5xx"] != float64(counts["5xx"]) || len(byClass) != 2 {
		t.Errorf("run_request_count by class %v, want 2xx %d and 5xx %d", byClass, counts["2xx"], counts["5xx"])
	}
	for _, s := range qs[results.QueryRunInstanceCount] {
		if state := s.Labels["state"]; state != "active" && state != "idle" || s.Resource["revision_name"] != revision {
			t.Errorf("run_instance_count series labels %v resource %v", s.Labels, s.Resource)
		}
	}
}

// checkGrid checks a series' points are oldest first, each one period on
// the period grid, inside [from, to].
func checkGrid(t *testing.T, s results.Series, P time.Duration, from, to time.Time) {
	t.Helper()
	for i, p := range s.Points {
		if p.End.Sub(p.Start) != P || !p.End.Truncate(P).Equal(p.End) || p.Start.Before(from) || p.End.After(to) ||
			i > 0 && !p.End.After(s.Points[i-1].End) {
			t.Errorf("%s %v point %d [%v, %v) is not a period on the grid inside [%v, %v], oldest first",
				s.Query, s.Labels, i, p.Start, p.End, from, to)
			return
		}
	}
}

// describe lists each query's newest point end, for a failure message.
func describe(series []results.Series) string {
	newest := map[results.Query]time.Time{}
	for _, s := range series {
		if n := newestEnd([]results.Series{s}); n.After(newest[s.Query]) {
			newest[s.Query] = n
		}
	}
	var parts []string
	for q, n := range newest {
		parts = append(parts, string(q)+"@"+n.Format("15:04:05.000"))
	}
	return strings.Join(parts, " ")
}

// A query the API rejects fails the fetch with an error that names it and
// keeps the API's status; the other queries' series still come back.
func TestFetchBadQuery(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	natFilter := DefaultQueries(Config{Gateway: e.cfg.NAT.Gateway})[0].Filter
	src := e.connect(t, []Query{
		{Name: "ports", MetricType: MetricNATAllocatedPorts, Filter: natFilter, Aligner: "max", Reducer: "sum"},
		{Name: "gateway_prefix", MetricType: MetricNATDroppedSent, Filter: `starts_with(resource.labels.gateway_name, "test")`},
		{Name: "bool_max", MetricType: MetricNATAllocFailed, Filter: natFilter, Aligner: "ALIGN_MAX"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The NAT sets its gauges at start: wait (bounded) until they show.
	now := e.cloud.Clock().Now
	start := now().Add(-time.Minute)
	deadline := now().Add(2*e.cloud.Recorder().Lag(MetricNATAllocatedPorts) + 10*e.period + 5*time.Second)
	tick := time.NewTicker(e.period / 4)
	defer tick.Stop()
	for {
		series, covered, err := src.Fetch(ctx, start, now(), e.period)
		for _, want := range []string{`query "gateway_prefix"`, "starts_with", `query "bool_max"`, "ALIGN_MAX"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Fetch error %v, want one containing %q", err, want)
			}
		}
		if strings.Contains(err.Error(), `query "ports"`) {
			t.Fatalf("Fetch error %v names the valid query", err)
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("status code %v, want InvalidArgument", status.Code(err))
		}
		if !errors.Is(err, runner.ErrMetricsRejected) {
			t.Errorf("Fetch error %v is not runner.ErrMetricsRejected: the runner would retry a bad query until max_wait", err)
		}
		if covered {
			t.Fatal("a failed fetch says it is covered")
		}
		if len(series) > 0 {
			if series[0].Query != "ports" || sum(series[0]) == 0 {
				t.Errorf("series %+v, want the ports query's", series)
			}
			break
		}
		if now().After(deadline) {
			t.Fatal("the valid query never returned data")
		}
		<-tick.C
	}

	// A project the API does not know, and a fetch whose context is done.
	other, err := New(ctx, Config{Project: "other-project"}, gcp.ClientOptions(e.plane.Addr())...)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, _, err = other.Fetch(ctx, now().Add(-time.Minute), now(), e.period)
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `query "`+string(results.QueryNATDroppedSent)+`"`) {
		t.Errorf("fetch from another project: %v, want NotFound naming the first query", err)
	}
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	_, _, err = src.Fetch(done, now().Add(-time.Minute), now(), e.period)
	if !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
		t.Errorf("fetch with a cancelled context: %v, want canceled", err)
	}
	if strings.Count(err.Error(), "query ") != 1 {
		t.Errorf("fetch with a cancelled context ran on after the first failure: %v", err)
	}
}

// The metric and resource types are the ones the local cloud records (it
// uses the real names; this package cannot import it outside tests).
func TestMetricTypesMatchLocalCloud(t *testing.T) {
	t.Parallel()
	pairs := [][2]string{
		{MetricNATDroppedSent, localcloud.MetricNATDroppedSent},
		{MetricNATAllocFailed, localcloud.MetricNATAllocFailed},
		{MetricNATAllocatedPorts, localcloud.MetricNATAllocatedPorts},
		{MetricNATPortUsage, localcloud.MetricNATPortUsage},
		{MetricNATOpenConnections, localcloud.MetricNATOpenConns},
		{MetricNATNewConnections, localcloud.MetricNATNewConns},
		{MetricRunRequestCount, localcloud.MetricRunRequestCount},
		{MetricRunInstanceCount, localcloud.MetricRunInstanceCount},
		{ResourceNATGateway, localcloud.ResourceNATGateway},
		{ResourceRunRevision, localcloud.ResourceRunRevision},
	}
	for _, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("%q here, %q in the local cloud", p[0], p[1])
		}
	}
}
