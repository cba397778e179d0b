// Package compare owns the comparison of two run records of one scenario, a
// base and a head: errors and error rates overall and inside the cutover
// window by class (Fisher's exact test, Clopper–Pearson bounds), latency
// quantiles from the windows' merged HDR histograms (a block bootstrap over
// windows), the cutover's own durations per service, the findings that
// appeared or went, and one verdict: REGRESSION, IMPROVEMENT, NO CHANGE or
// INCONCLUSIVE, with its reasons. It is a pure function of the two records
// and the limits: it reads no file, clock or environment, and rendering
// belongs to package reporters. Compare is safe for concurrent use.
package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// Status is a comparison's verdict.
type Status string

// Verdicts of a comparison.
const (
	// StatusRegression: a difference is significant and beyond its limit,
	// in the head's disfavour (or the head has a new finding).
	StatusRegression Status = "REGRESSION"
	// StatusImprovement: no regression, and a difference is significant
	// and beyond its limit in the head's favour (or a finding went).
	StatusImprovement Status = "IMPROVEMENT"
	// StatusNoChange: nothing significant beyond its limit.
	StatusNoChange Status = "NO CHANGE"
	// StatusInconclusive: a run has too few requests to rest a verdict on.
	StatusInconclusive Status = "INCONCLUSIVE"
)

// Outcome is what one compared metric says of the head.
type Outcome string

// Outcomes of one metric.
const (
	OutcomeRegression  Outcome = "regression"
	OutcomeImprovement Outcome = "improvement"
	// OutcomeWithinLimit: significant, but not beyond the limit.
	OutcomeWithinLimit Outcome = "within limit"
	// OutcomeNoChange: not significant.
	OutcomeNoChange Outcome = "no change"
	// OutcomeNotJudged: reported only (no limit applies, or not testable).
	OutcomeNotJudged Outcome = "not judged"
)

// Scope says which requests a metric counts.
type Scope string

// Scopes of a comparison.
const (
	// ScopeOverall counts the whole run.
	ScopeOverall Scope = "overall"
	// ScopeCutover counts the windows of the cutover window: from the
	// first deploy-start or traffic-applied event to the last
	// revision-ready, traffic-applied or rollback-done, plus the compare
	// section's settle, clipped to the load.
	ScopeCutover Scope = "cutover"
)

// Options tune a comparison.
type Options struct {
	// Limits are the regression limits: the head scenario's compare
	// section with the command line's overrides.
	Limits scenarios.Compare
	// Seed seeds the bootstrap; the same records and seed give the same
	// intervals.
	Seed uint64
}

// Comparison is the whole comparison of a head run against its base, as
// `cutover compare --format json` prints it.
type Comparison struct {
	// Scenario is the head's scenario name.
	Scenario string  `json:"scenario"`
	Base     RunInfo `json:"base"`
	Head     RunInfo `json:"head"`
	// ScenarioDiffers lists the top-level keys of the resolved scenarios
	// that differ between the runs (empty: the same scenario).
	ScenarioDiffers []string          `json:"scenario_differs,omitempty"`
	Limits          scenarios.Compare `json:"limits"`
	// Errors compares errors, overall and in the cutover window: first
	// all errors of the scope, then each class either run saw.
	Errors  []ErrorComparison   `json:"errors"`
	Latency []LatencyComparison `json:"latency"`
	// Cutover compares the cutover's durations, per service.
	Cutover  []ServiceCutover `json:"cutover,omitempty"`
	Findings FindingsDiff     `json:"findings"`
	// Timeline has errors per window of both runs, aligned by offset
	// from the start of the load, for plots.
	Timeline Timeline `json:"timeline"`
	Verdict  Verdict  `json:"verdict"`
	// Method says how each statistic was computed, for the reader.
	Method []string `json:"method"`
}

// RunInfo describes one of the two runs.
type RunInfo struct {
	RunID     string    `json:"run_id"`
	State     string    `json:"state"`
	Verdict   string    `json:"verdict"`
	StartedAt time.Time `json:"started_at"`
	Requests  int64     `json:"requests"`
	Errors    int64     `json:"errors"`
	// Saturated: the run's load generator could not keep up.
	Saturated bool `json:"saturated,omitempty"`
	// Windows is the number of timeline windows; WindowSeconds their width.
	Windows       int     `json:"windows"`
	WindowSeconds float64 `json:"window_s"`
	// CutoverWindow is the run's cutover window, in seconds from the start
	// of the load; nil when the run changed nothing.
	CutoverWindow *Span `json:"cutover_window,omitempty"`
}

// Span is [From, To) in seconds from the start of the load.
type Span struct {
	From float64 `json:"from_s"`
	To   float64 `json:"to_s"`
}

// Verdict is a comparison's answer and why.
type Verdict struct {
	Status  Status   `json:"status"`
	Reasons []string `json:"reasons"`
}

// Compare compares head against base under opts. It fails only on a record
// whose histograms cannot be decoded; scenarios that differ are the
// caller's to refuse (see Comparison.ScenarioDiffers).
func Compare(base, head *results.Run, opts Options) (*Comparison, error) {
	c := &Comparison{
		Scenario:        head.ScenarioName,
		Base:            runInfo(base),
		Head:            runInfo(head),
		ScenarioDiffers: ScenarioDiff(base.Scenario, head.Scenario),
		Limits:          opts.Limits,
	}
	settle := opts.Limits.Settle.D()
	bcut, hcut := cutoverSpan(base, settle), cutoverSpan(head, settle)
	c.Base.CutoverWindow, c.Head.CutoverWindow = bcut, hcut

	c.Errors = append(c.Errors, compareErrors(ScopeOverall, counted(base, nil), counted(head, nil), opts.Limits)...)
	hasCutover := bcut != nil && hcut != nil
	bw, hw := windowsIn(base, bcut), windowsIn(head, hcut)
	if hasCutover {
		c.Errors = append(c.Errors, compareErrors(ScopeCutover, counted(base, bw), counted(head, hw), opts.Limits)...)
	}

	lat, err := decodeLatency(base, head)
	if err != nil {
		return nil, err
	}
	c.Latency = compareLatency(lat, ScopeOverall, allWindows(base), allWindows(head), opts.Seed)
	if hasCutover {
		c.Latency = append(c.Latency, compareLatency(lat, ScopeCutover, bw, hw, opts.Seed+1)...)
	}
	for i := range c.Latency {
		judgeLatency(&c.Latency[i], opts.Limits)
	}

	c.Cutover = compareCutover(base, head)
	c.Findings = diffFindings(base.Findings, head.Findings)
	c.Timeline = timeline(base, head, bcut, hcut)
	c.Verdict = decide(c, opts.Limits)
	c.Method = method(c)
	return c, nil
}

func runInfo(r *results.Run) RunInfo {
	return RunInfo{
		RunID: r.RunID, State: r.State, Verdict: r.Verdict.Status, StartedAt: r.StartedAt,
		Requests: r.Totals.Requests, Errors: r.Totals.Errors, Saturated: r.Load.Saturated,
		Windows: len(r.Timeline), WindowSeconds: windowWidth(r).Seconds(),
	}
}

// windowWidth is the width of the run's timeline windows: the smallest gap
// between consecutive window starts, or 1 s for a run with one window.
func windowWidth(r *results.Run) time.Duration {
	var w time.Duration
	for i := 1; i < len(r.Timeline); i++ {
		if d := r.Timeline[i].Start.Sub(r.Timeline[i-1].Start); d > 0 && (w == 0 || d < w) {
			w = d
		}
	}
	if w == 0 {
		w = time.Second
	}
	return w
}

// loadStart is where offsets are counted from: the first window's start,
// or the run's start when it has none.
func loadStart(r *results.Run) time.Time {
	if len(r.Timeline) > 0 {
		return r.Timeline[0].Start
	}
	return r.StartedAt
}

func allWindows(r *results.Run) []int {
	idx := make([]int, len(r.Timeline))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// ScenarioDiff returns the top-level keys of two resolved scenarios (as
// records hold them) whose values differ, sorted; nil when they are the
// same or either cannot be read. In a scenario with a localcloud section,
// target.url and target.endpoint are the addresses of the local cloud the
// run started (a new port every run), not part of the scenario: they are
// not compared.
func ScenarioDiff(base, head json.RawMessage) []string {
	b, bok := scenarioMap(base)
	h, hok := scenarioMap(head)
	if !bok || !hok {
		return nil
	}
	var keys []string
	for k, bv := range b {
		if hv, ok := h[k]; !ok || !sameJSON(bv, hv) {
			keys = append(keys, k)
		}
	}
	for k := range h {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// scenarioMap is a recorded scenario by top-level key, its local cloud's
// addresses left out.
func scenarioMap(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	if lc, ok := m["localcloud"]; !ok || string(lc) == "{}" || string(lc) == "null" {
		return m, true
	}
	var target map[string]json.RawMessage
	if json.Unmarshal(m["target"], &target) == nil && target != nil {
		delete(target, "url")
		delete(target, "endpoint")
		m["target"], _ = json.Marshal(target)
	}
	return m, true
}

// sameJSON compares two JSON values whatever their key order and spacing.
func sameJSON(a, b json.RawMessage) bool {
	var av, bv any
	if json.Unmarshal(a, &av) != nil || json.Unmarshal(b, &bv) != nil {
		return bytes.Equal(a, b)
	}
	ac, _ := json.Marshal(av)
	bc, _ := json.Marshal(bv)
	return bytes.Equal(ac, bc)
}

// method says how the comparison's numbers were computed.
func method(c *Comparison) []string {
	m := []string{
		fmt.Sprintf("Errors: Fisher's exact test (two-sided, significant at p < %g) on errors vs the other requests; rates with their 95%% Clopper–Pearson intervals.", Alpha),
		fmt.Sprintf("Latency: quantiles of the windows' HDR histograms merged; 99%% interval of head − base from a block bootstrap over windows (%d replicates, blocks of ⌈m^⅓⌉ consecutive windows, seeded), because requests close in time are correlated and resampling single requests would understate the uncertainty. Significant only when the interval excludes 0 and the difference exceeds %g%% of the base (machine noise between runs) and twice the histogram's resolution.", Replicates, RelativeFloor*100),
		fmt.Sprintf("Cutover window: first deploy-start or traffic-applied event to the last revision-ready, traffic-applied or rollback-done, plus settle %s, clipped to the load; windows aligned by offset from the load's start.", c.Limits.Settle),
		"A metric is a regression when its difference is significant AND beyond its limit; a new finding in the head is a regression by itself.",
	}
	return m
}
