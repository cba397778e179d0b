package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/load"
	"github.com/cutover-dev/cutover/scenarios"
)

// claimMargin is added to a run's planned length to make its claim's
// lifetime: a claim outlives the run it belongs to only by this much when
// the run is killed and never releases it.
const claimMargin = 5 * time.Minute

// run is one run in flight: what its steps share. Each step is a method,
// called in order by execute; finish runs whatever way execute ends.
type run struct {
	opts Options
	sc   *scenarios.Scenario
	now  func() time.Time
	id   string
	dir  string
	rec  *recorder
	w    *results.Writer
	// cut carries out the actions; nil for a load-only run.
	cut *cutover

	loadStart, loadEnd time.Time
	sum                load.Summary
	loadErr            error
	// stopped says why the drive ended before the load's end (the abort
	// brake, a dead target, a record that cannot be written, a panic).
	stopped error
	// tripped is set when the abort brake tripped.
	tripped *trip
	// ctxDone is set when the run's context ended the load (an interrupt).
	ctxDone bool
	// final is the judged record; nil until judge.
	final *results.Run
	// stopWatch ends the platform watch (see startWatch); nil when none.
	stopWatch func()
}

// open is the first step: the scenario read, the services read and checked
// (preflight), the record directory made and the record synced to disk —
// before any change to a service, so that a crash from here on leaves what
// to restore.
func open(ctx context.Context, opts Options) (*run, error) {
	if opts.Scenario == nil {
		return nil, errors.New("run: no scenario")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	sc := opts.Scenario
	started := now()
	r := &run{opts: opts, sc: sc, now: now, id: results.NewRunID(started, sc.Name)}
	r.dir = filepath.Join(opts.ResultsDir, r.id)
	scJSON, err := json.Marshal(sc)
	if err != nil {
		return nil, fmt.Errorf("%w: encode scenario: %w", ErrRecord, err)
	}
	r.rec = newRecorder(&results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         r.id,
		Scenario:      scJSON,
		ScenarioName:  sc.Name,
		ToolVersion:   opts.ToolVersion,
		State:         results.StateRunning,
		StartedAt:     started,
		Totals:        results.Totals{ByClass: map[results.Class]int64{}},
		Timeline:      []results.Window{},
		Events:        []results.Event{},
		Verdict:       results.Verdict{Reasons: []string{}},
	})
	if len(sc.Actions) > 0 {
		before, err := Preflight(ctx, sc, opts.Platforms)
		if err != nil {
			return nil, fmt.Errorf("preflight: %w", err)
		}
		r.cut = newCutover(sc, opts.Platforms, before, now, r.rec)
		r.cut.beforeChange = r.beforeChange
		r.rec.run.Cutover = r.cut.record(opts.Target, r.restoreCommand())
	}
	if err := r.guard(ctx); err != nil {
		return nil, err
	}
	create := opts.CreateRecord
	if create == nil {
		create = results.Create
	}
	w, err := create(r.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	r.w = w
	if err := w.Save(r.rec.snapshot()); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	return r, nil
}

// restoreCommand is what puts this run's split back from another process;
// "" when nothing could (the run's own local cloud ends with it).
func (r *run) restoreCommand() string {
	if r.opts.Target.LocalCloud {
		return ""
	}
	dir := r.dir
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return "cutover restore " + dir
}

// execute runs the steps after open. finish runs on every way out,
// a panic included.
func (r *run) execute(ctx context.Context) (out *Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.Join(err, panicked(p))
		}
		out, err = r.finish(ctx, err)
	}()
	if err := r.claim(ctx); err != nil {
		return nil, err
	}
	r.startWatch(ctx)
	r.drive(ctx)
	if err := r.driveError(); err != nil {
		return nil, err
	}
	if err := r.judge(); err != nil {
		return nil, err
	}
	r.restoreByPolicy(ctx)
	r.diagnose(ctx)
	return nil, nil
}

// panicked turns a recovered panic into an error with its stack.
func panicked(p any) error {
	return fmt.Errorf("internal error (a bug in cutover; please report it): %v\n%s", p, debug.Stack())
}

// claim takes every service the actions change for this run, before the
// first change: a service another run holds stops the run here, with
// nothing changed.
func (r *run) claim(ctx context.Context) error {
	if r.cut == nil {
		return nil
	}
	ttl := r.sc.Load.Duration.D() + r.sc.Wall(r.sc.Metrics.MaxWait) + r.rollbackTimeout() + claimMargin
	for _, name := range r.cut.services() {
		if err := r.cut.platforms[name].Claim(ctx, r.id, ttl, r.opts.Force); err != nil {
			return fmt.Errorf("claim service %s: %w", name, err)
		}
		r.cut.claimed = append(r.cut.claimed, name)
	}
	return nil
}

// startWatch puts the target platform's own events (ECS's stopped tasks,
// service events, deployment states) on the timeline from now until
// finish: through the load, a restore and the wait for metrics. It runs
// under a context of its own so that it sees a rollback after Ctrl-C.
func (r *run) startWatch(ctx context.Context) {
	w, ok := r.opts.Platforms[r.sc.Target.Service].(Watcher)
	if r.cut == nil || !ok {
		return
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	since := r.now()
	go func() {
		defer close(done)
		if err := w.Watch(wctx, since, r.cut.report); err != nil && wctx.Err() == nil {
			r.rec.addEvent(results.Event{Kind: results.EventServiceEvent, At: r.now(),
				Details: map[string]string{"message": "cutover stopped watching the platform's events: " + err.Error()}})
		}
	}()
	r.stopWatch = func() {
		cancel()
		<-done
	}
}

func (r *run) rollbackTimeout() time.Duration {
	if r.opts.RollbackTimeout > 0 {
		return r.opts.RollbackTimeout
	}
	return DefaultRollbackTimeout
}

// beforeChange runs before every change an action makes to a service: the
// record says the service is being changed, synced, before the change
// happens. A record that cannot be written stops the change.
func (r *run) beforeChange(service string) error {
	if !r.rec.markChanged(service) {
		return nil
	}
	if err := r.w.Save(r.rec.snapshot()); err != nil {
		return fmt.Errorf("%w before changing %s: %w", ErrRecord, service, err)
	}
	return nil
}

// driveError is the error that ends a run after the drive: the load
// failing (the disk filled under results.bin), the record not written, a
// panic in one of the run's goroutines.
func (r *run) driveError() error {
	switch {
	case r.loadErr != nil:
		return fmt.Errorf("run load: %w", r.loadErr)
	case r.stopped != nil && !errors.Is(r.stopped, errBrakeObserved):
		return r.stopped
	}
	return nil
}

// judge computes the verdict from what the load measured and how the
// cutover went.
func (r *run) judge() error {
	run := r.rec.snapshot()
	run.EndedAt = r.now()
	run.Totals, run.Latency, run.Timeline, run.Load = r.sum.Totals, r.sum.Latency, r.sum.Timeline, r.sum.Load
	run.State = results.StateComplete
	if r.interrupted() {
		run.State = results.StateAborted
	}
	v, err := Judge(r.sc.Verdict, run.Totals, run.Latency, run.Load)
	if err != nil {
		return fmt.Errorf("judge run: %w", err)
	}
	if r.tripped != nil {
		v.Status = results.StatusFail
		v.Reasons = append([]string{"abort brake tripped: " + r.tripped.why}, v.Reasons...)
	}
	if r.cut != nil && r.cut.failed != nil && v.Status != results.StatusInconclusive {
		v.Status = results.StatusFail
		v.Reasons = append([]string{"action failed: " + r.cut.failed.Error()}, v.Reasons...)
	}
	if run.State == results.StateAborted {
		v.Reasons = append([]string{"run aborted before the end of the load"}, v.Reasons...)
	}
	run.Verdict = v
	r.final = run
	return nil
}

// interrupted reports whether the user stopped the run.
func (r *run) interrupted() bool { return r.stopped == nil && r.ctxDone }

// restoreByPolicy puts the services back when the rollback policy asks for
// it after how the run went.
func (r *run) restoreByPolicy(ctx context.Context) {
	if r.cut == nil {
		return
	}
	aborted := r.final.State == results.StateAborted
	if ok, why := shouldRestore(r.sc.Rollback, aborted, r.final.Verdict.Status == results.StatusFail); ok {
		r.cut.restore(ctx, why, r.restoreOptions())
	}
}

func (r *run) restoreOptions() restoreOptions {
	return restoreOptions{timeout: r.rollbackTimeout(), abandon: r.opts.Abandon, progress: r.opts.Progress, runID: r.id}
}

// diagnose reads the platform's metrics after the load and names the
// causes of what the clients saw.
func (r *run) diagnose(ctx context.Context) {
	sc, run := r.sc, r.final
	if r.opts.Metrics == nil || !sc.Metrics.Enabled || run.State != results.StateComplete {
		return
	}
	r.noteCutover(run)
	// Save what the clients saw before the wait, which can be minutes.
	// A crash meanwhile leaves a record that says so: still running,
	// and no pass until the metrics are read.
	if err := r.w.Save(pendingMetrics(run)); err != nil {
		r.stopped = fmt.Errorf("%w: %w", ErrRecord, err)
		return
	}
	plan := metricsPlan{
		settle:    sc.Wall(sc.Metrics.Settle),
		maxWait:   sc.Wall(sc.Metrics.MaxWait),
		period:    sc.Wall(sc.Metrics.Period),
		timeScale: sc.LocalCloud.TimeScale,
	}
	got := awaitMetrics(ctx, r.opts.Metrics, plan, r.loadStart, r.loadEnd, r.now, r.opts.Progress)
	diagnose(run, got, plan, sc, r.loadEnd, r.sum.Grid)
	judgeDiagnosis(&run.Verdict, run)
	if ctx.Err() != nil {
		// The load and the cutover are over and the rollback was
		// decided on what the clients saw; an interrupt now only ends
		// the wait, it does not undo a cutover that held.
		run.State = results.StateAborted
		run.Verdict.Reasons = append([]string{"run aborted while waiting for the platform's metrics"}, run.Verdict.Reasons...)
	}
}

// finish is the last step, on every way out: it makes sure a changed
// service is put back when it is due, releases the claims, and saves the
// final record. err is what ended the run early, if anything did.
func (r *run) finish(ctx context.Context, err error) (*Outcome, error) {
	if err != nil && r.cut != nil && r.sc.Rollback != scenarios.RollbackNever {
		r.cut.restore(ctx, "run stopped: "+firstLine(err.Error()), r.restoreOptions())
	}
	if r.stopped != nil && err == nil && !errors.Is(r.stopped, errBrakeObserved) {
		err = r.stopped
	}
	run := r.final
	if run == nil {
		run = r.failedRecord(err)
	} else if err != nil {
		run.State, run.Error = results.StateFailed, failure(err)
		run.Verdict.Reasons = append([]string{"run failed: " + run.Error}, run.Verdict.Reasons...)
	}
	if r.stopWatch != nil {
		r.stopWatch()
	}
	run.EndedAt = r.now()
	r.noteCutover(run)
	if r.cut != nil {
		r.cut.releaseClaims(ctx, run.Cutover.Left, r.rollbackTimeout())
	}
	if cerr := r.w.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("%w: %w", ErrRecord, cerr)
		run.State, run.Error = results.StateFailed, failure(err)
	}
	if serr := r.w.SaveFinal(run); serr != nil {
		err = errors.Join(err, fmt.Errorf("%w: %w", ErrRecord, serr))
	}
	if run.Cutover != nil && run.Cutover.Left == results.LeftNotRestored {
		err = errors.Join(fmt.Errorf("%w: %s", ErrNotRestored, run.Cutover.RestoreError), err)
	}
	return &Outcome{Run: run, Dir: r.dir}, err
}

// failedRecord is the record of a run that ended before it was judged.
func (r *run) failedRecord(err error) *results.Run {
	run := r.rec.snapshot()
	run.State = results.StateFailed
	if err != nil {
		run.Error = failure(err)
	}
	if r.sum.Timeline != nil {
		run.Totals, run.Latency, run.Timeline, run.Load = r.sum.Totals, r.sum.Latency, r.sum.Timeline, r.sum.Load
	}
	run.Verdict = results.Verdict{
		Status:           results.StatusInconclusive,
		Reasons:          []string{"run failed: " + run.Error},
		ErrorRateUpper95: ErrorRateUpper95(run.Totals.Errors, run.Totals.Requests),
	}
	return run
}

// noteCutover copies the cutover's record and events into run.
func (r *run) noteCutover(run *results.Run) {
	if r.cut == nil {
		return
	}
	run.Cutover, run.Events = r.rec.cutoverSnapshot(), r.rec.events()
	r.cut.note(run.Cutover)
}

// failure is how a record names what ended its run: one line, "disk full"
// first when the disk filled.
func failure(err error) string {
	msg := firstLine(err.Error())
	if results.IsDiskFull(err) {
		return "disk full: " + msg
	}
	return msg
}

// firstLine is s up to its first newline: errors with a stack keep it out
// of one-line fields.
func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
