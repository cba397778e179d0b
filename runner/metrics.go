package runner

import (
	"context"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// MetricSource reads the platform's own metrics for a run. Implementations
// live in their own packages (runner/monitoring) and are chosen by cmd.
type MetricSource interface {
	// Fetch runs every query over [start, end), aligned to period, and
	// returns the series found. Covered reports whether the points reach
	// end for every query that has data: metrics arrive after an ingestion
	// lag, so a fetch right after the run is usually not covered yet.
	Fetch(ctx context.Context, start, end time.Time, period time.Duration) (series []results.Series, covered bool, err error)
}
