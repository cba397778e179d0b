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

// Coverage decides whether a fetch's points reach the end of a run: per
// domain (a Monitoring metric prefix, a CloudWatch namespace) the metrics
// published every period decide, and a domain with none of them falls
// back to its sparse ones (published only while something happens); a
// fetch with no data at all is not covered. The drivers feed it the
// newest point of each query.
type Coverage struct {
	// End is the end of the run.
	End     time.Time
	domains map[string]*domainCoverage
}

type domainCoverage struct {
	// gauge and sparse are the earliest newest-End of the domain's
	// queries with data of each kind; zero when it has none.
	gauge, sparse time.Time
}

// Add records one query's newest point end in domain; gauge says whether
// the query's metric is published every period. A zero newest means the
// query had no data.
func (c *Coverage) Add(domain string, gauge bool, newest time.Time) {
	if newest.IsZero() {
		return
	}
	if c.domains == nil {
		c.domains = map[string]*domainCoverage{}
	}
	d := c.domains[domain]
	if d == nil {
		d = &domainCoverage{}
		c.domains[domain] = d
	}
	earliest := &d.sparse
	if gauge {
		earliest = &d.gauge
	}
	if earliest.IsZero() || newest.Before(*earliest) {
		*earliest = newest
	}
}

// Covered reports whether every domain with data reaches End.
func (c *Coverage) Covered() bool {
	if len(c.domains) == 0 {
		return false
	}
	for _, d := range c.domains {
		decide := d.gauge
		if decide.IsZero() {
			decide = d.sparse
		}
		if decide.Before(c.End) {
			return false
		}
	}
	return true
}
