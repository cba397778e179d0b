//go:build !race

package load

// rateDivisor divides the pacing tests' rates under the race detector; see
// race_on_test.go.
const rateDivisor = 1
