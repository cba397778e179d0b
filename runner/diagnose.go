package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
	"github.com/cutover-dev/cutover/scenarios"
)

// PhaseMetrics is the phase Progress reports while the run waits for the
// platform's metrics to settle.
const PhaseMetrics = "metrics"

// ErrMetricsRejected marks a fetch error that no retry can mend (a bad
// filter, a missing permission): the wait stops at once. MetricSource
// implementations wrap such errors with it.
var ErrMetricsRejected = errors.New("metrics query rejected")

// metricsPlan is when and how the platform's metrics are read, in wall-clock
// time.
type metricsPlan struct {
	settle, maxWait, period time.Duration
	timeScale               int
}

// fetched is what the wait for metrics brought back.
type fetched struct {
	series  []results.Series
	covered bool
	note    string // why not covered
	waited  time.Duration
}

// awaitMetrics waits plan.settle after end, then fetches [start, end) and
// re-fetches on the grid end+settle+k·period, the last fetch exactly at
// end+maxWait, until the points cover end. It gives up after the fetch at
// the deadline. Each fetch is bounded by the deadline plus a period, so a
// hung API cannot stretch the wait. It reports the wait through progress.
// A cancelled ctx ends the wait with what was fetched so far.
func awaitMetrics(ctx context.Context, src MetricSource, plan metricsPlan, start, end time.Time,
	now func() time.Time, progress func(Progress)) fetched {
	var f fetched
	deadline := end.Add(max(plan.maxWait, plan.settle))
	report := func(note string) {
		f.waited = now().Sub(end)
		if progress != nil {
			progress(Progress{Phase: PhaseMetrics, Elapsed: f.waited, Total: plan.maxWait, Note: note})
		}
	}
	interrupted := func() fetched {
		f.note = "the wait for metrics was interrupted"
		report(f.note)
		return f
	}
	for attempt := 0; ; attempt++ {
		next := end.Add(plan.settle + time.Duration(attempt)*plan.period)
		last := !next.Before(deadline) || plan.period <= 0
		if last {
			next = deadline
		}
		note := fmt.Sprintf("waiting %s for the platform's metrics to settle", plan.platform(plan.settle))
		if attempt > 0 {
			note = fmt.Sprintf("query %d: %s", attempt+1, f.note)
		}
		if err := waitUntil(ctx, now, next, time.Second, func() { report(note) }); err != nil {
			return interrupted()
		}
		fctx, cancel := context.WithDeadline(ctx, deadline.Add(max(plan.period, 10*time.Second)))
		series, covered, err := src.Fetch(fctx, start, end, plan.period)
		cancel()
		switch {
		case ctx.Err() != nil:
			return interrupted()
		case err != nil:
			f.note = "fetch failed: " + err.Error()
			if errors.Is(err, ErrMetricsRejected) {
				report(f.note)
				return f
			}
		default:
			f.series, f.covered = series, covered
			if covered {
				f.note = ""
				report(fmt.Sprintf("metrics covered after %d queries", attempt+1))
				return f
			}
			f.note = "the points do not reach the end of the load yet (ingestion lag)"
		}
		if last {
			f.note = fmt.Sprintf("not covered %s after the load (metrics.max_wait %s): %s",
				plan.platform(now().Sub(end)), plan.platform(plan.maxWait), f.note)
			report(f.note)
			return f
		}
	}
}

// platform writes a wall-clock duration of the wait in platform time: on
// the local cloud, "24s (4m simulated)".
func (p metricsPlan) platform(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	if p.timeScale <= 1 {
		return d.String()
	}
	return fmt.Sprintf("%s (%s simulated)", d, scenarios.SimulatedDuration(d, p.timeScale).Round(time.Second))
}

// waitUntil waits until t or until ctx is done, calling tick every
// interval meanwhile (and once at the start).
func waitUntil(ctx context.Context, now func() time.Time, t time.Time, interval time.Duration, tick func()) error {
	tick()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		d := t.Sub(now())
		if d <= 0 {
			return ctx.Err()
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			return nil
		case <-ticker.C:
			timer.Stop()
			tick()
		}
	}
}

// diagnose lines the client results up with the fetched metrics and names
// the causes: the run's Series, Findings and Diagnosis. Only the events
// until the end of the load shape the phases: a rollback after it is not
// part of the cutover the clients saw.
//
// Findings rest on metrics only when they covered the run: periods whose
// points had not arrived would read as zero, and "no NAT drop" would then
// be a claim about metrics nobody read. Without coverage the findings come
// from the client side alone (the partial series are kept in the record).
//
// grid is the client results counted per metric period by their own
// timestamps (load.Summary.Grid); when there is one, the periods' client
// errors and metric values cover the same interval exactly, and the 1 s
// windows are not used.
func diagnose(run *results.Run, f fetched, plan metricsPlan, sc *scenarios.Scenario, loadEnd time.Time, grid []results.Window) {
	var events []results.Event
	for _, e := range run.Events {
		if !e.At.After(loadEnd) {
			events = append(events, e)
		}
	}
	series := f.series
	if !f.covered {
		series = nil
	}
	timeline, window := run.Timeline, sc.Load.Window.D()
	if len(grid) > 0 {
		timeline, window = grid, plan.period
	}
	sessions := 0
	if sc.Load.Sessions.Cookies {
		sessions = sc.Load.Sessions.Count
	}
	keepAlive, requestTimeout := serviceHints(sc)
	an := correlate.Analyze(correlate.Input{
		Timeline:       timeline,
		Window:         window,
		Events:         events,
		Series:         series,
		Period:         plan.period,
		Load:           run.Load,
		Sessions:       sessions,
		AffinityRepins: run.Load.SessionRepins,
		KeepAlive:      keepAlive,
		RequestTimeout: requestTimeout,
		ClientTimeout:  sc.Load.Timeout.D(),
	})
	d := &results.Diagnosis{
		Metrics:   results.MetricsCovered,
		Period:    plan.period.Seconds(),
		TimeScale: plan.timeScale,
		Settle:    plan.settle.Seconds(),
		Waited:    f.waited.Seconds(),
		Signals:   an.Signals,
		Buckets:   make([]results.Bucket, len(an.Buckets)),
	}
	d.Unexplained, d.RuledOut = an.Unexplained, an.RuledOut
	if d.Signals == nil {
		d.Signals = []string{}
	}
	switch {
	case !f.covered:
		d.Metrics, d.Note = results.MetricsMissing, f.note
	case !results.NATObserved(f.series):
		d.Note = "no Cloud NAT series came back (no NAT in the path, or another gateway or region than metrics.nat names): NAT is not ruled out"
	}
	for i, b := range an.Buckets {
		d.Buckets[i] = results.Bucket{
			Start: b.Start, End: b.End, Phase: b.Phase,
			Requests: b.Requests, Errors: b.Errors,
			ByClass: b.ByClass, Signals: b.Signals,
		}
	}
	run.Series = f.series
	run.Findings = an.Findings
	run.Diagnosis = d
}

// judgeDiagnosis folds the diagnosis into the verdict and names the
// findings among its reasons. Missing metrics never let a pass stand: it
// becomes inconclusive. A fail stays a fail — the clients' errors are facts
// whatever the metrics say — with the missing metrics among its reasons.
func judgeDiagnosis(v *results.Verdict, run *results.Run) {
	var named []string
	for _, f := range run.Findings {
		s := fmt.Sprintf("cause: %s (%s confidence", f.Cause, f.Confidence)
		if f.Primary > 0 && run.Totals.Errors > 0 {
			s += fmt.Sprintf(", primary cause of %d of %d errors", f.Primary, run.Totals.Errors)
		}
		named = append(named, s+")")
	}
	missing := run.Diagnosis != nil && run.Diagnosis.Metrics == results.MetricsMissing
	switch v.Status {
	case results.StatusPass:
		if len(named) > 0 {
			v.Reasons = append(v.Reasons, "no errors, but the diagnosis found: "+strings.Join(named, "; "))
		}
		if missing {
			v.Status = results.StatusInconclusive
			v.Reasons = append([]string{"metrics missing: " + run.Diagnosis.Note}, v.Reasons...)
		}
	default:
		v.Reasons = append(v.Reasons, named...)
		if missing {
			v.Reasons = append(v.Reasons, "metrics missing, so the cause is not diagnosed from them: "+run.Diagnosis.Note)
		}
	}
}

// serviceHints is what the scenario knows of the target service's own
// behaviour, for the remedies: whether its outbound calls keep connections
// alive and its request timeout (wall time). Only the local cloud's model
// says; against a real cloud both are unknown and the metrics decide.
func serviceHints(sc *scenarios.Scenario) (correlate.KeepAlive, time.Duration) {
	if !sc.LocalCloud.Enabled() {
		return correlate.KeepAliveUnknown, 0
	}
	for _, svc := range sc.LocalCloud.Services {
		if svc.Name != sc.Target.Service {
			continue
		}
		keep := correlate.KeepAliveOn
		for _, c := range svc.App.Calls {
			if !c.KeepAlive {
				keep = correlate.KeepAliveOff
			}
		}
		if len(svc.App.Calls) == 0 {
			keep = correlate.KeepAliveUnknown
		}
		return keep, sc.Wall(svc.RequestTimeout)
	}
	return correlate.KeepAliveUnknown, 0
}
