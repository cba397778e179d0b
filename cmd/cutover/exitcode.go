package main

import (
	"errors"

	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// Exit codes: "the cutover failed" is never the same code as "the tool failed".
const (
	ExitPass         = 0   // the verdict is pass
	ExitFail         = 1   // the verdict is fail
	ExitInvalidInput = 2   // usage error or invalid scenario
	ExitInconclusive = 3   // the run cannot support a verdict
	ExitHarness      = 4   // the tool, the target's platform or the disk failed
	ExitNotRestored  = 5   // the run changed a service and did NOT put it back
	ExitAborted      = 130 // stopped by the user, after the restore and the record
)

// usageError marks an error in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	var problems *scenarios.Problems
	var usage usageError
	switch {
	case err == nil:
		return ExitPass
	case errors.Is(err, runner.ErrNotRestored):
		return ExitNotRestored
	case errors.As(err, &problems), errors.As(err, &usage), errors.Is(err, runner.ErrUnknownRevision):
		return ExitInvalidInput
	default:
		return ExitHarness
	}
}
