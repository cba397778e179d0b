package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/scenarios"
)

// scenariosCmd is `cutover scenarios`: the built-in scenarios, one a line.
type scenariosCmd struct{}

func (scenariosCmd) run(ctx context.Context, env Env) error {
	for _, name := range scenarios.BuiltinNames() {
		data, _ := scenarios.Builtin(name)
		sc, err := scenarios.Parse(name, data)
		if err != nil {
			return scenarioExit(fmt.Errorf("built-in scenario %s: %w", name, err))
		}
		fmt.Fprintf(env.Stdout, "%-24s %s\n", name, summary(sc.Description))
	}
	return nil
}

// summary returns the first sentence of a description, on one line.
func summary(desc string) string {
	s := strings.Join(strings.Fields(desc), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	const max = 110
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
