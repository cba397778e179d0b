//go:build !race

package localcloud

// raceEnabled is true when the tests run under the race detector.
const raceEnabled = false
