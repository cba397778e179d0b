// Package results owns the run record: the versioned data model written to
// results/<run-id>/run.json, the class vocabulary every result is sorted into,
// a writer that keeps the record on disk readable at every moment of a run,
// and a reader that loads it back. It uses the standard library only and knows
// nothing about how a run is driven or rendered.
package results

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the run.json layout written by this package.
const SchemaVersion = 1

// File names inside a run directory.
const (
	RecordFile  = "run.json"
	ResultsFile = "results.bin"
)

// Verdict statuses.
const (
	StatusPass         = "pass"
	StatusFail         = "fail"
	StatusInconclusive = "inconclusive"
)

// Record states: a record on disk is "running" until the run finalizes it.
const (
	StateRunning  = "running"
	StateComplete = "complete"
	StateAborted  = "aborted"
	// StateFailed: the tool could not carry the run through (the disk
	// filled, the platform's API failed); Run.Error says why.
	StateFailed = "failed"
)

// What a run left its services as (Cutover.Left).
const (
	// LeftUnchanged: the run changed no service's traffic or template.
	LeftUnchanged = "unchanged"
	// LeftRestored: every service was put back to RestoreTo.
	LeftRestored = "restored"
	// LeftAsSet: the rollback policy kept what the actions set.
	LeftAsSet = "as-set"
	// LeftNotRestored: a restore was due and did not happen (a second
	// interrupt, a failing API, a crash); `cutover restore` does it.
	LeftNotRestored = "not-restored"
	// LeftInFlight: the record was saved while the run was still changing
	// the services (what a kill -9 leaves).
	LeftInFlight = "in-flight"
)

// Run is the whole record of one run, as stored in run.json.
type Run struct {
	SchemaVersion int    `json:"schema_version"`
	RunID         string `json:"run_id"`
	// Scenario is the scenario as resolved (defaults applied), as JSON.
	Scenario json.RawMessage `json:"scenario"`
	// ScenarioName is the scenario's name. Read fills it from Scenario for
	// records written before it was recorded.
	ScenarioName string    `json:"scenario_name,omitempty"`
	ToolVersion  string    `json:"tool_version"`
	State        string    `json:"state"`
	StartedAt    time.Time `json:"started_at"`
	EndedAt      time.Time `json:"ended_at,omitzero"`
	// Error says why a run in StateFailed failed ("disk full: …").
	Error string `json:"error,omitempty"`

	Load     LoadInfo `json:"load"`
	Totals   Totals   `json:"totals"`
	Latency  Latency  `json:"latency"`
	Timeline []Window `json:"timeline"`
	Events   []Event  `json:"events"`
	Verdict  Verdict  `json:"verdict"`
	// Cutover is the platform side of a run with actions; nil for load only.
	Cutover *Cutover `json:"cutover,omitempty"`
	// Series are the platform metrics fetched after the run settled.
	Series []Series `json:"series,omitempty"`
	// Preflight are what the preflight guard found before the load
	// (image-missing, image-at-risk); their events are on the timeline.
	Preflight []Finding `json:"preflight,omitempty"`
	// Findings name the causes the evidence supports, strongest first.
	Findings []Finding `json:"findings,omitempty"`
	// Diagnosis lines the client results up with the platform's metrics,
	// one bucket per metric period; nil when the run read no metrics.
	Diagnosis *Diagnosis `json:"diagnosis,omitempty"`
}

// Metrics states of a Diagnosis.
const (
	// MetricsCovered: every query's points reached the end of the run.
	MetricsCovered = "covered"
	// MetricsMissing: the points never reached the end of the run before
	// the wait ran out (ingestion lag), or the fetch failed.
	MetricsMissing = "missing"
	// MetricsPending: the run is waiting for them (a record saved before
	// the wait; a crash during it leaves this state).
	MetricsPending = "pending"
)

// Diagnosis is the client timeline on the metric grid, with the metric
// values beside it: what the correlation looked at.
type Diagnosis struct {
	// Metrics is MetricsCovered or MetricsMissing; Note says why when
	// missing ("not covered after 4m10s: newest nat point 12:03:00").
	Metrics string `json:"metrics"`
	Note    string `json:"note,omitempty"`
	// Period is the metric period in seconds: 60 on Google, 60/time_scale
	// in the local cloud.
	Period float64 `json:"period_s"`
	// TimeScale is the local cloud's time scale (simulated seconds per
	// wall second); 0 against a real cloud.
	TimeScale int `json:"time_scale,omitempty"`
	// Settle is the wait after the load before the first fetch, and
	// Waited how long the runner waited in all, in seconds.
	Settle float64 `json:"settle_s"`
	Waited float64 `json:"waited_s"`
	// Signals are the analysed series keys, a query and its metric labels
	// ("nat_dropped_sent{reason=OUT_OF_RESOURCES}"), in report order.
	Signals []string `json:"signals"`
	// Buckets are the client results per metric period, oldest first.
	Buckets []Bucket `json:"buckets"`
	// Unexplained is how many client errors no finding is the primary
	// cause of: the Primary of Run.Findings plus Unexplained is the run's
	// errors (the sum of its windows' errors).
	Unexplained int64 `json:"unexplained"`
	// RuledOut are the findings the rules considered and that are not
	// among the causes: each is the primary cause of no client error and
	// does not explain the verdict by itself (as a failed action or a
	// saturated generator does); Finding.RuledOut says why. They carry no
	// remedy.
	RuledOut []Finding `json:"ruled_out,omitempty"`
}

// Bucket is one metric period of the diagnosis.
type Bucket struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Phase is before, during or after the cutover.
	Phase    string `json:"phase"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
	// ByClass counts errors per class and derived counter (non-zero only).
	ByClass map[Class]int64 `json:"by_class,omitempty"`
	// Signals are the series values in this period, by key (non-zero only).
	Signals map[string]float64 `json:"signals,omitempty"`
}

// Series is one fetched metric time series, aligned to the metric period.
type Series struct {
	// Query names the query that fetched it (QueryNATDroppedSent).
	Query      Query             `json:"query"`
	MetricType string            `json:"metric_type"`
	Labels     map[string]string `json:"labels,omitempty"`
	Resource   map[string]string `json:"resource,omitempty"`
	// Points are oldest first.
	Points []Point `json:"points"`
}

// Point is one aligned value over [Start, End).
type Point struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Value float64   `json:"value"`
}

// Finding is one cause the evidence supports.
type Finding struct {
	// Cause is from a fixed vocabulary: nat-port-exhaustion,
	// nat-allocation-failure, egress-not-ready, revision-not-ready,
	// upstream-timeout, affinity-broken, pre-existing-errors,
	// load-generator-saturated, …
	Cause string `json:"cause"`
	// Confidence is high, medium or low.
	Confidence string `json:"confidence"`
	// Evidence are sentences with the numbers and times behind the cause.
	Evidence []string `json:"evidence"`
	// Remedy are the known fixes, from the incidents.
	Remedy []string `json:"remedy"`
	// Explained is how many client errors the cause's evidence covers
	// (the errors above the pre-cutover rate where its evidence is). Two
	// findings can cover the same errors; Primary counts each error once.
	Explained int64 `json:"explained,omitempty"`
	// Primary is how many client errors the cause is the primary cause
	// of: each error of the run is the primary error of at most one
	// finding, the strongest whose evidence covers it, so the Primary of
	// the findings and Diagnosis.Unexplained add up to Totals.Errors.
	// Findings are ordered by it.
	Primary int64 `json:"primary"`
	// AlsoConsistent names the other findings (causes or ruled out) whose
	// evidence also covers some of this finding's primary errors, most
	// shared first.
	AlsoConsistent []string `json:"also_consistent,omitempty"`
	// RuledOut says why a finding of Diagnosis.RuledOut is not among the
	// causes ("it is the primary cause of no client error: …"); empty for
	// a cause.
	RuledOut string `json:"ruled_out,omitempty"`
}

// Cutover records what a run did to the service and how it was left.
type Cutover struct {
	// Service is the full resource name of the service.
	Service string `json:"service"`
	// BaselineRevision is the latest ready revision before the run.
	BaselineRevision string `json:"baseline_revision"`
	// TrafficBefore is the split recorded at preflight, e.g. "LATEST=100%".
	TrafficBefore string `json:"traffic_before"`
	// RestoreTo is what a rollback puts back, per service, with LATEST
	// pinned to the revision it served: "api: api-00001-abc=100%".
	RestoreTo string `json:"restore_to"`
	// DeployedRevisions are the revisions the run's deploys created.
	DeployedRevisions []string `json:"deployed_revisions,omitempty"`
	// FailedAction says which action failed and why, if one did.
	FailedAction string `json:"failed_action,omitempty"`
	// Rollback is the policy; Restored says whether the recorded split was
	// put back, RestoreError why that failed.
	Rollback     string `json:"rollback"`
	Restored     bool   `json:"restored"`
	RestoreError string `json:"restore_error,omitempty"`
	// Target is how to reach the platform again, for `cutover restore`.
	Target PlatformTarget `json:"target"`
	// Services is what a restore puts back, per service, as data.
	Services []ServiceRestore `json:"services"`
	// Left says how the run left the services: one of the Left* values.
	Left string `json:"left"`
	// RestoreCommand puts the split back when Left is not-restored or
	// in-flight.
	RestoreCommand string `json:"restore_command,omitempty"`
}

// PlatformTarget names the platform a cutover changed.
type PlatformTarget struct {
	Platform string `json:"platform"`
	Project  string `json:"project,omitempty"`
	Region   string `json:"region,omitempty"`
	// Endpoint is the API endpoint the run used; empty for the cloud's
	// own. LocalCloud is true when the run started its own local cloud,
	// which ended with it: nothing is left to restore then.
	Endpoint   string `json:"endpoint,omitempty"`
	LocalCloud bool   `json:"local_cloud,omitempty"`
	// Cluster is an ecs target's cluster.
	Cluster string `json:"cluster,omitempty"`
}

// ServiceRestore is one service a cutover touched and the split a restore
// puts back on it.
type ServiceRestore struct {
	// Name is the short service name; Resource the full one.
	Name     string `json:"name"`
	Resource string `json:"resource"`
	// Split is the traffic before the run, LATEST pinned to the revision
	// it served.
	Split []TrafficTarget `json:"split"`
	// Changed is true once the run has started its first change to it.
	Changed bool `json:"changed"`
}

// TrafficTarget is one entry of a traffic split.
type TrafficTarget struct {
	Latest   bool   `json:"latest,omitempty"`
	Revision string `json:"revision,omitempty"`
	Percent  int    `json:"percent"`
	Tag      string `json:"tag,omitempty"`
}

// LoadInfo describes the load as asked and as achieved.
type LoadInfo struct {
	// Model is "open" or "closed".
	Model string `json:"model"`
	// AskedRate is the mean asked rate in requests per second (0 for closed).
	AskedRate float64 `json:"asked_rate"`
	// AchievedRate is requests sent per second of load.
	AchievedRate float64 `json:"achieved_rate"`
	// Duration is the load's wall-clock length in seconds.
	Duration float64 `json:"duration_s"`
	// Saturated is true when the generator could not keep up (rate short of
	// 95% of asked, or every worker busy).
	Saturated bool `json:"saturated"`
	// SaturationReason says why, for a person.
	SaturationReason string `json:"saturation_reason,omitempty"`
	Workers          int    `json:"max_workers,omitempty"`
	Sessions         int    `json:"sessions,omitempty"`
	// SessionRepins counts the sessions whose serving instance (X-Instance)
	// changed at least once during the run: their affinity broke.
	SessionRepins int `json:"session_repins,omitempty"`
}

// Totals counts every result of the run.
type Totals struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// ByClass counts per class; FetchFailed and UpstreamTimeout are included
	// as derived counters.
	ByClass map[Class]int64 `json:"by_class"`
	// ByStatus counts the responses by HTTP status code ("200", "418",
	// "501"): every code received, 2xx included, codes outside 100–599
	// under StatusOther. Results without a response (the transport classes)
	// are not in it. It details the classes (status_other names no code) and
	// is not one; records written before it existed have none.
	ByStatus map[string]int64 `json:"by_status,omitempty"`
}

// Latency summarizes latencies in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Window is one slice of the timeline.
type Window struct {
	Start    time.Time       `json:"start"`
	Requests int64           `json:"requests"`
	Errors   int64           `json:"errors"`
	ByClass  map[Class]int64 `json:"by_class"`
	// ByStatus counts the window's responses by HTTP status code, as
	// Totals.ByStatus does (non-zero only).
	ByStatus map[string]int64 `json:"by_status,omitempty"`
	// ByRevision counts requests by the revision that served them, when the
	// server reveals it.
	ByRevision map[string]int64 `json:"by_revision,omitempty"`
	P50        float64          `json:"p50"`
	P99        float64          `json:"p99"`
	// Histogram is the window's latency histogram, HDR V2-compressed and
	// base64-encoded, so windows of several runs or shards can be merged.
	Histogram string `json:"hist,omitempty"`
}

// Event is one thing that happened on the timeline (a deploy, a traffic shift).
type Event struct {
	Kind    EventKind         `json:"kind"`
	At      time.Time         `json:"at"`
	Details map[string]string `json:"details,omitempty"`
}

// Verdict is the run's answer.
type Verdict struct {
	Status           string            `json:"status"`
	Reasons          []string          `json:"reasons"`
	ErrorRateUpper95 float64           `json:"error_rate_upper_95"`
	Thresholds       []ThresholdResult `json:"thresholds,omitempty"`
}

// ThresholdResult is one threshold's evaluation.
type ThresholdResult struct {
	Expr   string  `json:"expr"`
	Actual float64 `json:"actual"`
	Pass   bool    `json:"pass"`
}
