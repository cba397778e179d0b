package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/runner/cloudrun"
	"github.com/cutover-dev/cutover/runner/ecs"
	"github.com/cutover-dev/cutover/scenarios"
)

// restoreCmd is `cutover restore RUN_DIR`: put back the split a run
// recorded before its first change, after the run could not (kill -9, a
// crash, a second Ctrl-C, an API that was down). It writes only over what
// that run left: the service must still carry the run's claim and the
// split the run's last write set, unless --force.
type restoreCmd struct {
	RunDir  string        `arg:"" name:"run-dir" help:"The run directory (runs/<run-id>) whose split to put back."`
	Force   bool          `help:"Restore even when the service no longer carries the run's claim or split (someone changed it since)."`
	Timeout time.Duration `default:"2m" help:"How long to keep trying while the platform's API is unreachable."`
}

func (c *restoreCmd) run(ctx context.Context, env Env) error {
	rec, err := results.Read(c.RunDir)
	if err != nil {
		return usageError{fmt.Errorf("read run record: %w", err)}
	}
	cut := rec.Cutover
	switch {
	case cut == nil:
		fmt.Fprintf(env.Stdout, "run %s had no actions: nothing to restore\n", rec.RunID)
		return nil
	case cut.Target.LocalCloud:
		fmt.Fprintf(env.Stdout, "run %s changed its own local cloud, which ended with it: nothing is left to restore\n", rec.RunID)
		return nil
	case cut.Target.Platform != scenarios.PlatformCloudRun && cut.Target.Platform != scenarios.PlatformECS:
		return fmt.Errorf("restore: platform %q is not supported", cut.Target.Platform)
	case cut.Left == results.LeftRestored:
		fmt.Fprintf(env.Stdout, "run %s was restored already, to %s\n", rec.RunID, cut.RestoreTo)
		return nil
	}
	var errs []error
	for _, svc := range cut.Services {
		if err := c.restoreService(ctx, env, rec.RunID, cut.Target, svc); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cut.Left, cut.Restored, cut.RestoreError, cut.RestoreCommand = results.LeftRestored, true, "", ""
	rec.Events = append(rec.Events, results.Event{Kind: results.EventRollbackDone, At: time.Now(),
		Details: map[string]string{"reason": "cutover restore", "traffic": cut.RestoreTo}})
	if err := results.Update(c.RunDir, rec); err != nil {
		fmt.Fprintf(env.Stderr, "cutover: the traffic was put back, but the record could not be updated: %v\n", err)
	}
	return nil
}

// restoreService puts one service back (or, when the run never changed
// it, only releases the run's claim on it).
func (c *restoreCmd) restoreService(ctx context.Context, env Env, runID string, t results.PlatformTarget, svc results.ServiceRestore) error {
	driver, closeDriver, err := restoreDriver(ctx, t, svc.Name)
	if err != nil {
		return err
	}
	defer closeDriver()
	rctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	split := runner.FormatSplit(svc.Split)
	if !svc.Changed {
		if err := driver.Release(rctx, runID); err != nil {
			return fmt.Errorf("release the claim of run %s on %s: %w", runID, svc.Name, err)
		}
		fmt.Fprintf(env.Stdout, "%s: unchanged by run %s; its claim is released\n", svc.Name, runID)
		return nil
	}
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		fmt.Fprintf(env.Stderr, "restore %s to %s (attempt %d)\n", svc.Name, split, attempt)
		err := driver.Restore(rctx, runner.RestoreSpec{RunID: runID, Split: svc.Split, Force: c.Force})
		if err == nil {
			fmt.Fprintf(env.Stdout, "%s: restored to %s; the claim of run %s is released\n", svc.Name, split, runID)
			return nil
		}
		if !errors.Is(err, runner.ErrUnreachable) || rctx.Err() != nil {
			return fmt.Errorf("restore %s: %w", svc.Name, err)
		}
		fmt.Fprintf(env.Stderr, "  %v; retrying in %s\n", err, wait)
		select {
		case <-rctx.Done():
			return fmt.Errorf("restore %s: gave up after %s: %w", svc.Name, c.Timeout, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// restoreDriver connects to the service a run changed, on its platform.
func restoreDriver(ctx context.Context, t results.PlatformTarget, service string) (runner.Platform, func(), error) {
	if t.Platform == scenarios.PlatformECS {
		d, err := ecs.New(ctx, ecs.Config{Region: t.Region, Cluster: t.Cluster, Service: service, Endpoint: t.Endpoint})
		if err != nil {
			return nil, nil, fmt.Errorf("connect to ECS: %w", err)
		}
		return d, func() { d.Close() }, nil
	}
	d, err := cloudrun.New(ctx, cloudrun.Config{Project: t.Project, Region: t.Region, Service: service, Host: t.Endpoint},
		googleClientOptions(t.Endpoint)...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Cloud Run: %w", err)
	}
	return d, func() { d.Close() }, nil
}
