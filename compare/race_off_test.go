//go:build !race

package compare

// raceEnabled is false without the race detector; see race_on_test.go.
const raceEnabled = false

// The load of every run of load_test.go: 20 windows of 100 ms (40 under
// the race detector), about 400 requests.
const (
	loadRate     = "200/s"
	loadDuration = "2s"
)
