package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const awsSection = `localcloud:
  time_scale: 10
  aws:
    repositories:
      - name: app-prod
        images: [{tags: [v1]}]
        builds: {every: 1h, count: 3}
    services:
      - name: app
        image: app-prod:v1
`

func TestAWSDefaults(t *testing.T) {
	s, err := Parse("aws.yaml", []byte(lcHeader+awsSection))
	if err != nil {
		t.Fatal(err)
	}
	a := s.LocalCloud.AWS
	if !a.Enabled() || s.LocalCloud.Enabled() || !s.LocalCloud.Present() || a.Region != "ap-northeast-1" ||
		a.Account != "123456789012" || a.Cluster != "default" || a.MetricsLag != Duration(time.Minute) {
		t.Errorf("aws defaults: %+v", a)
	}
	svc := a.Services[0]
	lb := svc.LoadBalancer
	if svc.DesiredCount != 3 || svc.MinimumHealthyPercent != 100 || svc.MaximumPercent != 200 || svc.App.Concurrency != 10 ||
		!svc.App.HealthInQueue || svc.App.HealthPath != "/health" || lb.IdleTimeout != Duration(time.Minute) ||
		lb.DeregistrationDelay != Duration(300*time.Second) || lb.HealthCheck.Interval != Duration(30*time.Second) ||
		lb.HealthCheck.HealthyThreshold != 5 || lb.HealthCheck.UnhealthyThreshold != 2 || svc.RestartDelayMax != Duration(15*time.Minute) {
		t.Errorf("service defaults: %+v", svc)
	}
	// The target comes from the aws part; its metrics from the local
	// cloud's period.
	tg := s.Target
	if tg.Platform != PlatformECS || tg.Region != "ap-northeast-1" || tg.Cluster != "default" || tg.Service != "app" {
		t.Errorf("target: %+v", tg)
	}
	if !s.Metrics.Enabled || s.Metrics.Period != Duration(time.Minute) || s.Wall(s.Metrics.Period) != 6*time.Second {
		t.Errorf("metrics: %+v, wall period %s", s.Metrics, s.Wall(s.Metrics.Period))
	}
	if s.Preflight != PreflightWarn {
		t.Errorf("preflight %q, want warn", s.Preflight)
	}
	b := a.Repositories[0].Builds
	if b.StartAt() != -3*time.Hour || strings.Join(b.BuildTags(2), ",") != "build-2" {
		t.Errorf("builds start %s, tags %v", b.StartAt(), b.BuildTags(2))
	}
	if got := strings.Join(a.Repositories[0].TagsAtStart(), ","); got != "v1,build-1,build-2,build-3" {
		t.Errorf("tags at start %s", got)
	}
}

func TestParseECRImage(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		ref  string
		want ECRImageRef
		ok   bool
	}{
		{"app-prod:v1", ECRImageRef{Repository: "app-prod", Tag: "v1"}, true},
		{"team/app:prod-1.2", ECRImageRef{Repository: "team/app", Tag: "prod-1.2"}, true},
		{"app@" + digest, ECRImageRef{Repository: "app", Digest: digest}, true},
		{"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:v1",
			ECRImageRef{Host: "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com", Repository: "app", Tag: "v1"}, true},
		{"app", ECRImageRef{}, false},
		{"App:v1", ECRImageRef{}, false},
		{"app@sha256:short", ECRImageRef{}, false},
		{"docker.io/library/nginx:1", ECRImageRef{}, false},
		{"app:{n}", ECRImageRef{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseECRImage(tt.ref)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseECRImage(%q) = %+v, %v; want %+v, %v", tt.ref, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAWSInvalid(t *testing.T) {
	ecs := `target: {platform: ecs, region: ap-northeast-1, cluster: c, service: app}
`
	tests := []struct {
		name string
		yaml string
		want []string // each a substring of one problem, in order
	}{
		{"no services", `localcloud:
  aws: {region: ap-northeast-1}`, []string{"localcloud.aws.services: at least one ECS service is required"}},
		{"bad values", `localcloud:
  time_scale: 7
  aws:
    region: tokyo
    account: "42"
    repositories:
      - name: App
        lifecycle_policy: '{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}'
        builds: {every: 1h}
    services:
      - name: app
        image: other:v1
        desired_count: 500
        maximum_percent: 50
        app: {concurrency: 0, health_path: health}
        load_balancer: {idle_timeout: 0s, health_check: {interval: 10s, timeout: 10s, unhealthy_threshold: 1}}
`, []string{
			"localcloud.metrics.period: 1m at time_scale 7 is 8.571428571s of wall time",
			`localcloud.aws.region: "tokyo": an AWS region`,
			`localcloud.aws.account: "42": an AWS account id is 12 digits`,
			`localcloud.aws.repositories[0].name: "App"`,
			"localcloud.aws.repositories[0].lifecycle_policy: ",
			"localcloud.aws.repositories[0].builds.count: required with builds",
			`localcloud.aws.services[0].image: "other:v1": no repository "other"`,
			"localcloud.aws.services[0].desired_count: must be at most 100, got 500",
			"localcloud.aws.services[0].maximum_percent: must be between 100 and 400, got 50",
			"localcloud.aws.services[0].app.concurrency: must be between 1 and 10000, got 0",
			`localcloud.aws.services[0].app.health_path: "health": a path`,
			"localcloud.aws.services[0].load_balancer.idle_timeout: must be between 1s and 1h6m40s, got 0s",
			"localcloud.aws.services[0].load_balancer.health_check.timeout: 10s must be shorter than the interval",
			"localcloud.aws.services[0].load_balancer.health_check.unhealthy_threshold: must be between 2 and 10, got 1",
		}},
		{"a tag not there at the start", `localcloud:
  aws:
    repositories: [{name: app-prod, images: [{tags: [v1]}], builds: {every: 1h, count: 2, start: 1h}}]
    services: [{name: app, image: "app-prod:build-1"}]
`, []string{`localcloud.aws.services[0].image: "app-prod:build-1": repository app-prod has no image tagged "build-1" when the local cloud starts`}},
		{"absurd builds are refused, not counted", `localcloud:
  aws:
    repositories: [{name: app-prod, images: [{tags: [v1]}], builds: {count: 1000000000000}}]
    services: [{name: app, image: "app-prod:v1"}]
`, []string{"localcloud.aws.repositories[0].images: at most 1000 images and builds", "localcloud.aws.repositories[0].builds.count: must be at most 1000"}},
		{"both clouds", `localcloud:
  services: [{name: api, image: a}]
  aws:
    repositories: [{name: app-prod, images: [{tags: [v1]}]}]
    services: [{name: app, image: "app-prod:v1"}]
`, []string{"localcloud.aws: a local cloud is Cloud Run (services) or AWS (aws), not both"}},
		{"ecs actions", ecs + `actions:
  - {at: 1s, traffic: {split: [{revision: "@baseline", percent: 100}]}}
  - {at: 2s, deploy: {image: "app:v2", traffic: "0"}}
  - {at: 3s, chaos: {action: reboot}}
  - {at: 3s, chaos: {action: stop-task, count: 0, desired: 2, for: 5s}}
  - {at: 4s, chaos: {action: scale, desired: 1000}}
metrics:
  extra: [{name: q, type: run.googleapis.com/x}]
`, []string{
			"actions[0].traffic: ECS has no traffic split",
			`actions[1].deploy: traffic: "0", tag and revision_suffix are Cloud Run's`,
			`actions[2].chaos.action: "reboot": one of stop-task, fail-health-check, scale`,
			"actions[3].chaos.count: must be between 1 and 100, got 0",
			"actions[3].chaos.desired: only scale takes desired",
			"actions[3].chaos.for: only fail-health-check lasts for a time",
			"actions[4].chaos.desired: must be at most 100, got 1000",
			"metrics.extra: extra queries are Cloud Monitoring queries",
		}},
		{"ecs target", `target: {platform: ecs, endpoint: "ftp://x"}
preflight: loud
`, []string{
			"target.region: required with platform ecs",
			"target.cluster: required with platform ecs",
			"target.service: required with platform ecs",
			`target.endpoint: "ftp://x"`,
			`preflight: "loud": warn`,
		}},
		{"chaos on cloud run", `target: {platform: cloudrun, project: p, region: r, service: s}
actions:
  - {at: 1s, chaos: {action: stop-task}}
`, []string{"actions[0].chaos: chaos actions need an ecs target"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("aws.yaml", []byte(lcHeader+tt.yaml))
			var ps *Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: %v, want *Problems", err)
			}
			i := 0
			for _, line := range strings.Split(err.Error(), "\n") {
				if i < len(tt.want) && strings.Contains(line, tt.want[i]) {
					i++
				}
			}
			if i != len(tt.want) {
				t.Errorf("problems:\n%s\nwant, in order, lines containing:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}
