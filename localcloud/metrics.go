package localcloud

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

// Metric types recorded by the local cloud, with the real names and labels.
const (
	MetricNATDroppedSent    = "router.googleapis.com/nat/dropped_sent_packets_count" // DELTA INT64; labels ip_protocol, reason
	MetricNATAllocFailed    = "router.googleapis.com/nat/nat_allocation_failed"      // GAUGE BOOL
	MetricNATAllocatedPorts = "router.googleapis.com/nat/allocated_ports"            // GAUGE INT64; label nat_ip
	MetricNATPortUsage      = "router.googleapis.com/nat/port_usage"                 // GAUGE INT64; label ip_protocol
	MetricNATNewConns       = "router.googleapis.com/nat/new_connections_count"      // DELTA INT64; label ip_protocol
	MetricNATOpenConns      = "router.googleapis.com/nat/open_connections"           // GAUGE INT64; label ip_protocol
	MetricRunRequestCount   = "run.googleapis.com/request_count"                     // DELTA INT64; labels response_code, response_code_class (+ resource revision_name)
	MetricRunInstanceCount  = "run.googleapis.com/container/instance_count"          // GAUGE INT64; label state
)

// Resource types.
const (
	ResourceNATGateway  = "nat_gateway"        // labels project_id, region, router_id, gateway_name
	ResourceRunRevision = "cloud_run_revision" // labels project_id, service_name, revision_name, location, configuration_name
)

// NAT drop reasons.
const (
	ReasonOutOfResources = "OUT_OF_RESOURCES"
	ReasonEIMConflict    = "ENDPOINT_INDEPENDENCE_CONFLICT"
)
