//go:build race

package load

// rateDivisor divides the pacing tests' rates under the race detector: it
// slows every request several times, and on a shared two-core machine 500/s
// then saturates the engine, which is a limit of the detector, not of the
// pacing the tests check (the same arithmetic paces 100/s and 500/s).
const rateDivisor = 5
