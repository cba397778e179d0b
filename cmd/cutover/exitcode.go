package main

import (
	"errors"

	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// The exit code travels with the error, as k6's errext does: where a cause
// is known, the error is given the code it calls for (WithExitCodeIfNone),
// and run reads it once (exitCodeOf). It lives in package main because only
// cmd/cutover attaches or reads codes: the packages below report causes as
// sentinel or typed errors (runner.ErrNotRestored, *scenarios.Problems) and
// never know the CLI's codes (DESIGN §2: cmd maps errors to exit codes), so
// a package of its own would have this one importer.

// ExitCode is the process exit code of a command's outcome.
type ExitCode int

// Exit codes: "the cutover failed" is never the same code as "the tool failed".
const (
	ExitPass         ExitCode = 0   // the verdict is pass
	ExitFail         ExitCode = 1   // the verdict is fail
	ExitInvalidInput ExitCode = 2   // usage error or invalid scenario
	ExitInconclusive ExitCode = 3   // the run cannot support a verdict
	ExitHarness      ExitCode = 4   // the tool, the target's platform or the disk failed
	ExitNotRestored  ExitCode = 5   // the run changed a service and did NOT put it back
	ExitAborted      ExitCode = 130 // stopped by the user, after the restore and the record
)

// HasExitCode is an error that carries the exit code its cause calls for.
type HasExitCode interface {
	error
	ExitCode() ExitCode
}

// exitError is an error with the exit code attached.
type exitError struct {
	err  error
	code ExitCode
}

func (e exitError) Error() string      { return e.err.Error() }
func (e exitError) Unwrap() error      { return e.err }
func (e exitError) ExitCode() ExitCode { return e.code }

// WithExitCodeIfNone returns err carrying code, unless err already carries
// one (itself or an error it wraps): the code attached nearest the cause
// wins. A nil err stays nil.
func WithExitCodeIfNone(err error, code ExitCode) error {
	if err == nil {
		return nil
	}
	var has HasExitCode
	if errors.As(err, &has) {
		return err
	}
	return exitError{err: err, code: code}
}

// exitCodeOf is the exit code for a command's error: ExitPass for none, the
// code it carries, or ExitHarness for an error whose cause attached none
// (the tool, the platform or the disk failed).
func exitCodeOf(err error) ExitCode {
	if err == nil {
		return ExitPass
	}
	var has HasExitCode
	if errors.As(err, &has) {
		return has.ExitCode()
	}
	return ExitHarness
}

// reportedOutcome is a non-zero outcome the command has shown already (the
// verdict in its report, the problems of the scenarios it validated): it
// carries only the exit code, and run prints nothing more for it.
type reportedOutcome struct {
	what string
	code ExitCode
}

func (o reportedOutcome) Error() string      { return o.what }
func (o reportedOutcome) ExitCode() ExitCode { return o.code }

// usageError marks an error in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string      { return e.err.Error() }
func (e usageError) Unwrap() error      { return e.err }
func (e usageError) ExitCode() ExitCode { return ExitInvalidInput }

// scenarioExit gives an invalid scenario's error (it holds a
// *scenarios.Problems) the invalid-input code.
func scenarioExit(err error) error {
	var problems *scenarios.Problems
	if errors.As(err, &problems) {
		return WithExitCodeIfNone(err, ExitInvalidInput)
	}
	return err
}

// runnerExit gives the runner's errors with a known cause their codes: a
// service left NOT RESTORED, an action naming a revision the service does
// not have (invalid input). Other runner errors are the harness's.
func runnerExit(err error) error {
	switch {
	case errors.Is(err, runner.ErrNotRestored):
		return WithExitCodeIfNone(err, ExitNotRestored)
	case errors.Is(err, runner.ErrUnknownRevision):
		return WithExitCodeIfNone(err, ExitInvalidInput)
	case errors.Is(err, runner.ErrPreflight):
		return WithExitCodeIfNone(err, ExitFail)
	}
	return scenarioExit(err)
}

var (
	_ HasExitCode = exitError{}
	_ HasExitCode = reportedOutcome{}
	_ HasExitCode = usageError{}
)
