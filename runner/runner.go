// Package runner owns the lifecycle of one run: it opens the run record,
// drives the load, keeps the record on disk current while the load runs,
// judges the outcome and finalizes the record, also when the run is stopped
// early. It declares the interfaces it consumes from platform and metric
// drivers; it never imports a driver or a cloud SDK, and it renders nothing.
//
// A run is a sequence of small steps (run.go): open the record, preflight,
// claim the services, drive the load and the actions, judge, restore,
// diagnose, finalize. The restore is guaranteed: whatever way the run ends —
// the load failing, the disk filling, an action failing, a panic, an
// interrupt — the services it changed are put back when the rollback policy
// says so, under a context of their own, or the record says NOT RESTORED
// and what to put back.
package runner

import (
	"context"
	"errors"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// DefaultSaveEvery is how often the partial record is written during a run.
const DefaultSaveEvery = 5 * time.Second

// Phases Progress reports.
const (
	PhaseLoad    = "load"
	PhaseRestore = "restore"
)

// Errors Run returns, matched with errors.Is.
var (
	// ErrNotRestored: a restore was due and did not happen; the outcome's
	// record says what to put back (Cutover.Services) and how
	// (Cutover.RestoreCommand).
	ErrNotRestored = errors.New("the service was NOT restored")
	// ErrTargetDead: every request of the first seconds failed at the
	// transport level, so the run stopped before touching the service.
	ErrTargetDead = errors.New("the target is not answering")
	// ErrRecord: the run record could not be written (disk full, …).
	ErrRecord = errors.New("the run record could not be written")
)

// Options configures one run.
type Options struct {
	// Scenario is parsed, defaulted and validated.
	Scenario *scenarios.Scenario
	// ResultsDir is the root under which the run's directory is created.
	ResultsDir string
	// ToolVersion is recorded in the run record.
	ToolVersion string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called as each timeline window closes and as
	// a restore goes, and must return quickly.
	Progress func(Progress)
	// SaveEvery is how often the partial record is saved; 0 means DefaultSaveEvery.
	SaveEvery time.Duration
	// Platforms holds the services the scenario's actions change, by
	// service name: the target's and any other a deploy names. Nil for a
	// load-only run.
	Platforms map[string]Platform
	// Target is how to reach the platform again, recorded for `cutover
	// restore`.
	Target results.PlatformTarget
	// Metrics reads the platform's metrics after the load, for the
	// diagnosis; nil reads none (the scenario's metrics section is then
	// not enabled).
	Metrics MetricSource
	// Abandon is done when the user insists on stopping now (a second
	// interrupt): a restore in progress or due is given up, and the run
	// returns ErrNotRestored with the split to put back. nil: never.
	Abandon <-chan struct{}
	// Force takes over a service another run holds.
	Force bool
	// RollbackTimeout bounds the restore; 0 means DefaultRollbackTimeout.
	RollbackTimeout time.Duration
	// CreateRecord opens the run directory; nil means results.Create.
	// Tests use it to give the record a disk that fills.
	CreateRecord func(dir string) (*results.Writer, error)
}

// Progress is a snapshot of a run in flight.
type Progress struct {
	Phase    string
	Elapsed  time.Duration
	Total    time.Duration
	Requests int64
	Errors   int64
	// Rate is the request rate of the last closed window, per second.
	Rate float64
	// Note says what the phase is waiting for (PhaseMetrics, PhaseRestore).
	Note string
}

// Outcome is a finished (or stopped) run: its record and where it lives.
type Outcome struct {
	Run *results.Run
	Dir string
}

// Run executes the scenario and returns its finalized record. When ctx is
// cancelled the load stops, the services are restored as the rollback
// policy says, and the record is finalized with state "aborted" and
// returned with a nil error: the caller decides what an abort means. An
// error means the run could not be carried out, recorded or undone; the
// outcome is returned with it whenever a record exists.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}
