package cw

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GetMetricData limits, as CloudWatch has them.
const (
	maxQueries           = 500
	defaultMaxDatapoints = 100800
	listMetricsPage      = 500
)

// Statistics a MetricStat may ask for. Percentiles and the other extended
// statistics need the samples' distribution, which the store does not keep.
var statistics = []string{"Sum", "Average", "Minimum", "Maximum", "SampleCount"}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

type getMetricDataInput struct {
	MetricDataQueries []metricDataQuery
	StartTime         *epochTime
	EndTime           *epochTime
	NextToken         string
	ScanBy            string
	MaxDatapoints     *int64
}

type metricDataQuery struct {
	Id         string
	MetricStat *metricStat
	Expression string
	Label      string
	ReturnData *bool
}

type metricStat struct {
	Metric struct {
		Namespace, MetricName string
		Dimensions            []Dimension
	}
	Period *int64
	Stat   string
	Unit   string
}

// statQuery is one validated MetricStat query.
type statQuery struct {
	id, label string
	metric    metricID
	unit      string
	stat      string
	period    int64 // wall nanoseconds, a multiple of the store's period
	ret       bool
}

// datapoint is one answered period: its start and its statistic.
type datapoint struct {
	at    time.Time
	value float64
}

// getMetricData answers GetMetricData: each query's statistic per period of
// its Period (aligned to the Unix epoch) whose start lies in [StartTime
// rounded down to the period, EndTime) and whose end plus the ingestion lag
// has passed; periods without samples have no datapoint. Points come in
// ScanBy order, at most MaxDatapoints of all queries together per page;
// NextToken pages on over what was readable when the first page was asked.
func getMetricData(s *Store, body []byte) (map[string]any, error) {
	var in getMetricDataInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	queries, err := s.checkQueries(in.MetricDataQueries)
	if err != nil {
		return nil, err
	}
	if err := checkWindow(in); err != nil {
		return nil, err
	}
	desc, limit, err := checkScan(in)
	if err != nil {
		return nil, err
	}
	offset, cutoff := 0, s.clk.Now()
	if in.NextToken != "" {
		if offset, cutoff, err = parseToken(in.NextToken); err != nil {
			return nil, err
		}
	}
	var answers [][]datapoint
	for _, q := range queries {
		points := s.answer(q, in.StartTime.Time, in.EndTime.Time, cutoff)
		if desc {
			slices.Reverse(points)
		}
		answers = append(answers, points)
	}
	return page(queries, answers, offset, limit, cutoff), nil
}

// checkQueries validates the queries that GetMetricData runs.
func (s *Store) checkQueries(in []metricDataQuery) ([]statQuery, error) {
	if len(in) == 0 {
		return nil, missing("the parameter MetricDataQueries is required")
	}
	if len(in) > maxQueries {
		return nil, invalidValue("%d MetricDataQueries are more than the %d allowed", len(in), maxQueries)
	}
	seen := map[string]bool{}
	var out []statQuery
	for i, q := range in {
		if !queryID.MatchString(q.Id) {
			return nil, invalidValue("MetricDataQueries[%d]: the Id %q must start with a lower-case letter and hold only letters, digits and _", i, q.Id)
		}
		if seen[q.Id] {
			return nil, invalidValue("MetricDataQueries: the Id %q is used twice", q.Id)
		}
		seen[q.Id] = true
		if q.Expression != "" {
			return nil, invalidValue("query %q: expressions are not supported by the local cloud", q.Id)
		}
		sq, err := s.checkStat(q)
		if err != nil {
			return nil, err
		}
		out = append(out, sq)
	}
	return out, nil
}

// checkStat validates one query's MetricStat.
func (s *Store) checkStat(q metricDataQuery) (statQuery, error) {
	ms := q.MetricStat
	if ms == nil {
		return statQuery{}, missing("query %q: MetricStat or Expression is required", q.Id)
	}
	if ms.Metric.Namespace == "" || ms.Metric.MetricName == "" {
		return statQuery{}, missing("query %q: the metric's Namespace and MetricName are required", q.Id)
	}
	if ms.Period == nil {
		return statQuery{}, missing("query %q: MetricStat.Period is required", q.Id)
	}
	storeNs := int64(s.period)
	if p := *ms.Period; p <= 0 || p > 1<<32 || (p*int64(time.Second))%storeNs != 0 {
		return statQuery{}, invalidValue("query %q: the Period %d is not a positive multiple of the local cloud's period of %v",
			q.Id, *ms.Period, s.period)
	}
	if !slices.Contains(statistics, ms.Stat) {
		return statQuery{}, invalidValue("query %q: the statistic %q is not supported by the local cloud (want one of %s)",
			q.Id, ms.Stat, strings.Join(statistics, ", "))
	}
	for _, d := range ms.Metric.Dimensions {
		if d.Name == "" || d.Value == "" {
			return statQuery{}, invalidValue("query %q: a dimension needs a Name and a Value", q.Id)
		}
	}
	label := q.Label
	if label == "" {
		label = ms.Metric.MetricName
	}
	return statQuery{
		id: q.Id, label: label, unit: ms.Unit, stat: ms.Stat,
		metric: metricID{Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName, Dimensions: ms.Metric.Dimensions},
		period: *ms.Period * int64(time.Second),
		ret:    q.ReturnData == nil || *q.ReturnData,
	}, nil
}

func checkWindow(in getMetricDataInput) error {
	if in.StartTime == nil || in.EndTime == nil {
		return missing("the parameters StartTime and EndTime are required")
	}
	if !in.StartTime.Before(in.EndTime.Time) {
		return invalidValue("the parameter StartTime must be less than the parameter EndTime")
	}
	return nil
}

// checkScan validates ScanBy and MaxDatapoints: it reports whether points
// come newest first, and how many fit in a page.
func checkScan(in getMetricDataInput) (desc bool, limit int, err error) {
	switch in.ScanBy {
	case "", "TimestampDescending":
		desc = true
	case "TimestampAscending":
	default:
		return false, 0, invalidValue("ScanBy %q is not TimestampDescending or TimestampAscending", in.ScanBy)
	}
	limit = defaultMaxDatapoints
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints <= 0 || *in.MaxDatapoints > 1<<31 {
			return false, 0, invalidValue("MaxDatapoints %d is not positive", *in.MaxDatapoints)
		}
		limit = int(*in.MaxDatapoints)
	}
	return desc, limit, nil
}

// answer returns q's datapoints, oldest first, over the periods whose start
// lies in [start rounded down to the period, end) and that are readable at
// cutoff.
func (s *Store) answer(q statQuery, start, end, cutoff time.Time) []datapoint {
	per := q.period / int64(s.period) // store periods per answered period
	j0 := floorDiv(start.UnixNano(), q.period)
	j1 := -floorDiv(-end.UnixNano(), q.period) // exclusive
	j1 = min(j1, floorDiv(cutoff.Add(-s.lag).UnixNano(), q.period))
	if j0 >= j1 {
		return nil
	}
	var (
		out []datapoint
		agg bucket
		cur int64
	)
	flush := func() {
		if agg.count > 0 {
			out = append(out, datapoint{at: time.Unix(0, cur*q.period).UTC(), value: statistic(q.stat, agg)})
		}
	}
	for _, b := range s.stats(q.metric, q.unit, j0*per, j1*per) {
		j := floorDiv(b.k, per)
		if j != cur || agg.count == 0 {
			flush()
			cur, agg = j, bucket{minV: b.minV, maxV: b.maxV}
		}
		agg.count += b.count
		agg.sum += b.sum
		agg.minV = min(agg.minV, b.minV)
		agg.maxV = max(agg.maxV, b.maxV)
	}
	flush()
	return out
}

// statistic returns stat of a period's samples (count > 0).
func statistic(stat string, b bucket) float64 {
	switch stat {
	case "Sum":
		return b.sum
	case "Minimum":
		return b.minV
	case "Maximum":
		return b.maxV
	case "SampleCount":
		return b.count
	}
	return b.sum / b.count
}

// page builds one GetMetricData response: the points [offset,
// offset+limit) of all returned queries' points in query order.
func page(queries []statQuery, answers [][]datapoint, offset, limit int, cutoff time.Time) map[string]any {
	results := []any{}
	base := 0
	for i, q := range queries {
		if !q.ret {
			continue
		}
		points := answers[i]
		lo := min(max(offset-base, 0), len(points))
		hi := min(max(offset+limit-base, 0), len(points))
		ts, vs := make([]time.Time, 0, hi-lo), make([]float64, 0, hi-lo)
		for _, p := range points[lo:hi] {
			ts = append(ts, p.at)
			vs = append(vs, p.value)
		}
		status := "Complete"
		if hi < len(points) {
			status = "PartialData"
		}
		results = append(results, map[string]any{
			"Id": q.id, "Label": q.label, "Timestamps": ts, "Values": vs,
			"StatusCode": status, "Messages": []any{},
		})
		base += len(points)
	}
	out := map[string]any{"MetricDataResults": results, "Messages": []any{}}
	if offset+limit < base {
		out["NextToken"] = makeToken(offset+limit, cutoff)
	}
	return out
}

// A NextToken holds the offset of the next point and the time whose
// readable data the pages show, so that the pages of one request agree.
func makeToken(offset int, cutoff time.Time) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "v1:%d:%d", offset, cutoff.UnixNano()))
}

func parseToken(tok string) (offset int, cutoff time.Time, err error) {
	bad := &apiError{code: ErrInvalidNextToken, message: "the NextToken is not one this API gave"}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, time.Time{}, bad
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != "v1" {
		return 0, time.Time{}, bad
	}
	o, err1 := strconv.Atoi(parts[1])
	c, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || o < 0 {
		return 0, time.Time{}, bad
	}
	return o, time.Unix(0, c), nil
}

type listMetricsInput struct {
	Namespace  string
	MetricName string
	Dimensions []dimensionFilter
	NextToken  string
}

// listMetrics answers ListMetrics: the series that match, 500 a page.
func listMetrics(s *Store, body []byte) (map[string]any, error) {
	var in listMetricsInput
	if err := decodeInput(body, &in); err != nil {
		return nil, err
	}
	if len(in.Dimensions) > 10 {
		return nil, invalidValue("%d dimension filters are more than the 10 allowed", len(in.Dimensions))
	}
	for _, f := range in.Dimensions {
		if f.Name == "" {
			return nil, missing("a dimension filter needs a Name")
		}
	}
	offset := 0
	if in.NextToken != "" {
		var err error
		if offset, _, err = parseToken(in.NextToken); err != nil {
			return nil, err
		}
	}
	all := s.list(in.Namespace, in.MetricName, in.Dimensions)
	metrics := []any{}
	for _, m := range all[min(offset, len(all)):min(offset+listMetricsPage, len(all))] {
		dims := make([]any, 0, len(m.Dimensions))
		for _, d := range m.Dimensions {
			dims = append(dims, map[string]any{"Name": d.Name, "Value": d.Value})
		}
		metrics = append(metrics, map[string]any{"Namespace": m.Namespace, "MetricName": m.MetricName, "Dimensions": dims})
	}
	out := map[string]any{"Metrics": metrics}
	if offset+listMetricsPage < len(all) {
		out["NextToken"] = makeToken(offset+listMetricsPage, time.Unix(0, 0))
	}
	return out, nil
}
