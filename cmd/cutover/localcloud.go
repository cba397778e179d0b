package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/scenarios"
)

// closeTimeout bounds stopping the local cloud, which runs after the run's
// context may already be cancelled.
const closeTimeout = 30 * time.Second

// localcloudCmd is `cutover localcloud SCENARIO`: start the local cloud a
// scenario describes, print its endpoints as one JSON line, serve until
// interrupted.
type localcloudCmd struct {
	Scenario string `arg:"" help:"Scenario file or built-in name with a localcloud section."`
	Verbose  bool   `short:"v" help:"Log the local cloud's lifecycle (revisions, instances) to stderr."`
}

// endpoints is the JSON line `cutover localcloud` prints.
type endpoints struct {
	// ControlPlane is the Google APIs' host:port (Cloud Run services);
	// AWSEndpoint the AWS APIs' URL (ECS services): ECS, ECR, ELBv2 and
	// CloudWatch on one port.
	ControlPlane string            `json:"control_plane,omitempty"`
	AWSEndpoint  string            `json:"aws_endpoint,omitempty"`
	Services     map[string]string `json:"services"`
}

func (c *localcloudCmd) run(ctx context.Context, env Env) error {
	sc, err := loadScenario(c.Scenario)
	if err != nil {
		return err
	}
	if !sc.LocalCloud.Present() {
		return usageError{fmt.Errorf("scenario %s has no localcloud section with services", c.Scenario)}
	}
	var logw io.Writer
	if c.Verbose {
		logw = env.Stderr
	}
	if sc.LocalCloud.AWS.Enabled() {
		return serveAWSCloud(ctx, env, sc, logw)
	}
	cloud, err := startCloud(ctx, sc, logw)
	if err != nil {
		return err
	}
	defer stopCloud(ctx, cloud, env.Stderr)
	cp, err := gcp.StartControlPlane(ctx, cloud)
	if err != nil {
		return fmt.Errorf("start local cloud control plane: %w", err)
	}
	defer cp.Close()
	ep := endpoints{ControlPlane: cp.Addr(), Services: map[string]string{}}
	for _, name := range cloud.ServiceNames() {
		url, err := cloud.ServiceURL(name)
		if err != nil {
			return err
		}
		ep.Services[name] = url
	}
	return printEndpoints(ctx, env, ep)
}

// printEndpoints prints the endpoints line and serves until interrupted.
func printEndpoints(ctx context.Context, env Env, ep endpoints) error {
	line, err := json.Marshal(ep)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, string(line))
	<-ctx.Done()
	return nil
}

// serveAWSCloud is `cutover localcloud` for a scenario's AWS side.
func serveAWSCloud(ctx context.Context, env Env, sc *scenarios.Scenario, logw io.Writer) error {
	cloud, err := startAWSCloud(ctx, sc, logw)
	if err != nil {
		return err
	}
	defer stopAWSCloud(ctx, cloud, env.Stderr)
	ep := endpoints{AWSEndpoint: cloud.Endpoint(), Services: map[string]string{}}
	for _, name := range cloud.ServiceNames() {
		url, err := cloud.ServiceURL(name)
		if err != nil {
			return err
		}
		ep.Services[name] = url
	}
	return printEndpoints(ctx, env, ep)
}

// startCloud starts the scenario's local cloud; logw, when set, receives its
// lifecycle lines.
func startCloud(ctx context.Context, sc *scenarios.Scenario, logw io.Writer) (*localcloud.Cloud, error) {
	opts := localcloud.Options{}
	if logw != nil {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(logw, "localcloud: "+format+"\n", args...) }
	}
	cloud, err := localcloud.Start(ctx, sc.LocalCloud, opts)
	if err != nil {
		return nil, scenarioExit(fmt.Errorf("start local cloud: %w", err))
	}
	return cloud, nil
}

// stopCloud stops the local cloud under a context of its own.
func stopCloud(ctx context.Context, cloud *localcloud.Cloud, stderr io.Writer) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := cloud.Close(cctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "cutover: stop local cloud: %v\n", err)
	}
}
