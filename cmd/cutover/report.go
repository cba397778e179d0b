package main

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover/results"
)

// reportCmd is `cutover report RUN_DIR`.
type reportCmd struct {
	RunDir string `arg:"" name:"run-dir" help:"A run directory (results/<run-id>)."`
	Format string `enum:"text,json,markdown,junit,html" default:"text" help:"Report format: text, json, markdown, junit or html (one self-contained page with charts)."`
}

func (c *reportCmd) run(ctx context.Context, env Env) error {
	render, err := stdoutReporter(c.Format, env)
	if err != nil {
		return usageError{err}
	}
	run, err := results.Read(c.RunDir)
	if err != nil {
		return usageError{fmt.Errorf("read run record: %w", err)}
	}
	if err := render(env.Stdout, run); err != nil {
		return fmt.Errorf("render %s report: %w", c.Format, err)
	}
	return nil
}
