package main

import (
	"context"
	"fmt"
	"io"

	"github.com/cutover-dev/cutover/localcloud/awscloud"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/runner/cloudwatch"
	"github.com/cutover-dev/cutover/runner/ecs"
	"github.com/cutover-dev/cutover/scenarios"
)

// openECSTarget is openTarget for an ecs target: the scenario's AWS local
// cloud when it has one (its endpoint then replaces target.endpoint), the
// ECS driver, and CloudWatch for the metrics.
func openECSTarget(ctx context.Context, sc *scenarios.Scenario, t *target, stderr io.Writer) error {
	endpoint := sc.Target.Endpoint
	if sc.LocalCloud.AWS.Enabled() {
		cloud, err := startAWSCloud(ctx, sc, nil)
		if err != nil {
			return err
		}
		t.closers = append(t.closers, func() { stopAWSCloud(ctx, cloud, stderr) })
		endpoint = cloud.Endpoint()
		if sc.Target.URL == "" {
			if sc.Target.URL, err = cloud.ServiceURL(sc.Target.Service); err != nil {
				return err
			}
		}
	}
	driver, err := ecs.New(ctx, ecs.Config{Region: sc.Target.Region, Cluster: sc.Target.Cluster, Service: sc.Target.Service, Endpoint: endpoint})
	if err != nil {
		return fmt.Errorf("connect to ECS: %w", err)
	}
	t.closers = append(t.closers, func() { driver.Close() })
	t.platforms = map[string]runner.Platform{sc.Target.Service: driver}
	if sc.Metrics.Enabled {
		lb, tg, err := driver.LoadBalancerDimensions(ctx)
		if err != nil {
			return fmt.Errorf("find the service's load balancer: %w", err)
		}
		src, err := cloudwatch.New(ctx, cloudwatch.Config{Region: sc.Target.Region, Endpoint: endpoint,
			LoadBalancer: lb, TargetGroup: tg, Cluster: sc.Target.Cluster, Service: sc.Target.Service})
		if err != nil {
			return fmt.Errorf("connect to CloudWatch: %w", err)
		}
		t.closers = append(t.closers, func() { src.Close() })
		t.metrics = src
	}
	if sc.Target.URL == "" {
		svc, err := driver.Service(ctx)
		if err != nil {
			return fmt.Errorf("read the service: %w", err)
		}
		sc.Target.URL = svc.URL
	}
	return nil
}

// startAWSCloud starts the scenario's AWS local cloud; logw, when set,
// receives its lifecycle lines.
func startAWSCloud(ctx context.Context, sc *scenarios.Scenario, logw io.Writer) (*awscloud.Cloud, error) {
	opts := awscloud.Options{}
	if logw != nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(logw, "localcloud: "+format+"\n", args...) }
	}
	cloud, err := awscloud.Start(ctx, sc.LocalCloud, opts)
	if err != nil {
		return nil, scenarioExit(fmt.Errorf("start the AWS local cloud: %w", err))
	}
	return cloud, nil
}

// stopAWSCloud stops the AWS local cloud under a context of its own.
func stopAWSCloud(ctx context.Context, cloud *awscloud.Cloud, stderr io.Writer) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := cloud.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "cutover: stop the AWS local cloud: %v\n", err)
	}
}
