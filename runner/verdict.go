package runner

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// ErrorRateUpper95 returns the one-sided 95% upper confidence bound on the
// true error rate after seeing errors failures in requests trials (the
// Clopper–Pearson bound). With zero errors it is 1 − 0.05^(1/n) ≈ 3/n, the
// "rule of three"; with no requests it is 1: nothing is known.
func ErrorRateUpper95(errors, requests int64) float64 {
	if requests <= 0 {
		return 1
	}
	if errors >= requests {
		return 1
	}
	b := distuv.Beta{Alpha: float64(errors + 1), Beta: float64(requests - errors)}
	return b.Quantile(0.95)
}

// metricValue returns the value a threshold metric has in a run, in the
// unit scenarios.Threshold.Value uses.
func metricValue(metric scenarios.MetricName, t results.Totals, l results.Latency) (float64, error) {
	switch metric {
	case scenarios.MetricP50:
		return l.P50, nil
	case scenarios.MetricP90:
		return l.P90, nil
	case scenarios.MetricP95:
		return l.P95, nil
	case scenarios.MetricP99:
		return l.P99, nil
	case scenarios.MetricMax:
		return l.Max, nil
	case scenarios.MetricMean:
		return l.Mean, nil
	case scenarios.MetricRequests:
		return float64(t.Requests), nil
	case scenarios.MetricErrors:
		return float64(t.Errors), nil
	case scenarios.MetricErrorRate:
		if t.Requests == 0 {
			return 0, nil
		}
		return float64(t.Errors) / float64(t.Requests), nil
	}
	if n, ok := t.ByClass[results.Class(metric)]; ok {
		return float64(n), nil
	}
	if slices.Contains(results.Classes, results.Class(metric)) || results.IsDerived(results.Class(metric)) {
		return 0, nil
	}
	return 0, fmt.Errorf("threshold metric %q: not known to the runner", metric)
}

func compare(actual float64, op string, want float64) bool {
	switch op {
	case "<":
		return actual < want
	case "<=":
		return actual <= want
	case ">":
		return actual > want
	case ">=":
		return actual >= want
	case "==":
		return actual == want
	case "!=":
		return actual != want
	}
	return false
}

// Judge computes the verdict of a run from its totals, latency and load
// health, under the scenario's verdict rules.
//
// Precedence (the README has it as a table): errors the server answered
// (every status class) above max_errors, or a broken threshold, fail the
// run whatever the request count — a 5xx is proof, however few requests
// there were. A saturated generator makes the run inconclusive only when
// what failed may be the client's own doing: transport errors (the
// generator's own sockets may have failed them) or latency (measured on a
// starved client); a failure that holds on the server's answers alone is
// still a fail. Too few requests, or a saturated generator, make a
// would-be pass inconclusive: a pass would rest on too little.
func Judge(v scenarios.Verdict, t results.Totals, l results.Latency, info results.LoadInfo) (results.Verdict, error) {
	out := results.Verdict{
		Status:           results.StatusPass,
		Reasons:          []string{},
		ErrorRateUpper95: ErrorRateUpper95(t.Errors, t.Requests),
	}
	server := serverOnly(t)
	var fails, unproven, unsure []string
	for _, th := range v.Thresholds {
		actual, err := metricValue(th.Metric, t, l)
		if err != nil {
			return out, err
		}
		pass := compare(actual, th.Op, th.Value)
		out.Thresholds = append(out.Thresholds, results.ThresholdResult{Expr: th.Expr, Actual: actual, Pass: pass})
		if pass {
			continue
		}
		reason := fmt.Sprintf("threshold %q broken: actual %s", th.Expr, formatActual(th.Metric, actual))
		if info.Saturated && !brokenByServer(th, server) {
			unproven = append(unproven, reason)
			continue
		}
		fails = append(fails, reason)
	}
	if t.Errors > v.MaxErrors {
		reason := fmt.Sprintf("%d errors in %d requests (max_errors %d)", t.Errors, t.Requests, v.MaxErrors)
		switch {
		case !info.Saturated:
			fails = append([]string{reason}, fails...)
		case server.Errors > v.MaxErrors:
			fails = append([]string{fmt.Sprintf("%s, %d of them answered by the server", reason, server.Errors)}, fails...)
		default:
			unproven = append([]string{reason + ", all at the transport level"}, unproven...)
		}
	}
	if info.Saturated {
		reason := "load generator saturated"
		if info.SaturationReason != "" {
			reason += ": " + info.SaturationReason
		}
		unsure = append(unsure, reason)
	}
	if t.Requests < v.MinRequests {
		unsure = append(unsure, fmt.Sprintf("too few requests: %d < min_requests %d", t.Requests, v.MinRequests))
	}
	switch {
	case len(fails) > 0:
		out.Status = results.StatusFail
		out.Reasons = append(append(fails, unproven...), unsure...)
	case len(unsure) > 0:
		out.Status = results.StatusInconclusive
		out.Reasons = append(unsure, unproven...)
	default:
		out.Reasons = []string{fmt.Sprintf("errors %d ≤ max_errors %d, requests %d ≥ min_requests %d, %d of %d thresholds held",
			t.Errors, v.MaxErrors, t.Requests, v.MinRequests, len(v.Thresholds), len(v.Thresholds))}
	}
	return out, nil
}

// serverOnly is t without the transport errors: what the server answered.
func serverOnly(t results.Totals) results.Totals {
	s := results.Totals{Requests: t.Requests, Errors: t.Errors, ByClass: map[results.Class]int64{}}
	for c, n := range t.ByClass {
		switch {
		case results.IsTransport(c):
			s.Errors -= n
			s.Requests -= n
		case c == results.FetchFailed:
		default:
			s.ByClass[c] = n
		}
	}
	return s
}

// brokenByServer reports whether a broken threshold stays broken on the
// server's answers alone; latency never does (a starved client measures
// its own delays).
func brokenByServer(th scenarios.Threshold, server results.Totals) bool {
	if th.Metric.Unit() == scenarios.UnitMillis || th.Metric == scenarios.ClassMetric(results.FetchFailed) {
		return false
	}
	actual, err := metricValue(th.Metric, server, results.Latency{})
	return err == nil && !compare(actual, th.Op, th.Value)
}

func formatActual(metric scenarios.MetricName, v float64) string {
	switch metric.Unit() {
	case scenarios.UnitMillis:
		return fmt.Sprintf("%.1fms", v)
	case scenarios.UnitFraction:
		return fmt.Sprintf("%.3g%%", 100*v)
	}
	return fmt.Sprintf("%g", v)
}
