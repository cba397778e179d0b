// Package localcloudtest starts an embedded local cloud and its control
// plane for a test and closes both when the test ends: what httptest is to
// net/http, for the drivers that talk to the local cloud's Google APIs.
package localcloudtest

import (
	"context"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/scenarios"
)

// startTimeout bounds starting and closing the cloud.
const startTimeout = 30 * time.Second

// Start starts a local cloud from cfg (resolved: defaulted and validated,
// as scenarios.Parse returns it) and its control plane on
// 127.0.0.1, logging to t, and registers their closing with t.Cleanup. It
// fails the test if either does not start or close cleanly.
func Start(t testing.TB, cfg scenarios.LocalCloud) (*localcloud.Cloud, *gcp.ControlPlane) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cloud, err := localcloud.Start(ctx, cfg, localcloud.Options{Logf: t.Logf})
	if err != nil {
		t.Fatalf("start local cloud: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := cloud.Close(ctx); err != nil {
			t.Errorf("close local cloud: %v", err)
		}
	})
	plane, err := gcp.StartControlPlane(ctx, cloud)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := plane.Close(); err != nil {
			t.Errorf("close control plane: %v", err)
		}
	})
	return cloud, plane
}
