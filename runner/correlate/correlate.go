// Package correlate diagnoses a run: it buckets what the clients saw into the
// platform's metric periods, lines the buckets up with the fetched metric
// series and the cutover's events, measures for every error class and series
// how strongly they coincide (co-occurrence, Pearson correlation, best lag),
// and names the causes the evidence supports, each with its evidence and the
// known remedies from the incidents the project is built from, offered only
// where the run's evidence supports them. Each client error is the primary
// error of at most one finding, so the accounting adds up: the findings'
// primary errors plus the unexplained ones are the run's errors. Findings
// that explain no error and no verdict are ruled out, with why; a
// mechanism (no healthy targets, an overloaded target) whose errors its
// root cause took stays beside it.
//
// Everything here is a pure function of its Input: no I/O, no clock, no
// goroutines. It does not fetch metrics (runner/monitoring does), decide the
// verdict (runner does) or render anything (reporters do). Analyze is safe to
// call from several goroutines at once; it does not modify its Input.
package correlate

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

// MaxLag is the largest lag, in metric periods, tried either way when
// looking for the lag that best lines a series up with the errors.
const MaxLag = 2

// AllErrors names the error "class" that counts every error of a window
// (results.Window.Errors).
const AllErrors results.Class = "errors"

// Phases of a bucket relative to the cutover.
const (
	// PhaseBefore is a bucket that ends before the first deploy-start.
	PhaseBefore = "before"
	// PhaseDuring runs from the first deploy-start until the error rate is
	// back at its pre-cutover level and at least SettlePeriods have passed
	// since the cutover's last event.
	PhaseDuring = "during"
	// PhaseAfter is every bucket after the cutover has settled.
	PhaseAfter = "after"
)

// SettlePeriods is how many metric periods past the cutover's last event
// (traffic applied, revision ready, action failed, rollback) still count as
// the cutover.
const SettlePeriods = 2

// Causes, from the vocabulary of DESIGN §6.
const (
	CauseNATPortExhaustion      = "nat-port-exhaustion"
	CauseNATAllocationFailure   = "nat-allocation-failure"
	CauseNATEndpointConflict    = "nat-endpoint-independence-conflict"
	CauseEgressNotReady         = "egress-not-ready"
	CauseRevisionNotReady       = "revision-not-ready"
	CauseUpstreamTimeout        = "upstream-timeout"
	CauseAffinityBroken         = "affinity-broken"
	CausePreExistingErrors      = "pre-existing-errors"
	CauseLoadGeneratorSaturated = "load-generator-saturated"

	// The ECS side (incident 001). CauseImageMissing and CauseImageAtRisk
	// are also the preflight guard's findings (runner/ecs).
	CauseImageMissing     = "image-missing"
	CauseImageAtRisk      = "image-at-risk"
	CauseNoHealthyTargets = "no-healthy-targets"
	CauseOverloadedTarget = "overloaded-target"
)

// Confidence levels of a finding.
const (
	ConfidenceHigh   = "high"
	ConfidenceMedium = "medium"
	ConfidenceLow    = "low"
)

// Input is everything the diagnosis looks at.
type Input struct {
	// Timeline is the client results per window (1 s by default), with
	// ByClass counts (classes and derived counters) and ByRevision.
	Timeline []results.Window
	// Events are the cutover's events: deploy-start, revision-created,
	// revision-ready, traffic-applied, action-failed, rollback-*.
	Events []results.Event
	// Series are the fetched platform metrics, aligned to Period; Query
	// names the default query that fetched each (results.QueryNATDroppedSent, …).
	Series []results.Series
	// Period is the metric period as the scenario resolved it, in wall-clock
	// time (60 s on Google; 60 s / time_scale on the local cloud). Zero
	// means: the series' own point width, else the windows' width.
	Period time.Duration
	// Load says whether the generator kept up.
	Load results.LoadInfo
	// Sessions is how many virtual clients kept cookies (for affinity).
	Sessions int
	// AffinityRepins is how many sessions' serving instance changed at the
	// cutover; 0 if unknown.
	AffinityRepins int
	// Window is the width of the timeline's windows. Zero means: the
	// smallest gap between two window starts. A window narrower than the
	// period counts in the bucket that holds most of it (its midpoint).
	Window time.Duration
	// KeepAlive says whether the service reuses its outbound connections
	// (the local cloud's app.calls[].keepalive), when the scenario knows:
	// the keep-alive remedy is offered only for a service that opens a new
	// connection per call. KeepAliveUnknown leaves that to the NAT series
	// (new connections and drops against the requests).
	KeepAlive KeepAlive
	// RequestTimeout is the service's request timeout, past which the
	// platform answers 504 "upstream request timeout" (Cloud Run's
	// timeoutSeconds, localcloud run.request_timeout); 0 if unknown.
	RequestTimeout time.Duration
	// ClientTimeout is the load's timeout per request (load.timeout), past
	// which a request counts as response_timeout; 0 if unknown.
	ClientTimeout time.Duration
}

// KeepAlive is whether a service reuses its outbound connections.
type KeepAlive int

// KeepAlive values.
const (
	// KeepAliveUnknown: the scenario does not say (a real service).
	KeepAliveUnknown KeepAlive = iota
	// KeepAliveOn: outbound calls reuse pooled connections.
	KeepAliveOn
	// KeepAliveOff: every outbound call opens a new connection.
	KeepAliveOff
)

// Analysis is what Analyze found.
type Analysis struct {
	// Buckets are the client results per metric period, on the series'
	// grid, oldest first, each with its phase.
	Buckets []Bucket
	// Signals are the keys of the series as analysed (a query and its
	// metric labels, series differing only in resource summed), in the
	// order Bucket.Signals and Stats use them.
	Signals []string
	// Findings name the causes the evidence supports: each is the primary
	// cause of some client errors (Finding.Primary), or explains the
	// verdict by itself (a failed action, a saturated generator), or is
	// the mechanism of errors its root cause took (no healthy targets, an
	// overloaded target, beside image-missing). The primary cause of the
	// most errors leads.
	Findings []results.Finding
	// RuledOut are the findings the rules considered that are the primary
	// cause of no client error and explain no verdict by themselves, with
	// why (Finding.RuledOut) and without remedies.
	RuledOut []results.Finding
	// Unexplained is how many client errors no finding is the primary
	// cause of. The Primary of the findings plus Unexplained is the
	// timeline's errors, exactly.
	Unexplained int64
	// Stats are, for every error class with errors and every signal, how
	// strongly they coincide, for the report.
	Stats []SeriesStat
}

// Bucket is the client side of one metric period.
type Bucket struct {
	// Start and End bound the period [Start, End).
	Start time.Time
	End   time.Time
	// Phase is PhaseBefore, PhaseDuring or PhaseAfter.
	Phase    string
	Requests int64
	Errors   int64
	// ByClass counts the errors per class and derived counter (non-zero
	// only; never ClassOK).
	ByClass map[results.Class]int64
	// ByRevision counts requests by the revision that served them, when
	// the server revealed it.
	ByRevision map[string]int64
	// Signals are the values of the analysed series in this period, by key
	// (non-zero only).
	Signals map[string]float64
}

// SeriesStat says how one error class and one signal coincide over the run.
type SeriesStat struct {
	// Class is an error class, a derived counter or AllErrors.
	Class results.Class
	// Signal is the series key: the query and its metric labels, as in
	// "nat_dropped_sent{reason=OUT_OF_RESOURCES}".
	Signal string
	Query  results.Query
	Labels map[string]string
	// Errors is the class's count over the analysed buckets.
	Errors int64
	// SeriesTotal is the sum of the series over the analysed buckets.
	SeriesTotal float64
	// Flat is true when the series is zero in every analysed bucket; the
	// other measures are then zero and no finding rests on it.
	Flat bool
	// Overlap is how many of the class's errors fall in buckets where the
	// series is non-zero, and CoOccurrence that share of Errors.
	Overlap      int64
	CoOccurrence float64
	// Correlation is Pearson's r of the per-bucket errors and the series
	// at lag 0 (0 when undefined: a constant vector).
	Correlation float64
	// BestLag is the lag in −MaxLag..+MaxLag periods with the largest
	// correlation, BestCorrelation that correlation, and LagCoOccurrence
	// the co-occurrence at that lag. A positive lag means the series moves
	// after the errors (NAT metrics are per-minute samples).
	BestLag         int
	BestCorrelation float64
	LagCoOccurrence float64
}

// Analyze buckets the client timeline on the metric grid, measures every
// error class against every series, names the causes the evidence
// supports, and gives each error to at most one of them.
func Analyze(in Input) Analysis {
	d := newDiagnosis(in)
	acc := d.findings()
	return Analysis{
		Buckets:     d.buckets,
		Signals:     d.signalKeys(),
		Findings:    acc.causes,
		RuledOut:    acc.ruledOut,
		Unexplained: acc.unexplained,
		Stats:       d.stats(),
	}
}
