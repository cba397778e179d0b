// Package gcp is the local cloud's Google API layer: one gRPC server on
// 127.0.0.1 (ControlPlane) that speaks google.cloud.run.v2 Services and
// Revisions, google.longrunning.Operations and google.monitoring.v3
// MetricService/ListTimeSeries (with its filter language) over a running
// localcloud.Cloud, so the runner's drivers reach it with the unmodified
// Google client libraries.
//
// It is named after the provider whose protocols it speaks, next to the
// room left for localcloud/aws: everything that knows a Google proto lives
// here, and the simulated world (package localcloud) imports none of it.
// It imports the world and calls only its exported Go API; it owns the
// parts of an API resource the world does not simulate (labels,
// annotations, templates as written, operations).
package gcp
