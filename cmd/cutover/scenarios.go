package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/scenarios"
)

// scenariosCmd is `cutover scenarios`: the built-in scenarios, one a line.
type scenariosCmd struct{}

func (scenariosCmd) run(ctx context.Context, env Env) (int, error) {
	for _, name := range scenarios.BuiltinNames() {
		data, _ := scenarios.Builtin(name)
		sc, err := scenarios.Parse(name, data)
		if err != nil {
			return 0, fmt.Errorf("built-in scenario %s: %w", name, err)
		}
		desc, _, _ := strings.Cut(strings.TrimSpace(sc.Description), "\n")
		fmt.Fprintf(env.Stdout, "%-24s %s\n", name, desc)
	}
	return ExitPass, nil
}
