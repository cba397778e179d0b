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
	// TerminalWidth is the width in columns of the terminal stdout is, 0
	// when stdout is not a terminal.
	TerminalWidth int
	// Abandon closes when the user insists on stopping now (a second
	// interrupt): a restore in progress is given up.
	Abandon <-chan struct{}
}

// cli is the command line, one field per subcommand.
type cli struct {
	Run        runCmd        `cmd:"" help:"Run a scenario: drive load, judge it, write the record and reports."`
	Validate   validateCmd   `cmd:"" help:"Check scenario files and print every problem with its position."`
	Report     reportCmd     `cmd:"" help:"Render the record of a run directory again."`
	Compare    compareCmd    `cmd:"" help:"Compare a head run with its base: REGRESSION, IMPROVEMENT, NO CHANGE or INCONCLUSIVE."`
	Restore    restoreCmd    `cmd:"" help:"Put back the traffic split a run recorded (after a crash, kill -9 or NOT RESTORED)."`
	Preflight  preflightCmd  `cmd:"" help:"Check, sending no load, that the images an ECS service runs, would roll back to and will deploy still exist in ECR and are safe from its lifecycle policy."`
	Scenarios  scenariosCmd  `cmd:"" help:"List the built-in scenarios."`
	Localcloud localcloudCmd `cmd:"" help:"Start the local cloud a scenario describes and serve until interrupted."`
	Version    versionCmd    `cmd:"" help:"Print the version."`
}

// exitRequest carries kong's request to exit (after --help) out of Parse.
type exitRequest struct{ code int }

// command is one subcommand, its flags and arguments parsed into its fields.
type command interface {
	run(ctx context.Context, env Env) error
}

// run is the whole program behind main: parse args into one command, run
// it, print its error once, and exit with the code the error carries.
func run(ctx context.Context, args []string, env Env) int {
	cmd, err := parse(args, env)
	if err == nil {
		err = cmd.run(ctx, env)
	}
	printError(env.Stderr, err)
	return int(exitCodeOf(err))
}

// parse turns args into the command they name. A command line kong refuses
// is printed here, with where to find the usage, and returned as an
// ExitInvalidInput outcome; --help prints the help and returns kong's code.
func parse(args []string, env Env) (cmd command, err error) {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("cutover"),
		kong.Description("Prove a deploy is safe: sustained load, a verdict, and the evidence."),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("build the command line parser: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			cmd, err = nil, reportedOutcome{"help", ExitCode(req.code)}
			if req.code == 0 {
				cmd, err = helpShown{}, nil
			}
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
		return nil, reportedOutcome{err.Error(), ExitInvalidInput}
	}
	switch kctx.Command() {
	case "run <scenario>":
		return &c.Run, nil
	case "validate <scenarios>":
		return &c.Validate, nil
	case "report <run-dir>":
		return &c.Report, nil
	case "compare <base> <head>":
		return &c.Compare, nil
	case "preflight <scenario>":
		return &c.Preflight, nil
	case "restore <run-dir>":
		return &c.Restore, nil
	case "scenarios":
		return &c.Scenarios, nil
	case "localcloud <scenario>":
		return &c.Localcloud, nil
	case "version":
		return &c.Version, nil
	}
	return nil, usageError{fmt.Errorf("unknown command %q", kctx.Command())}
}

// helpShown is the command after --help: kong printed the help; nothing
// more to do.
type helpShown struct{}

func (helpShown) run(context.Context, Env) error { return nil }

// printError prints a command's error once, with a hint where one helps;
// nothing for no error or an outcome the command has shown already.
func printError(stderr io.Writer, err error) {
	var shown reportedOutcome
	if err == nil || errors.As(err, &shown) {
		return
	}
	// Errors quote URLs and user input: secrets redacted, one line per
	// line, no terminal escapes.
	msg := results.RedactText(err.Error())
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(stderr, "cutover: %s\n", scenarios.Printable(line))
	}
	if h := hint(err); h != "" {
		fmt.Fprintf(stderr, "hint: %s\n", h)
	}
}

// hint returns advice for errors with a known cause.
func hint(err error) string {
	var usage usageError
	if errors.As(err, &usage) {
		return "run 'cutover --help' for usage"
	}
	return ""
}
