package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// The exit code travels with the error: attached where the cause is known,
// kept through wrapping, the first one attached wins, and an error that
// carries none is the harness's.
func TestExitCodeTravelsWithTheError(t *testing.T) {
	plain := errors.New("connection refused")
	problems := &scenarios.Problems{List: []scenarios.Problem{{File: "s.yaml", Msg: "bad"}}}
	tests := []struct {
		name string
		err  error
		want ExitCode
	}{
		{"no error", nil, ExitPass},
		{"an error with no code", plain, ExitHarness},
		{"usage", usageError{plain}, ExitInvalidInput},
		{"usage, wrapped", fmt.Errorf("read run record: %w", usageError{plain}), ExitInvalidInput},
		{"first code wins", WithExitCodeIfNone(usageError{plain}, ExitHarness), ExitInvalidInput},
		{"attached", WithExitCodeIfNone(plain, ExitInconclusive), ExitInconclusive},
		{"attached, joined", errors.Join(plain, WithExitCodeIfNone(plain, ExitFail)), ExitFail},
		{"invalid scenario", scenarioExit(fmt.Errorf("parse: %w", problems)), ExitInvalidInput},
		{"not a scenario problem", scenarioExit(plain), ExitHarness},
		{"not restored", runnerExit(fmt.Errorf("%w: api down", runner.ErrNotRestored)), ExitNotRestored},
		{"not restored, joined with another failure", runnerExit(errors.Join(fmt.Errorf("%w: x", runner.ErrNotRestored), plain)), ExitNotRestored},
		{"unknown revision", runnerExit(fmt.Errorf("preflight: %w", runner.ErrUnknownRevision)), ExitInvalidInput},
		{"other runner error", runnerExit(fmt.Errorf("%w: disk full", runner.ErrRecord)), ExitHarness},
		{"reported outcome", reportedOutcome{"verdict: fail", ExitFail}, ExitFail},
	}
	for _, tt := range tests {
		if got := exitCodeOf(tt.err); got != tt.want {
			t.Errorf("%s: exit code %d, want %d (err %v)", tt.name, got, tt.want, tt.err)
		}
	}
	if WithExitCodeIfNone(nil, ExitFail) != nil {
		t.Error("WithExitCodeIfNone(nil) is not nil")
	}
}

// A finalized record's verdict is the exit code (README's table): pass 0,
// fail 1, inconclusive 3, aborted by the user 130, whatever the verdict.
func TestVerdictOutcome(t *testing.T) {
	tests := []struct {
		state, status string
		want          ExitCode
	}{
		{results.StateComplete, results.StatusPass, ExitPass},
		{results.StateComplete, results.StatusFail, ExitFail},
		{results.StateComplete, results.StatusInconclusive, ExitInconclusive},
		{results.StateAborted, results.StatusPass, ExitAborted},
		{results.StateAborted, results.StatusFail, ExitAborted},
	}
	for _, tt := range tests {
		run := &results.Run{State: tt.state, Verdict: results.Verdict{Status: tt.status}}
		if got := exitCodeOf(verdictOutcome(run)); got != tt.want {
			t.Errorf("%s/%s: exit code %d, want %d", tt.state, tt.status, got, tt.want)
		}
	}
}

// An outcome the command has shown already is not printed again; any other
// error is printed once, redacted, with a hint where one helps.
func TestPrintError(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, reportedOutcome{"verdict: fail", ExitFail})
	printError(&buf, nil)
	if buf.Len() != 0 {
		t.Errorf("printed %q for an outcome already shown", buf.String())
	}
	printError(&buf, usageError{errors.New("fetch https://u:pw@h/ failed\nsecond line")})
	want := "cutover: fetch https://u:[REDACTED]@h/ failed\ncutover: second line\nhint: run 'cutover --help' for usage\n"
	if buf.String() != want {
		t.Errorf("printed %q, want %q", buf.String(), want)
	}
}
