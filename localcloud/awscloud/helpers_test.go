package awscloud

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/goleak"

	"github.com/cutover-dev/cutover/scenarios"
)

// testScale runs the tests' clouds 20 times faster than real time: a
// simulated second is 50 ms.
const testScale = 20

// keepLast is a lifecycle policy that keeps the n most recent images.
func keepLast(n int) string {
	return `{"rules":[{"rulePriority":1,"description":"keep last","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":` +
		strconv.Itoa(n) + `},"action":{"type":"expire"}}]}`
}

// webService is a service "web" of image with short timings.
func webService(image string) scenarios.ECSService {
	var s scenarios.ECSService
	s.Defaults()
	s.Name, s.Image = "web", image
	s.LoadBalancer.DeregistrationDelay = scenarios.Duration(5 * time.Second)
	s.StopTimeout = scenarios.Duration(2 * time.Second)
	s.App.ServerTime = scenarios.Duration(20 * time.Millisecond)
	return s
}

// repoWith is a repository with one image tagged first (30 days old) and
// count history builds (build-1 …, an hour apart) under policy.
func repoWith(name, first string, count int, policy string) scenarios.ECRRepository {
	return scenarios.ECRRepository{
		Name: name, LifecyclePolicy: policy,
		Images: []scenarios.ECRImage{{Tags: []string{first}, Age: scenarios.Duration(30 * 24 * time.Hour)}},
		Builds: scenarios.ECRBuilds{Every: scenarios.Duration(time.Hour), Count: count},
	}
}

// startCloud starts a cloud of the repositories and services and closes
// it (checking for leaked goroutines) when the test ends.
func startCloud(t *testing.T, repos []scenarios.ECRRepository, services ...scenarios.ECSService) *Cloud {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	lc := scenarios.LocalCloud{TimeScale: testScale}
	lc.Defaults()
	lc.AWS = scenarios.CloudAWS{Repositories: repos, Services: services}
	lc.AWS.Defaults()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Start(ctx, lc, Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Close(cctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		goleak.VerifyNone(t, ignore)
	})
	return c
}

// clients returns unmodified SDK clients of the cloud's endpoint; their
// idle connections close when the test ends. The SDK's default retryer
// stays on, as against AWS: under -race a request write on a reused
// connection has been seen to fail with EOF about once in a few hundred
// calls (client side, cause not found), which the retryer absorbs.
func clients(t *testing.T, c *Cloud) (*ecs.Client, *ecr.Client) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := aws.Config{
		Region:       "ap-northeast-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(c.Endpoint()),
		HTTPClient:   &http.Client{Transport: tr},
	}
	return ecs.NewFromConfig(cfg), ecr.NewFromConfig(cfg)
}

// eventually polls cond every 20 ms until it holds or 60 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling, not synchronisation
	}
}

// describe returns the service web.
func describe(t *testing.T, cl *ecs.Client) ecstypes.Service {
	t.Helper()
	out, err := cl.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("default"), Services: []string{"web"}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("DescribeServices: %d services, failures %v", len(out.Services), out.Failures)
	}
	return out.Services[0]
}

// hasEvent reports whether an event's message contains text.
func hasEvent(s ecstypes.Service, text string) bool {
	for _, e := range s.Events {
		if strings.Contains(aws.ToString(e.Message), text) {
			return true
		}
	}
	return false
}
