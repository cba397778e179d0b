// Package cloudwatch is the runner's MetricSource over Amazon CloudWatch
// (github.com/aws/aws-sdk-go-v2/service/cloudwatch, GetMetricData): the
// Application Load Balancer's 5XX, 503 and 504 counts, request count,
// healthy and unhealthy hosts and target response time, and the ECS
// service's running tasks (Container Insights), over an explicit window
// aligned to the metric period, as results.Series oldest point first. It
// also says whether the answers cover the whole window yet: CloudWatch
// shows a period's datapoint only after an ingestion delay.
//
// It does not wait for the metrics to settle, correlate or judge them: the
// runner and runner/correlate do. The same code talks to AWS (the SDK's
// default credential chain) or to the local cloud's endpoint (static
// placeholder credentials): Config.Endpoint chooses.
package cloudwatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// apiName names the API in errors for people.
const apiName = "the CloudWatch API"

// defaultLocalRegion signs requests to an Endpoint when Config.Region is
// empty; a local endpoint ignores it.
const defaultLocalRegion = "us-east-1"

// Config names what a Source observes and how to reach the API.
type Config struct {
	// Region is the AWS region; empty with no Endpoint: the SDK's default
	// (AWS_REGION, the shared config).
	Region string
	// Endpoint is the API's base URL: "" = AWS with the SDK's default
	// credential chain (config.LoadDefaultConfig); else BaseEndpoint +
	// static credentials, no real creds.
	Endpoint string
	// LoadBalancer and TargetGroup are the CloudWatch dimension values of
	// the load balancer and its target group: app/NAME/ID and
	// targetgroup/NAME/ID. Empty: the queries that need them are left out.
	LoadBalancer, TargetGroup string
	// Cluster and Service name the ECS service (dimensions ClusterName and
	// ServiceName). Either empty: the running-tasks query is left out.
	Cluster, Service string
}

// Source is a runner.MetricSource over CloudWatch. Its methods are safe
// for concurrent use.
type Source struct {
	client  *cloudwatch.Client
	host    string
	queries []query
}

var _ runner.MetricSource = (*Source)(nil)

// New builds the queries cfg names and a CloudWatch client; it makes no
// call. optFns adjust the client's options after New has set them (a test
// turns retries off).
func New(ctx context.Context, cfg Config, optFns ...func(*cloudwatch.Options)) (*Source, error) {
	qs := queries(cfg)
	if len(qs) == 0 {
		return nil, errors.New("connect to cloudwatch: no queries: set LoadBalancer (and TargetGroup) or Cluster and Service")
	}
	s := &Source{queries: qs}
	var err error
	if cfg.Endpoint == "" {
		s.client, s.host, err = awsClient(ctx, cfg.Region, optFns)
	} else {
		s.client, s.host, err = localClient(cfg.Endpoint, cfg.Region, optFns)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to cloudwatch: %w", err)
	}
	return s, nil
}

// awsClient returns a client of AWS with the SDK's default configuration
// and credential chain, and the API's host.
func awsClient(ctx context.Context, region string, optFns []func(*cloudwatch.Options)) (*cloudwatch.Client, string, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("load the AWS configuration: %w", err)
	}
	c := cloudwatch.NewFromConfig(awsCfg, optFns...)
	host := "monitoring.amazonaws.com"
	if r := c.Options().Region; r != "" {
		host = "monitoring." + r + ".amazonaws.com"
	}
	return c, host, nil
}

// localClient returns a client of endpoint that signs with placeholder
// static credentials, and the endpoint's host.
func localClient(endpoint, region string, optFns []func(*cloudwatch.Options)) (*cloudwatch.Client, string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("endpoint %q is not an http(s) URL", endpoint)
	}
	c := cloudwatch.New(cloudwatch.Options{
		Region:       cmp.Or(region, defaultLocalRegion),
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, optFns...)
	return c, u.Host, nil
}

// Close releases the client's idle connections.
func (s *Source) Close() error {
	if c, ok := s.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// Queries returns the names of the queries Fetch runs, in order.
func (s *Source) Queries() []results.Query {
	out := make([]results.Query, len(s.queries))
	for i, q := range s.queries {
		out[i] = q.name
	}
	return out
}

// Fetch runs every query over the whole periods that hold [start, end), in
// one GetMetricData call (paged): the interval runs from start rounded down
// to a multiple of the period to end rounded up to one, the period being
// `period` rounded to whole seconds (at least one), as CloudWatch takes it.
// Each Series carries its query's name, MetricType namespace/metric
// (AWS/ApplicationELB/HTTPCode_ELB_504_Count) and the query's dimensions
// as Labels; points are oldest first, each over [Start, End) of its period.
//
// The load balancer publishes its counts and the response time only in
// periods with requests (sparse metrics); the host and task counts are
// gauges published every period. Within the range the answers are known to
// cover (up to the newest gauge point of the namespace, or the newest
// sparse point when no gauge has data), a count's period without a point
// is zero, and a count query with no point at all is a series of zeros.
// Gauges and the response time are not filled.
//
// Covered reports whether the answers reach end, by runner/monitoring's
// rule: within a namespace (whose metrics share an ingestion delay) every
// gauge query with data must have a point ending at or after end; a
// namespace without gauge data falls back to its sparse queries with data
// (zero-filled points do not count). When no query has data, Fetch is not
// covered. A query CloudWatch could not answer (StatusCode InternalError or
// Forbidden) is left out, its failure joined into the error, and covered is
// false.
func (s *Source) Fetch(ctx context.Context, start, end time.Time, period time.Duration) ([]results.Series, bool, error) {
	if period <= 0 {
		return nil, false, fmt.Errorf("fetch metrics: period %v is not positive", period)
	}
	if !start.Before(end) {
		return nil, false, fmt.Errorf("fetch metrics: window [%s, %s) is empty",
			start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	p := max(period.Round(time.Second), time.Second)
	from, to := alignWindow(start, end, p)
	answers, err := s.getMetricData(ctx, from, to, p)
	if err != nil {
		return nil, false, err
	}
	var errs []error
	for i, a := range answers {
		if a.failure != "" {
			errs = append(errs, fmt.Errorf("fetch metrics: query %q: %s", s.queries[i].name, a.failure))
		}
	}
	out, covered := s.series(answers, from, end, p)
	if err := errors.Join(errs...); err != nil {
		return out, false, err
	}
	return out, covered, nil
}

// answer is what GetMetricData returned for one query, points oldest first.
type answer struct {
	points  []results.Point
	failure string // why CloudWatch could not answer it
}

// getMetricData runs every query over [from, to) in one paged call.
func (s *Source) getMetricData(ctx context.Context, from, to time.Time, p time.Duration) ([]answer, error) {
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(from),
		EndTime:   aws.Time(to),
		ScanBy:    types.ScanByTimestampAscending,
	}
	secs := int32(p / time.Second)
	index := make(map[string]int, len(s.queries)) // query Id → its index
	for i, q := range s.queries {
		id := "q" + strconv.Itoa(i)
		index[id] = i
		in.MetricDataQueries = append(in.MetricDataQueries, types.MetricDataQuery{
			Id:    aws.String(id),
			Label: aws.String(string(q.name)),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{Namespace: aws.String(q.namespace), MetricName: aws.String(q.metric), Dimensions: q.dims},
				Period: aws.Int32(secs),
				Stat:   aws.String(string(q.stat)),
			},
			ReturnData: aws.Bool(true),
		})
	}
	answers := make([]answer, len(s.queries))
	pages := cloudwatch.NewGetMetricDataPaginator(s.client, in)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, s.callError(ctx, err)
		}
		for _, r := range out.MetricDataResults {
			if i, ok := index[aws.ToString(r.Id)]; ok {
				answers[i].add(r, p)
			}
		}
	}
	for i := range answers {
		slices.SortStableFunc(answers[i].points, func(a, b results.Point) int { return a.Start.Compare(b.Start) })
	}
	return answers, nil
}

// add appends one page's result.
func (a *answer) add(r types.MetricDataResult, p time.Duration) {
	for i, t := range r.Timestamps {
		if i >= len(r.Values) {
			break
		}
		t = t.UTC()
		a.points = append(a.points, results.Point{Start: t, End: t.Add(p), Value: r.Values[i]})
	}
	switch r.StatusCode {
	case types.StatusCodeInternalError, types.StatusCodeForbidden:
		a.failure = "status " + string(r.StatusCode)
		for _, m := range r.Messages {
			a.failure += ": " + aws.ToString(m.Code) + " " + aws.ToString(m.Value)
		}
	}
}

// callError names the call's failure: a request that never got an answer,
// while ctx still allowed it, is a *runner.UnreachableError; a request the
// API refused for good (bad input, no permission) is marked
// runner.ErrMetricsRejected.
func (s *Source) callError(ctx context.Context, err error) error {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) && ctx.Err() == nil {
		return fmt.Errorf("fetch metrics: %w", &runner.UnreachableError{API: apiName, Host: s.host, Err: err})
	}
	var api smithy.APIError
	if errors.As(err, &api) && rejected(api.ErrorCode()) {
		err = fmt.Errorf("%w: %w", runner.ErrMetricsRejected, err)
	}
	return fmt.Errorf("fetch metrics: get metric data: %w", err)
}

// rejected reports whether an API error code means a request no retry
// mends.
func rejected(code string) bool {
	switch code {
	case "InvalidParameterValue", "InvalidParameterValueException",
		"InvalidParameterCombination", "InvalidParameterCombinationException",
		"MissingParameter", "MissingRequiredParameterException", "ValidationError",
		"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
		"InvalidClientTokenId", "UnknownOperationException":
		return true
	}
	return false
}

// alignWindow returns the whole periods holding [start, end): start rounded
// down and end rounded up to multiples of period (since the zero time,
// which for whole seconds is the same as since the Unix epoch).
func alignWindow(start, end time.Time, period time.Duration) (from, to time.Time) {
	from = start.Truncate(period)
	to = end.Truncate(period)
	if to.Before(end) {
		to = to.Add(period)
	}
	return from.UTC(), to.UTC()
}
