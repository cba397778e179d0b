package compare

import (
	"math"

	"gonum.org/v1/gonum/stat/combin"
	"gonum.org/v1/gonum/stat/distuv"
)

// Alpha is the significance level of every test of a comparison: a
// difference is significant when its two-sided p-value is below Alpha, or
// its 1−Alpha interval excludes zero.
const Alpha = 0.05

// FisherExact returns the two-sided p-value of Fisher's exact test that
// base and head fail at the same rate, given baseErrors of baseTotal and
// headErrors of headTotal. Conditioned on the margins, base's error count
// is hypergeometric; the p-value sums the probabilities of every table no
// more likely than the one observed (R's fisher.test, with its relative
// tolerance of 1e-7 for ties). Probabilities come from gonum's log
// binomial coefficients, so counts in the millions neither overflow nor
// lose the tail.
func FisherExact(baseErrors, baseTotal, headErrors, headTotal int64) float64 {
	if baseTotal <= 0 || headTotal <= 0 {
		return 1
	}
	n := float64(baseTotal + headTotal) // population
	k := float64(baseErrors + headErrors)
	draws := float64(baseTotal)
	lo := max(0, baseTotal-(baseTotal+headTotal-(baseErrors+headErrors)))
	hi := min(baseErrors+headErrors, baseTotal)
	logDenom := combin.LogGeneralizedBinomial(n, draws)
	logP := func(x int64) float64 {
		return combin.LogGeneralizedBinomial(k, float64(x)) +
			combin.LogGeneralizedBinomial(n-k, draws-float64(x)) - logDenom
	}
	observed := logP(baseErrors)
	const relErr = 1 + 1e-7
	limit := observed + math.Log(relErr)
	var p float64
	for x := lo; x <= hi; x++ {
		if lp := logP(x); lp <= limit {
			p += math.Exp(lp)
		}
	}
	return min(p, 1)
}

// ClopperPearson returns the two-sided 95% Clopper–Pearson interval of an
// error rate after errors failures in total trials, from gonum's Beta
// quantiles (the bound the runner's verdict uses one-sided). With no
// trials it is [0, 1]: nothing is known.
func ClopperPearson(errors, total int64) (lower, upper float64) {
	if total <= 0 {
		return 0, 1
	}
	errors = min(max(errors, 0), total)
	lower, upper = 0, 1
	if errors > 0 {
		lower = distuv.Beta{Alpha: float64(errors), Beta: float64(total - errors + 1)}.Quantile(Alpha / 2)
	}
	if errors < total {
		upper = distuv.Beta{Alpha: float64(errors + 1), Beta: float64(total - errors)}.Quantile(1 - Alpha/2)
	}
	return lower, upper
}
