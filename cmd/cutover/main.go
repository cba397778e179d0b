// Command cutover proves a deploy is safe: it drives sustained HTTP load at a
// service, watches every request, and gives a verdict with an exit code a CI
// job can trust. This package only wires: process state in, options out, one
// call, error to exit code.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		// First signal: stop gracefully, finalize the record, report.
		// Second signal: exit now.
		<-signals
		fmt.Fprintln(os.Stderr, "\ncutover: stopping; finishing the record (press Ctrl-C again to exit now)")
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "cutover: exiting now")
		os.Exit(ExitAborted)
	}()
	code := run(ctx, os.Args[1:], Env{
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Getenv:      os.Getenv,
		Interactive: term.IsTerminal(int(os.Stderr.Fd())),
	})
	cancel()
	os.Exit(code)
}
