//go:build !race

package localcloud

// replayStretch is how many times slower the S1 replays run: 1, at the
// scenario's own time scale and rate.
const replayStretch = 1
