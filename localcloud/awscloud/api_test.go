package awscloud

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/goleak"

	"github.com/cutover-dev/cutover/scenarios"
)

// post sends a raw request to the endpoint and decodes the JSON answer.
func post(t *testing.T, c *Cloud, target, contentType, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Endpoint()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/ap-northeast-1/ecs/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out, resp.Header
}

func TestErrorShapes(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v1"))
	defer http.DefaultClient.CloseIdleConnections()
	for _, tc := range []struct {
		name, target, body, wantType string
	}{
		{"unknown ECS operation", "AmazonEC2ContainerServiceV20141113.Frobnicate", `{}`, "UnknownOperationException"},
		{"unknown API", "SomethingElse_2020.Op", `{}`, "UnknownOperationException"},
		{"bad JSON", "AmazonEC2ContainerServiceV20141113.DescribeServices", `{"services":`, "SerializationException"},
		{"wrong JSON type", "AmazonEC2ContainerServiceV20141113.DescribeServices", `{"services":"web"}`, "SerializationException"},
		{"unknown cluster", "AmazonEC2ContainerServiceV20141113.ListServices", `{"cluster":"prod"}`, "ClusterNotFoundException"},
		{"unknown service", "AmazonEC2ContainerServiceV20141113.UpdateService", `{"service":"api","desiredCount":1}`, "ServiceNotFoundException"},
		{"unknown task definition", "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", `{"taskDefinition":"api:1"}`, "ClientException"},
		{"task definition without image", "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
			`{"family":"web","containerDefinitions":[{"name":"web"}]}`, "ClientException"},
		{"unknown ECR operation", "AmazonEC2ContainerRegistry_V20150921.PutImage", `{}`, "UnknownOperationException"},
		{"missing image", "AmazonEC2ContainerRegistry_V20150921.DescribeImages",
			`{"repositoryName":"app","imageIds":[{"imageTag":"v2"}]}`, "ImageNotFoundException"},
		{"unknown local operation", "CutoverLocalCloud.BreakEverything", `{}`, "UnknownOperationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, h := post(t, c, tc.target, contentTypeJSON11, tc.body)
			if status != http.StatusBadRequest || out["__type"] != tc.wantType || out["message"] == "" {
				t.Errorf("got %d %v, want 400 %s with a message", status, out, tc.wantType)
			}
			if h.Get("Content-Type") != contentTypeJSON11 || h.Get("x-amzn-RequestId") == "" {
				t.Errorf("headers %v lack the awsJson content type or x-amzn-RequestId", h)
			}
		})
	}
	status, _, _ := post(t, c, "", "application/x-www-form-urlencoded", "Action=DescribeThings&Version=2011-01-01")
	if status != http.StatusBadRequest {
		t.Errorf("a form of an unknown API: %d, want 400 InvalidAction", status)
	}
}

func TestDescribeServicesMissing(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v1"))
	cl, _ := clients(t, c)
	out, err := cl.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Services: []string{"web", "api"}})
	if err != nil {
		t.Fatalf("DescribeServices: %v", err)
	}
	if len(out.Services) != 1 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" ||
		aws.ToString(out.Failures[0].Arn) != "arn:aws:ecs:ap-northeast-1:123456789012:service/default/api" {
		t.Errorf("services %d, failures %+v; want web and api MISSING", len(out.Services), out.Failures)
	}
	s := out.Services[0]
	lb := s.LoadBalancers[0]
	if aws.ToInt32(lb.ContainerPort) != 8080 || aws.ToString(lb.ContainerName) != "web" || aws.ToString(lb.TargetGroupArn) == "" {
		t.Errorf("loadBalancers = %+v", s.LoadBalancers)
	}
	dc := s.DeploymentConfiguration
	if aws.ToInt32(dc.MinimumHealthyPercent) != 100 || aws.ToInt32(dc.MaximumPercent) != 200 || dc.DeploymentCircuitBreaker.Enable {
		t.Errorf("deploymentConfiguration = %+v", dc)
	}
	d := s.Deployments[0]
	if aws.ToString(d.Status) != "PRIMARY" || d.RolloutState != ecstypes.DeploymentRolloutStateCompleted || d.RunningCount != 3 ||
		!strings.HasPrefix(aws.ToString(d.Id), "ecs-svc/") || len(aws.ToString(d.Id)) != len("ecs-svc/")+19 {
		t.Errorf("deployment = %+v", d)
	}
	if d.CreatedAt == nil || d.CreatedAt.IsZero() || !hasEvent(s, "(service web) has reached a steady state.") {
		t.Errorf("createdAt %v; events %v", d.CreatedAt, s.Events)
	}
	td, err := cl.DescribeTaskDefinition(context.Background(), &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
	if err != nil || aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Image) != "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app:v1" {
		t.Errorf("DescribeTaskDefinition(%s) = %v, %v", aws.ToString(s.TaskDefinition), td, err)
	}
}

func TestTagsRoundTrip(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v1"))
	cl, _ := clients(t, c)
	ctx := context.Background()
	arn := "arn:aws:ecs:ap-northeast-1:123456789012:service/default/web"
	if _, err := cl.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []ecstypes.Tag{
		{Key: aws.String("cutover:claim"), Value: aws.String("run-1")}, {Key: aws.String("team"), Value: aws.String("web")},
	}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := cl.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []ecstypes.Tag{
		{Key: aws.String("cutover:claim"), Value: aws.String("run-2")},
	}}); err != nil {
		t.Fatalf("TagResource (overwrite): %v", err)
	}
	if _, err := cl.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	out, err := cl.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "cutover:claim" || aws.ToString(out.Tags[0].Value) != "run-2" {
		t.Errorf("ListTagsForResource = %+v, %v; want cutover:claim=run-2", out, err)
	}
	ds, err := cl.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{arn}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil || len(ds.Services) != 1 || len(ds.Services[0].Tags) != 1 {
		t.Errorf("DescribeServices include TAGS = %v, %v", ds, err)
	}
	_, err = cl.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn + "x")})
	var invalid *ecstypes.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Errorf("ListTagsForResource of an unknown ARN: %v, want InvalidParameterException", err)
	}
}

// TestStartRefuses checks Start's errors: they leave nothing running.
func TestStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		repos   []scenarios.ECRRepository
		service scenarios.ECSService
		want    string
	}{
		{"image not in ECR", []scenarios.ECRRepository{repoWith("app", "v1", 0, "")}, webService("app:v2"), `image "app:v2" is not in ECR`},
		{"unknown repository", nil, webService("other:v1"), "is not in ECR"},
		{"bad lifecycle policy", []scenarios.ECRRepository{repoWith("app", "v1", 0, `{"rules":[]}`)}, webService("app:v1"), "lifecycle policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			lc := scenarios.LocalCloud{TimeScale: testScale}
			lc.AWS = scenarios.CloudAWS{Repositories: tc.repos, Services: []scenarios.ECSService{tc.service}}
			lc.AWS.Defaults()
			c, err := Start(context.Background(), lc, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, %v; want an error with %q", c, err, tc.want)
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}
