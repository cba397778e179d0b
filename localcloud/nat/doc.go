// Package nat is the local cloud's Cloud NAT gateway model: endpoints
// (instances) attach and get a port block; dials through the gateway open
// real loopback connections under the documented rules — per-destination
// port limits, the TIME_WAIT 5-tuple reuse rule, silent SYN drops retried
// on the kernel's schedule, allocation failures beyond IP capacity, dynamic
// doubling and delayed block release (reference/sim-model.md §1 and §6).
//
// It is named after what it provides, a NAT, and lives apart from the
// simulated world (package localcloud) because it is a model with rules of
// its own that the world only attaches instances to; a gateway needs a
// clock (localcloud/clock) and a Sink for its metrics, nothing of the world.
// It does not resolve defaults: Options come resolved from a scenario
// (FromScenario).
package nat
