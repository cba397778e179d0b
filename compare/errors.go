package compare

import (
	"slices"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// ClassAll names the row of a scope that counts every error.
const ClassAll results.Class = "errors"

// ErrorComparison compares the errors of one class in one scope.
type ErrorComparison struct {
	Scope Scope `json:"scope"`
	// Class is ClassAll or a result class or derived counter.
	Class results.Class `json:"class"`
	Base  Proportion    `json:"base"`
	Head  Proportion    `json:"head"`
	// PValue is Fisher's exact two-sided p-value; Significant is PValue
	// below Alpha.
	PValue      float64 `json:"p_value"`
	Significant bool    `json:"significant"`
	// Excess is the head's errors beyond those expected at the base's
	// rate: head errors − base rate × head requests.
	Excess float64 `json:"excess"`
	// Outcome judges the row: the ClassAll rows are judged against the
	// limits (overall: max_error_rate_increase; cutover:
	// max_error_increase), the classes are reported only.
	Outcome Outcome `json:"outcome"`
}

// Proportion is a count of errors among requests, with the rate and its
// two-sided 95% Clopper–Pearson interval.
type Proportion struct {
	Errors   int64   `json:"errors"`
	Requests int64   `json:"requests"`
	Rate     float64 `json:"rate"`
	Lower95  float64 `json:"lower_95"`
	Upper95  float64 `json:"upper_95"`
}

func proportion(errors, requests int64) Proportion {
	p := Proportion{Errors: errors, Requests: requests}
	if requests > 0 {
		p.Rate = float64(errors) / float64(requests)
	}
	p.Lower95, p.Upper95 = ClopperPearson(errors, requests)
	return p
}

// tally is what a scope of a run counted.
type tally struct {
	requests, errors int64
	byClass          map[results.Class]int64
}

// counted sums the windows idx of r (every window: nil idx uses the
// run's totals).
func counted(r *results.Run, idx []int) tally {
	if idx == nil {
		return tally{requests: r.Totals.Requests, errors: r.Totals.Errors, byClass: r.Totals.ByClass}
	}
	t := tally{byClass: map[results.Class]int64{}}
	for _, i := range idx {
		w := r.Timeline[i]
		t.requests += w.Requests
		t.errors += w.Errors
		for c, n := range w.ByClass {
			t.byClass[c] += n
		}
	}
	return t
}

// compareErrors compares all errors of a scope, then each error class and
// derived counter either run counted.
func compareErrors(scope Scope, base, head tally, lim scenarios.Compare) []ErrorComparison {
	all := errorRow(scope, ClassAll, base.errors, base.requests, head.errors, head.requests)
	all.Outcome = judgeErrors(all, lim)
	out := []ErrorComparison{all}
	for _, c := range slices.Concat(results.Classes, results.Derived) {
		if c == results.ClassOK || base.byClass[c] == 0 && head.byClass[c] == 0 {
			continue
		}
		row := errorRow(scope, c, base.byClass[c], base.requests, head.byClass[c], head.requests)
		row.Outcome = OutcomeNotJudged
		out = append(out, row)
	}
	return out
}

func errorRow(scope Scope, class results.Class, be, bn, he, hn int64) ErrorComparison {
	r := ErrorComparison{Scope: scope, Class: class, Base: proportion(be, bn), Head: proportion(he, hn)}
	r.PValue = FisherExact(be, bn, he, hn)
	r.Significant = r.PValue < Alpha
	r.Excess = float64(he) - r.Base.Rate*float64(hn)
	return r
}

// judgeErrors judges a scope's ClassAll row: a regression when the
// difference is significant and beyond the scope's limit (overall: the
// rate's increase above max_error_rate_increase; cutover: the excess
// above max_error_increase), an improvement when significant and beyond it
// the other way.
func judgeErrors(r ErrorComparison, lim scenarios.Compare) Outcome {
	if !r.Significant {
		return OutcomeNoChange
	}
	var worse, better bool
	switch r.Scope {
	case ScopeOverall:
		d := r.Head.Rate - r.Base.Rate
		worse, better = d > lim.MaxErrorRateIncrease, -d > lim.MaxErrorRateIncrease
	case ScopeCutover:
		// The base's errors beyond those expected at the head's rate.
		baseExcess := float64(r.Base.Errors) - r.Head.Rate*float64(r.Base.Requests)
		worse, better = r.Excess > float64(lim.MaxErrorIncrease), baseExcess > float64(lim.MaxErrorIncrease)
	}
	switch {
	case worse:
		return OutcomeRegression
	case better:
		return OutcomeImprovement
	}
	return OutcomeWithinLimit
}

// judgeLatency judges a tested quantile against its limit.
func judgeLatency(c *LatencyComparison, lim scenarios.Compare) {
	switch c.Quantile {
	case QuantileP50:
		c.Limit = lim.MaxP50Increase
	case QuantileP90:
		c.Limit = lim.MaxP90Increase
	case QuantileP99:
		c.Limit = lim.MaxP99Increase
	default:
		c.Outcome = OutcomeNotJudged
		return
	}
	switch {
	case c.Interval == nil:
		c.Outcome = OutcomeNotJudged
	case !c.Significant:
		c.Outcome = OutcomeNoChange
	case c.DeltaRel > c.Limit:
		c.Outcome = OutcomeRegression
	case c.HeadMs > 0 && c.BaseMs/c.HeadMs-1 > c.Limit:
		// The base is slower than the head by more than the limit.
		c.Outcome = OutcomeImprovement
	default:
		c.Outcome = OutcomeWithinLimit
	}
}
