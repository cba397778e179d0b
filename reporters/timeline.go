package reporters

import (
	"slices"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// niceSteps are the row widths the condensed timeline tries, shortest first.
var niceSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeline is the per-window timeline condensed into a few rows.
type timeline struct {
	width   time.Duration // of one window
	windows int
	rows    []bucket
}

// bucket is one row of the condensed timeline: adjacent windows merged.
type bucket struct {
	from, to         time.Duration // offsets from the start of the run
	windows          int
	requests, errors int64
	byClass          map[results.Class]int64
	p99Max           float64
	events           []string // kinds of the events that happened in it
}

// condense merges the windows of a timeline into at most maxRows rows so
// that a person can see exactly when errors happened. It picks the finest
// regular grid (1s, 2s, 5s, 10s … aligned to the start of the run) on which
// cutting each cell where windows turn from clean to erroring and back still
// fits in maxRows; so a burst of errors gets rows of its own with exact
// bounds, and clean stretches are summarized. When errors are too scattered
// for any such grid it falls back to maxRows equal rows. Each event is marked
// on the row it happened in.
func condense(windows []results.Window, origin time.Time, events []eventRow, maxRows int) timeline {
	if len(windows) == 0 {
		return timeline{}
	}
	ws := slices.Clone(windows)
	slices.SortStableFunc(ws, func(a, b results.Window) int { return a.Start.Compare(b.Start) })
	width := time.Duration(0)
	for i := 1; i < len(ws); i++ {
		if d := ws[i].Start.Sub(ws[i-1].Start); d > 0 && (width == 0 || d < width) {
			width = d
		}
	}
	if width == 0 {
		width = time.Second
	}
	offsets := make([]time.Duration, len(ws))
	for i, w := range ws {
		offsets[i] = w.Start.Sub(origin)
	}

	var rows []bucket
	steps := append([]time.Duration{width}, niceSteps...)
	for _, step := range steps {
		if step < width {
			continue
		}
		rows = group(ws, offsets, width, func(off time.Duration) int64 { return floorDiv(off, step) }, true)
		if len(rows) <= maxRows {
			break
		}
	}
	if len(rows) > maxRows {
		first, last := offsets[0], offsets[len(offsets)-1]
		slots := int64((last-first)/width) + 1
		step := time.Duration((slots+int64(maxRows)-1)/int64(maxRows)) * width
		rows = group(ws, offsets, width, func(off time.Duration) int64 { return floorDiv(off-first, step) }, false)
	}

	for _, e := range events {
		i := 0
		for j, r := range rows {
			if r.from <= e.offset {
				i = j
			}
		}
		rows[i].events = append(rows[i].events, e.kind)
	}
	return timeline{width: width, windows: len(ws), rows: rows}
}

// group merges consecutive windows that fall in the same cell and, when
// split is set, have the same error state (some errors or none).
func group(ws []results.Window, offsets []time.Duration, width time.Duration, cell func(time.Duration) int64, split bool) []bucket {
	var rows []bucket
	var curCell int64
	var curErr bool
	for i, w := range ws {
		c, hasErr := cell(offsets[i]), w.Errors > 0
		if len(rows) == 0 || c != curCell || (split && hasErr != curErr) {
			rows = append(rows, bucket{from: offsets[i], byClass: map[results.Class]int64{}})
			curCell, curErr = c, hasErr
		}
		r := &rows[len(rows)-1]
		r.to = offsets[i] + width
		r.windows++
		r.requests += w.Requests
		r.errors += w.Errors
		for k, n := range w.ByClass {
			r.byClass[k] += n
		}
		r.p99Max = max(r.p99Max, w.P99)
	}
	return rows
}

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b time.Duration) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return int64(q)
}
