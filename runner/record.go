package runner

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/results"
)

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

func newRecorder(run *results.Run) *recorder { return &recorder{run: run} }

// started is when the run started.
func (r *recorder) started() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run.StartedAt
}

// totals returns a copy of the totals so far.
func (r *recorder) totals() results.Totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.run.Totals
	t.ByClass = maps.Clone(t.ByClass)
	t.ByStatus = maps.Clone(t.ByStatus)
	return t
}

// markChanged notes that the run is about to change service; it reports
// whether that is news (the record must then be saved before the change).
func (r *recorder) markChanged(service string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.run.Cutover
	if c == nil {
		return false
	}
	i := slices.IndexFunc(c.Services, func(s results.ServiceRestore) bool { return s.Name == service })
	if i < 0 || c.Services[i].Changed {
		return false
	}
	c.Services[i].Changed = true
	c.Left = results.LeftInFlight
	return true
}

// changedServices lists the services the run has changed, in record order.
func (r *recorder) changedServices() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	if c := r.run.Cutover; c != nil {
		for _, s := range c.Services {
			if s.Changed {
				names = append(names, s.Name)
			}
		}
	}
	return names
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
	for code, n := range win.ByStatus {
		if r.run.Totals.ByStatus == nil {
			r.run.Totals.ByStatus = map[string]int64{}
		}
		r.run.Totals.ByStatus[code] += n
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
	return cloneCutover(r.run.Cutover)
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
		c.Cutover = cloneCutover(r.run.Cutover)
	}
	c.Totals.ByClass = make(map[results.Class]int64, len(r.run.Totals.ByClass))
	for k, v := range r.run.Totals.ByClass {
		c.Totals.ByClass[k] = v
	}
	c.Totals.ByStatus = maps.Clone(r.run.Totals.ByStatus)
	return &c
}

// cloneCutover copies a cutover record deeply enough to be used while the
// recorder goes on.
func cloneCutover(in *results.Cutover) *results.Cutover {
	c := *in
	c.DeployedRevisions = slices.Clone(in.DeployedRevisions)
	c.Services = slices.Clone(in.Services)
	return &c
}
