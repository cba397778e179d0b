package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/ecrlifecycle"
)

// Bounds of the aws part.
const (
	maxRepositories = 50
	maxImages       = 1000 // images and builds of one repository
	maxTags         = 100  // tags of one image
	maxTasks        = 100  // desired_count, scale's desired
	maxTaskConc     = 10_000
	maxPolicyBytes  = 30_720 // ECR's limit of a lifecycle policy's text
	maxIdleTimeout  = 4000 * time.Second
	maxDeregDelay   = time.Hour
	maxReasonLen    = 255
)

var (
	awsRegionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	awsAccountRE = regexp.MustCompile(`^[0-9]{12}$`)
	ecsNameRE    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,254}$`)
	ecrRepoRE    = regexp.MustCompile(`^[a-z0-9]+([._/-][a-z0-9]+)*$`)
	ecrTagRE     = regexp.MustCompile(`^[A-Za-z0-9_{][A-Za-z0-9_.{}-]{0,127}$`)
	ecrDigestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	ecrHostRE    = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$`)
)

// ECRImageRef is an image reference of the aws part, split: REPOSITORY:TAG
// or REPOSITORY@sha256:…, with the registry host
// (ACCOUNT.dkr.ecr.REGION.amazonaws.com) when it was written.
type ECRImageRef struct {
	Host, Repository, Tag, Digest string
}

// ParseECRImage splits an image reference of the aws part; ok is false
// when it is neither form.
func ParseECRImage(ref string) (r ECRImageRef, ok bool) {
	rest := ref
	if host, path, found := strings.Cut(ref, "/"); found && strings.Contains(host, ".") {
		if !ecrHostRE.MatchString(host) {
			return r, false
		}
		r.Host, rest = host, path
	}
	if repo, digest, found := strings.Cut(rest, "@"); found {
		r.Repository, r.Digest = repo, digest
		return r, ecrRepoRE.MatchString(repo) && ecrDigestRE.MatchString(digest)
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return r, false
	}
	r.Repository, r.Tag = rest[:i], rest[i+1:]
	return r, ecrRepoRE.MatchString(r.Repository) && ecrTagRE.MatchString(r.Tag) && !strings.ContainsAny(r.Tag, "{}")
}

// cloudAWS checks the localcloud section's aws part at path p.
func (v *validator) cloudAWS(p string, lc *LocalCloud) {
	a := &lc.AWS
	if !a.Enabled() {
		v.addf(p+".services", "at least one ECS service is required, e.g. services: [{name: app, image: app-prod:v1}]")
		return
	}
	if lc.Enabled() {
		v.addf(p, "a local cloud is Cloud Run (services) or AWS (aws), not both in one scenario")
	}
	if !awsRegionRE.MatchString(a.Region) {
		v.addf(p+".region", "%q: an AWS region such as ap-northeast-1", a.Region)
	}
	if !awsAccountRE.MatchString(a.Account) {
		v.addf(p+".account", "%q: an AWS account id is 12 digits", a.Account)
	}
	if !ecsNameRE.MatchString(a.Cluster) {
		v.addf(p+".cluster", "%q: a cluster name is letters, digits, dashes and underscores, starting with a letter", a.Cluster)
	}
	v.durationIn(p+".metrics_lag", a.MetricsLag, 0, maxSimulated)
	if per := lc.Metrics.Period.D(); per > 0 && lc.TimeScale > 0 && per%(time.Duration(lc.TimeScale)*time.Second) != 0 {
		v.addf("localcloud.metrics.period", "%s at time_scale %d is %s of wall time; CloudWatch periods are whole seconds, so the period must be a multiple of %ds",
			lc.Metrics.Period, lc.TimeScale, WallDuration(per, lc.TimeScale), lc.TimeScale)
	}
	v.listMax(p+".repositories", len(a.Repositories), maxRepositories, "repositories")
	repos := map[string]int{}
	for i := range a.Repositories {
		rp := fmt.Sprintf("%s.repositories[%d]", p, i)
		r := &a.Repositories[i]
		if first, dup := repos[r.Name]; dup {
			v.addf(rp+".name", "%q: duplicate repository name; first used by repositories[%d]", r.Name, first)
		}
		repos[r.Name] = i
		v.ecrRepository(rp, r)
	}
	v.listMax(p+".services", len(a.Services), maxServices, "services")
	seen := map[string]int{}
	for i := range a.Services {
		sp := fmt.Sprintf("%s.services[%d]", p, i)
		s := &a.Services[i]
		if first, dup := seen[s.Name]; dup && s.Name != "" {
			v.addf(sp+".name", "%q: duplicate service name; first used by services[%d]", s.Name, first)
		}
		seen[s.Name] = i
		v.ecsService(sp, s, a)
	}
}

func (v *validator) ecrRepository(p string, r *ECRRepository) {
	if len(r.Name) < 2 || len(r.Name) > 256 || !ecrRepoRE.MatchString(r.Name) {
		v.addf(p+".name", "%q: a repository name is 2 to 256 lower-case letters, digits and . _ - /", r.Name)
	}
	if r.LifecyclePolicy != "" {
		if len(r.LifecyclePolicy) > maxPolicyBytes {
			v.addf(p+".lifecycle_policy", "at most %d bytes, got %d", maxPolicyBytes, len(r.LifecyclePolicy))
		} else if _, err := ecrlifecycle.ParsePolicy(r.LifecyclePolicy); err != nil {
			v.addf(p+".lifecycle_policy", "%v", err)
		}
	}
	v.listMax(p+".images", len(r.Images)+r.Builds.Count, maxImages, "images and builds")
	for i, im := range r.Images {
		ip := fmt.Sprintf("%s.images[%d]", p, i)
		v.imageTags(ip+".tags", im.Tags)
		v.durationIn(ip+".age", im.Age, 0, maxSimulated)
	}
	b := r.Builds
	v.intIn(p+".builds.count", int64(b.Count), 0, maxImages, "")
	if b.Count > 0 {
		v.durationIn(p+".builds.every", b.Every, time.Second, maxSimulated)
		if b.Start != nil && (b.Start.D() < -maxSimulated || b.Start.D() > maxSimulated) {
			v.addf(p+".builds.start", "must be within %s of the local cloud's start, got %s", Duration(maxSimulated), *b.Start)
		}
		v.imageTags(p+".builds.tags", b.Tags)
	} else if b.Every != 0 || b.Start != nil || len(b.Tags) > 0 {
		v.addf(p+".builds.count", "required with builds: how many builds are pushed, e.g. count: 11")
	}
}

func (v *validator) imageTags(p string, tags []string) {
	v.listMax(p, len(tags), maxTags, "tags")
	for i, t := range tags {
		if !ecrTagRE.MatchString(t) {
			v.addf(fmt.Sprintf("%s[%d]", p, i), "%q: a tag is up to 128 letters, digits, _ . - (and {n} in builds)", t)
		}
	}
}

func (v *validator) ecsService(p string, s *ECSService, a *CloudAWS) {
	if !ecsNameRE.MatchString(s.Name) {
		v.addf(p+".name", "%q: a service name is letters, digits, dashes and underscores, starting with a letter", s.Name)
	}
	v.ecsImage(p+".image", s.Image, a)
	v.listMax(p+".env", len(s.Env), maxEnv, "environment variables")
	v.intIn(p+".desired_count", int64(s.DesiredCount), 0, maxTasks, "")
	v.intIn(p+".minimum_healthy_percent", int64(s.MinimumHealthyPercent), 0, 100, "")
	v.intIn(p+".maximum_percent", int64(s.MaximumPercent), 100, 400, "")
	v.delay(p+".pull_time", s.PullTime, true)
	v.delay(p+".start_time", s.StartTime, true)
	v.delay(p+".stop_timeout", s.StopTimeout, true)
	v.durationIn(p+".restart_delay_max", s.RestartDelayMax, time.Second, maxSimulated)
	v.delay(p+".app.server_time", s.App.ServerTime, true)
	v.intIn(p+".app.concurrency", int64(s.App.Concurrency), 1, maxTaskConc, "")
	if !strings.HasPrefix(s.App.HealthPath, "/") || strings.ContainsAny(s.App.HealthPath, " ?#") {
		v.addf(p+".app.health_path", "%q: a path such as /health", s.App.HealthPath)
	}
	lb := s.LoadBalancer
	lp := p + ".load_balancer"
	v.durationIn(lp+".idle_timeout", lb.IdleTimeout, time.Second, maxIdleTimeout)
	v.durationIn(lp+".connect_timeout", lb.ConnectTimeout, time.Millisecond, maxIdleTimeout)
	v.durationIn(lp+".deregistration_delay", lb.DeregistrationDelay, 0, maxDeregDelay)
	hc := lb.HealthCheck
	v.durationIn(lp+".health_check.interval", hc.Interval, 5*time.Second, 300*time.Second)
	v.durationIn(lp+".health_check.timeout", hc.Timeout, 2*time.Second, 120*time.Second)
	if hc.Timeout >= hc.Interval && hc.Interval > 0 {
		v.addf(lp+".health_check.timeout", "%s must be shorter than the interval (%s)", hc.Timeout, hc.Interval)
	}
	v.intIn(lp+".health_check.healthy_threshold", int64(hc.HealthyThreshold), 2, 10, "")
	v.intIn(lp+".health_check.unhealthy_threshold", int64(hc.UnhealthyThreshold), 2, 10, "")
}

// ecsImage checks a service's image: a tag of a repository of the aws
// part that is there when the local cloud starts, or a digest form.
func (v *validator) ecsImage(p, image string, a *CloudAWS) {
	if image == "" {
		v.addf(p, "required: REPOSITORY:TAG of a repository in localcloud.aws.repositories, e.g. app-prod:v1")
		return
	}
	ref, ok := ParseECRImage(image)
	if !ok {
		v.addf(p, "%q: an image is REPOSITORY:TAG or REPOSITORY@sha256:DIGEST (optionally ACCOUNT.dkr.ecr.REGION.amazonaws.com/ first)", image)
		return
	}
	if ref.Host != "" && ref.Host != fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", a.Account, a.Region) {
		v.addf(p, "%q: the registry is %s.dkr.ecr.%s.amazonaws.com in this local cloud", image, a.Account, a.Region)
		return
	}
	i := slices.IndexFunc(a.Repositories, func(r ECRRepository) bool { return r.Name == ref.Repository })
	if i < 0 {
		v.addf(p, "%q: no repository %q in localcloud.aws.repositories", image, ref.Repository)
		return
	}
	if ref.Tag != "" && !slices.Contains(a.Repositories[i].TagsAtStart(), ref.Tag) {
		v.addf(p, "%q: repository %s has no image tagged %q when the local cloud starts (its images' and past builds' tags)", image, ref.Repository, ref.Tag)
	}
}

// TagsAtStart returns the tags the repository's images and past builds
// (those pushed before the local cloud starts) were pushed with.
func (r ECRRepository) TagsAtStart() []string {
	var tags []string
	for _, im := range r.Images {
		tags = append(tags, im.Tags...)
	}
	b := r.Builds
	if b.Count < 1 || b.Count > maxImages || b.Every <= 0 || b.Every.D() > maxSimulated {
		// Out of bounds (Validate says so): no builds to count, and no
		// arithmetic on absurd numbers.
		return tags
	}
	for n := 1; n <= b.Count; n++ {
		if b.StartAt()+time.Duration(n-1)*b.Every.D() > 0 {
			break
		}
		tags = append(tags, b.BuildTags(n)...)
	}
	return tags
}

// chaos checks a chaos action at path p.
func (v *validator) chaos(p string, c *ChaosAction, platform string) {
	if platform != PlatformECS {
		v.addf(p, "chaos actions need an ecs target (target.platform: ecs, or a localcloud aws part)")
	}
	switch c.Action {
	case ChaosStopTask, ChaosFailHealthCheck:
		v.intIn(p+".count", int64(c.Count), 1, maxTasks, "")
		if c.Desired != 0 {
			v.addf(p+".desired", "only scale takes desired")
		}
	case ChaosScale:
		v.intIn(p+".desired", int64(c.Desired), 0, maxTasks, "")
	default:
		v.addf(p+".action", "%q: one of %s, %s, %s", c.Action, ChaosStopTask, ChaosFailHealthCheck, ChaosScale)
	}
	if c.For != 0 && c.Action != ChaosFailHealthCheck {
		v.addf(p+".for", "only fail-health-check lasts for a time")
	}
	v.durationIn(p+".for", c.For, 0, maxLoadDuration)
	if c.Reason != "" && c.Action != ChaosStopTask {
		v.addf(p+".reason", "only stop-task takes a reason")
	}
	if len(c.Reason) > maxReasonLen {
		v.addf(p+".reason", "at most %d bytes, got %d", maxReasonLen, len(c.Reason))
	}
}

// ecsTarget checks an ecs target and what its actions may do.
func (v *validator) ecsTarget(s *Scenario) {
	t := s.Target
	for _, f := range []struct{ path, value string }{
		{"target.region", t.Region}, {"target.cluster", t.Cluster}, {"target.service", t.Service},
	} {
		if f.value == "" {
			v.addf(f.path, "required with platform %s", t.Platform)
		}
	}
	fromCloud := s.LocalCloud.AWS.Enabled() && t.Region == s.LocalCloud.AWS.Region
	if t.Region != "" && !fromCloud && !awsRegionRE.MatchString(t.Region) {
		v.addf("target.region", "%q: an AWS region such as ap-northeast-1", t.Region)
	}
	if t.Service != "" && !ecsNameRE.MatchString(t.Service) {
		v.addf("target.service", "%q: an ECS service name is letters, digits, dashes and underscores, starting with a letter", t.Service)
	}
	if t.Endpoint != "" {
		if msg := checkHTTPURL(t.Endpoint); msg != "" {
			v.addf("target.endpoint", "%q: the AWS endpoint is a URL such as http://127.0.0.1:4566: %s", t.Endpoint, msg)
		}
	}
	if a := &s.LocalCloud.AWS; a.Enabled() && t.Service != "" {
		if _, ok := s.LocalCloud.AWSService(t.Service); !ok {
			v.addf("target.service", "%q: no such service in localcloud.aws.services", t.Service)
		}
	}
	for i, a := range s.Actions {
		p := fmt.Sprintf("actions[%d]", i)
		if a.Traffic != nil {
			v.addf(p+".traffic", "ECS has no traffic split: a deploy replaces the tasks by a rolling update")
		}
		if d := a.Deploy; d != nil {
			if d.Service != "" && d.Service != t.Service {
				v.addf(p+".deploy.service", "%q: an ecs scenario deploys its target service (%s)", d.Service, t.Service)
			}
			if d.Traffic == DeployTrafficNone || d.Tag != "" || d.RevisionSuffix != "" {
				v.addf(p+".deploy", "traffic: \"0\", tag and revision_suffix are Cloud Run's; an ECS deploy registers a task definition revision and rolls the service onto it")
			}
		}
	}
	if len(s.Metrics.Extra) > 0 {
		v.addf("metrics.extra", "extra queries are Cloud Monitoring queries; an ecs target reads CloudWatch's ALB and ECS metrics")
	}
}

func (v *validator) preflight(s *Scenario) {
	switch s.Preflight {
	case PreflightWarn, PreflightStrict:
	default:
		v.addf("preflight", "%q: warn (record what the guard finds and run) or strict (stop before any load)", s.Preflight)
	}
}
