package alb

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// apiFixture is two balancers behind API(...), the unmodified SDK client
// pointed at it, and the first balancer's targets in three states.
type apiFixture struct {
	web, admin *LoadBalancer
	srv        *httptest.Server
	client     *elbv2.Client
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	clk := newFake()
	web, _ := startTest(t, testConfig(clk), nil)
	adminCfg := testConfig(clk)
	adminCfg.Name, adminCfg.HealthPath = "admin", "/status"
	admin, _ := startTest(t, adminCfg, nil)

	web.RegisterHealthy("task-healthy", newApp(t, "h", nil).addr())
	slow := newApp(t, "i", nil)
	slow.holdHealth()
	web.Register("task-initial", slow.addr())
	web.RegisterHealthy("task-draining", newApp(t, "d", nil).addr())
	web.Deregister("task-draining")

	srv := httptest.NewServer(API(func() []*LoadBalancer { return []*LoadBalancer{web, admin} }))
	t.Cleanup(srv.Close)
	client := elbv2.New(elbv2.Options{
		Region:           "ap-northeast-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
	return &apiFixture{web: web, admin: admin, srv: srv, client: client}
}

func TestAPIDescribeLoadBalancers(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		in   elbv2.DescribeLoadBalancersInput
		want []string
	}{
		{"all", elbv2.DescribeLoadBalancersInput{}, []string{"web", "admin"}},
		{"by arn", elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{f.admin.ARN()}}, []string{"admin"}},
		{"by name", elbv2.DescribeLoadBalancersInput{Names: []string{"web"}}, []string{"web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.client.DescribeLoadBalancers(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, lb := range out.LoadBalancers {
				names = append(names, aws.ToString(lb.LoadBalancerName))
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("names %v, want %v", names, tt.want)
			}
		})
	}
	out, err := f.client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	lb := out.LoadBalancers[0]
	if aws.ToString(lb.LoadBalancerArn) != f.web.ARN() || "http://"+aws.ToString(lb.DNSName) != f.web.URL() ||
		lb.State.Code != types.LoadBalancerStateEnumActive || lb.Type != types.LoadBalancerTypeEnumApplication ||
		lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing || lb.CreatedTime == nil {
		t.Errorf("load balancer %+v", lb)
	}
}

func TestAPIDescribeTargetGroups(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		in   elbv2.DescribeTargetGroupsInput
		want string
	}{
		{"all", elbv2.DescribeTargetGroupsInput{}, "web,admin"},
		{"by arn", elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{f.admin.TargetGroupARN()}}, "admin"},
		{"by load balancer", elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(f.web.ARN())}, "web"},
		{"by name", elbv2.DescribeTargetGroupsInput{Names: []string{"admin"}}, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.client.DescribeTargetGroups(ctx, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tg := range out.TargetGroups {
				names = append(names, aws.ToString(tg.TargetGroupName))
			}
			if strings.Join(names, ",") != tt.want {
				t.Fatalf("names %v, want %s", names, tt.want)
			}
		})
	}
	out, err := f.client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	tg := out.TargetGroups[0]
	if aws.ToString(tg.TargetGroupArn) != f.admin.TargetGroupARN() || aws.ToString(tg.HealthCheckPath) != "/status" ||
		aws.ToInt32(tg.HealthCheckIntervalSeconds) != 30 || aws.ToInt32(tg.HealthCheckTimeoutSeconds) != 5 ||
		aws.ToInt32(tg.HealthyThresholdCount) != 5 || aws.ToInt32(tg.UnhealthyThresholdCount) != 2 ||
		aws.ToInt32(tg.Port) != 8080 || tg.Protocol != types.ProtocolEnumHttp || tg.TargetType != types.TargetTypeEnumIp ||
		len(tg.LoadBalancerArns) != 1 || tg.LoadBalancerArns[0] != f.admin.ARN() || aws.ToString(tg.Matcher.HttpCode) != "200" {
		t.Errorf("target group %+v", tg)
	}
}

func TestAPIDescribeTargetHealth(t *testing.T) {
	f := newAPIFixture(t)
	type row struct{ id, state, reason string }
	tests := []struct {
		name    string
		targets []types.TargetDescription
		want    []row
	}{
		{"every target", nil, []row{
			{"task-healthy", "healthy", ""},
			{"task-initial", "initial", "*"},
			{"task-draining", "draining", "Target.DeregistrationInProgress"},
		}},
		{"asked for, one unknown", []types.TargetDescription{{Id: aws.String("task-draining")}, {Id: aws.String("task-gone")}}, []row{
			{"task-draining", "draining", "Target.DeregistrationInProgress"},
			{"task-gone", "unused", "Target.NotRegistered"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.client.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{
				TargetGroupArn: aws.String(f.web.TargetGroupARN()), Targets: tt.targets,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.TargetHealthDescriptions) != len(tt.want) {
				t.Fatalf("%d descriptions, want %d", len(out.TargetHealthDescriptions), len(tt.want))
			}
			for i, d := range out.TargetHealthDescriptions {
				w := tt.want[i]
				reason := string(d.TargetHealth.Reason)
				if w.reason == "*" && (reason == "Elb.RegistrationInProgress" || reason == "Elb.InitialHealthChecking") {
					reason = "*"
				}
				if aws.ToString(d.Target.Id) != w.id || string(d.TargetHealth.State) != w.state || reason != w.reason {
					t.Errorf("description %d: %s %s %s, want %v", i, aws.ToString(d.Target.Id), d.TargetHealth.State, d.TargetHealth.Reason, w)
				}
				if aws.ToInt32(d.Target.Port) != 8080 || (w.reason != "" && aws.ToString(d.TargetHealth.Description) == "") {
					t.Errorf("description %d: port %d, description %q", i, aws.ToInt32(d.Target.Port), aws.ToString(d.TargetHealth.Description))
				}
			}
		})
	}
}

// TestAPIErrors: the SDK sees awsQuery's error codes.
func TestAPIErrors(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	missingTG := strings.Replace(f.web.TargetGroupARN(), "/web/", "/nope/", 1)
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"target health of an unknown group", func() error {
			_, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(missingTG)})
			return err
		}, "TargetGroupNotFound"},
		{"unknown target group arn", func() error {
			_, err := f.client.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{missingTG}})
			return err
		}, "TargetGroupNotFound"},
		{"unknown load balancer name", func() error {
			_, err := f.client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
			return err
		}, "LoadBalancerNotFound"},
		{"not an arn", func() error {
			_, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String("web")})
			return err
		}, "ValidationError"},
		{"names and arns at once", func() error {
			_, err := f.client.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{
				Names: []string{"web"}, LoadBalancerArns: []string{f.web.ARN()},
			})
			return err
		}, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var apiErr smithy.APIError
			if err := tt.call(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Fatalf("error %v, want API error %s", err, tt.code)
			}
			// The SDK knows the fault of its modelled errors only.
			modelled := tt.code != "ValidationError"
			if modelled && apiErr.ErrorFault() != smithy.FaultClient || apiErr.ErrorMessage() == "" {
				t.Errorf("fault %v message %q", apiErr.ErrorFault(), apiErr.ErrorMessage())
			}
		})
	}
	var nf *types.TargetGroupNotFoundException
	_, err := f.client.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(missingTG)})
	if !errors.As(err, &nf) {
		t.Errorf("error %v is not a *types.TargetGroupNotFoundException", err)
	}
}

// TestAPIProtocolErrors: requests the SDK cannot send (an unknown action,
// a missing or wrong Version) get awsQuery's error document.
func TestAPIProtocolErrors(t *testing.T) {
	f := newAPIFixture(t)
	tests := []struct {
		name string
		form url.Values
		code string
	}{
		{"unknown action", url.Values{"Action": {"DescribeEverything"}, "Version": {APIVersion}}, "InvalidAction"},
		{"wrong version", url.Values{"Action": {"DescribeTargetGroups"}, "Version": {"2012-06-01"}}, "InvalidAction"},
		{"no version", url.Values{"Action": {"DescribeTargetGroups"}}, "MissingParameter"},
		{"no action", url.Values{"Version": {APIVersion}}, "MissingAction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(f.srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(tt.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var doc struct {
				XMLName xml.Name `xml:"ErrorResponse"`
				Error   struct{ Type, Code, Message string }
				ID      string `xml:"RequestId"`
			}
			if err := xml.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if resp.StatusCode != http.StatusBadRequest || doc.Error.Code != tt.code || doc.Error.Type != "Sender" ||
				doc.XMLName.Space != apiNamespace || doc.ID == "" || doc.Error.Message == "" {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
		})
	}
}
