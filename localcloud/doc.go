// Package localcloud is the embedded local cloud: a cloud in one process,
// built from real loopback servers. Its data plane runs services with
// revisions and instances behind a front end, an application model per
// service, a Cloud NAT gateway that runs out of ports by the documented
// rules, and an external API; a recorder keeps the metrics the real
// platform would publish. One scaled Clock drives every simulated duration.
//
// It never imports runner: drivers talk to it through the same APIs they use
// against a real cloud.
package localcloud
