package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cutover-dev/cutover/results"
)

// Units of Threshold.Value, by metric.
const (
	UnitMillis   = "ms"       // latencies, in milliseconds
	UnitFraction = "fraction" // error_rate: 0.001 is 0.1%
	UnitCount    = "count"    // counts of results
)

// MetricName is a metric a threshold expression tests ("p99",
// "error_rate", "status_504"): one of ThresholdMetrics. Every result class
// and derived counter of results is also a metric, a count, named as the
// class is.
type MetricName string

// The metrics that are not result classes.
const (
	MetricP50       MetricName = "p50"
	MetricP90       MetricName = "p90"
	MetricP95       MetricName = "p95"
	MetricP99       MetricName = "p99"
	MetricMax       MetricName = "max"
	MetricMean      MetricName = "mean"
	MetricErrorRate MetricName = "error_rate"
	MetricRequests  MetricName = "requests"
	MetricErrors    MetricName = "errors"
)

// ClassMetric is the count metric of a results class or derived counter.
func ClassMetric(class results.Class) MetricName { return MetricName(class) }

// Unit returns the unit of Threshold.Value for m (UnitMillis, UnitFraction
// or UnitCount), "" for a name that is not one of ThresholdMetrics.
func (m MetricName) Unit() string {
	tm, _ := lookupMetric(m)
	return tm.Unit
}

// ThresholdMetric is one metric a threshold expression can test.
type ThresholdMetric struct {
	// Name is the metric as written in an expression ("p99").
	Name MetricName
	// Unit is the unit of Threshold.Value for this metric: UnitMillis,
	// UnitFraction or UnitCount.
	Unit string
	// Doc says what the metric measures.
	Doc string
}

// ThresholdMetrics lists every metric a threshold can test, in the order
// they are shown to people.
var ThresholdMetrics = []ThresholdMetric{
	{MetricP50, UnitMillis, "median request latency; write a duration (800ms, 1.5s) or a number of milliseconds"},
	{MetricP90, UnitMillis, "90th percentile latency"},
	{MetricP95, UnitMillis, "95th percentile latency"},
	{MetricP99, UnitMillis, "99th percentile latency"},
	{MetricMax, UnitMillis, "largest latency"},
	{MetricMean, UnitMillis, "mean latency"},
	{MetricErrorRate, UnitFraction, "errors divided by requests; write a percentage (0.1%) or a fraction (0.001)"},
	{MetricRequests, UnitCount, "requests sent"},
	{MetricErrors, UnitCount, "results not classed ok"},
	{ClassMetric(results.FetchFailed), UnitCount, "transport failures, the sum of connect_timeout … transport_other (Node's \"fetch failed\")"},
	{ClassMetric(results.UpstreamTimeout), UnitCount, "504 responses whose body says \"upstream request timeout\""},
	{ClassMetric(results.AppFetchFailed), UnitCount, "5xx responses whose body says \"fetch failed\": the service's own outbound call failed"},
	{ClassMetric(results.ClassOK), UnitCount, "results classed ok"},
	{ClassMetric(results.ClassStatus429), UnitCount, "responses with status 429 (too many requests)"},
	{ClassMetric(results.ClassStatus500), UnitCount, "responses with status 500"},
	{ClassMetric(results.ClassStatus502), UnitCount, "responses with status 502"},
	{ClassMetric(results.ClassStatus503), UnitCount, "responses with status 503"},
	{ClassMetric(results.ClassStatus504), UnitCount, "responses with status 504"},
	{ClassMetric(results.ClassStatusOther), UnitCount, "responses with any other error status"},
	{ClassMetric(results.ClassConnectTimeout), UnitCount, "connections that timed out before they were established"},
	{ClassMetric(results.ClassConnectRefused), UnitCount, "connections refused"},
	{ClassMetric(results.ClassConnReset), UnitCount, "connections reset by the peer"},
	{ClassMetric(results.ClassEOF), UnitCount, "connections closed before a whole response arrived"},
	{ClassMetric(results.ClassResponseTimeout), UnitCount, "requests that timed out waiting for the response"},
	{ClassMetric(results.ClassTLS), UnitCount, "TLS failures"},
	{ClassMetric(results.ClassDNS), UnitCount, "name resolution failures"},
	{ClassMetric(results.ClassTransportOther), UnitCount, "other transport failures"},
}

// thresholdOps are the comparison operators, two-character ones first so
// that "<=" is not read as "<".
var thresholdOps = []string{"<=", ">=", "==", "!=", "<", ">"}

const thresholdHelp = `write METRIC OP VALUE, e.g. "p99 < 800ms", with OP one of < <= > >= == !=`

func lookupMetric(name MetricName) (ThresholdMetric, bool) {
	for _, m := range ThresholdMetrics {
		if m.Name == name {
			return m, true
		}
	}
	return ThresholdMetric{}, false
}

func metricNames() []string {
	names := make([]string, len(ThresholdMetrics))
	for i, m := range ThresholdMetrics {
		names[i] = string(m.Name)
	}
	return names
}

// ParseThreshold parses an expression "METRIC OP VALUE" such as
// "p99 < 800ms", "error_rate <= 0.1%" or "status_504 == 0". Latency values
// are durations or bare milliseconds; error_rate values are percentages or
// fractions; counts are whole numbers.
func ParseThreshold(expr string) (Threshold, error) {
	s := strings.TrimSpace(expr)
	i := strings.IndexAny(s, "<>=!")
	if i < 0 {
		return Threshold{}, fmt.Errorf("%q: no comparison operator; %s", expr, thresholdHelp)
	}
	metric, rest := strings.TrimSpace(s[:i]), s[i:]
	op := ""
	for _, o := range thresholdOps {
		if strings.HasPrefix(rest, o) {
			op = o
			break
		}
	}
	if op == "" {
		bad, _, _ := strings.Cut(rest, " ")
		return Threshold{}, fmt.Errorf("%q: unknown operator %q; %s", expr, bad, thresholdHelp)
	}
	value := strings.TrimSpace(rest[len(op):])
	if metric == "" {
		return Threshold{}, fmt.Errorf("%q: no metric before %s; %s", expr, op, thresholdHelp)
	}
	m, ok := lookupMetric(MetricName(metric))
	if !ok {
		return Threshold{}, fmt.Errorf("%q: unknown metric %q%s; metrics are %s",
			expr, metric, didYouMean(metric, metricNames()), strings.Join(metricNames(), ", "))
	}
	if value == "" {
		return Threshold{}, fmt.Errorf("%q: no value after %s; %s", expr, op, thresholdHelp)
	}
	v, err := parseThresholdValue(m, value)
	if err != nil {
		return Threshold{}, fmt.Errorf("%q: %w", expr, err)
	}
	return Threshold{Expr: expr, Metric: m.Name, Op: op, Value: v}, nil
}

// parseThresholdValue parses value in m's unit.
func parseThresholdValue(m ThresholdMetric, value string) (float64, error) {
	switch m.Unit {
	case UnitMillis:
		ms, err := strconv.ParseFloat(value, 64)
		if err != nil {
			d, derr := time.ParseDuration(value)
			if derr != nil {
				return 0, fmt.Errorf("%s is not a latency; write a duration (800ms, 1.5s) or a number of milliseconds", value)
			}
			ms = float64(d) / float64(time.Millisecond)
		}
		if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 {
			return 0, fmt.Errorf("%s is not a latency; it must be a finite duration, not negative", value)
		}
		if ms > float64(maxLatency/time.Millisecond) {
			return 0, fmt.Errorf("%s is beyond the latencies measured; at most %s", value, Duration(maxLatency))
		}
		return ms, nil
	case UnitFraction:
		return parseFraction(value)
	default:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%s is not a count; write a whole number, 0 or more", value)
		}
		if f > maxCount {
			return 0, fmt.Errorf("%s is not a count a run can reach; at most %d", value, int64(maxCount))
		}
		return f, nil
	}
}

// parseFraction parses an error rate written as a percentage (0.1%) or a
// fraction (0.001), from 0 to 1.
func parseFraction(value string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(value), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s is not an error rate; write a percentage (0.1%%) or a fraction (0.001)", value)
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return 0, fmt.Errorf("error rate %s is out of range; write 0%% to 100%%, or a fraction from 0 to 1", value)
	}
	return f, nil
}

// String returns the expression as written, or one built from the parsed
// fields when Expr is empty.
func (t Threshold) String() string {
	if t.Expr != "" {
		return t.Expr
	}
	v := strconv.FormatFloat(t.Value, 'g', -1, 64)
	if t.Metric.Unit() == UnitMillis {
		v += "ms"
	}
	return string(t.Metric) + " " + t.Op + " " + v
}

// thresholdMapping is the long form of a threshold list item:
// {expr: "status_504 == 0", abort: true}.
type thresholdMapping struct {
	Expr  string `yaml:"expr"`
	Abort bool   `yaml:"abort"`
}

// UnmarshalYAML parses a threshold expression from a YAML string scalar
// (the decoder reads the long form, a mapping, itself).
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected an expression such as \"p99 < 800ms\", got %s", describe(n))
	}
	v, err := ParseThreshold(n.Value)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// jsonThreshold is the JSON of an abort threshold; others are written as
// their expression string.
type jsonThreshold struct {
	Expr  string `json:"expr"`
	Abort bool   `json:"abort"`
}

// MarshalJSON writes t as its expression string, or, when it aborts, as
// {"expr": …, "abort": true}, like the YAML.
func (t Threshold) MarshalJSON() ([]byte, error) {
	if !t.Abort {
		return jsonString(t.String())
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonThreshold{Expr: t.String(), Abort: true}); err != nil {
		return nil, fmt.Errorf("encode threshold %q: %w", t, err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// UnmarshalJSON parses a threshold written as by MarshalJSON.
func (t *Threshold) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var long jsonThreshold
	if err := json.Unmarshal(b, &long.Expr); err != nil {
		if err := json.Unmarshal(b, &long); err != nil {
			return fmt.Errorf("decode threshold: %w", err)
		}
	}
	v, err := ParseThreshold(long.Expr)
	if err != nil {
		return err
	}
	v.Abort = long.Abort
	*t = v
	return nil
}
