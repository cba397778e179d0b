// Package scenarios owns the v1 scenario schema: the Go types a scenario file
// decodes into, their defaults, strict parsing with file:line:col positions,
// and Validate, which reports every problem at once. It knows nothing about how
// a scenario is run; runner and its drivers consume the values defined here.
// Parsing shares no state: LoadFile, Parse, Resolve and Validate are safe for
// concurrent use.
package scenarios

import "time"

// Scenario is one parsed, defaulted scenario file (schema version 1).
type Scenario struct {
	Version     int     `yaml:"version" json:"version"`
	Name        string  `yaml:"name" json:"name"`
	Description string  `yaml:"description" json:"description,omitempty"`
	Target      Target  `yaml:"target" json:"target"`
	Load        Load    `yaml:"load" json:"load"`
	Verdict     Verdict `yaml:"verdict" json:"verdict"`
	// LocalCloud, when it names services, puts the target in the embedded
	// local cloud (see LocalCloud.Enabled). It is a value, not a pointer:
	// the strict decoder walks plain struct trees.
	LocalCloud LocalCloud `yaml:"localcloud" json:"localcloud,omitzero"`
	// Actions are the cutover: deploys and traffic changes during the load.
	Actions []Action `yaml:"actions" json:"actions,omitempty"`
	// Rollback says when the traffic split recorded before the run is
	// restored (default on-failure).
	Rollback string `yaml:"rollback" json:"rollback"`
	// Metrics says which platform metrics are read after the load and
	// how long the run waits for them.
	Metrics Metrics `yaml:"metrics" json:"metrics,omitzero"`
	// Preflight is warn (default) or strict: what a run does when the
	// preflight guard finds an image that is missing or at risk.
	Preflight string `yaml:"preflight" json:"preflight,omitempty"`
	// Compare holds the limits `cutover compare` judges this scenario's
	// runs against each other by.
	Compare Compare `yaml:"compare" json:"compare"`

	// File is the path the scenario was read from ("" for in-memory input).
	File string `yaml:"-" json:"-"`
}

// Target says where the load goes and, for a cutover, which service on
// which platform is deployed and observed.
type Target struct {
	// URL is the base URL requests are sent to; a request's path is resolved
	// against it, a request's absolute url replaces it. Empty with a
	// platform means the service's own URL.
	URL string `yaml:"url" json:"url"`
	// Platform is "cloudrun", or empty for load only. With a localcloud
	// section it defaults to cloudrun.
	Platform string `yaml:"platform" json:"platform,omitempty"`
	// Project, Region and Service name the service
	// (projects/P/locations/R/services/S); with a localcloud section they
	// default to its project, region and first service.
	Project string `yaml:"project" json:"project,omitempty"`
	Region  string `yaml:"region" json:"region,omitempty"`
	Service string `yaml:"service" json:"service,omitempty"`
	// Endpoint, when set, is the platform API's host:port, reached without
	// TLS or credentials (a local cloud started with `cutover localcloud`).
	// Empty means Google's endpoint with Application Default Credentials.
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	// Cluster is the ECS cluster of an ecs target (with a localcloud aws
	// part it defaults to its cluster). For ecs, Region is the AWS region,
	// Service the ECS service, and Endpoint the AWS API endpoint URL
	// (http://127.0.0.1:PORT of `cutover localcloud`) or empty for AWS
	// with the SDK's default credential chain.
	Cluster string `yaml:"cluster" json:"cluster,omitempty"`
}

// Load describes the traffic: what is sent and how fast.
//
// Exactly one model is chosen: open (Rate, or StartRate+Stages) or closed
// (Concurrency).
type Load struct {
	Requests []Request `yaml:"requests" json:"requests"`

	// Rate is the constant arrival rate of the open model.
	Rate Rate `yaml:"rate" json:"rate,omitzero"`
	// StartRate is where the first stage's linear ramp begins (default 0).
	StartRate Rate `yaml:"start_rate" json:"start_rate,omitzero"`
	// Stages are linear ramps, each from the previous stage's rate (or
	// StartRate) to its own Rate over its For.
	Stages []Stage `yaml:"stages" json:"stages,omitempty"`
	// Concurrency selects the closed model: this many clients, each sending
	// its next request when its last one finished (ab -c).
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`

	// Duration is how long load runs; with Stages it defaults to their sum.
	Duration Duration `yaml:"duration" json:"duration"`
	// Timeout bounds one request, connect to last body byte (default 30s).
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// KeepAlive reuses connections (default true).
	KeepAlive bool `yaml:"keepalive" json:"keepalive"`
	// HTTP2 allows HTTP/2 over TLS (default true).
	HTTP2 bool `yaml:"http2" json:"http2"`

	Sessions Sessions `yaml:"sessions" json:"sessions"`

	// MaxWorkers bounds the open model's concurrent requests (default 128);
	// when it is reached the run is reported as generator-saturated.
	MaxWorkers int `yaml:"max_workers" json:"max_workers"`
	// Connections bounds open connections per host (0: no bound beyond MaxWorkers).
	Connections int `yaml:"connections" json:"connections,omitempty"`
	// Window is the width of one timeline window (default 1s).
	Window Duration `yaml:"window" json:"window"`
	// RevisionHeader names the response header that reveals the revision
	// serving a request (default X-Revision).
	RevisionHeader string `yaml:"revision_header" json:"revision_header"`
}

// Request is one weighted request template.
type Request struct {
	Method string `yaml:"method" json:"method"`
	// URL is absolute; Path is resolved against Target.URL. Exactly one is set.
	URL     string            `yaml:"url" json:"url,omitempty"`
	Path    string            `yaml:"path" json:"path,omitempty"`
	Headers map[string]string `yaml:"headers" json:"headers,omitempty"`
	Body    string            `yaml:"body" json:"body,omitempty"`
	// Weight is the relative share of this request (default 1).
	Weight int `yaml:"weight" json:"weight"`
}

// Stage is one linear ramp of the open model.
type Stage struct {
	For  Duration `yaml:"for" json:"for"`
	Rate Rate     `yaml:"rate" json:"rate"`
}

// Sessions configures virtual clients.
type Sessions struct {
	// Count is the number of virtual clients; 0 means one anonymous client.
	Count int `yaml:"count" json:"count,omitempty"`
	// Cookies gives each session its own cookie jar.
	Cookies bool `yaml:"cookies" json:"cookies,omitempty"`
}

// Verdict holds the pass/fail rules.
type Verdict struct {
	// MaxErrors is the largest error count that still passes (default 0).
	MaxErrors int64 `yaml:"max_errors" json:"max_errors"`
	// MinRequests is the smallest request count a verdict can rest on;
	// fewer makes the run inconclusive.
	MinRequests int64 `yaml:"min_requests" json:"min_requests"`
	// Thresholds are expressions over the totals, parsed at load time. A
	// list item is the expression ("p99 < 800ms") or a mapping
	// {expr: "status_504 == 0", abort: true}; with abort the threshold is
	// also evaluated live and stops the run when broken.
	Thresholds []Threshold `yaml:"thresholds" json:"thresholds,omitempty"`
	// Abort, when set, is the error-rate brake evaluated live during the
	// load: the run is stopped once the error rate stays above it.
	Abort *AbortRule `yaml:"abort" json:"abort,omitempty"`
	// ObserveAfterAbort is how long the run keeps observing (the load
	// stopped, the rollback under way) after an abort (default 30s).
	ObserveAfterAbort Duration `yaml:"observe_after_abort" json:"observe_after_abort"`
}

// AbortRule stops a run early: when, over the last For of the load, at least
// MinRequests requests were judged and more than ErrorRate of them were
// errors.
type AbortRule struct {
	// ErrorRate is a fraction above 0 and at most 1, written as a
	// percentage (5%) or a fraction (0.05).
	ErrorRate float64 `yaml:"error_rate,fraction" json:"error_rate"`
	// For is how long the error rate must stay above ErrorRate: at least
	// one load window, at most the load's duration.
	For Duration `yaml:"for" json:"for"`
	// MinRequests is the fewest requests an evaluation rests on (default 20).
	MinRequests int `yaml:"min_requests" json:"min_requests"`
}

func (a *AbortRule) setDefaults() {
	a.MinRequests = defaultAbortMinRequests
}

// Rate is a number of events per unit of time, written "500/s" or "30/m".
// The zero Rate means "not set".
type Rate struct {
	Freq int
	Per  time.Duration
}

// IsZero reports whether r is unset.
func (r Rate) IsZero() bool { return r.Freq == 0 && r.Per == 0 }

// PerSecond returns r as events per second.
func (r Rate) PerSecond() float64 {
	if r.Per <= 0 {
		return 0
	}
	return float64(r.Freq) / r.Per.Seconds()
}

// Duration is a Go duration written as a string ("30s", "15m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Threshold is one parsed threshold expression such as "p99 < 800ms".
type Threshold struct {
	// Expr is the expression as written.
	Expr string
	// Metric is one of ThresholdMetrics.
	Metric MetricName
	// Op is one of <, <=, >, >=, ==, !=.
	Op string
	// Value is in the metric's unit: milliseconds for latencies, a fraction
	// (0.001 for "0.1%") for error_rate, a count otherwise.
	Value float64
	// Abort makes the threshold a brake too: evaluated live during the
	// load, and the run stopped when it is broken.
	Abort bool
}
