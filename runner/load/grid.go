package load

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

// grid counts every result into the cell of the platform's metric grid that
// its own timestamp falls in, for lining client results up with platform
// metrics period by period.
//
// Cell k covers [origin+k·period, origin+(k+1)·period), where origin is the
// load's start truncated to the period (time.Time.Truncate). So every cell
// starts at a multiple of the period since Go's zero time. That is the grid
// the local cloud's metric recorder samples on and the monitoring queries
// align to. For a period that divides a day (Google's 60 s, any whole
// divisor of 86,400 s), it is also the grid of multiples since the Unix
// epoch.
//
// A result counts in the cell of its Timestamp, which is when vegeta sent
// it, not when its response arrived. The platform saw it then: a NAT drops
// the SYN of a connect_timeout when the connect starts, not 10 s later when
// the client gives up. A result stamped before origin (only possible if the
// wall clock stepped back) counts in the first cell.
//
// A grid holds one small tally per cell and nothing per result. Cells stay
// open until the end of the run, because a straggler can arrive for any
// of them. A grid is used by one goroutine.
type grid struct {
	period time.Duration
	origin time.Time
	// originNs is origin in Unix nanoseconds. Offsets are worked out in
	// those because time.Time.Sub's overflow check costs more than the
	// rest of add. It is exact for any time between 1678 and 2262.
	originNs int64
	cells    []tally // cells[k] is cell k; it grows to the latest cell with a result
}

func newGrid(start time.Time, period time.Duration) *grid {
	origin := start.Truncate(period)
	return &grid{period: period, origin: origin, originNs: origin.UnixNano()}
}

// add counts one result sent at ts.
func (g *grid) add(ts time.Time, c class, m mark, code uint16, rev string) {
	// UnixNano is wall-clock time, which is what the platforms' grid is on.
	// vegeta's timestamps advance with the monotonic clock from the
	// attack's start.
	var k int
	if d := ts.UnixNano() - g.originNs; d > 0 {
		k = int(d / int64(g.period))
	}
	if k >= len(g.cells) {
		g.cells = append(g.cells, make([]tally, k+1-len(g.cells))...)
	}
	g.cells[k].count(c, m, code, rev)
}

// windows returns one Window per cell, from the first cell (the load's
// start) through the later of two: the cell holding the load's last instant
// (end is exclusive), or the latest cell with a result. Empty cells are
// included. A cell's ByClass lists only non-zero counters. Latencies are
// not kept per cell: P50, P99 and Histogram are zero.
func (g *grid) windows(end time.Time) []results.Window {
	n := max(len(g.cells), 1)
	if d := end.Sub(g.origin); d > 0 {
		n = max(n, int((d-1)/g.period)+1)
	}
	out := make([]results.Window, n)
	for k := range out {
		out[k] = results.Window{Start: g.origin.Add(time.Duration(k) * g.period), ByClass: map[results.Class]int64{}}
		if k < len(g.cells) {
			g.cells[k].fill(&out[k])
		}
	}
	return out
}
