package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// validateCmd is `cutover validate SCENARIO…`.
type validateCmd struct {
	Scenarios []string `arg:"" name:"scenarios" help:"Scenario files or built-in names."`
}

func (c *validateCmd) run(ctx context.Context, env Env) error {
	bad := 0
	for _, arg := range c.Scenarios {
		sc, err := loadScenario(arg)
		if err != nil {
			bad++
			var problems *scenarios.Problems
			if errors.As(err, &problems) {
				fmt.Fprintln(env.Stderr, results.RedactText(err.Error()))
				continue
			}
			fmt.Fprintf(env.Stderr, "%s: %s\n", scenarios.Printable(arg), scenarios.Printable(results.RedactText(err.Error())))
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: ok (%s)\n", scenarios.Printable(arg), sc.Name)
	}
	if bad > 0 {
		msg := fmt.Sprintf("%d of %d scenarios invalid", bad, len(c.Scenarios))
		fmt.Fprintln(env.Stderr, msg)
		return reportedOutcome{msg, ExitInvalidInput}
	}
	return nil
}
