package correlate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// Confidence thresholds: a finding resting on a series is high when at
// least HighCoOccurrence of the errors fall in periods where the series is
// non-zero and the correlation is at least HighCorrelation at a lag within
// ±1 period; medium at MediumCoOccurrence and MediumCorrelation; low
// otherwise.
const (
	HighCoOccurrence   = 0.8
	HighCorrelation    = 0.6
	MediumCoOccurrence = 0.5
	MediumCorrelation  = 0.3
)

// causeOrder breaks ties between findings that explain as many errors:
// the more specific cause first.
var causeOrder = []string{
	CauseNATAllocationFailure, CauseNATPortExhaustion, CauseNATEndpointConflict,
	CauseRevisionNotReady, CauseEgressNotReady, CauseAffinityBroken,
	CausePreExistingErrors, CauseUpstreamTimeout, CauseLoadGeneratorSaturated,
}

// candidate is a finding with the number of errors it explains, which
// orders the findings.
type candidate struct {
	f    results.Finding
	rank float64
}

// findings applies every rule and orders what they found: most errors
// explained first. With no errors only load-generator-saturated can be
// found.
func (d *diagnosis) findings() []results.Finding {
	var cands []candidate
	if sum(d.all) > 0 {
		nat := d.natCauses()
		for _, n := range nat {
			cands = append(cands, n.cand)
		}
		cands = append(cands, d.revisionNotReady()...)
		cands = append(cands, d.egressNotReady(len(nat) > 0)...)
		cands = append(cands, d.affinityBroken()...)
		cands = append(cands, d.preExistingErrors()...)
		cands = append(cands, d.upstreamTimeout()...)
	}
	cands = append(cands, d.loadGeneratorSaturated()...)
	slices.SortStableFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.rank, a.rank),
			cmp.Compare(slices.Index(causeOrder, a.f.Cause), slices.Index(causeOrder, b.f.Cause)))
	})
	out := make([]results.Finding, len(cands))
	for i, c := range cands {
		out[i] = c.f
		out[i].Explained = int64(math.Round(c.rank))
	}
	return out
}

// Remedies, from the incidents (seeds 000–002) and the simulator model.
var (
	remedyNATPorts = []string{
		"Connect to Cloud SQL / the database by its private IP, so that traffic does not leave through Cloud NAT (a private vs public destination is what matters, not socket vs host).",
		"Use Direct VPC egress with private-ranges-only instead of all-traffic, so only internet-bound traffic uses NAT.",
		"Make self-calls (the service calling its own public URL or a proxy in front of it) on 127.0.0.1 instead, so no traffic hairpins through NAT.",
		"Give NAT more room: more min ports per VM, dynamic port allocation, more NAT IPs, or a shorter TCP TIME_WAIT timeout (e.g. 30 s).",
		"Pool and reuse outbound connections (keep-alive), so a fresh instance does not open one connection per in-flight request.",
	}
	remedyNATAllocation = []string{
		"Add NAT IPs or switch the gateway to AUTO IP allocation, so that old and new instances both get a port block during the cutover.",
		"Allocate fewer ports per VM (lower min ports), so that more endpoints fit on each NAT IP.",
		"Use Direct VPC egress with private-ranges-only, and reach the database by its private IP, so that fewer instances need NAT at all.",
		"Make self-calls on 127.0.0.1 instead of the public URL.",
	}
	remedyNATConflict = []string{
		"Turn off endpoint-independent mapping on the NAT gateway, or give each VM more ports so mappings do not collide.",
		"Pool and reuse outbound connections so fewer new mappings are needed.",
	}
	remedyEgress = []string{
		"Add a startup probe that tests the egress destination, so an instance is not Ready (and gets no traffic) until its outbound path works.",
		"Keep min instances warm so fewer instances start at the cutover.",
		"If the delay is Direct VPC egress programming on new instances, a Serverless VPC Access connector avoids it; otherwise retry the first outbound calls with backoff.",
	}
	remedyUpstream = []string{
		"Find the slow or failing dependency first: outbound calls through Cloud NAT, the database, the service's own self-calls; it is often the same NAT cause.",
		"Raise the route / request timeout only after the dependency is fixed; set outbound connect timeouts below the request timeout so failures are fast.",
	}
	remedyAffinity = []string{
		"Keep session state out of the instance (a shared store such as Memorystore, Firestore or the database, or a signed cookie).",
		"Expect best-effort affinity: a revision switch, scale-in, restart or overload re-pins sessions, so every request must survive landing on a new instance.",
	}
	remedyPreExisting = []string{
		"Fix the baseline before blaming the deploy: a service that fails before the cutover hides what the cutover does.",
		"Reuse outbound connections: keep-alive with a pooled HTTP agent instead of a new connection per call.",
	}
	remedyPreExistingNAT = []string{
		"Against connection churn through Cloud NAT: a shorter TCP TIME_WAIT timeout (30 s), more min ports per VM, or dynamic port allocation.",
	}
	remedySaturated = []string{
		"Ask for fewer requests per second, or raise load.max_workers.",
		"Drive the load from more machines.",
	}
)

// natCause is one NAT cause found, with the buckets its signal marks.
type natCause struct {
	cand candidate
	st   SeriesStat // all errors against the signal
	lag  int        // the lag hits were taken at
	co   float64    // the co-occurrence at that lag
	hits mask       // buckets where the signal is non-zero at lag
	// explained are the errors of the cutover's hit buckets above the
	// pre-cutover rate; cand.rank leaves out those claimed by a more
	// specific NAT cause.
	explained float64
}

// natCauses finds nat-allocation-failure, nat-port-exhaustion and
// nat-endpoint-independence-conflict: the signal is not flat and the
// errors in the cutover's periods where it is non-zero are significantly
// above the pre-cutover rate. Errors an allocation failure explains are
// not counted again for the drops it causes.
func (d *diagnosis) natCauses() []natCause {
	alloc, allocOK := sumSignals(d.sigs, QueryNATAllocationFailed, func(s signal) bool { return s.query == QueryNATAllocationFailed })
	drops, dropsOK := d.dropSignal(ReasonOutOfResources)
	conflict, conflictOK := d.dropSignal(ReasonEndpointConflict)

	// In order of specificity: an allocation failure explains the drops
	// it causes, so the periods a cause claims are not counted again.
	causes := []struct {
		sig      signal
		ok       bool
		cause    string
		evidence func(natCause) []string
		remedy   []string
	}{
		{alloc, allocOK, CauseNATAllocationFailure, func(c natCause) []string { return d.allocationEvidence(alloc, drops, dropsOK, c) }, remedyNATAllocation},
		{drops, dropsOK, CauseNATPortExhaustion, func(c natCause) []string { return d.dropEvidence(drops, ReasonOutOfResources, c) }, remedyNATPorts},
		{conflict, conflictOK, CauseNATEndpointConflict, func(c natCause) []string { return d.dropEvidence(conflict, ReasonEndpointConflict, c) }, remedyNATConflict},
	}
	var out []natCause
	claimed := make(mask, len(d.buckets))
	for _, k := range causes {
		if !k.ok {
			continue
		}
		c, ok := d.natCause(k.sig, claimed)
		if !ok {
			continue
		}
		c.cand.f = results.Finding{Cause: k.cause, Evidence: k.evidence(c), Remedy: k.remedy}
		c.cand.f.Confidence, _ = c.confidence()
		out = append(out, c)
		claimed = claimed.or(c.hits.dilate(1))
	}
	return out
}

// dropSignal sums the NAT drop series of reason; OUT_OF_RESOURCES also
// takes the drop series that carry no reason.
func (d *diagnosis) dropSignal(reason string) (signal, bool) {
	return sumSignals(d.sigs, seriesKey(QueryNATDropped, map[string]string{"reason": reason}), func(s signal) bool {
		if s.query != QueryNATDropped {
			return false
		}
		r := s.labels["reason"]
		return r == reason || (r == "" && reason == ReasonOutOfResources)
	})
}

// natCause measures all errors against sig and says whether the errors of
// the cutover's periods where sig is non-zero are significantly above the
// pre-cutover rate. The rank leaves out the claimed buckets.
func (d *diagnosis) natCause(sig signal, claimed mask) (natCause, bool) {
	st := statOf(AllErrors, d.all, sig)
	if st.Flat {
		return natCause{}, false
	}
	c := natCause{st: st, co: st.CoOccurrence}
	if abs(st.BestLag) <= 1 && st.LagCoOccurrence > st.CoOccurrence {
		c.lag, c.co = st.BestLag, st.LagCoOccurrence
	}
	c.hits = nonZeroMask(sig.at(c.lag))
	during := d.phaseMask(PhaseDuring)
	c.explained = d.excessIn(d.all, c.hits.and(during), d.baseRate)
	if c.explained == 0 {
		return natCause{}, false
	}
	c.cand.rank = d.excessIn(d.all, c.hits.and(during).andNot(claimed), d.baseRate)
	return c, true
}

// confidence grades the cause by its co-occurrence and correlation, and
// says why. A cause whose errors are mostly explained by a more specific
// one (drops from endpoints that got no allocation) is at most medium.
func (c natCause) confidence() (level, why string) {
	level, why = grade(c.co, c.st.BestCorrelation, c.st.BestLag)
	if c.consequence() && level == ConfidenceHigh {
		return ConfidenceMedium, "Confidence medium as a cause of its own: most of these errors fall where NAT allocation failed, which explains them first."
	}
	return level, why
}

// consequence reports whether most of the cause's errors were claimed by a
// more specific NAT cause.
func (c natCause) consequence() bool { return c.cand.rank < c.explained/2 }

// grade returns the confidence of a finding resting on a series whose
// co-occurrence with the errors is co and whose best correlation r is at
// lag, and a sentence that says why.
func grade(co, r float64, lag int) (level, why string) {
	switch {
	case co >= HighCoOccurrence && r >= HighCorrelation && abs(lag) <= 1:
		return ConfidenceHigh, fmt.Sprintf("Confidence high: co-occurrence %s ≥ %s and correlation %.2f ≥ %.2f at lag %s (within ±1).",
			pct(co), pct(HighCoOccurrence), r, HighCorrelation, lagText(lag))
	case co >= MediumCoOccurrence && r >= MediumCorrelation:
		return ConfidenceMedium, fmt.Sprintf("Confidence medium, not high: %s.", shortfalls(co, r, lag))
	}
	return ConfidenceLow, fmt.Sprintf("Confidence low: %s.", shortfalls(co, r, lag))
}

// shortfalls says which of the high-confidence conditions fail.
func shortfalls(co, r float64, lag int) string {
	var why []string
	if co < HighCoOccurrence {
		why = append(why, fmt.Sprintf("co-occurrence %s < %s", pct(co), pct(HighCoOccurrence)))
	}
	if r < HighCorrelation {
		why = append(why, fmt.Sprintf("correlation %.2f < %.2f", r, HighCorrelation))
	}
	if abs(lag) > 1 {
		why = append(why, fmt.Sprintf("best lag %s is beyond ±1 period", lagText(lag)))
	}
	return strings.Join(why, ", ")
}

// overlapSentence quotes the co-occurrence and the correlation of c.
func (d *diagnosis) overlapSentence(c natCause, what string) string {
	at := ""
	if c.lag != 0 {
		at = fmt.Sprintf(" (counting the periods %s from each error)", lagText(c.lag))
	}
	return fmt.Sprintf("%s of the %s client errors (%s) fell in periods with %s%s; per period, errors and %s correlate with r = %.2f at lag 0 and best r = %.2f at lag %s (of ±%d periods; a positive lag means the metric moves after the errors).",
		num(math.Round(c.co*sum(d.all))), num(sum(d.all)), pct(c.co), what, at, what, c.st.Correlation, c.st.BestCorrelation, lagText(c.st.BestLag), MaxLag)
}

func (d *diagnosis) dropEvidence(sig signal, reason string, c natCause) []string {
	during := d.phaseMask(PhaseDuring)
	dropAt := nonZeroMask(sig.at(0))
	in := dropAt.and(during)
	ev := []string{
		fmt.Sprintf("Cloud NAT dropped %s packets with reason %s during the cutover, in %d of its %d periods of %s (%s); %s before the first deploy-start.",
			num(sumIn(sig.at(0), during)), reason, in.count(), during.count(), periodText(d.g.period), d.spanText(in), num(sumIn(sig.at(0), d.phaseMask(PhaseBefore)))),
		d.overlapSentence(c, "drops"),
		fmt.Sprintf("During the cutover, %s errors above the pre-cutover rate of %s fell in periods with drops; by class: %s.",
			num(c.explained), pct(d.baseRate), d.classText(c.hits.and(during))),
	}
	if p, ok := d.peak(QueryNATPortUsage, in); ok {
		s := fmt.Sprintf("nat_port_usage peaked at %s ports on one endpoint in those periods", num(p))
		if a, ok := d.peak(QueryNATAllocatedPorts, in); ok {
			s += fmt.Sprintf(", with %s allocated", num(a))
		}
		ev = append(ev, s+".")
	}
	if c.consequence() {
		ev = append(ev, fmt.Sprintf("%s of these %s errors fall outside the periods where NAT allocation failed: the drops come mostly from endpoints that got no port block (see nat-allocation-failure).", num(c.cand.rank), num(c.explained)))
	}
	_, why := c.confidence()
	return append(ev, why)
}

func (d *diagnosis) allocationEvidence(alloc, drops signal, dropsOK bool, c natCause) []string {
	during := d.phaseMask(PhaseDuring)
	in := nonZeroMask(alloc.at(0)).and(during)
	var most float64
	for k, v := range alloc.at(0) {
		if in[k] {
			most = max(most, v)
		}
	}
	ev := []string{
		fmt.Sprintf("nat_allocation_failed was set in %d of the cutover's %d periods of %s (%s), for up to %s endpoint(s) at once: those endpoints got no NAT port block and lost all egress.",
			in.count(), during.count(), periodText(d.g.period), d.spanText(in), num(most)),
		d.overlapSentence(c, "allocation failures"),
		fmt.Sprintf("During the cutover, %s errors above the pre-cutover rate of %s fell in those periods; by class: %s.",
			num(c.explained), pct(d.baseRate), d.classText(c.hits.and(during))),
	}
	if dropsOK {
		if n := sumIn(drops.at(0), in); n > 0 {
			ev = append(ev, fmt.Sprintf("Cloud NAT also dropped %s packets with reason OUT_OF_RESOURCES in those periods: the endpoints without a block drop every new connection.", num(n)))
		}
	}
	_, why := c.confidence()
	return append(ev, why)
}
