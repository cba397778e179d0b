// Package localcloud is the embedded local cloud: a cloud in one process,
// built from real loopback servers. Its data plane runs services with
// revisions and instances behind a front end, an application model per
// service, a Cloud NAT gateway that runs out of ports by the documented
// rules, and an external API; a recorder keeps the metrics the real
// platform would publish. One Clock (localcloud/clock) drives every
// simulated duration.
//
// This package is the world only. Its rooms: localcloud/nat is the Cloud
// NAT gateway model the world attaches instances to; localcloud/gcp serves
// the world over the Google APIs (Cloud Run Admin v2, Operations,
// Monitoring v3), and an AWS layer would sit beside it. The API layers
// import the world, never the reverse, so the world imports no Google
// package; it never imports runner either: drivers talk to it through the
// same APIs they use against a real cloud.
//
// # Data plane
//
// Start builds the cloud a scenario's localcloud section describes and
// returns once every service's first revision is ready. Each service has a
// front end on 127.0.0.1 (ServiceURL); a traffic tag gets a front end of
// its own, so a tag URL (TrafficStatus.URL) is a plain http://127.0.0.1:PORT
// too. The front end routes by the split (smooth weighted round robin, so
// any 100 requests follow it exactly) or by the GAESA affinity cookie,
// queues for an instance slot, and answers like Cloud Run: 429 at max
// instances past the queue timeout, 503 with no ready instance, 504
// {"code":504,"message":"upstream request timeout"} past the request
// timeout (counted from the dispatch to an instance). Among ready instances
// with a free slot it takes the less loaded of two picked at random.
// Every instance response carries X-Revision and X-Instance.
//
// Instances are real HTTP servers running the service's application
// model: per request its calls (in order, or at once with parallel), then
// its server time. A failed call answers 502 with Node's "fetch failed"
// body; an upstream error is passed on as "Upstream returned N. body=…".
// A self-call through the public URL carries X-Cutover-Self and runs the
// calls marked proxy plus the others but self (the caching-proxy leg of
// the seed incident), relaying upstream errors unchanged; a self-call on
// loopback reaches the instance's own listener without the front end.
// Outbound calls use an undici-like client: a request that needs a new
// connection waits for its own connect, up to the connect timeout.
//
// Egress: an instance of an all-traffic revision is a NAT endpoint (it is
// attached when created, detached when it stops) and its public calls go
// through NAT; private-ranges-only revisions never touch NAT; the
// database's private address and loopback never do. Calls that enter the
// VPC wait for the instance's egress_ready_delay; the first revision's
// first instances, created by Start, stand for long-running ones and have
// no delay.
//
// # Control plane state
//
// The Go API (Deploy, SetTraffic, WaitRevision, Service, CreateService,
// MarkUnpullable), which the API layers call,
// keeps the state the Cloud Run Admin API v2 reports: revision names
// SERVICE-00002-xyz or SERVICE-SUFFIX, service generation, create and
// update times, Ready conditions with reasons, LATEST and named traffic
// targets with tags, and traffic that moves to a revision only once it is
// ready. Errors wrap ErrNotFound, ErrInvalidArgument, ErrAlreadyExists,
// ErrRevisionFailed and ErrClosed.
//
// # Metrics
//
// Recorder implements MetricSink: per-period points with the real metric
// types, kinds and labels, visible only after the ingestion lag, kept for a
// bounded retention, read with Query.
package localcloud
