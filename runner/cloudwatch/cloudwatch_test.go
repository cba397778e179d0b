package cloudwatch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/runner/cloudwatch"
)

// The store's period and lag are 60 s at time scale 10: 6 s of wall time.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	period = 6 * time.Second
	lb     = "app/web/0123456789abcdef"
	tg     = "targetgroup/web/fedcba9876543210"
)

var (
	lbDims   = []cw.Dimension{{Name: "LoadBalancer", Value: lb}}
	tgDims   = []cw.Dimension{{Name: "TargetGroup", Value: tg}, {Name: "LoadBalancer", Value: lb}}
	taskDims = []cw.Dimension{{Name: "ClusterName", Value: "prod"}, {Name: "ServiceName", Value: "web"}}
	config   = cloudwatch.Config{Region: "ap-northeast-1", LoadBalancer: lb, TargetGroup: tg, Cluster: "prod", Service: "web"}
)

// world is a store served over loopback as the local cloud serves it.
type world struct {
	store *cw.Store
	clk   *clock.Fake
	url   string
}

func newWorld(t *testing.T) *world {
	clk := clock.NewFake(epoch, 10)
	w := &world{store: cw.NewStore(clk, time.Minute, time.Minute), clk: clk}
	srv := httptest.NewServer(cw.Handler(w.store))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

// publish puts what the load balancer and ECS would over four periods
// [0, 24s): hosts and tasks every second; requests in periods 0 and 2
// only, the 504s and response times with them in period 2.
func (w *world) publish() {
	for s := range 24 {
		at := epoch.Add(time.Duration(s) * time.Second)
		w.store.Put("AWS/ApplicationELB", "HealthyHostCount", tgDims, at, 1, "Count")
		w.store.Put("AWS/ApplicationELB", "UnHealthyHostCount", tgDims, at, 2, "Count")
		w.store.Put("ECS/ContainerInsights", "RunningTaskCount", taskDims, at, 3, "Count")
		if p := s / 6; p == 0 || p == 2 {
			w.store.Put("AWS/ApplicationELB", "RequestCount", lbDims, at, 1, "Count")
			w.store.Put("AWS/ApplicationELB", "TargetResponseTime", lbDims, at, 0.25, "Seconds")
		}
		if s/6 == 2 {
			w.store.Put("AWS/ApplicationELB", "HTTPCode_ELB_504_Count", lbDims, at, 1, "Count")
			w.store.Put("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lbDims, at, 1, "Count")
		}
	}
}

// noRetry makes a failed call fail at once.
func noRetry(o *sdk.Options) { o.Retryer = aws.NopRetryer{} }

func newSource(t *testing.T, cfg cloudwatch.Config) *cloudwatch.Source {
	t.Helper()
	src, err := cloudwatch.New(context.Background(), cfg, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// values returns each series' point values by query, and checks that the
// points of every series but the response time's (a gauge with gaps) sit on
// the period grid from epoch, one per period.
func values(t *testing.T, series []results.Series) map[results.Query][]float64 {
	t.Helper()
	out := map[results.Query][]float64{}
	for _, s := range series {
		for i, p := range s.Points {
			if s.Query == results.QueryALBResponseTime {
				out[s.Query] = append(out[s.Query], p.Value)
				continue
			}
			if want := epoch.Add(time.Duration(i) * period); !p.Start.Equal(want) || !p.End.Equal(want.Add(period)) {
				t.Errorf("%s point %d over [%v, %v), want [%v, %v)", s.Query, i, p.Start, p.End, want, want.Add(period))
			}
			out[s.Query] = append(out[s.Query], p.Value)
		}
	}
	return out
}

func TestFetchFillsCountsAndCoversOnceTheLagPassed(t *testing.T) {
	w := newWorld(t)
	w.publish()
	cfg := config
	cfg.Endpoint = w.url
	src := newSource(t, cfg)
	end := epoch.Add(23 * time.Second) // the run ends inside period 3
	tests := []struct {
		now     time.Duration
		covered bool
		want    map[results.Query][]float64
	}{
		// Periods 0–2 are readable (their end + 6 s lag has passed),
		// period 3 is not: not covered; the counts are zero where the
		// gauges show data but the load balancer published nothing.
		{24 * time.Second, false, map[results.Query][]float64{
			results.QueryALB5XX:            {0, 0, 6},
			results.QueryALB503:            {0, 0, 0},
			results.QueryALB504:            {0, 0, 6},
			results.QueryALBRequestCount:   {6, 0, 6},
			results.QueryALBHealthyHosts:   {1, 1, 1},
			results.QueryALBUnhealthyHosts: {2, 2, 2},
			results.QueryALBResponseTime:   {0.25, 0.25},
			results.QueryECSRunningTasks:   {3, 3, 3},
		}},
		{30 * time.Second, true, map[results.Query][]float64{
			results.QueryALB5XX:            {0, 0, 6, 0},
			results.QueryALB503:            {0, 0, 0, 0},
			results.QueryALB504:            {0, 0, 6, 0},
			results.QueryALBRequestCount:   {6, 0, 6, 0},
			results.QueryALBHealthyHosts:   {1, 1, 1, 1},
			results.QueryALBUnhealthyHosts: {2, 2, 2, 2},
			results.QueryALBResponseTime:   {0.25, 0.25},
			results.QueryECSRunningTasks:   {3, 3, 3, 3},
		}},
	}
	for _, tt := range tests {
		w.clk.Advance(epoch.Add(tt.now).Sub(w.clk.Now()))
		series, covered, err := src.Fetch(context.Background(), epoch.Add(time.Second), end, period)
		if err != nil {
			t.Fatalf("at %v: %v", tt.now, err)
		}
		if covered != tt.covered {
			t.Errorf("at %v: covered = %v, want %v", tt.now, covered, tt.covered)
		}
		got := values(t, series)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("at %v: values\n got %v\nwant %v", tt.now, got, tt.want)
		}
		if tt.now == 24*time.Second {
			continue
		}
		// The response time is a gauge: periods 1 and 3 have no point.
		for _, s := range series {
			if s.Query == results.QueryALBResponseTime && (!s.Points[1].Start.Equal(epoch.Add(2*period)) || len(s.Points) != 2) {
				t.Errorf("response time points %v, want periods 0 and 2 only", s.Points)
			}
		}
	}
}

func TestFetchNamesSeriesAfterTheirMetric(t *testing.T) {
	w := newWorld(t)
	w.publish()
	w.clk.Advance(time.Minute)
	cfg := config
	cfg.Endpoint = w.url
	series, _, err := newSource(t, cfg).Fetch(context.Background(), epoch, epoch.Add(24*time.Second), period)
	if err != nil {
		t.Fatal(err)
	}
	want := map[results.Query]string{
		results.QueryALB504:          "AWS/ApplicationELB/HTTPCode_ELB_504_Count LoadBalancer=" + lb,
		results.QueryALBHealthyHosts: "AWS/ApplicationELB/HealthyHostCount LoadBalancer=" + lb + " TargetGroup=" + tg,
		results.QueryECSRunningTasks: "ECS/ContainerInsights/RunningTaskCount ClusterName=prod ServiceName=web",
	}
	for _, s := range series {
		w, ok := want[s.Query]
		if !ok {
			continue
		}
		var labels []string
		for k, v := range s.Labels {
			labels = append(labels, k+"="+v)
		}
		slices.Sort(labels)
		if got := s.MetricType + " " + strings.Join(labels, " "); got != w {
			t.Errorf("%s: %q, want %q", s.Query, got, w)
		}
		delete(want, s.Query)
	}
	if len(want) > 0 {
		t.Errorf("no series for %v", want)
	}
}

func TestFetchWithoutDataIsNotCovered(t *testing.T) {
	w := newWorld(t)
	cfg := config
	cfg.Endpoint = w.url
	series, covered, err := newSource(t, cfg).Fetch(context.Background(), epoch, epoch.Add(time.Minute), period)
	if err != nil || covered || len(series) != 0 {
		t.Errorf("Fetch of an empty store = %v, %v, %v; want no series, not covered, no error", series, covered, err)
	}
}

func TestNewLeavesOutQueriesItHasNoNamesFor(t *testing.T) {
	tests := []struct {
		cfg  cloudwatch.Config
		want []results.Query
	}{
		{cloudwatch.Config{LoadBalancer: lb}, []results.Query{results.QueryALB5XX, results.QueryALB503, results.QueryALB504,
			results.QueryALBRequestCount, results.QueryALBResponseTime}},
		{cloudwatch.Config{Cluster: "prod", Service: "web"}, []results.Query{results.QueryECSRunningTasks}},
		{config, []results.Query{results.QueryALB5XX, results.QueryALB503, results.QueryALB504, results.QueryALBRequestCount,
			results.QueryALBHealthyHosts, results.QueryALBUnhealthyHosts, results.QueryALBResponseTime, results.QueryECSRunningTasks}},
	}
	for _, tt := range tests {
		tt.cfg.Endpoint = "http://127.0.0.1:1"
		if got := newSource(t, tt.cfg).Queries(); !slices.Equal(got, tt.want) {
			t.Errorf("%+v: queries %v, want %v", tt.cfg, got, tt.want)
		}
	}
	for _, cfg := range []cloudwatch.Config{{Endpoint: "http://127.0.0.1:1", Cluster: "prod"}, {Endpoint: "ftp://x", LoadBalancer: lb}} {
		if _, err := cloudwatch.New(context.Background(), cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

func TestFetchOfAnUnreachableAPI(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close() // nothing listens there any more
	cfg := config
	cfg.Endpoint = url
	_, covered, err := newSource(t, cfg).Fetch(context.Background(), epoch, epoch.Add(time.Minute), period)
	var ue *runner.UnreachableError
	if !errors.Is(err, runner.ErrUnreachable) || !errors.As(err, &ue) || ue.API != "the CloudWatch API" ||
		ue.Host != strings.TrimPrefix(url, "http://") || covered {
		t.Errorf("Fetch = %v (covered %v), want a runner.UnreachableError for %s", err, covered, url)
	}
}

func TestFetchOfAPeriodTheAPIRejects(t *testing.T) {
	w := newWorld(t)
	cfg := config
	cfg.Endpoint = w.url
	// 4 s is not a multiple of the store's 6-second period.
	_, _, err := newSource(t, cfg).Fetch(context.Background(), epoch, epoch.Add(time.Minute), 4*time.Second)
	if !errors.Is(err, runner.ErrMetricsRejected) || errors.Is(err, runner.ErrUnreachable) {
		t.Errorf("Fetch = %v, want runner.ErrMetricsRejected", err)
	}
}

// client returns an SDK client of the world's endpoint, as a user of the
// local cloud would build it.
func (w *world) client() *sdk.Client {
	return sdk.New(sdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(w.url),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      aws.NopRetryer{},
	})
}

func rcQuery(id string, periodSecs int32) types.MetricDataQuery {
	return types.MetricDataQuery{
		Id: aws.String(id),
		MetricStat: &types.MetricStat{
			Metric: &types.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String("HealthyHostCount"),
				Dimensions: []types.Dimension{{Name: aws.String("LoadBalancer"), Value: aws.String(lb)}, {Name: aws.String("TargetGroup"), Value: aws.String(tg)}}},
			Period: aws.Int32(periodSecs),
			Stat:   aws.String("SampleCount"),
		},
	}
}

func TestGetMetricDataPagesOverCBOR(t *testing.T) {
	w := newWorld(t)
	w.publish()
	w.clk.Advance(time.Minute)
	in := &sdk.GetMetricDataInput{
		StartTime:         aws.Time(epoch),
		EndTime:           aws.Time(epoch.Add(24 * time.Second)),
		MetricDataQueries: []types.MetricDataQuery{rcQuery("a", 6), rcQuery("b", 12)}, // 4 and 2 points
		MaxDatapoints:     aws.Int32(4),
	}
	pages := sdk.NewGetMetricDataPaginator(w.client(), in)
	var got []string
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.MetricDataResults {
			var ts []string
			for i, at := range r.Timestamps {
				ts = append(ts, fmt.Sprintf("%ds=%g", at.Unix()-epoch.Unix(), r.Values[i]))
			}
			got = append(got, fmt.Sprintf("%s %s %v", *r.Id, r.StatusCode, ts))
		}
		got = append(got, "|")
	}
	// Newest first; the first page holds a's 4 points, the second b's 2.
	want := []string{
		"a Complete [18s=6 12s=6 6s=6 0s=6]", "b PartialData []", "|",
		"a Complete []", "b Complete [12s=12 0s=12]", "|",
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages\n got %q\nwant %q", got, want)
	}
}

func TestGetMetricDataErrorsOverCBOR(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name    string
		query   types.MetricDataQuery
		message string
	}{
		{"period", rcQuery("a", 7), "not a positive multiple"},
		{"expression", types.MetricDataQuery{Id: aws.String("e"), Expression: aws.String("SUM(METRICS())")},
			"expressions are not supported by the local cloud"},
	}
	for _, tt := range tests {
		_, err := w.client().GetMetricData(context.Background(), &sdk.GetMetricDataInput{
			StartTime: aws.Time(epoch), EndTime: aws.Time(epoch.Add(time.Minute)),
			MetricDataQueries: []types.MetricDataQuery{tt.query},
		})
		var ipv *types.InvalidParameterValueException
		var api smithy.APIError
		if !errors.As(err, &ipv) || !errors.As(err, &api) || api.ErrorCode() != "InvalidParameterValue" ||
			api.ErrorFault() != smithy.FaultClient || !strings.Contains(api.ErrorMessage(), tt.message) {
			t.Errorf("%s: err = %v; want an InvalidParameterValueException, code InvalidParameterValue, message with %q", tt.name, err, tt.message)
		}
	}
}

func TestListMetricsOverCBOR(t *testing.T) {
	w := newWorld(t)
	w.publish()
	out, err := w.client().ListMetrics(context.Background(), &sdk.ListMetricsInput{
		Namespace:  aws.String("AWS/ApplicationELB"),
		Dimensions: []types.DimensionFilter{{Name: aws.String("TargetGroup")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out.Metrics {
		got = append(got, fmt.Sprintf("%s %d", *m.MetricName, len(m.Dimensions)))
	}
	if want := []string{"HealthyHostCount 2", "UnHealthyHostCount 2"}; !slices.Equal(got, want) {
		t.Errorf("ListMetrics = %v, want %v", got, want)
	}
}

// A query CloudWatch could not answer is named in the error; the others
// still come back.
func TestFetchReportsAQueryCloudWatchCouldNotAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := func(d time.Duration) cbor.Value { return &cbor.Tag{ID: 1, Value: cbor.Float64(epoch.Add(d).Unix())} }
		body := cbor.Encode(cbor.Map{"MetricDataResults": cbor.List{
			cbor.Map{"Id": cbor.String("q0"), "StatusCode": cbor.String("InternalError"),
				"Messages": cbor.List{cbor.Map{"Code": cbor.String("InternalError"), "Value": cbor.String("try again")}}},
			cbor.Map{"Id": cbor.String("q1"), "StatusCode": cbor.String("Complete"),
				"Timestamps": cbor.List{ts(0), ts(period)}, "Values": cbor.List{cbor.Float64(1), cbor.Float64(2)}},
		}})
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	src := newSource(t, cloudwatch.Config{Endpoint: srv.URL, LoadBalancer: lb})
	series, covered, err := src.Fetch(context.Background(), epoch, epoch.Add(2*period), period)
	if err == nil || !strings.Contains(err.Error(), `query "alb_elb_5xx": status InternalError: InternalError try again`) || covered {
		t.Errorf("Fetch error = %v (covered %v), want the 5xx query's failure", err, covered)
	}
	got := values(t, series)
	if fmt.Sprint(got[results.QueryALB503]) != "[1 2]" || got[results.QueryALB5XX] != nil {
		t.Errorf("series %v, want the 503 query's [1 2] and no 5xx series", got)
	}
}

// Without an Endpoint, New builds a client of AWS from the SDK's default
// configuration (isolated here from the machine's) without calling it.
func TestNewForAWSMakesNoCall(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	src, err := cloudwatch.New(context.Background(), cloudwatch.Config{Region: "ap-northeast-1", LoadBalancer: lb})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(src.Queries()); got != 5 {
		t.Errorf("%d queries, want 5", got)
	}
	if err := src.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
