package compare

import (
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
	"github.com/cutover-dev/cutover/scenarios"
)

// FindingsDiff lists the causes found in one run and not the other.
type FindingsDiff struct {
	// New are in the head and not the base; Gone in the base and not the
	// head; Kept in both (with the head's confidence).
	New  []FindingRef `json:"new"`
	Gone []FindingRef `json:"gone"`
	Kept []FindingRef `json:"kept"`
}

// FindingRef names a finding.
type FindingRef struct {
	Cause      string `json:"cause"`
	Confidence string `json:"confidence"`
	// Primary is how many of its run's errors it is the primary cause of.
	Primary int64 `json:"primary"`
}

func (f FindingRef) String() string { return f.Cause + ", " + f.Confidence }

func diffFindings(base, head []results.Finding) FindingsDiff {
	in := func(fs []results.Finding, cause string) bool {
		for _, f := range fs {
			if f.Cause == cause {
				return true
			}
		}
		return false
	}
	d := FindingsDiff{New: []FindingRef{}, Gone: []FindingRef{}, Kept: []FindingRef{}}
	for _, f := range head {
		ref := FindingRef{Cause: f.Cause, Confidence: f.Confidence, Primary: f.Primary}
		if in(base, f.Cause) {
			d.Kept = append(d.Kept, ref)
		} else {
			d.New = append(d.New, ref)
		}
	}
	for _, f := range base {
		if !in(head, f.Cause) {
			d.Gone = append(d.Gone, FindingRef{Cause: f.Cause, Confidence: f.Confidence, Primary: f.Primary})
		}
	}
	return d
}

// decide gives the comparison its verdict, first rule that applies:
//
//  1. INCONCLUSIVE when either run has fewer requests than
//     limits.min_requests, or its load generator was saturated (its
//     latencies and transport errors are its own then);
//  2. REGRESSION when an error or latency metric is significant and beyond
//     its limit against the head, or the head has a finding the base has
//     not (a cause is named only on evidence, so a new one is a change by
//     itself; load-generator-saturated is rule 1's);
//  3. IMPROVEMENT when one is significant and beyond its limit in the
//     head's favour, or a finding of the base is gone;
//  4. NO CHANGE otherwise.
func decide(c *Comparison, lim scenarios.Compare) Verdict {
	var unsure, worse, better []string
	for _, r := range []struct {
		which string
		info  RunInfo
	}{{"base", c.Base}, {"head", c.Head}} {
		if r.info.Requests < lim.MinRequests {
			unsure = append(unsure, fmt.Sprintf("too few requests in %s: %d < min_requests %d", r.which, r.info.Requests, lim.MinRequests))
		}
		if r.info.Saturated {
			unsure = append(unsure, r.which+"'s load generator saturated: its latencies and transport errors may be its own")
		}
	}
	for _, r := range c.Errors {
		if r.Class != ClassAll {
			continue
		}
		switch r.Outcome {
		case OutcomeRegression:
			worse = append(worse, errorReason(r, lim))
		case OutcomeImprovement:
			better = append(better, errorReason(r, lim))
		}
	}
	for _, l := range c.Latency {
		switch l.Outcome {
		case OutcomeRegression:
			worse = append(worse, latencyReason(l))
		case OutcomeImprovement:
			better = append(better, latencyReason(l))
		}
	}
	for _, f := range c.Findings.New {
		if f.Cause != correlate.CauseLoadGeneratorSaturated {
			worse = append(worse, "new: "+f.String())
		}
	}
	for _, f := range c.Findings.Gone {
		better = append(better, "gone: "+f.String())
	}
	switch {
	case len(unsure) > 0:
		return Verdict{Status: StatusInconclusive, Reasons: append(unsure, worse...)}
	case len(worse) > 0:
		return Verdict{Status: StatusRegression, Reasons: worse}
	case len(better) > 0:
		return Verdict{Status: StatusImprovement, Reasons: better}
	}
	return Verdict{Status: StatusNoChange, Reasons: []string{noChangeReason(c)}}
}

func scopeName(s Scope) string {
	if s == ScopeCutover {
		return "in the cutover window"
	}
	return "overall"
}

func errorReason(r ErrorComparison, lim scenarios.Compare) string {
	limit := fmt.Sprintf("max_error_rate_increase %s", pct(lim.MaxErrorRateIncrease))
	if r.Scope == ScopeCutover {
		limit = fmt.Sprintf("excess %+.0f errors, max_error_increase %d", r.Excess, lim.MaxErrorIncrease)
	}
	return fmt.Sprintf("errors %s %d/%d (%s) → %d/%d (%s), Fisher %s, %s",
		scopeName(r.Scope), r.Base.Errors, r.Base.Requests, pct(r.Base.Rate),
		r.Head.Errors, r.Head.Requests, pct(r.Head.Rate), FormatP(r.PValue), limit)
}

func latencyReason(l LatencyComparison) string {
	return fmt.Sprintf("%s %s %.1fms → %.1fms (%+.0f%%, 99%% interval %+.1f…%+.1fms), max_%s_increase %s",
		l.Quantile, scopeName(l.Scope), l.BaseMs, l.HeadMs, 100*l.DeltaRel, l.Interval.Low, l.Interval.High, l.Quantile, pct(l.Limit))
}

func noChangeReason(c *Comparison) string {
	var within []string
	for _, r := range c.Errors {
		if r.Outcome == OutcomeWithinLimit {
			within = append(within, "errors "+scopeName(r.Scope))
		}
	}
	for _, l := range c.Latency {
		if l.Outcome == OutcomeWithinLimit {
			within = append(within, l.Quantile+" "+scopeName(l.Scope))
		}
	}
	if len(within) > 0 {
		return "significant but within the limits: " + strings.Join(within, ", ")
	}
	return "no significant difference in errors or latency, no new finding"
}

// pct writes a fraction as a percentage with 3 significant digits.
func pct(f float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.3g", 100*f), ".0") + "%"
}

// FormatP writes a p-value as "p=0.0028", or "p<1e-12" below 1e-12.
func FormatP(p float64) string {
	s := PValueString(p)
	if s[0] == '<' {
		return "p" + s
	}
	return "p=" + s
}

// PValueString writes a p-value for people: 3 significant digits, and
// "<1e-12" below that.
func PValueString(p float64) string {
	if p < 1e-12 {
		return "<1e-12"
	}
	return fmt.Sprintf("%.3g", p)
}
