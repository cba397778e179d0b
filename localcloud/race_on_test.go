//go:build race

package localcloud

// replayStretch is how many times slower the S1 replays run under the race
// detector: time scale 10 becomes 5, the load rate halves and every wall
// duration of the run doubles, so the simulated timeline (requests per
// simulated second, cold starts, TIME_WAIT) is the same and only wall time
// grows.
const replayStretch = 2
