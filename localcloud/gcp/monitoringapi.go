package gcp

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/scenarios"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// metricService serves google.monitoring.v3.MetricService/ListTimeSeries
// over the cloud's recorder.
//
// Time is wall-clock: the recorder's sample period is the simulated period
// (60 s) divided by the time scale, and so is the shortest alignment period
// it accepts. Alignment periods are anchored at Interval.EndTime: the
// newest aligned point covers (end-period, end], and a point's
// Interval.EndTime is the end of its period. Points come newest first;
// periods without data have no point. Data inside a metric's ingestion lag
// is not visible yet (the recorder's Query enforces it).
type metricService struct {
	monitoringpb.UnimplementedMetricServiceServer
	p *ControlPlane
}

var _ monitoringpb.MetricServiceServer = (*metricService)(nil)

// maxPagePoints is the page size, in points, when a request sets none.
const maxPagePoints = 100000

// ListTimeSeries lists the series of one metric type that match the
// filter, with their points in the interval, aligned and reduced as asked.
func (m *metricService) ListTimeSeries(ctx context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	rec := m.p.c.Recorder()
	if err := m.checkName(req.GetName()); err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	start, end, err := interval(req.GetInterval())
	if err != nil {
		return nil, err
	}
	headers, err := headersView(req)
	if err != nil {
		return nil, err
	}
	kind, vt := localcloud.DescribeMetric(f.metricType)
	agg, err := parseAggregation(req.GetAggregation(), rec.Period(), m.p.c.Config().TimeScale, kind, vt)
	if err != nil {
		return nil, err
	}
	from, err := pageOffset("timeseries", req.GetPageToken())
	if err != nil {
		return nil, err
	}
	if req.GetPageSize() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "page size %d is negative", req.GetPageSize())
	}
	out := aggregate(agg, m.matching(f, start, end), end)
	return seriesPage(out, from, int(req.GetPageSize()), headers), nil
}

// headersView rejects what the local cloud does not support (order_by, a
// secondary aggregation) and reports whether the view is HEADERS.
func headersView(req *monitoringpb.ListTimeSeriesRequest) (bool, error) {
	if req.GetOrderBy() != "" {
		return false, status.Errorf(codes.InvalidArgument, "order_by %q is not supported", req.GetOrderBy())
	}
	if sa := req.GetSecondaryAggregation(); sa != nil && !proto.Equal(sa, &monitoringpb.Aggregation{}) {
		return false, status.Error(codes.InvalidArgument, "secondary_aggregation is not supported by the local cloud")
	}
	switch req.GetView() {
	case monitoringpb.ListTimeSeriesRequest_FULL:
		return false, nil
	case monitoringpb.ListTimeSeriesRequest_HEADERS:
		return true, nil
	}
	return false, status.Errorf(codes.InvalidArgument, "view %v is not valid", req.GetView())
}

// matching returns the recorded series of f's metric type that match f,
// with their points ending in (start, end]; a zero-length interval asks
// for the point at end.
func (m *metricService) matching(f *tsFilter, start, end time.Time) []localcloud.Series {
	qStart := start
	if !start.Before(end) {
		qStart = end.Add(-1)
	}
	var in []localcloud.Series
	for _, s := range m.p.c.Recorder().Query(f.metricType, qStart, end) {
		if f.match(s) {
			in = append(in, s)
		}
	}
	return in
}

// aggregate aligns and reduces series as agg asks (nil: raw points).
func aggregate(agg *aggregation, in []localcloud.Series, end time.Time) []outSeries {
	var out []outSeries
	switch {
	case agg == nil:
		for _, s := range in {
			out = append(out, rawSeries(s))
		}
	case agg.reducer == monitoringpb.Aggregation_REDUCE_NONE:
		for _, s := range in {
			out = append(out, agg.align(s, end))
		}
	default:
		aligned := make([]outSeries, 0, len(in))
		for _, s := range in {
			aligned = append(aligned, agg.align(s, end))
		}
		out = agg.reduce(aligned)
	}
	return out
}

// seriesPage returns the series from offset from that fit in limit points (0:
// maxPagePoints; a series counts one point in the HEADERS view), and a
// token for the rest.
func seriesPage(out []outSeries, from, limit int, headers bool) *monitoringpb.ListTimeSeriesResponse {
	if limit == 0 {
		limit = maxPagePoints
	}
	from = min(from, len(out))
	to, n := from, 0
	for to < len(out) {
		size := len(out[to].points)
		if headers {
			size = 1
		}
		if to > from && n+size > limit {
			break
		}
		n += size
		to++
	}
	resp := &monitoringpb.ListTimeSeriesResponse{}
	if to < len(out) {
		resp.NextPageToken = pageToken("timeseries", to)
	}
	for _, s := range out[from:to] {
		resp.TimeSeries = append(resp.TimeSeries, s.proto(headers))
	}
	return resp
}

// checkName accepts projects/P for the cloud's project.
func (m *metricService) checkName(name string) error {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return status.Errorf(codes.InvalidArgument, "name %q: want projects/{project}", name)
	}
	if id != m.p.c.Project() {
		return status.Errorf(codes.NotFound, "name %q: project %q not found (the local cloud's project is %q)", name, id, m.p.c.Project())
	}
	return nil
}

// interval returns the bounds of a request's interval; the start defaults
// to the end.
func interval(iv *monitoringpb.TimeInterval) (start, end time.Time, err error) {
	if iv.GetEndTime() == nil {
		return start, end, status.Error(codes.InvalidArgument, "interval.end_time is required")
	}
	if err := iv.GetEndTime().CheckValid(); err != nil {
		return start, end, status.Errorf(codes.InvalidArgument, "interval.end_time: %v", err)
	}
	end = iv.GetEndTime().AsTime()
	start = end
	if iv.GetStartTime() != nil {
		if err := iv.GetStartTime().CheckValid(); err != nil {
			return start, end, status.Errorf(codes.InvalidArgument, "interval.start_time: %v", err)
		}
		start = iv.GetStartTime().AsTime()
	}
	if start.After(end) {
		return start, end, status.Errorf(codes.InvalidArgument, "interval: start_time %v is after end_time %v",
			start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano))
	}
	return start, end, nil
}

// aggregation is a validated Aggregation with an aligner.
type aggregation struct {
	period  time.Duration
	aligner monitoringpb.Aggregation_Aligner
	reducer monitoringpb.Aggregation_Reducer
	groupBy []groupField
	// kind and vt are what the aligner outputs.
	kind metricpb.MetricDescriptor_MetricKind
	vt   metricpb.MetricDescriptor_ValueType
}

// groupField is a GroupByFields entry: a metric or resource label.
type groupField struct {
	resource bool
	label    string
}

// parseAggregation validates an Aggregation for a metric of kind and vt.
// It returns nil for raw data (no aligner).
func parseAggregation(a *monitoringpb.Aggregation, minPeriod time.Duration, scale int,
	kind localcloud.MetricKind, vt localcloud.ValueType) (*aggregation, error) {
	if a == nil {
		return nil, nil
	}
	out := &aggregation{aligner: a.GetPerSeriesAligner(), reducer: a.GetCrossSeriesReducer()}
	if p := a.GetAlignmentPeriod(); p != nil {
		if err := p.CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "aggregation.alignment_period: %v", err)
		}
		out.period = p.AsDuration()
		if out.period < minPeriod {
			return nil, status.Errorf(codes.InvalidArgument,
				"aggregation.alignment_period %v: must be at least %v (the sample period, %v simulated at time scale %d)",
				out.period, minPeriod, scenarios.SimulatedDuration(minPeriod, scale).Round(time.Millisecond), scale)
		}
	}
	for _, g := range a.GetGroupByFields() {
		switch {
		case g == "resource.type", g == "metric.type":
			// Always kept.
		default:
			kind, label, ok := labelField(g)
			if !ok {
				return nil, status.Errorf(codes.InvalidArgument,
					"aggregation.group_by_fields %q: want metric.label.NAME or resource.label.NAME", g)
			}
			out.groupBy = append(out.groupBy, groupField{resource: kind == "resource.label", label: label})
		}
	}
	if out.aligner == monitoringpb.Aggregation_ALIGN_NONE {
		if out.reducer != monitoringpb.Aggregation_REDUCE_NONE {
			return nil, status.Errorf(codes.InvalidArgument,
				"aggregation: cross_series_reducer %v needs a per_series_aligner other than ALIGN_NONE", out.reducer)
		}
		return nil, nil
	}
	if out.period <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "aggregation: alignment_period is required with per_series_aligner %v", out.aligner)
	}
	if err := out.setAligner(kind, vt); err != nil {
		return nil, err
	}
	if err := out.checkReducer(); err != nil {
		return nil, err
	}
	return out, nil
}

// setAligner sets the output kind and value type of the per-series
// aligner, or rejects an aligner that does not fit a kind vt metric.
func (out *aggregation) setAligner(kind localcloud.MetricKind, vt localcloud.ValueType) error {
	numeric := vt == localcloud.ValueInt64
	delta := kind == localcloud.KindDelta
	valid := false
	out.kind, out.vt = metricpb.MetricDescriptor_GAUGE, metricpb.MetricDescriptor_INT64
	switch out.aligner {
	case monitoringpb.Aggregation_ALIGN_DELTA:
		valid = delta && numeric
		out.kind = metricpb.MetricDescriptor_DELTA
	case monitoringpb.Aggregation_ALIGN_SUM:
		valid = numeric
		out.kind = kindProto(kind)
	case monitoringpb.Aggregation_ALIGN_RATE:
		valid = delta && numeric
		out.vt = metricpb.MetricDescriptor_DOUBLE
	case monitoringpb.Aggregation_ALIGN_MEAN:
		valid = numeric
		out.vt = metricpb.MetricDescriptor_DOUBLE
	case monitoringpb.Aggregation_ALIGN_MAX, monitoringpb.Aggregation_ALIGN_MIN:
		valid = numeric
	case monitoringpb.Aggregation_ALIGN_COUNT:
		valid = true
	case monitoringpb.Aggregation_ALIGN_COUNT_TRUE:
		valid = !delta && vt == localcloud.ValueBool
	case monitoringpb.Aggregation_ALIGN_FRACTION_TRUE:
		valid = !delta && vt == localcloud.ValueBool
		out.vt = metricpb.MetricDescriptor_DOUBLE
	case monitoringpb.Aggregation_ALIGN_NEXT_OLDER:
		valid = !delta
		out.vt = valueTypeProto(vt)
	default:
		return status.Errorf(codes.InvalidArgument, "aggregation: per_series_aligner %v is not supported by the local cloud", out.aligner)
	}
	if !valid {
		return status.Errorf(codes.InvalidArgument, "aggregation: per_series_aligner %v is not valid for a %s %s metric",
			out.aligner, kind, vt)
	}
	return nil
}

// checkReducer rejects a cross-series reducer the local cloud does not
// support, or one that does not fit the aligned values.
func (out *aggregation) checkReducer() error {
	switch out.reducer {
	case monitoringpb.Aggregation_REDUCE_NONE, monitoringpb.Aggregation_REDUCE_COUNT:
	case monitoringpb.Aggregation_REDUCE_SUM, monitoringpb.Aggregation_REDUCE_MAX,
		monitoringpb.Aggregation_REDUCE_MIN, monitoringpb.Aggregation_REDUCE_MEAN:
		if out.vt == metricpb.MetricDescriptor_BOOL {
			return status.Errorf(codes.InvalidArgument, "aggregation: cross_series_reducer %v is not valid for BOOL values", out.reducer)
		}
	default:
		return status.Errorf(codes.InvalidArgument, "aggregation: cross_series_reducer %v is not supported by the local cloud", out.reducer)
	}
	return nil
}

func kindProto(k localcloud.MetricKind) metricpb.MetricDescriptor_MetricKind {
	if k == localcloud.KindGauge {
		return metricpb.MetricDescriptor_GAUGE
	}
	return metricpb.MetricDescriptor_DELTA
}

func valueTypeProto(v localcloud.ValueType) metricpb.MetricDescriptor_ValueType {
	if v == localcloud.ValueBool {
		return metricpb.MetricDescriptor_BOOL
	}
	return metricpb.MetricDescriptor_INT64
}

// outSeries is a series on its way out, points newest first.
type outSeries struct {
	metricType     string
	metricLabels   map[string]string
	resourceType   string
	resourceLabels map[string]string
	kind           metricpb.MetricDescriptor_MetricKind
	vt             metricpb.MetricDescriptor_ValueType
	points         []outPoint
}

type outPoint struct {
	k          int64 // alignment period index, 0 the newest (aligned only)
	start, end time.Time
	v          float64
}

func rawSeries(s localcloud.Series) outSeries {
	o := outSeries{
		metricType: s.MetricType, metricLabels: s.MetricLabels,
		resourceType: s.Resource.Type, resourceLabels: s.Resource.Labels,
		kind: kindProto(s.Kind), vt: valueTypeProto(s.ValueType),
	}
	for i := len(s.Points) - 1; i >= 0; i-- {
		p := s.Points[i]
		o.points = append(o.points, outPoint{start: p.Start, end: p.End, v: float64(p.Value)})
	}
	return o
}

// align aligns one series to periods anchored at end.
func (a *aggregation) align(s localcloud.Series, end time.Time) outSeries {
	o := outSeries{
		metricType: s.MetricType, metricLabels: s.MetricLabels,
		resourceType: s.Resource.Type, resourceLabels: s.Resource.Labels,
		kind: a.kind, vt: a.vt,
	}
	buckets := map[int64][]int64{}
	for _, p := range s.Points { // oldest first
		k := int64(end.Sub(p.End) / a.period)
		buckets[k] = append(buckets[k], p.Value)
	}
	for _, k := range slices.Sorted(maps.Keys(buckets)) {
		vals := buckets[k]
		var sum, maxV, minV, trues float64
		maxV, minV = math.Inf(-1), math.Inf(1)
		for _, v := range vals {
			f := float64(v)
			sum += f
			maxV, minV = max(maxV, f), min(minV, f)
			if v != 0 {
				trues++
			}
		}
		n := float64(len(vals))
		var v float64
		switch a.aligner {
		case monitoringpb.Aggregation_ALIGN_DELTA, monitoringpb.Aggregation_ALIGN_SUM:
			v = sum
		case monitoringpb.Aggregation_ALIGN_RATE:
			v = sum / a.period.Seconds()
		case monitoringpb.Aggregation_ALIGN_MEAN:
			v = sum / n
		case monitoringpb.Aggregation_ALIGN_MAX:
			v = maxV
		case monitoringpb.Aggregation_ALIGN_MIN:
			v = minV
		case monitoringpb.Aggregation_ALIGN_COUNT:
			v = n
		case monitoringpb.Aggregation_ALIGN_COUNT_TRUE:
			v = trues
		case monitoringpb.Aggregation_ALIGN_FRACTION_TRUE:
			v = trues / n
		case monitoringpb.Aggregation_ALIGN_NEXT_OLDER:
			v = float64(vals[len(vals)-1])
		}
		pe := end.Add(-time.Duration(k) * a.period)
		o.points = append(o.points, outPoint{k: k, start: pe.Add(-a.period), end: pe, v: v})
	}
	return o
}

// reduce combines aligned series that share the values of the group-by
// fields, period by period.
func (a *aggregation) reduce(in []outSeries) []outSeries {
	type group struct {
		out  outSeries
		vals map[int64][]float64
		pts  map[int64]outPoint
	}
	groups := map[string]*group{}
	for _, s := range in {
		ml, rl := map[string]string{}, map[string]string{}
		var key strings.Builder
		key.WriteString(s.resourceType)
		for _, g := range a.groupBy {
			src, dst := s.metricLabels, ml
			if g.resource {
				src, dst = s.resourceLabels, rl
			}
			v, ok := src[g.label]
			if ok {
				dst[g.label] = v
			}
			fmt.Fprintf(&key, "|%t.%s=%t:%s", g.resource, g.label, ok, v)
		}
		gr := groups[key.String()]
		if gr == nil {
			gr = &group{
				out: outSeries{metricType: s.metricType, metricLabels: ml, resourceType: s.resourceType,
					resourceLabels: rl, kind: a.kind, vt: a.vt},
				vals: map[int64][]float64{},
				pts:  map[int64]outPoint{},
			}
			groups[key.String()] = gr
		}
		for _, p := range s.points {
			gr.vals[p.k] = append(gr.vals[p.k], p.v)
			gr.pts[p.k] = p
		}
	}
	out := make([]outSeries, 0, len(groups))
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		gr := groups[key]
		o := gr.out
		if a.reducer == monitoringpb.Aggregation_REDUCE_MEAN {
			o.vt = metricpb.MetricDescriptor_DOUBLE
		}
		if a.reducer == monitoringpb.Aggregation_REDUCE_COUNT {
			o.vt = metricpb.MetricDescriptor_INT64
		}
		for _, k := range slices.Sorted(maps.Keys(gr.vals)) {
			vals := gr.vals[k]
			var v float64
			switch a.reducer {
			case monitoringpb.Aggregation_REDUCE_SUM, monitoringpb.Aggregation_REDUCE_MEAN:
				for _, x := range vals {
					v += x
				}
				if a.reducer == monitoringpb.Aggregation_REDUCE_MEAN {
					v /= float64(len(vals))
				}
			case monitoringpb.Aggregation_REDUCE_MAX:
				v = slices.Max(vals)
			case monitoringpb.Aggregation_REDUCE_MIN:
				v = slices.Min(vals)
			case monitoringpb.Aggregation_REDUCE_COUNT:
				v = float64(len(vals))
			}
			p := gr.pts[k]
			p.v = v
			o.points = append(o.points, p)
		}
		out = append(out, o)
	}
	return out
}

// proto renders a series; headers leaves the points out.
func (s outSeries) proto(headers bool) *monitoringpb.TimeSeries {
	ts := &monitoringpb.TimeSeries{
		Metric:     &metricpb.Metric{Type: s.metricType, Labels: maps.Clone(s.metricLabels)},
		Resource:   &monitoredres.MonitoredResource{Type: s.resourceType, Labels: maps.Clone(s.resourceLabels)},
		MetricKind: s.kind,
		ValueType:  s.vt,
	}
	if headers {
		return ts
	}
	for _, p := range s.points {
		iv := &monitoringpb.TimeInterval{EndTime: timestamppb.New(p.end), StartTime: timestamppb.New(p.end)}
		if s.kind == metricpb.MetricDescriptor_DELTA {
			iv.StartTime = timestamppb.New(p.start)
		}
		var tv *monitoringpb.TypedValue
		switch s.vt {
		case metricpb.MetricDescriptor_DOUBLE:
			tv = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: p.v}}
		case metricpb.MetricDescriptor_BOOL:
			tv = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_BoolValue{BoolValue: p.v != 0}}
		default:
			tv = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: int64(math.Round(p.v))}}
		}
		ts.Points = append(ts.Points, &monitoringpb.Point{Interval: iv, Value: tv})
	}
	return ts
}
