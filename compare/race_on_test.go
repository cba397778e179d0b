//go:build race

package compare

// raceEnabled: the race detector slows every request several times; the
// load tests then compare fewer pairs (see load_test.go).
const raceEnabled = true
