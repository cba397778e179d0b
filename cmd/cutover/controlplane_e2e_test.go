package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	runapi "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The control plane of `cutover localcloud` is reached by the unmodified
// Google client libraries, from another process, with only the endpoint and
// insecure credentials changed: the options cutover's own drivers get
// (googleClientOptions).
func TestLocalcloudControlPlaneServesTheGoogleClients(t *testing.T) {
	scenario, err := filepath.Abs("../../scenarios/builtin/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, ep, _ := startLocalcloudCommand(t, scenario)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := googleClientOptions(ep.ControlPlane)
	checkDeployThroughRunAPI(ctx, t, ep, opts)
	checkListThroughMonitoringAPI(ctx, t, opts)
}

// startLocalcloudCommand starts `cutover localcloud scenario` and returns
// the running command, the endpoints it printed and its stderr so far; the
// command is interrupted (and waited for) when the test ends, unless the
// test did that itself.
func startLocalcloudCommand(t *testing.T, scenario string) (*exec.Cmd, endpoints, *bytes.Buffer) {
	t.Helper()
	cmd, ep, errb := startLocalcloudProcess(t, scenario)
	if !strings.HasPrefix(ep.ControlPlane, "127.0.0.1:") {
		t.Fatalf("control_plane = %q, want 127.0.0.1:PORT", ep.ControlPlane)
	}
	return cmd, ep, errb
}

// startLocalcloudProcess is startLocalcloudCommand for either side of the
// local cloud: it checks nothing of the endpoints.
func startLocalcloudProcess(t *testing.T, scenario string) (*exec.Cmd, endpoints, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, "localcloud", scenario)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	})
	var ep endpoints
	if err := json.NewDecoder(stdout).Decode(&ep); err != nil {
		t.Fatalf("read the endpoints line: %v\nstderr:\n%s", err, errb.String())
	}
	return cmd, ep, errb
}

// checkDeployThroughRunAPI deploys a revision of the service hello with the
// Cloud Run Admin client: the operation ends with it ready and serving.
func checkDeployThroughRunAPI(ctx context.Context, t *testing.T, ep endpoints, opts []option.ClientOption) {
	t.Helper()
	services, err := runapi.NewServicesClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer services.Close()
	name := "projects/local-project/locations/asia-northeast1/services/hello"
	svc, err := services.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	before := svc.GetLatestReadyRevision()
	c := svc.GetTemplate().GetContainers()[0]
	c.Env = append(c.Env, &runpb.EnvVar{Name: "CUTOVER_DEPLOY_ID", Values: &runpb.EnvVar_Value{Value: "e2e"}})
	op, err := services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	updated, err := op.Wait(ctx)
	if err != nil {
		t.Fatalf("wait for the update: %v", err)
	}
	after := updated.GetLatestReadyRevision()
	if after == before || !strings.HasPrefix(after, name+"/revisions/hello-") {
		t.Fatalf("latest ready revision %q after the update (was %q)", after, before)
	}
	resp, err := http.Get(ep.Services["hello"])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Revision"); !strings.HasSuffix(after, "/"+got) {
		t.Errorf("X-Revision %q, want the new revision %q", got, after)
	}
}

// checkListThroughMonitoringAPI lists time series with the Cloud
// Monitoring client, and sees an unsupported filter refused.
func checkListThroughMonitoringAPI(ctx context.Context, t *testing.T, opts []option.ClientOption) {
	t.Helper()
	metrics, err := monitoring.NewMetricClient(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer metrics.Close()
	now := time.Now()
	it := metrics.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/local-project",
		Filter:   `metric.type = "run.googleapis.com/container/instance_count" AND resource.labels.service_name = "hello"`,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)},
	})
	for {
		if _, err := it.Next(); err == iterator.Done {
			break
		} else if err != nil {
			t.Fatalf("ListTimeSeries: %v", err)
		}
	}
	bad := metrics.ListTimeSeries(ctx, &monitoringpb.ListTimeSeriesRequest{
		Name:     "projects/local-project",
		Filter:   `metric.type = starts_with("run")`,
		Interval: &monitoringpb.TimeInterval{StartTime: timestamppb.New(now.Add(-time.Hour)), EndTime: timestamppb.New(now)},
	})
	if _, err := bad.Next(); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
		t.Errorf("an unsupported filter: %v, want InvalidArgument", err)
	}
}
