package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
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
// re-fetches every period until the points cover end or plan.maxWait has
// passed since end. It reports the wait through progress. A cancelled ctx
// ends the wait with what was fetched so far.
func awaitMetrics(ctx context.Context, src MetricSource, plan metricsPlan, start, end time.Time,
	now func() time.Time, progress func(Progress)) fetched {
	var f fetched
	deadline := end.Add(plan.maxWait)
	next := end.Add(plan.settle)
	report := func(note string) {
		f.waited = now().Sub(end)
		if progress != nil {
			progress(Progress{Phase: PhaseMetrics, Elapsed: f.waited, Total: plan.maxWait, Note: note})
		}
	}
	for attempt := 1; ; attempt++ {
		note := fmt.Sprintf("waiting %s for the platform's metrics to settle", plan.settle)
		if attempt > 1 {
			note = fmt.Sprintf("re-query %d: %s", attempt, f.note)
		}
		if err := waitUntil(ctx, now, next, time.Second, func() { report(note) }); err != nil {
			f.note = "the wait for metrics was interrupted"
			report(f.note)
			return f
		}
		series, covered, err := src.Fetch(ctx, start, end, plan.period)
		switch {
		case err != nil && ctx.Err() != nil:
			f.note = "the wait for metrics was interrupted"
			report(f.note)
			return f
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
				report(fmt.Sprintf("metrics covered after %d queries", attempt))
				return f
			}
			f.note = "the points do not reach the end of the run yet (ingestion lag)"
		}
		next = now().Add(plan.period)
		if next.After(deadline) {
			f.note = fmt.Sprintf("not covered after waiting %s (metrics.max_wait): %s",
				now().Sub(end).Round(time.Second), f.note)
			report(f.note)
			return f
		}
	}
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
// the causes: the run's Series, Findings and Diagnosis.
func diagnose(run *results.Run, f fetched, plan metricsPlan, sessions int) {
	an := correlate.Analyze(correlate.Input{
		Timeline:       run.Timeline,
		Events:         run.Events,
		Series:         f.series,
		Period:         plan.period,
		Load:           run.Load,
		Sessions:       sessions,
		AffinityRepins: run.Load.SessionRepins,
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
	if d.Signals == nil {
		d.Signals = []string{}
	}
	if !f.covered {
		d.Metrics, d.Note = results.MetricsMissing, f.note
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

// judgeDiagnosis folds the diagnosis into the verdict: missing metrics make
// the run inconclusive (a pass must not rest on metrics nobody read), and
// the findings are named among the reasons.
func judgeDiagnosis(v *results.Verdict, run *results.Run) {
	var named []string
	for _, f := range run.Findings {
		s := fmt.Sprintf("cause: %s (%s confidence", f.Cause, f.Confidence)
		if f.Explained > 0 && run.Totals.Errors > 0 {
			s += fmt.Sprintf(", explains %d of %d errors", f.Explained, run.Totals.Errors)
		}
		named = append(named, s+")")
	}
	switch v.Status {
	case results.StatusFail:
		v.Reasons = append(v.Reasons, named...)
	case results.StatusPass:
		if len(named) > 0 {
			v.Reasons = append(v.Reasons, "no errors, but the diagnosis found: "+strings.Join(named, "; "))
		}
	case results.StatusInconclusive:
		v.Reasons = append(v.Reasons, named...)
	}
	if d := run.Diagnosis; d != nil && d.Metrics == results.MetricsMissing {
		v.Status = results.StatusInconclusive
		v.Reasons = append([]string{"metrics missing: " + d.Note}, v.Reasons...)
	}
}
