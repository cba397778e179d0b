// Package cw is the local cloud's CloudWatch: a metric store that keeps
// what AWS services publish (the load balancer's counts and gauges, the ECS
// service's running tasks) as per-period statistics, and the CloudWatch API
// over it (GetMetricData and ListMetrics), served in both protocols the AWS
// clients speak: Smithy RPC v2 CBOR (aws-sdk-go-v2 since
// service/cloudwatch v1.53.0) and awsJson1.0 (the AWS CLI, the JavaScript
// SDK).
//
// It owns the store and the wire; it does not decide what is published or
// when: the load balancer (localcloud/awscloud/alb) and the world
// (localcloud/awscloud) call Put. Time is wall-clock, as everywhere in the
// local cloud: the store's period and ingestion lag are simulated durations
// converted by the Clock, so at time scale 10 a 60 s period is 6 s of wall
// time and the API serves 6-second periods.
package cw

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// Retention bounds of a Store: a series keeps at most MaxBuckets periods,
// and none that ended more than Retention (simulated) before now.
const (
	Retention  = 24 * time.Hour
	MaxBuckets = 10000
)

// Dimension is one name/value pair of a metric's identity, as CloudWatch
// has it (LoadBalancer = app/NAME/ID).
type Dimension struct{ Name, Value string }

// Store keeps datapoints per (namespace, metric, dimension set) in periods
// aligned to the Unix epoch in wall time. Each period keeps SampleCount,
// Sum, Minimum and Maximum of the samples put in it; a period becomes
// readable once the clock is at or past its end plus the ingestion lag.
// Memory is bounded per series (Retention, MaxBuckets). A Store is safe for
// concurrent use; it runs no goroutine.
type Store struct {
	clk        clock.Clock
	period     time.Duration // wall, > 0
	lag        time.Duration // wall, >= 0
	retention  time.Duration // wall
	maxBuckets int

	mu     sync.Mutex
	series map[string]*series
}

// series is one metric with one exact dimension set.
type series struct {
	namespace, metric string
	dims              []Dimension // sorted by Name, then Value
	unit              string      // the unit of the latest Put
	buckets           []bucket    // ascending k
}

// bucket holds one period's statistics; k is the period's index since the
// Unix epoch.
type bucket struct {
	k                      int64
	count, sum, minV, maxV float64
}

// NewStore keeps datapoints per (namespace, metric, dimension set) in periods
// of `period` (simulated; wall = clk.Wall(period)) aligned to the Unix epoch
// in wall time; a period's datapoint is readable once clk.Now() >= periodEnd
// + clk.Wall(lag). A period that converts to less than a millisecond of wall
// time counts as one millisecond; a negative lag as none.
func NewStore(clk clock.Clock, period, lag time.Duration) *Store {
	return &Store{
		clk:        clk,
		period:     max(clk.Wall(period), time.Millisecond),
		lag:        max(clk.Wall(lag), 0),
		retention:  clk.Wall(Retention),
		maxBuckets: MaxBuckets,
		series:     map[string]*series{},
	}
}

// Period returns the store's period in wall time: the shortest Period
// GetMetricData accepts, and the unit every accepted Period is a multiple of.
func (s *Store) Period() time.Duration { return s.period }

// Lag returns the ingestion lag in wall time.
func (s *Store) Lag() time.Duration { return s.lag }

// Put adds one sample at `at` (wall time): each period keeps SampleCount,
// Sum, Minimum, Maximum (Average = Sum/SampleCount). The dimension set must
// match exactly (order-insensitive) for a query to find it, as in
// CloudWatch. unit is kept per series (the latest one put); a query that
// names a unit finds only series of that unit. A sample older than the
// retention is dropped.
func (s *Store) Put(namespace, metric string, dims []Dimension, at time.Time, value float64, unit string) {
	sorted := sortDims(dims)
	key := seriesKey(namespace, metric, sorted)
	k := floorDiv(at.UnixNano(), int64(s.period))
	now := s.clk.Now()
	oldest := s.oldestKept(now)
	if k < oldest {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[key]
	if sr == nil {
		sr = &series{namespace: namespace, metric: metric, dims: sorted}
		s.series[key] = sr
	}
	if unit != "" {
		sr.unit = unit
	}
	sr.add(k, value)
	sr.trim(oldest, s.maxBuckets)
}

// oldestKept returns the index of the oldest period kept at now.
func (s *Store) oldestKept(now time.Time) int64 {
	return floorDiv(now.Add(-s.retention).UnixNano(), int64(s.period))
}

// add adds a sample to period k.
func (sr *series) add(k int64, v float64) {
	i, found := slices.BinarySearchFunc(sr.buckets, k, func(b bucket, k int64) int { return cmp.Compare(b.k, k) })
	if !found {
		sr.buckets = slices.Insert(sr.buckets, i, bucket{k: k, minV: v, maxV: v})
	}
	b := &sr.buckets[i]
	b.count++
	b.sum += v
	b.minV = min(b.minV, v)
	b.maxV = max(b.maxV, v)
}

// trim drops the periods before oldest and the oldest beyond maxBuckets.
func (sr *series) trim(oldest int64, maxBuckets int) {
	drop, _ := slices.BinarySearchFunc(sr.buckets, oldest, func(b bucket, k int64) int { return cmp.Compare(b.k, k) })
	drop = max(drop, len(sr.buckets)-maxBuckets)
	if drop > 0 {
		sr.buckets = slices.Delete(sr.buckets, 0, drop)
	}
}

// metricID names one series for queries and listings.
type metricID struct {
	Namespace, MetricName string
	Dimensions            []Dimension
}

// stats returns copies of the buckets of the series id names exactly (and
// of unit, when set) with k in [fromK, toK), oldest first.
func (s *Store) stats(id metricID, unit string, fromK, toK int64) []bucket {
	key := seriesKey(id.Namespace, id.MetricName, sortDims(id.Dimensions))
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[key]
	if sr == nil || (unit != "" && sr.unit != "" && unit != sr.unit) {
		return nil
	}
	byK := func(b bucket, k int64) int { return cmp.Compare(b.k, k) }
	i, _ := slices.BinarySearchFunc(sr.buckets, fromK, byK)
	j, _ := slices.BinarySearchFunc(sr.buckets, toK, byK)
	if i >= j {
		return nil
	}
	return slices.Clone(sr.buckets[i:j])
}

// list returns the series that match namespace and metric (empty: any) and
// have every dimension of filters (a filter without a value matches any
// value), sorted by namespace, metric and dimensions.
func (s *Store) list(namespace, metric string, filters []dimensionFilter) []metricID {
	var out []metricID
	s.mu.Lock()
	for _, sr := range s.series {
		if (namespace == "" || sr.namespace == namespace) && (metric == "" || sr.metric == metric) && matchFilters(sr.dims, filters) {
			out = append(out, metricID{Namespace: sr.namespace, MetricName: sr.metric, Dimensions: slices.Clone(sr.dims)})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b metricID) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.MetricName, b.MetricName),
			cmp.Compare(dimsKey(a.Dimensions), dimsKey(b.Dimensions)))
	})
	return out
}

// dimensionFilter is ListMetrics' DimensionFilter: Value empty matches any.
type dimensionFilter struct{ Name, Value string }

func matchFilters(dims []Dimension, filters []dimensionFilter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(dims, func(d Dimension) bool {
			return d.Name == f.Name && (f.Value == "" || d.Value == f.Value)
		}) {
			return false
		}
	}
	return true
}

// sortDims returns a sorted copy of dims.
func sortDims(dims []Dimension) []Dimension {
	out := slices.Clone(dims)
	slices.SortFunc(out, func(a, b Dimension) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// seriesKey is the map key of a series; dims must be sorted.
func seriesKey(namespace, metric string, dims []Dimension) string {
	return namespace + "\x00" + metric + "\x00" + dimsKey(dims)
}

func dimsKey(dims []Dimension) string {
	var b strings.Builder
	for _, d := range dims {
		b.WriteString(d.Name)
		b.WriteByte('\x01')
		b.WriteString(d.Value)
		b.WriteByte('\x00')
	}
	return b.String()
}

// floorDiv is a / b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
