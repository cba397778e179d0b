package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// preflightCmd is `cutover preflight SCENARIO`: read the target's service
// and run the preflight guard alone, sending no load and changing nothing.
type preflightCmd struct {
	Scenario string `arg:"" help:"Scenario file, or the name of a built-in scenario (see 'cutover scenarios')."`
	Format   string `enum:"text,json" default:"text" help:"text, or json ({scenario, preflight}: the findings as the run record's preflight holds them)."`
}

func (c *preflightCmd) run(ctx context.Context, env Env) error {
	sc, err := loadScenario(c.Scenario)
	if err != nil {
		return err
	}
	if sc.Target.Platform == "" {
		return usageError{fmt.Errorf("scenario %s has no platform: the preflight reads the target's service", sc.Name)}
	}
	tgt, err := openTarget(ctx, sc, env.Stderr)
	if err != nil {
		return err
	}
	defer tgt.close()
	if len(sc.Actions) > 0 {
		if _, err := runner.Preflight(ctx, sc, tgt.platforms); err != nil {
			return runnerExit(fmt.Errorf("preflight: %w", err))
		}
	}
	findings, err := runner.Guard(ctx, sc, tgt.platforms)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		if findings == nil {
			findings = []results.Finding{}
		}
		// The record's own key and shape (results.Run.Preflight).
		b, err := json.MarshalIndent(struct {
			Scenario  string            `json:"scenario"`
			Preflight []results.Finding `json:"preflight"`
		}{sc.Name, findings}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, string(b))
	} else if err := printFindings(env.Stdout, sc.Name, findings, stdoutWidth(env)); err != nil {
		return err
	}
	if len(findings) > 0 {
		return reportedOutcome{"preflight: findings", ExitFail}
	}
	return nil
}

// printFindings writes what the preflight guard found, for people: the
// text report's PREFLIGHT section, at width.
func printFindings(w io.Writer, scenario string, findings []results.Finding, width int) error {
	if len(findings) == 0 {
		fmt.Fprintf(w, "preflight %s: OK: every image the service runs, would roll back to, or will deploy exists and is safe from the lifecycle policy\n", scenario)
		return nil
	}
	fmt.Fprintf(w, "preflight %s: %d finding(s)\n", scenario, len(findings))
	return reporters.PreflightText(w, findings, width)
}
