// Package ecs is the runner's Platform over an Amazon ECS service behind an
// Application Load Balancer, through the AWS APIs (aws-sdk-go-v2: ECS, ECR,
// Elastic Load Balancing v2): it reads the service, deploys by registering
// a new revision of the task definition and pointing the service at it,
// follows the deployment's rollout state (and, when it fails, names the
// stopped task's reason, such as CannotPullContainerError), and puts the
// service back on a task definition a run recorded. A run claims the
// service (runner.Claimer) in the service's own tags, so that a second run,
// in any process, sees it.
//
// ECS has no traffic split: a service runs one task definition, and a
// "revision" here is a task definition's FAMILY:REVISION ("app:3"). A split
// is one revision at 100%; anything else is refused, as are the Cloud Run
// deploy options that need one (no-traffic deploys, tags, revision
// suffixes).
//
// Beyond runner.Platform it is a runner.Waiter, a runner.Watcher (stopped
// tasks, service events and deployment states onto the run's timeline), a
// runner.Chaoser (stop-task, scale, and the local cloud's
// fail-health-check) and a runner.ImageGuard (the preflight check of
// incident 001: an image a task definition names that ECR no longer has,
// or that its lifecycle policy will expire).
//
// Every call gets an answer within Config.CallTimeout or fails; a call
// that cannot reach its API (refused, reset, no answer in time) is a
// *runner.UnreachableError naming the API and its host. The SDK tries each
// call up to three times, a second apart at most; polls are tried again
// on the next poll. Credentials come from the SDK's default chain against
// AWS, or are static ("cutover"/"local") against the local cloud; they
// appear in no error, event or record.
//
// It does not decide what to deploy or when, and it does not roll back on
// its own: the runner does, through runner.Platform. Only cmd builds it.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// Defaults of the driver's waits.
const (
	// DefaultPollInterval is how often a deployment, and the service's
	// events, are polled: events land on the timeline at most this late.
	DefaultPollInterval = time.Second
	// DefaultCallTimeout bounds each call to an API, its retries included.
	DefaultCallTimeout = 10 * time.Second
	// maxPollErrors is how many polls of a deployment in a row may fail
	// before following it gives up.
	maxPollErrors = 5
	// maxAttempts is how many times the SDK tries one call.
	maxAttempts = 3
	// unfinishedLookup bounds the look for a stopped task's reason after
	// the wait for a deployment ended.
	unfinishedLookup = 3 * time.Second
)

// Static credentials for the local cloud, which accepts any signature.
const (
	localAccessKey = "cutover"
	localSecretKey = "local"
)

// Config names the service a Driver works on and how to reach its APIs.
type Config struct {
	// Region, Cluster and Service name the service.
	Region, Cluster, Service string
	// Endpoint is where every API is: "" is AWS, through the SDK's default
	// configuration and credential chain; "http://127.0.0.1:PORT" is the
	// local cloud, reached with static credentials.
	Endpoint string
	// PollInterval is how often deployments and events are polled
	// (0: DefaultPollInterval).
	PollInterval time.Duration
	// CallTimeout bounds each call (0: DefaultCallTimeout).
	CallTimeout time.Duration
	// Now stamps the events and the claims; nil means time.Now.
	Now func() time.Time
}

// api names an API for the errors that say it could not be reached.
type api struct{ name, host string }

// Driver is a runner.Platform over one ECS service, for one run: after
// Claim it makes its changes on behalf of that run only. Its methods are
// safe for concurrent use.
type Driver struct {
	cluster, service, region, endpoint string
	now                                func() time.Time
	pollInterval, callTimeout          time.Duration

	ecs        *ecs.Client
	ecr        *ecr.Client
	elb        *elb.Client
	transport  *http.Transport
	httpClient *http.Client
	ecsAPI     api
	ecrAPI     api
	elbAPI     api

	mu       sync.Mutex
	runID    string          // the run whose claim this driver took
	arn      string          // the service's ARN, once read
	reported map[string]bool // deployment states reported: id + " " + state
}

var (
	_ runner.Platform   = (*Driver)(nil)
	_ runner.Waiter     = (*Driver)(nil)
	_ runner.Watcher    = (*Driver)(nil)
	_ runner.Chaoser    = (*Driver)(nil)
	_ runner.ImageGuard = (*Driver)(nil)
)

// New builds the clients for the service cfg names. It makes no call.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	name := fmt.Sprintf("%s/%s in %s", cfg.Cluster, cfg.Service, cfg.Region)
	var missing []string
	for _, f := range []struct{ field, value string }{
		{"region", cfg.Region}, {"cluster", cfg.Cluster}, {"service", cfg.Service},
	} {
		if f.value == "" {
			missing = append(missing, f.field)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("connect to ecs service %s: %s not set", name, strings.Join(missing, ", "))
	}
	d := &Driver{
		cluster: cfg.Cluster, service: cfg.Service, region: cfg.Region, endpoint: cfg.Endpoint,
		now: cfg.Now, pollInterval: cfg.PollInterval, callTimeout: cfg.CallTimeout,
		transport: http.DefaultTransport.(*http.Transport).Clone(),
		reported:  map[string]bool{},
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.pollInterval <= 0 {
		d.pollInterval = DefaultPollInterval
	}
	if d.callTimeout <= 0 {
		d.callTimeout = DefaultCallTimeout
	}
	d.httpClient = &http.Client{Transport: d.transport}
	awsCfg, err := d.awsConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to ecs service %s: %w", name, err)
	}
	d.clients(awsCfg)
	return d, nil
}

// awsConfig is the SDK's configuration: the default one against AWS,
// static credentials against a local endpoint.
func (d *Driver) awsConfig(ctx context.Context) (aws.Config, error) {
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = time.Second
			o.RateLimiter = ratelimit.None
		})
	}
	if d.endpoint == "" {
		return config.LoadDefaultConfig(ctx, config.WithRegion(d.region), config.WithHTTPClient(d.httpClient), config.WithRetryer(retryer))
	}
	u, err := url.Parse(d.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return aws.Config{}, fmt.Errorf("endpoint %q: want http://HOST:PORT", d.endpoint)
	}
	return aws.Config{
		Region:      d.region,
		Credentials: credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, ""),
		HTTPClient:  d.httpClient,
		Retryer:     retryer,
	}, nil
}

// clients builds the three API clients and names their hosts.
func (d *Driver) clients(cfg aws.Config) {
	var base *string
	host := func(service string) string { return service + "." + d.region + ".amazonaws.com" }
	if d.endpoint != "" {
		base = aws.String(d.endpoint)
		u, _ := url.Parse(d.endpoint)
		host = func(string) string { return u.Host }
	}
	d.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = base })
	d.ecr = ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.BaseEndpoint = base })
	d.elb = elb.NewFromConfig(cfg, func(o *elb.Options) { o.BaseEndpoint = base })
	d.ecsAPI = api{"the ECS API", host("ecs")}
	d.ecrAPI = api{"the ECR API", host("api.ecr")}
	d.elbAPI = api{"the Elastic Load Balancing API", host("elasticloadbalancing")}
}

// Close closes the idle connections to the APIs.
func (d *Driver) Close() error {
	d.transport.CloseIdleConnections()
	return nil
}

// Name returns the service's cluster and name, CLUSTER/SERVICE.
func (d *Driver) Name() string { return d.cluster + "/" + d.service }

// Service reads the service as it is now: its ARN, its load balancer's
// URL, the task definitions of its deployments and its claim.
func (d *Driver) Service(ctx context.Context) (runner.Service, error) {
	svc, err := d.describe(ctx)
	if err != nil {
		return runner.Service{}, fmt.Errorf("read service %s: %w", d.Name(), err)
	}
	tags, err := d.tags(ctx)
	if err != nil {
		return runner.Service{}, fmt.Errorf("read service %s: %w", d.Name(), err)
	}
	out := serviceOf(svc, tags)
	if out.URL, err = d.url(ctx, svc); err != nil {
		return runner.Service{}, fmt.Errorf("read service %s: %w", d.Name(), err)
	}
	return out, nil
}

// serviceOf maps the API's service and its tags to the runner's, URL
// aside.
func serviceOf(svc types.Service, tags map[string]string) runner.Service {
	out := runner.Service{Name: aws.ToString(svc.ServiceArn)}
	if p := primary(svc); p != nil {
		out.LatestCreatedRevision = lastSegment(aws.ToString(p.TaskDefinition))
		out.Traffic = []runner.TrafficTarget{{Revision: out.LatestCreatedRevision, Percent: 100}}
	}
	out.LatestReadyRevision = out.LatestCreatedRevision
	if c := lastCompleted(svc); c != nil {
		out.LatestReadyRevision = lastSegment(aws.ToString(c.TaskDefinition))
	}
	if claim, ok := claimOf(tags); ok {
		out.Claim = claim
	}
	return out
}

// describe reads the service, once, and remembers its ARN.
func (d *Driver) describe(ctx context.Context) (types.Service, error) {
	out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.DescribeServicesOutput, error) {
		return d.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: &d.cluster, Services: []string{d.service}})
	})
	if err != nil {
		return types.Service{}, err
	}
	for _, f := range out.Failures {
		return types.Service{}, fmt.Errorf("ECS: %s: %s", aws.ToString(f.Arn), aws.ToString(f.Reason))
	}
	if len(out.Services) == 0 {
		return types.Service{}, fmt.Errorf("ECS has no service %s in cluster %s", d.service, d.cluster)
	}
	svc := out.Services[0]
	d.mu.Lock()
	d.arn = aws.ToString(svc.ServiceArn)
	d.mu.Unlock()
	return svc, nil
}

// serviceARN returns the service's ARN, reading the service the first
// time.
func (d *Driver) serviceARN(ctx context.Context) (string, error) {
	d.mu.Lock()
	arn := d.arn
	d.mu.Unlock()
	if arn != "" {
		return arn, nil
	}
	svc, err := d.describe(ctx)
	return aws.ToString(svc.ServiceArn), err
}

// call makes one call to an API, which must answer within d.callTimeout
// (the SDK's retries included). A call that could not reach the API,
// while ctx still allowed it, is a *runner.UnreachableError: the request
// could not be sent or its answer not read, or no answer in time.
func call[T any](ctx context.Context, d *Driver, a api, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout)
	defer cancel()
	v, err := f(cctx)
	if err == nil || ctx.Err() != nil {
		return v, err
	}
	var send *smithyhttp.RequestSendError
	switch {
	case cctx.Err() != nil:
		err = fmt.Errorf("no answer within %v: %w", d.callTimeout, err)
	case errors.As(err, &send):
	default:
		return v, err
	}
	return v, &runner.UnreachableError{API: a.name, Host: a.host, Err: err}
}

// emit calls report when there is one.
func emit(report func(runner.Event), e runner.Event) {
	if report != nil {
		report(e)
	}
}

// event is an event stamped now.
func (d *Driver) event(kind results.EventKind, details map[string]string) runner.Event {
	return runner.Event{Kind: kind, At: d.now(), Details: details}
}

// Conversions.

// lastSegment returns what follows the last "/" of an ARN: a task's id,
// a task definition's FAMILY:REVISION (of FAMILY:REVISION itself too).
func lastSegment(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// primary returns the service's PRIMARY deployment, or nil.
func primary(svc types.Service) *types.Deployment {
	for i := range svc.Deployments {
		if aws.ToString(svc.Deployments[i].Status) == "PRIMARY" {
			return &svc.Deployments[i]
		}
	}
	return nil
}

// lastCompleted returns the most recently created COMPLETED deployment,
// or nil.
func lastCompleted(svc types.Service) *types.Deployment {
	var best *types.Deployment
	for i := range svc.Deployments {
		dep := &svc.Deployments[i]
		if dep.RolloutState != types.DeploymentRolloutStateCompleted {
			continue
		}
		if best == nil || aws.ToTime(dep.CreatedAt).After(aws.ToTime(best.CreatedAt)) {
			best = dep
		}
	}
	return best
}

// deploymentByID returns the service's deployment id, or nil.
func deploymentByID(svc types.Service, id string) *types.Deployment {
	i := slices.IndexFunc(svc.Deployments, func(dep types.Deployment) bool { return aws.ToString(dep.Id) == id })
	if i < 0 {
		return nil
	}
	return &svc.Deployments[i]
}
