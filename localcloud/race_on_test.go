//go:build race

package localcloud

// raceEnabled is true when the tests run under the race detector, which
// makes the local cloud about ten times slower: replays at a 20× time scale
// no longer keep their simulated timing.
const raceEnabled = true
