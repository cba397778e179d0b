package localcloud

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// MetricKind is a metric's kind, as Cloud Monitoring names it.
type MetricKind string

// Metric kinds.
const (
	KindDelta MetricKind = "DELTA" // a count per sample period
	KindGauge MetricKind = "GAUGE" // a value at the end of a period
)

// ValueType is a metric's value type, as Cloud Monitoring names it.
type ValueType string

// Value types.
const (
	ValueInt64 ValueType = "INT64"
	ValueBool  ValueType = "BOOL"
)

// Metric prefixes whose ingestion lags differ.
const (
	PrefixNAT = "router.googleapis.com/nat/"
	PrefixRun = "run.googleapis.com/"
)

// DescribeMetric returns the kind and value type of a metric type the
// local cloud records. Unknown types are DELTA INT64.
func DescribeMetric(metricType string) (MetricKind, ValueType) {
	switch metricType {
	case MetricNATAllocFailed:
		return KindGauge, ValueBool
	case MetricNATAllocatedPorts, MetricNATPortUsage, MetricNATOpenConns, MetricRunInstanceCount:
		return KindGauge, ValueInt64
	}
	return KindDelta, ValueInt64
}

// RecorderOptions configures a Recorder. Durations are simulated and
// resolved: their defaults live in scenarios (CloudMetrics), and Start
// passes the scenario's.
type RecorderOptions struct {
	// Period is the sample period.
	Period time.Duration
	// LagNAT and LagRun are the ingestion lags of PrefixNAT and PrefixRun
	// metrics; zero or negative means none.
	LagNAT, LagRun time.Duration
	// Retention bounds how far back points are kept (at least one period).
	Retention time.Duration
}

// Point is one sample of a series. A DELTA point covers [Start, End); a
// GAUGE point has Start == End, the end of its period.
type Point struct {
	Start, End time.Time
	Value      int64
}

// Series is one time series: a metric type with its labels on a resource.
type Series struct {
	MetricType   string
	MetricLabels map[string]string
	Resource     Resource
	Kind         MetricKind
	ValueType    ValueType
	// Points are oldest first.
	Points []Point
}

// Recorder is the local cloud's metric store. It implements MetricSink:
// measurements land in the sample period (of wall-clock length
// Period/scale, counted from the recorder's start) in which they happen, and
// a period's point becomes visible to Query only after the ingestion lag of
// its metric has passed beyond the period's end. At most Retention of points
// are kept per series. A Recorder is safe for concurrent use; it runs no
// goroutine.
type Recorder struct {
	clock     clock.Clock
	origin    time.Time
	period    time.Duration // wall
	lagNAT    time.Duration // wall
	lagRun    time.Duration // wall
	maxPoints int64

	mu     sync.Mutex
	series map[string]*recSeries
}

type recSeries struct {
	Series
	// buckets hold per-period values, ordered by period index; for a gauge
	// the value last set in the period.
	buckets []bucket
}

type bucket struct {
	k int64
	v int64
}

var _ MetricSink = (*Recorder)(nil)

// NewRecorder returns an empty recorder. Its sample periods sit on the
// period grid of wall-clock time (the first one holds now), as Google's
// per-minute samples sit on the minute, so that a query aligned to whole
// periods gets whole samples.
func NewRecorder(clock clock.Clock, opts RecorderOptions) *Recorder {
	opts.Period = max(opts.Period, time.Millisecond) // resolved options have one; never divide by 0
	period := max(clock.Wall(opts.Period), time.Millisecond)
	return &Recorder{
		clock:     clock,
		origin:    clock.Now().Truncate(period),
		period:    period,
		lagNAT:    clock.Wall(max(opts.LagNAT, 0)),
		lagRun:    clock.Wall(max(opts.LagRun, 0)),
		maxPoints: max(int64(opts.Retention/opts.Period), 1),
		series:    map[string]*recSeries{},
	}
}

// Origin returns the start of the first sample period.
func (r *Recorder) Origin() time.Time { return r.origin }

// Period returns the wall-clock length of a sample period.
func (r *Recorder) Period() time.Duration { return r.period }

// Lag returns the wall-clock ingestion lag of a metric type.
func (r *Recorder) Lag(metricType string) time.Duration {
	switch {
	case strings.HasPrefix(metricType, PrefixNAT):
		return r.lagNAT
	case strings.HasPrefix(metricType, PrefixRun):
		return r.lagRun
	}
	return 0
}

// AddDelta adds n to a DELTA metric in the current period.
func (r *Recorder) AddDelta(metricType string, res Resource, labels map[string]string, n int64) {
	r.record(metricType, res, labels, n, true)
}

// SetGauge sets a GAUGE metric; a period's point is the last value set at
// or before its end.
func (r *Recorder) SetGauge(metricType string, res Resource, labels map[string]string, v int64) {
	r.record(metricType, res, labels, v, false)
}

func (r *Recorder) record(metricType string, res Resource, labels map[string]string, v int64, add bool) {
	key := seriesKey(metricType, res, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	k := int64(r.clock.Now().Sub(r.origin) / r.period)
	s := r.series[key]
	if s == nil {
		kind, vt := DescribeMetric(metricType)
		s = &recSeries{Series: Series{
			MetricType:   metricType,
			MetricLabels: cloneLabels(labels),
			Resource:     Resource{Type: res.Type, Labels: cloneLabels(res.Labels)},
			Kind:         kind,
			ValueType:    vt,
		}}
		r.series[key] = s
	}
	n := len(s.buckets)
	if n > 0 && s.buckets[n-1].k >= k {
		// The current period (or, for a caller that read the clock just
		// before another, the latest one).
		if add {
			s.buckets[n-1].v += v
		} else {
			s.buckets[n-1].v = v
		}
		return
	}
	s.buckets = append(s.buckets, bucket{k: k, v: v})
	// Keep Retention of periods, and for a gauge the last value before
	// them, which later periods carry forward.
	keep := k - r.maxPoints
	i := 0
	for i < len(s.buckets)-1 && s.buckets[i].k < keep && (s.Kind != KindGauge || s.buckets[i+1].k <= keep) {
		i++
	}
	if i > 0 {
		s.buckets = slices.Delete(s.buckets, 0, i)
	}
}

// Query returns the series of metricType with the points visible now whose
// period ends in (start, end], within the retention. Series without such
// points are left out. Gauges have a point for every period from their
// first write on (a value holds until it is set again).
func (r *Recorder) Query(metricType string, start, end time.Time) []Series {
	now := r.clock.Now()
	lastVisible := now.Add(-r.Lag(metricType)) // periods ending at or before this are visible
	if end.After(lastVisible) {
		end = lastVisible
	}
	// Period k ends at origin+(k+1)P; keep the ones ending in (start, end].
	kFrom := floorDiv(start.Sub(r.origin), r.period)
	kTo := floorDiv(end.Sub(r.origin), r.period) - 1
	// Nothing older than the retention is served.
	kFrom = max(kFrom, floorDiv(now.Sub(r.origin), r.period)-r.maxPoints)
	kFrom = max(kFrom, 0)

	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Series
	for _, s := range r.series {
		if s.MetricType != metricType || kTo < kFrom {
			continue
		}
		var pts []Point
		if s.Kind == KindGauge {
			pts = r.gaugePoints(s, kFrom, kTo)
		} else {
			for _, b := range s.buckets {
				if b.k >= kFrom && b.k <= kTo {
					pts = append(pts, Point{Start: r.periodStart(b.k), End: r.periodStart(b.k + 1), Value: b.v})
				}
			}
		}
		if len(pts) == 0 {
			continue
		}
		c := s.Series
		c.MetricLabels = cloneLabels(s.MetricLabels)
		c.Resource.Labels = cloneLabels(s.Resource.Labels)
		c.Points = pts
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		return seriesKey("", out[i].Resource, out[i].MetricLabels) < seriesKey("", out[j].Resource, out[j].MetricLabels)
	})
	return out
}

func (r *Recorder) gaugePoints(s *recSeries, kFrom, kTo int64) []Point {
	if len(s.buckets) == 0 {
		return nil
	}
	kFrom = max(kFrom, s.buckets[0].k)
	var pts []Point
	i := 0
	for k := kFrom; k <= kTo; k++ {
		for i+1 < len(s.buckets) && s.buckets[i+1].k <= k {
			i++
		}
		if s.buckets[i].k > k {
			continue
		}
		t := r.periodStart(k + 1)
		pts = append(pts, Point{Start: t, End: t, Value: s.buckets[i].v})
	}
	return pts
}

// MetricTypes lists the metric types that have a series, sorted.
func (r *Recorder) MetricTypes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, s := range r.series {
		if !seen[s.MetricType] {
			seen[s.MetricType] = true
			out = append(out, s.MetricType)
		}
	}
	slices.Sort(out)
	return out
}

func (r *Recorder) periodStart(k int64) time.Time {
	return r.origin.Add(time.Duration(k) * r.period)
}

func floorDiv(a, b time.Duration) int64 {
	q := int64(a / b)
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// seriesKey identifies a series by its type, resource and labels.
func seriesKey(metricType string, res Resource, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(metricType)
	b.WriteByte('|')
	b.WriteString(res.Type)
	writeLabels(&b, res.Labels)
	b.WriteByte('|')
	writeLabels(&b, labels)
	return b.String()
}

func writeLabels(b *strings.Builder, labels map[string]string) {
	var small [8]string
	keys := small[:0]
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte(',')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
