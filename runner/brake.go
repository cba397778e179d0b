package runner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// brake is the abort brake (verdict.abort, and thresholds marked abort):
// evaluated on every window from the cutover's first action on, it trips
// when the cutover is clearly hurting the clients, so the run stops
// changing the service and puts it back without waiting for the end.
type brake struct {
	rule       *scenarios.AbortRule
	thresholds []scenarios.Threshold
	width      int64 // windows the rule's "for" spans
	recent     []results.Window
	since      results.Totals // everything since the brake started watching
}

// trip says why the brake tripped.
type trip struct{ why string }

// newBrake returns the scenario's brake, or nil when it has none.
func newBrake(sc *scenarios.Scenario) *brake {
	b := &brake{rule: sc.Verdict.Abort, since: results.Totals{ByClass: map[results.Class]int64{}}}
	for _, th := range sc.Verdict.Thresholds {
		if th.Abort {
			b.thresholds = append(b.thresholds, th)
		}
	}
	if b.rule == nil && len(b.thresholds) == 0 {
		return nil
	}
	if b.rule != nil {
		b.width = max(1, int64(b.rule.For.D()/sc.Load.Window.D()))
	}
	return b
}

// observe folds in one window and returns the trip, if it tripped.
func (b *brake) observe(win results.Window) *trip {
	b.since.Requests += win.Requests
	b.since.Errors += win.Errors
	for c, n := range win.ByClass {
		b.since.ByClass[c] += n
	}
	if b.rule != nil {
		b.recent = append(b.recent, win)
		if int64(len(b.recent)) > b.width {
			b.recent = b.recent[1:]
		}
		if t := b.checkRule(); t != nil {
			return t
		}
	}
	for _, th := range b.thresholds {
		actual, err := abortValue(th.Metric, b.since, win)
		if err != nil || compare(actual, th.Op, th.Value) {
			continue
		}
		return &trip{why: fmt.Sprintf("threshold %q broken during the cutover: actual %s", th.Expr, formatActual(th.Metric, actual))}
	}
	return nil
}

func (b *brake) checkRule() *trip {
	if int64(len(b.recent)) < b.width {
		return nil
	}
	var req, errs int64
	for _, w := range b.recent {
		req, errs = req+w.Requests, errs+w.Errors
	}
	if req == 0 || req < int64(b.rule.MinRequests) {
		return nil
	}
	rate := float64(errs) / float64(req)
	if rate <= b.rule.ErrorRate {
		return nil
	}
	return &trip{why: fmt.Sprintf("error rate %.1f%% over the last %s (%d of %d requests) > %.3g%%",
		100*rate, b.rule.For, errs, req, 100*b.rule.ErrorRate)}
}

// abortValue is a threshold's metric during the cutover: counts since the
// brake started watching, latency percentiles of the window just closed.
func abortValue(metric scenarios.MetricName, since results.Totals, win results.Window) (float64, error) {
	return metricValue(metric, since, results.Latency{P50: win.P50, P99: win.P99})
}

// classSummary renders non-zero class counts: "connect_refused 12, eof 3".
func classSummary(byClass map[results.Class]int64) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(byClass)) {
		if n := byClass[c]; n > 0 && c != results.ClassOK && !results.IsDerived(c) {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	return strings.Join(parts, ", ")
}
