//go:build race

package compare

// raceEnabled: the race detector slows every request several times; the
// load tests then compare fewer pairs (see load_test.go).
const raceEnabled = true

// The load of every run of load_test.go: 20 windows of 100 ms (40 under
// the race detector), about 400 requests.
const (
	loadRate     = "100/s"
	loadDuration = "4s"
)
