package cw

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testtool"
)

// jsDir holds the AWS SDK for JavaScript v3 pinned by its package.json and
// package-lock.json, and the script that calls the API with it.
const jsDir = "testdata/jssdk"

// The AWS SDK for JavaScript v3 speaks awsJson1.0 to CloudWatch: its
// GetMetricData reads the store's datapoints, its ListMetrics the series,
// and an expression fails with InvalidParameterValue as the SDK names it.
// Without node 20 or later (the SDK's engines) or the installed package the
// test is skipped, except on CI (CI=true), where it fails: .ci/run
// installs them.
func TestJavaScriptSDK(t *testing.T) {
	const install = "Node.js 20+, then npm ci --prefix localcloud/awscloud/cw/testdata/jssdk"
	node, err := exec.LookPath("node")
	if err != nil {
		testtool.Missing(t, "node is missing", install)
	}
	ver, err := exec.Command(node, "-p", "process.versions.node.split('.')[0]").Output()
	if major, _ := strconv.Atoi(strings.TrimSpace(string(ver))); err != nil || major < 20 {
		testtool.Missing(t, fmt.Sprintf("node %q is older than the SDK's 20 (%v)", strings.TrimSpace(string(ver)), err), install)
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "@aws-sdk", "client-cloudwatch", "package.json")); err != nil {
		testtool.Missing(t, "@aws-sdk/client-cloudwatch is not installed", install)
	}
	srv := jsonStore(t)
	q, _ := json.Marshal(map[string]any{
		"start": epoch.Unix(), "end": epoch.Add(24 * sec).Unix(),
		"namespace": ns, "metric": "RequestCount", "period": 6, "stat": "Sum",
		"dimensions": lbDims,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(jsDir, "call.mjs"), srv.URL, string(q))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node call.mjs: %v\n%s", err, stderr.String())
	}
	var got struct {
		Timestamps []float64
		Values     []float64
		Status     string
		Metrics    []string
		Error      struct {
			Name, Message string
			Status        int
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	wantTS := []float64{float64(epoch.Unix()), float64(epoch.Unix() + 12)}
	if !slices.Equal(got.Timestamps, wantTS) || !slices.Equal(got.Values, []float64{3, 1}) || got.Status != "Complete" {
		t.Errorf("GetMetricData = %v %v %s, want %v [3 1] Complete", got.Timestamps, got.Values, got.Status, wantTS)
	}
	if !slices.Equal(got.Metrics, []string{"HealthyHostCount", "RequestCount"}) {
		t.Errorf("ListMetrics = %v, want [HealthyHostCount RequestCount]", got.Metrics)
	}
	if !strings.HasPrefix(got.Error.Name, "InvalidParameterValue") || got.Error.Status != 400 ||
		!strings.Contains(got.Error.Message, "expressions are not supported") {
		t.Errorf("the expression's error = %+v, want InvalidParameterValue, 400", got.Error)
	}
	t.Logf("the JavaScript SDK names the error %s", got.Error.Name)
}
