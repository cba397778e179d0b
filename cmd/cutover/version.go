package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// buildVersion is stamped by the Makefile: -ldflags "-X main.buildVersion=…".
var buildVersion = ""

// version returns the stamped version, else the module version, else "dev".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionCmd is `cutover version`.
type versionCmd struct{}

func (versionCmd) run(ctx context.Context, env Env) error {
	fmt.Fprintf(env.Stdout, "cutover %s\n", version())
	return nil
}
