package localcloud

import "github.com/cutover-dev/cutover/localcloud/nat"

// Resource is a monitored resource: its type (nat_gateway,
// cloud_run_revision) and labels (project_id, region, gateway_name, …).
type Resource struct {
	Type   string
	Labels map[string]string
}

// MetricSink receives measurements as they happen. The Recorder implements
// it; components (the NAT gateway, the front end, the revision scaler)
// report to it and never know about periods, lags or queries.
type MetricSink interface {
	// AddDelta adds n to a DELTA metric (a counter per sample period).
	AddDelta(metricType string, res Resource, labels map[string]string, n int64)
	// SetGauge sets a GAUGE metric's current value; the sample of a period
	// is the value at its end (booleans are 0 or 1).
	SetGauge(metricType string, res Resource, labels map[string]string, v int64)
}

// Metric types recorded by the local cloud, with the real names and labels
// (the NAT gateway's are declared by package nat).
const (
	MetricNATDroppedSent    = nat.MetricDroppedSent
	MetricNATAllocFailed    = nat.MetricAllocFailed
	MetricNATAllocatedPorts = nat.MetricAllocatedPorts
	MetricNATPortUsage      = nat.MetricPortUsage
	MetricNATNewConns       = nat.MetricNewConns
	MetricNATOpenConns      = nat.MetricOpenConns
	MetricRunRequestCount   = "run.googleapis.com/request_count"            // DELTA INT64; labels response_code, response_code_class (+ resource revision_name)
	MetricRunInstanceCount  = "run.googleapis.com/container/instance_count" // GAUGE INT64; label state
)

// Resource types.
const (
	ResourceNATGateway  = "nat_gateway"        // labels project_id, region, router_id, gateway_name
	ResourceRunRevision = "cloud_run_revision" // labels project_id, service_name, revision_name, location, configuration_name
)

// NAT drop reasons (declared by package nat).
const (
	ReasonOutOfResources = nat.ReasonOutOfResources
	ReasonEIMConflict    = nat.ReasonEIMConflict
)

// resourceSink binds a MetricSink to one resource, for a component that
// records on a single resource (the NAT gateway).
type resourceSink struct {
	sink MetricSink
	res  Resource
}

var _ nat.Sink = resourceSink{}

func (s resourceSink) AddDelta(metricType string, labels map[string]string, n int64) {
	s.sink.AddDelta(metricType, s.res, labels, n)
}

func (s resourceSink) SetGauge(metricType string, labels map[string]string, v int64) {
	s.sink.SetGauge(metricType, s.res, labels, v)
}
