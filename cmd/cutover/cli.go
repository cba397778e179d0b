package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// Env is the process state a command may use; main fills it from the real
// process, tests from buffers.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Interactive is true when progress can redraw one line on a terminal.
	Interactive bool
	// Abandon closes when the user insists on stopping now (a second
	// interrupt): a restore in progress is given up.
	Abandon <-chan struct{}
}

// cli is the command line, one field per subcommand.
type cli struct {
	Run        runCmd        `cmd:"" help:"Run a scenario: drive load, judge it, write the record and reports."`
	Validate   validateCmd   `cmd:"" help:"Check scenario files and print every problem with its position."`
	Report     reportCmd     `cmd:"" help:"Render the record of a run directory again."`
	Restore    restoreCmd    `cmd:"" help:"Put back the traffic split a run recorded (after a crash, kill -9 or NOT RESTORED)."`
	Scenarios  scenariosCmd  `cmd:"" help:"List the built-in scenarios."`
	Localcloud localcloudCmd `cmd:"" help:"Start the local cloud a scenario describes and serve until interrupted."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
}

// exitRequest carries kong's request to exit (after --help) out of Parse.
type exitRequest struct{ code int }

// run is the whole program behind main: parse args, run one command, map
// its outcome to an exit code.
func run(ctx context.Context, args []string, env Env) (code int) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("cutover"),
		kong.Description("Prove a deploy is safe: sustained load, a verdict, and the evidence."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintf(env.Stderr, "cutover: %v\n", err)
		return ExitHarness
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = req.code
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "cutover: %v\n", err)
		if kctx != nil {
			fmt.Fprintln(env.Stderr, "run 'cutover "+kctx.Command()+" --help' for usage")
		} else {
			fmt.Fprintln(env.Stderr, "run 'cutover --help' for usage")
		}
		return ExitInvalidInput
	}
	var cmd interface {
		run(ctx context.Context, env Env) (int, error)
	}
	switch kctx.Command() {
	case "run <scenario>":
		cmd = &c.Run
	case "validate <scenarios>":
		cmd = &c.Validate
	case "report <run-dir>":
		cmd = &c.Report
	case "restore <run-dir>":
		cmd = &c.Restore
	case "scenarios":
		cmd = &c.Scenarios
	case "localcloud <scenario>":
		cmd = &c.Localcloud
	case "version":
		cmd = &c.Version
	default:
		fmt.Fprintf(env.Stderr, "cutover: unknown command %q\n", kctx.Command())
		return ExitInvalidInput
	}
	code, err = cmd.run(ctx, env)
	if err != nil {
		// Errors quote URLs and user input: secrets redacted, one line
		// per line, no terminal escapes.
		msg := results.RedactText(err.Error())
		for _, line := range strings.Split(msg, "\n") {
			fmt.Fprintf(env.Stderr, "cutover: %s\n", scenarios.Printable(line))
		}
		if h := hint(err); h != "" {
			fmt.Fprintf(env.Stderr, "hint: %s\n", h)
		}
		return exitCode(err)
	}
	return code
}

// hint returns advice for errors with a known cause.
func hint(err error) string {
	var usage usageError
	if errors.As(err, &usage) {
		return "run 'cutover --help' for usage"
	}
	return ""
}
