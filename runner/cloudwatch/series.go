package cloudwatch

import (
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
)

// series turns the answers into Series, filling the counts with zeros up to
// each namespace's horizon (see Fetch), and reports whether they cover end.
func (s *Source) series(answers []answer, from, end time.Time, p time.Duration) ([]results.Series, bool) {
	horizons := horizons(s.queries, answers)
	cover := runner.Coverage{End: end}
	var out []results.Series
	for i, q := range s.queries {
		a := answers[i]
		if a.failure != "" {
			continue
		}
		cover.Add(q.namespace, !q.sparse, newestEnd(a.points))
		points := a.points
		if q.count {
			points = fillZeros(points, from, horizons[q.namespace], p)
		}
		if len(points) == 0 {
			continue
		}
		out = append(out, results.Series{Query: q.name, MetricType: q.metricType(), Labels: q.labels(), Points: points})
	}
	return out, cover.Covered()
}

// horizons returns, per namespace, the end of the newest point of a metric
// published every period, or of a sparse one where none of those has data:
// up to there the answers are known to hold every published period.
func horizons(qs []query, answers []answer) map[string]time.Time {
	gauge, count := map[string]time.Time{}, map[string]time.Time{}
	for i, q := range qs {
		if answers[i].failure != "" {
			continue
		}
		m := gauge
		if q.sparse {
			m = count
		}
		if t := newestEnd(answers[i].points); t.After(m[q.namespace]) {
			m[q.namespace] = t
		}
	}
	for ns, t := range count {
		if _, ok := gauge[ns]; !ok {
			gauge[ns] = t
		}
	}
	return gauge
}

// fillZeros returns points (oldest first) with a zero point for every
// period in [from, horizon) that has none.
func fillZeros(points []results.Point, from, horizon time.Time, p time.Duration) []results.Point {
	if horizon.IsZero() {
		return points
	}
	out := make([]results.Point, 0, max(len(points), int(horizon.Sub(from)/p)))
	i := 0
	for t := from; !t.Add(p).After(horizon); t = t.Add(p) {
		for i < len(points) && points[i].Start.Before(t) {
			out = append(out, points[i])
			i++
		}
		if i < len(points) && points[i].Start.Equal(t) {
			out = append(out, points[i])
			i++
			continue
		}
		out = append(out, results.Point{Start: t, End: t.Add(p)})
	}
	return append(out, points[i:]...)
}

// newestEnd returns the latest End of points (zero if none).
func newestEnd(points []results.Point) time.Time {
	var t time.Time
	for _, p := range points {
		if p.End.After(t) {
			t = p.End
		}
	}
	return t
}
