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
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"golang.org/x/term"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// A load generator's heap is small and steady (per-window aggregates, no
// per-request slices), while every GC cycle takes CPU from the requests:
// the binary links the Google SDKs, whose package state makes each cycle
// mark twice what the engine alone would, so it collects half as often.
const gcPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	stopProfile := startCPUProfile(os.Getenv("CUTOVER_CPUPROFILE"))
	ctx, cancel := context.WithCancel(context.Background())
	abandon := make(chan struct{})
	signals := make(chan os.Signal, 3)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		// First signal: stop the load, put the traffic back, finish the
		// record. Second: give up the restore; the run then says NOT
		// RESTORED, with the split and the command, and exits 5. Third:
		// exit at once.
		<-signals
		fmt.Fprintln(os.Stderr, "\ncutover: stopping; putting the traffic back and finishing the record (press Ctrl-C again to give up the restore)")
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "cutover: giving up the restore; the record will say what to put back (press Ctrl-C again to exit at once)")
		close(abandon)
		<-signals
		fmt.Fprintln(os.Stderr, "cutover: exiting at once: NOT RESTORED; run.json's restore_to says what to put back, `cutover restore RUN_DIR` does it")
		os.Exit(int(ExitNotRestored))
	}()
	code := run(ctx, os.Args[1:], Env{
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
		Getenv:        os.Getenv,
		Interactive:   term.IsTerminal(int(os.Stderr.Fd())),
		TerminalWidth: terminalWidth(os.Stdout),
		Abandon:       abandon,
	})
	cancel()
	stopProfile()
	os.Exit(code)
}

// terminalWidth is the width in columns of the terminal f is, 0 when f
// is not a terminal.
func terminalWidth(f *os.File) int {
	if !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// startCPUProfile writes a CPU profile of the whole process to path, a
// hidden switch for finding where cutover's own time goes (the environment
// variable CUTOVER_CPUPROFILE; see package bench); "" profiles nothing. It
// returns the function that stops the profile and closes the file.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cutover: create CPU profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "cutover: start CPU profile: %v\n", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "cutover: close CPU profile: %v\n", err)
		}
	}
}
