// Package runner owns the lifecycle of one run: it opens the run record,
// drives the load, keeps the record on disk current while the load runs,
// judges the outcome and finalizes the record, also when the run is stopped
// early. It declares the interfaces it consumes from platform and metric
// drivers; it never imports a driver or a cloud SDK, and it renders nothing.
package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/load"
	"github.com/cutover-dev/cutover/scenarios"
)

// DefaultSaveEvery is how often the partial record is written during a run.
const DefaultSaveEvery = 5 * time.Second

// PhaseLoad is the phase Progress reports while the load runs.
const PhaseLoad = "load"

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
	// Progress, when set, is called as each timeline window closes, from one
	// goroutine, and must return quickly.
	Progress func(Progress)
	// SaveEvery is how often the partial record is saved; 0 means DefaultSaveEvery.
	SaveEvery time.Duration
	// Platforms holds the services the scenario's actions change, by
	// service name: the target's and any other a deploy names. Nil for a
	// load-only run.
	Platforms map[string]Platform
	// Metrics reads the platform's metrics after the load, for the
	// diagnosis; nil reads none (the scenario's metrics section is then
	// not enabled).
	Metrics MetricSource
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
	// Note says what the phase is waiting for (PhaseMetrics).
	Note string
}

// Outcome is a finished (or stopped) run: its record and where it lives.
type Outcome struct {
	Run *results.Run
	Dir string
}

// Run executes the scenario and returns its finalized record. When ctx is
// cancelled the load stops, and the record is finalized with state
// "aborted" and returned with a nil error: the caller decides what an abort
// means. An error means the run could not be carried out or recorded.
func Run(ctx context.Context, opts Options) (*Outcome, error) {
	if opts.Scenario == nil {
		return nil, errors.New("run: no scenario")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	saveEvery := opts.SaveEvery
	if saveEvery <= 0 {
		saveEvery = DefaultSaveEvery
	}
	sc := opts.Scenario
	started := now()
	id := results.NewRunID(started, sc.Name)
	dir := filepath.Join(opts.ResultsDir, id)
	rec := &recorder{run: &results.Run{
		SchemaVersion: results.SchemaVersion,
		RunID:         id,
		Scenario:      sc,
		ToolVersion:   opts.ToolVersion,
		State:         results.StateRunning,
		StartedAt:     started,
		Totals:        results.Totals{ByClass: map[string]int64{}},
		Timeline:      []results.Window{},
		Events:        []results.Event{},
		Verdict:       results.Verdict{Reasons: []string{}},
	}}
	var cut *cutover
	if len(sc.Actions) > 0 {
		var err error
		if cut, err = newCutover(ctx, sc, opts.Platforms, now, rec); err != nil {
			return nil, fmt.Errorf("preflight: %w", err)
		}
		before := cut.before[cut.target]
		rec.run.Cutover = &results.Cutover{
			Service:          before.Name,
			BaselineRevision: before.LatestReadyRevision,
			TrafficBefore:    FormatSplit(before.Traffic),
			RestoreTo:        cut.restoreSplits(),
			Rollback:         sc.Rollback,
		}
	}
	// The record directory is made only once preflight has passed, so a
	// scenario whose service cannot be read leaves nothing behind.
	w, err := results.Create(dir)
	if err != nil {
		return nil, fmt.Errorf("create run record: %w", err)
	}
	defer w.Close()
	if err := w.Save(rec.snapshot()); err != nil {
		return nil, fmt.Errorf("save run record: %w", err)
	}

	total := sc.Load.Duration.D()
	onWindow := func(win results.Window) {
		p := rec.add(win)
		if opts.Progress != nil {
			p.Phase = PhaseLoad
			p.Elapsed = win.Start.Add(sc.Load.Window.D()).Sub(started)
			p.Total = total
			if w := sc.Load.Window.D(); w > 0 {
				p.Rate = float64(win.Requests) / w.Seconds()
			}
			opts.Progress(p)
		}
	}

	// Save the partial record periodically so a crash leaves everything up
	// to the last save readable.
	saveCtx, stopSaving := context.WithCancel(ctx)
	var saveErr error
	var saving sync.WaitGroup
	saving.Add(1)
	go func() {
		defer saving.Done()
		t := time.NewTicker(saveEvery)
		defer t.Stop()
		for {
			select {
			case <-saveCtx.Done():
				return
			case <-t.C:
				if err := w.Save(rec.snapshot()); err != nil && saveErr == nil {
					saveErr = err
				}
			}
		}
	}()

	// The cutover runs beside the load, on the same clock: an action at
	// 20s starts 20 s after the load did.
	var actionErr, restoreErr error
	restored := false
	var acting sync.WaitGroup
	if cut != nil {
		acting.Add(1)
		go func() {
			defer acting.Done()
			actionErr = cut.run(ctx, now())
			if actionErr != nil && ctx.Err() == nil {
				if ok, why := shouldRestore(sc.Rollback, false, true); ok {
					restoreErr = cut.restore(ctx, why)
					restored = restoreErr == nil
				}
			}
		}()
	}

	loadStart := now()
	sum, loadErr := load.Run(ctx, load.Options{
		Load:     sc.Load,
		BaseURL:  sc.Target.URL,
		Results:  w.Results(),
		OnWindow: onWindow,
		Now:      now,
	})
	loadEnd := now()
	stopSaving()
	saving.Wait()
	acting.Wait()

	run := rec.snapshot()
	run.EndedAt = now()
	if loadErr != nil {
		run.State = results.StateAborted
		run.Verdict.Reasons = []string{fmt.Sprintf("load failed: %v", loadErr)}
		if err := w.Save(run); err != nil {
			return nil, errors.Join(fmt.Errorf("run load: %w", loadErr), fmt.Errorf("save run record: %w", err))
		}
		return nil, fmt.Errorf("run load: %w", loadErr)
	}
	run.Totals = sum.Totals
	run.Latency = sum.Latency
	run.Timeline = sum.Timeline
	run.Load = sum.Load
	run.State = results.StateComplete
	if ctx.Err() != nil {
		run.State = results.StateAborted
	}
	v, err := Judge(sc.Verdict, run.Totals, run.Latency, run.Load)
	if err != nil {
		return nil, fmt.Errorf("judge run: %w", err)
	}
	if actionErr != nil && v.Status != results.StatusInconclusive {
		v.Status = results.StatusFail
		v.Reasons = append([]string{"action failed: " + actionErr.Error()}, v.Reasons...)
	}
	if run.State == results.StateAborted {
		v.Reasons = append([]string{"run aborted before the end of the load"}, v.Reasons...)
	}
	run.Verdict = v
	if cut != nil && !restored && restoreErr == nil {
		aborted := run.State == results.StateAborted
		if ok, why := shouldRestore(sc.Rollback, aborted, v.Status == results.StatusFail); ok {
			restoreErr = cut.restore(ctx, why)
			restored = restoreErr == nil
		}
	}
	// noteCutover copies the cutover's record and events into run.
	noteCutover := func() {
		if cut == nil {
			return
		}
		run.Cutover, run.Events = rec.cutoverSnapshot(), rec.events()
		run.Cutover.Restored = restored
		if restoreErr != nil {
			run.Cutover.RestoreError = restoreErr.Error()
		}
	}
	noteCutover()
	if opts.Metrics != nil && sc.Metrics.Enabled && run.State == results.StateComplete {
		// Save what the clients saw before the wait, which can be minutes.
		// A crash meanwhile leaves a record that says so: still running,
		// and no pass until the metrics are read.
		if err := w.Save(pendingMetrics(run)); err != nil {
			return nil, fmt.Errorf("save run record: %w", err)
		}
		plan := metricsPlan{
			settle:    sc.Wall(sc.Metrics.Settle),
			maxWait:   sc.Wall(sc.Metrics.MaxWait),
			period:    sc.Wall(sc.Metrics.Period),
			timeScale: sc.LocalCloud.TimeScale,
		}
		got := awaitMetrics(ctx, opts.Metrics, plan, loadStart, loadEnd, now, opts.Progress)
		sessions := 0
		if sc.Load.Sessions.Cookies {
			sessions = sc.Load.Sessions.Count
		}
		diagnose(run, got, plan, sessions, loadEnd)
		judgeDiagnosis(&run.Verdict, run)
		if ctx.Err() != nil {
			// The load and the cutover are over and the rollback was
			// decided on what the clients saw; an interrupt now only ends
			// the wait, it does not undo a cutover that held.
			run.State = results.StateAborted
			run.Verdict.Reasons = append([]string{"run aborted while waiting for the platform's metrics"}, run.Verdict.Reasons...)
		}
	}
	run.EndedAt = now()
	if err := w.Save(run); err != nil {
		return nil, fmt.Errorf("save run record: %w", err)
	}
	if restoreErr != nil {
		return &Outcome{Run: run, Dir: dir}, restoreErr
	}
	if saveErr != nil {
		return &Outcome{Run: run, Dir: dir}, fmt.Errorf("save partial run record: %w", saveErr)
	}
	return &Outcome{Run: run, Dir: dir}, nil
}

// pendingMetrics returns the record as saved while the run waits for the
// platform's metrics: still running, and a pass not yet a pass.
func pendingMetrics(run *results.Run) *results.Run {
	c := *run
	c.State = results.StateRunning
	c.EndedAt = time.Time{}
	c.Diagnosis = &results.Diagnosis{Metrics: results.MetricsPending, Signals: []string{}, Buckets: []results.Bucket{}}
	const why = "metrics pending: the record was saved before the platform's metrics were read"
	c.Verdict.Reasons = append([]string{why}, run.Verdict.Reasons...)
	if c.Verdict.Status == results.StatusPass {
		c.Verdict.Status = results.StatusInconclusive
	}
	return &c
}

// recorder holds the record in flight; windows arrive from the load
// engine's goroutine while the saver reads snapshots from another.
type recorder struct {
	mu  sync.Mutex
	run *results.Run
}

// add folds a closed window into the record and returns the progress so far.
func (r *recorder) add(win results.Window) Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run.Timeline = append(r.run.Timeline, win)
	r.run.Totals.Requests += win.Requests
	r.run.Totals.Errors += win.Errors
	for c, n := range win.ByClass {
		r.run.Totals.ByClass[c] += n
	}
	return Progress{Requests: r.run.Totals.Requests, Errors: r.run.Totals.Errors}
}

// addEvent appends an event to the timeline, keeping it in time order.
func (r *recorder) addEvent(e results.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run.Events = append(r.run.Events, e)
	sortEvents(r.run.Events)
}

// events returns a copy of the events.
func (r *recorder) events() []results.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]results.Event{}, r.run.Events...)
}

func (r *recorder) runID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run.RunID
}

func (r *recorder) addDeployed(rev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.run.Cutover; c != nil && !slices.Contains(c.DeployedRevisions, rev) {
		c.DeployedRevisions = append(c.DeployedRevisions, rev)
	}
}

func (r *recorder) setFailedAction(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.run.Cutover != nil {
		r.run.Cutover.FailedAction = msg
	}
}

// cutoverSnapshot returns a copy of the cutover record.
func (r *recorder) cutoverSnapshot() *results.Cutover {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *r.run.Cutover
	c.DeployedRevisions = append([]string(nil), r.run.Cutover.DeployedRevisions...)
	return &c
}

// snapshot returns a copy of the record that is safe to use while the
// recorder goes on.
func (r *recorder) snapshot() *results.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *r.run
	c.Timeline = append([]results.Window(nil), r.run.Timeline...)
	c.Events = append([]results.Event{}, r.run.Events...)
	if r.run.Cutover != nil {
		cc := *r.run.Cutover
		cc.DeployedRevisions = append([]string(nil), r.run.Cutover.DeployedRevisions...)
		c.Cutover = &cc
	}
	c.Totals.ByClass = make(map[string]int64, len(r.run.Totals.ByClass))
	for k, v := range r.run.Totals.ByClass {
		c.Totals.ByClass[k] = v
	}
	return &c
}
