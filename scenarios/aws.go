package scenarios

import (
	"strconv"
	"strings"
	"time"
)

// PlatformECS is Amazon ECS behind an Application Load Balancer, through
// the AWS APIs (ECS, ECR, ELBv2, CloudWatch).
const PlatformECS = "ecs"

// Preflight modes: what a run does when the preflight guard finds a
// problem (an image a task definition names that is gone from ECR or that
// the lifecycle policy will expire).
const (
	// PreflightWarn records the findings on the timeline and in the
	// report, and runs (the default).
	PreflightWarn = "warn"
	// PreflightStrict stops the run with exit 1 before any load.
	PreflightStrict = "strict"
)

// Chaos actions: what a chaos action does to the target service.
const (
	// ChaosStopTask stops Count running tasks of the service (like AWS FIS
	// aws:ecs:stop-task): the ECS scheduler replaces them.
	ChaosStopTask = "stop-task"
	// ChaosFailHealthCheck makes Count running tasks answer their load
	// balancer health check with 500 for For (0: until the run ends):
	// the ALB marks them unhealthy and ECS replaces them. Only the local
	// cloud can do this.
	ChaosFailHealthCheck = "fail-health-check"
	// ChaosScale sets the service's desired count to Desired.
	ChaosScale = "scale"
)

// ChaosAction is an action that starts an incident the way it starts in
// production: a task stopped, a health check failing, a scale-in.
type ChaosAction struct {
	// Action is stop-task, fail-health-check or scale.
	Action string `yaml:"action" json:"action"`
	// Count is how many tasks stop-task and fail-health-check touch
	// (default 1).
	Count int `yaml:"count" json:"count,omitempty"`
	// Desired is scale's new desired count.
	Desired int `yaml:"desired" json:"desired,omitempty"`
	// For is how long fail-health-check lasts (0: until the run ends).
	For Duration `yaml:"for" json:"for,omitzero"`
	// Reason is stop-task's reason, as StopTask records it.
	Reason string `yaml:"reason" json:"reason,omitempty"`
}

func (c *ChaosAction) setDefaults() { c.Count = 1 }

// CloudAWS is the localcloud section's aws: part: an AWS account in the
// local cloud, with ECR repositories, one ECS cluster whose services run
// behind their own Application Load Balancer, and CloudWatch metrics (the
// localcloud section's metrics: period, and LagAWS for their ingestion
// delay). Every duration is simulated time.
type CloudAWS struct {
	// Region and Account name the resources like a real account
	// (defaults ap-northeast-1, 123456789012).
	Region  string `yaml:"region" json:"region"`
	Account string `yaml:"account" json:"account"`
	// Cluster is the ECS cluster's name (default "default").
	Cluster      string          `yaml:"cluster" json:"cluster"`
	Repositories []ECRRepository `yaml:"repositories" json:"repositories,omitempty"`
	Services     []ECSService    `yaml:"services" json:"services"`
	// MetricsLag is CloudWatch's ingestion delay: a datapoint can be read
	// this long after its period ends (default 60s).
	MetricsLag Duration `yaml:"metrics_lag" json:"metrics_lag"`
}

// ECRRepository is one ECR repository: the images it holds when the local
// cloud starts, builds pushed to it on a schedule, and its lifecycle
// policy.
type ECRRepository struct {
	Name string `yaml:"name" json:"name"`
	// LifecyclePolicy is the policy's JSON text, as ECR takes it
	// (PutLifecyclePolicy's lifecyclePolicyText): {"rules": [...]}.
	// Empty: no policy, nothing expires.
	LifecyclePolicy string `yaml:"lifecycle_policy" json:"lifecycle_policy,omitempty"`
	// Images are pushed in order when the local cloud starts, oldest
	// first, before the builds.
	Images []ECRImage `yaml:"images" json:"images,omitempty"`
	// Builds push more images on a schedule.
	Builds ECRBuilds `yaml:"builds" json:"builds,omitzero"`
}

// ECRImage is one image pushed to a repository.
type ECRImage struct {
	// Tags are the image's tags (none: untagged). A tag already in the
	// repository moves to this image, as a push does.
	Tags []string `yaml:"tags" json:"tags,omitempty"`
	// Age is how long before the local cloud starts it was pushed
	// (default: one second after the image before it).
	Age Duration `yaml:"age" json:"age,omitzero"`
}

// ECRBuilds pushes Count images Every apart, the first at Start after the
// local cloud starts. A negative Start puts builds in the past: they are
// in the repository, and the lifecycle policy has run on them, before the
// run starts. The default Start is -Count×Every: every build is history.
type ECRBuilds struct {
	Every Duration `yaml:"every" json:"every,omitzero"`
	Count int      `yaml:"count" json:"count,omitempty"`
	// Start is when the first build is pushed, from the local cloud's
	// start (see above).
	Start *Duration `yaml:"start" json:"start,omitempty"`
	// Tags are each build's tags; "{n}" is replaced by the build's number
	// (1, 2, …). Default ["build-{n}"].
	Tags []string `yaml:"tags" json:"tags,omitempty"`
}

// ECSService is one ECS service of the cluster, its task definition's
// first revision, the application its tasks run, and its load balancer.
type ECSService struct {
	Name string `yaml:"name" json:"name"`
	// Image is the container image: REPOSITORY:TAG or REPOSITORY@sha256:…
	// of a repository above (the full
	// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY form is accepted too).
	// ECS resolves a tag to its digest when a deployment starts; every
	// task of the deployment pulls that digest.
	Image string `yaml:"image" json:"image"`
	// Env is the container's environment.
	Env map[string]string `yaml:"env" json:"env,omitempty"`
	// DesiredCount is the number of tasks (default 3).
	DesiredCount int `yaml:"desired_count" json:"desired_count"`
	// MinimumHealthyPercent and MaximumPercent bound a rolling update
	// (defaults 100 and 200).
	MinimumHealthyPercent int `yaml:"minimum_healthy_percent" json:"minimum_healthy_percent"`
	MaximumPercent        int `yaml:"maximum_percent" json:"maximum_percent"`
	// CircuitBreaker is the deployment circuit breaker (off by default).
	CircuitBreaker ECSCircuitBreaker `yaml:"circuit_breaker" json:"circuit_breaker,omitzero"`
	// PullTime is how long a task takes to pull its image, StartTime how
	// long its container takes to start after that (defaults 5s, 5s).
	PullTime  Duration `yaml:"pull_time" json:"pull_time"`
	StartTime Duration `yaml:"start_time" json:"start_time"`
	// StopTimeout is how long a stopping task finishes in-flight requests
	// before it is killed (default 30s, ECS's stopTimeout).
	StopTimeout Duration `yaml:"stop_timeout" json:"stop_timeout"`
	// RestartDelayMax caps the scheduler's growing delay between attempts
	// to start tasks that keep failing to start (default 15m).
	RestartDelayMax Duration `yaml:"restart_delay_max" json:"restart_delay_max"`

	App          ECSApp          `yaml:"app" json:"app"`
	LoadBalancer ALBLoadBalancer `yaml:"load_balancer" json:"load_balancer"`
}

// ECSCircuitBreaker is deploymentCircuitBreaker.
type ECSCircuitBreaker struct {
	Enable   bool `yaml:"enable" json:"enable"`
	Rollback bool `yaml:"rollback" json:"rollback"`
}

// ECSApp is what one task's container does with a request.
type ECSApp struct {
	// ServerTime is the time one request takes (default 100ms).
	ServerTime Duration `yaml:"server_time" json:"server_time"`
	// Concurrency is how many requests a task serves at once (default 10);
	// the rest wait in its queue, in arrival order.
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// HealthPath is the health check's path (default /health); it is
	// answered ahead of the queue only when HealthInQueue is false.
	HealthPath string `yaml:"health_path" json:"health_path"`
	// HealthInQueue makes health checks wait in the request queue like
	// any request, as a single-threaded app's do: an overloaded task then
	// fails its health checks (default true).
	HealthInQueue bool `yaml:"health_in_queue" json:"health_in_queue"`
}

// ALBLoadBalancer is the service's Application Load Balancer, its one
// listener and one target group.
type ALBLoadBalancer struct {
	// IdleTimeout: a target that does not answer within it gets the client
	// a 504 (default 60s). ConnectTimeout bounds the connect to a target
	// (default 10s).
	IdleTimeout    Duration `yaml:"idle_timeout" json:"idle_timeout"`
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// DeregistrationDelay is how long a deregistered target drains
	// (default 300s).
	DeregistrationDelay Duration       `yaml:"deregistration_delay" json:"deregistration_delay"`
	HealthCheck         ALBHealthCheck `yaml:"health_check" json:"health_check"`
}

// ALBHealthCheck is the target group's health check.
type ALBHealthCheck struct {
	// Interval, Timeout (defaults 30s, 5s), HealthyThreshold and
	// UnhealthyThreshold (defaults 5 and 2) as ELBv2 has them.
	Interval           Duration `yaml:"interval" json:"interval"`
	Timeout            Duration `yaml:"timeout" json:"timeout"`
	HealthyThreshold   int      `yaml:"healthy_threshold" json:"healthy_threshold"`
	UnhealthyThreshold int      `yaml:"unhealthy_threshold" json:"unhealthy_threshold"`
}

// Enabled reports whether the aws part is present: it names a service.
func (a CloudAWS) Enabled() bool { return len(a.Services) > 0 }

// Defaults fills in the unset fields of the aws part's top level.
func (a *CloudAWS) Defaults() {
	setDefault(&a.Region, "ap-northeast-1")
	setDefault(&a.Account, "123456789012")
	setDefault(&a.Cluster, "default")
	setDefault(&a.MetricsLag, Duration(60*time.Second))
}

// Defaults sets every default of an ECS service, for one built in code
// before its fields are set; a service in a scenario file gets them
// before it is decoded.
func (s *ECSService) Defaults() {
	*s = ECSService{
		DesiredCount:          3,
		MinimumHealthyPercent: 100,
		MaximumPercent:        200,
		PullTime:              Duration(5 * time.Second),
		StartTime:             Duration(5 * time.Second),
		StopTimeout:           Duration(30 * time.Second),
		RestartDelayMax:       Duration(15 * time.Minute),
		App: ECSApp{
			ServerTime:    Duration(100 * time.Millisecond),
			Concurrency:   10,
			HealthPath:    "/health",
			HealthInQueue: true,
		},
		LoadBalancer: ALBLoadBalancer{
			IdleTimeout:         Duration(60 * time.Second),
			ConnectTimeout:      Duration(10 * time.Second),
			DeregistrationDelay: Duration(300 * time.Second),
			HealthCheck: ALBHealthCheck{
				Interval:           Duration(30 * time.Second),
				Timeout:            Duration(5 * time.Second),
				HealthyThreshold:   5,
				UnhealthyThreshold: 2,
			},
		},
	}
}

func (s *ECSService) setDefaults() { s.Defaults() }

// BuildTags returns the tags of build n (1-based).
func (b ECRBuilds) BuildTags(n int) []string {
	tags := b.Tags
	if len(tags) == 0 {
		tags = []string{"build-{n}"}
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = replaceN(t, n)
	}
	return out
}

// StartAt returns when the first build is pushed, from the local cloud's
// start.
func (b ECRBuilds) StartAt() time.Duration {
	if b.Start != nil {
		return b.Start.D()
	}
	return -time.Duration(b.Count) * b.Every.D()
}

// AWSService returns the ECS service called name.
func (lc *LocalCloud) AWSService(name string) (*ECSService, bool) {
	for i := range lc.AWS.Services {
		if lc.AWS.Services[i].Name == name {
			return &lc.AWS.Services[i], true
		}
	}
	return nil, false
}

func replaceN(tag string, n int) string {
	return strings.ReplaceAll(tag, "{n}", strconv.Itoa(n))
}

// resolveECSTarget fills in an ecs target from the local cloud's aws part.
func resolveECSTarget(t *Target, a *CloudAWS) {
	setDefault(&t.Platform, PlatformECS)
	setDefault(&t.Region, a.Region)
	setDefault(&t.Cluster, a.Cluster)
	setDefault(&t.Service, a.Services[0].Name)
}
