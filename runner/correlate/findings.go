package correlate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
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

// causeOrder is how specific and actionable each cause is, most first:
// of the findings whose evidence covers the same errors, the first in this
// order is their primary cause (see attributionOrder). A NAT allocation
// failure explains the drops it causes; a failed revision the errors that
// follow it; a 504 upstream timeout says more than "it failed before".
// On ECS a missing image explains the tasks that could not be replaced,
// and so the overloaded and empty target group that followed: the
// mechanisms come after their root cause, and before the Cloud Run
// causes that read only the clients' errors.
var causeOrder = []string{
	CauseImageMissing,
	CauseNATAllocationFailure, CauseNATPortExhaustion, CauseNATEndpointConflict,
	CauseRevisionNotReady, CauseNoHealthyTargets, CauseOverloadedTarget,
	CauseEgressNotReady, CauseAffinityBroken,
	CauseUpstreamTimeout, CausePreExistingErrors, CauseLoadGeneratorSaturated,
}

// candidate is a finding with the errors its evidence covers.
type candidate struct {
	f     results.Finding
	claim claim
	// verdict is true for a finding that explains the verdict by itself,
	// whatever the errors: a failed action, a saturated generator. It
	// stays among the causes when it is the primary cause of no error.
	verdict bool
	// mechanism is true for a finding that says how errors came about
	// rather than why (no healthy targets, an overloaded target): when a
	// root cause took every error its evidence covers, it stays among the
	// causes beside it, with no primary error, instead of being ruled out.
	mechanism bool
}

// findings applies every rule, whatever the number of errors, and gives
// each error to at most one finding. Rules that rest on errors find
// nothing without them; the rules about the cutover itself (a revision
// that did not become ready, sessions re-pinned, a saturated generator)
// report what happened also when no client saw an error.
func (d *diagnosis) findings() accounting {
	var cands []candidate
	nat := d.natCauses()
	for _, n := range nat {
		cands = append(cands, n.cand)
	}
	cands = append(cands, d.imageMissingCause()...)
	cands = append(cands, d.revisionNotReady()...)
	cands = append(cands, d.noHealthyTargets()...)
	cands = append(cands, d.overloadedTarget()...)
	cands = append(cands, d.egressNotReady(len(nat) > 0)...)
	cands = append(cands, d.affinityBroken()...)
	cands = append(cands, d.preExistingErrors()...)
	cands = append(cands, d.upstreamTimeout()...)
	cands = append(cands, d.loadGeneratorSaturated()...)
	return d.attribute(cands)
}

// Remedies, from the incidents (seeds 000–002) and the simulator model.
var (
	remedyNATPorts = []string{
		"Connect to Cloud SQL / the database by its private IP, so that traffic does not leave through Cloud NAT (a private vs public destination is what matters, not socket vs host).",
		"Use Direct VPC egress with private-ranges-only instead of all-traffic, so only internet-bound traffic uses NAT.",
		"Make self-calls (the service calling its own public URL or a proxy in front of it) on 127.0.0.1 instead, so no traffic hairpins through NAT.",
		"Give NAT more room: more min ports per VM, dynamic port allocation, more NAT IPs, or a shorter TCP TIME_WAIT timeout (e.g. 30 s).",
	}
	// remedyKeepAlive is offered only where the run shows a new outbound
	// connection per request (Input.KeepAlive, or the NAT series).
	remedyKeepAlive = "Reuse outbound connections: turn on keep-alive with a pooled HTTP agent instead of a new connection per call, so each call does not take a NAT port for TIME_WAIT."
	// remedyColdPool is the keep-alive service's version: its pool starts
	// empty on every new instance.
	remedyColdPool      = "Bound the outbound connection pool per destination below the NAT ports per VM, and warm it before the instance takes traffic, so a fresh instance reuses a few connections instead of opening one per in-flight request."
	remedyNATAllocation = []string{
		"Add NAT IPs or switch the gateway to AUTO IP allocation, so that old and new instances both get a port block during the cutover.",
		"Allocate fewer ports per VM (lower min ports), so that more endpoints fit on each NAT IP.",
		"Use Direct VPC egress with private-ranges-only, and reach the database by its private IP, so that fewer instances need NAT at all.",
		"Make self-calls on 127.0.0.1 instead of the public URL.",
	}
	remedyNATConflict = []string{
		"Turn off endpoint-independent mapping on the NAT gateway, or give each VM more ports so mappings do not collide.",
	}
	remedyEgress = []string{
		"Add a startup probe that tests the egress destination, so an instance is not Ready (and gets no traffic) until its outbound path works.",
		"Keep min instances warm so fewer instances start at the cutover.",
		"If the delay is Direct VPC egress programming on new instances, a Serverless VPC Access connector avoids it; otherwise retry the first outbound calls with backoff.",
	}
	remedyFindDependencyNAT = "Find the slow or failing dependency first: outbound calls through Cloud NAT, the database, the service's own self-calls; it is often the same NAT cause."
	remedyFindDependency    = "Find the slow or failing dependency first: the database, an external API, the service's own self-calls (Cloud NAT was measured and shows no drop beside these timeouts)."
	remedyRaiseAfter        = "Raise the route / request timeout only after the dependency is fixed; set outbound connect timeouts below the request timeout so failures are fast."
	// remedyTimeoutReached is offered where the latency ran to the timeout.
	remedyTimeoutReached = "The requests ran into the timeout: a dependency takes longer than it allows. Make the dependency answer in time (or give the outbound call a shorter timeout with a fallback), or raise the request timeout above the dependency's latency."
	// remedyDeadEndpoint is offered where connections were refused.
	remedyDeadEndpoint = "Connections were refused: nothing listened at the address (a dead endpoint, a wrong port, instances gone). Check the target URL and port, and that the service or the instances behind the load balancer are up and accept connections."
	remedyAffinity     = []string{
		"Keep session state out of the instance (a shared store such as Memorystore, Firestore or the database, or a signed cookie).",
		"Expect best-effort affinity: a revision switch, scale-in, restart or overload re-pins sessions, so every request must survive landing on a new instance.",
	}
	remedyBaseline       = "Fix the baseline before blaming the deploy: a service that fails before the cutover hides what the cutover does."
	remedyPreExistingNAT = "Against connection churn through Cloud NAT: a shorter TCP TIME_WAIT timeout (30 s), more min ports per VM, or dynamic port allocation."
	remedySaturated      = []string{
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
	// covered are the errors of the cutover's hit buckets above the
	// pre-cutover rate (what cand.claim covers); unclaimed leaves out the
	// buckets a more specific NAT cause marks.
	covered, unclaimed int64
}

// natCauses finds nat-allocation-failure, nat-port-exhaustion and
// nat-endpoint-independence-conflict: the signal is not flat and the
// errors in the cutover's periods where it is non-zero are significantly
// above the pre-cutover rate. Each claims those errors; an allocation
// failure comes first in the attribution, so the drops it causes are
// explained by it.
func (d *diagnosis) natCauses() []natCause {
	alloc, allocOK := sumSignals(d.sigs, string(results.QueryNATAllocationFailed), func(s signal) bool { return s.query == results.QueryNATAllocationFailed })
	drops, dropsOK := d.dropSignal(results.DropOutOfResources)
	conflict, conflictOK := d.dropSignal(results.DropEndpointConflict)

	// In order of specificity: the periods a cause marks are left out of
	// the unclaimed errors of the next, which grades its confidence.
	causes := []struct {
		sig      signal
		ok       bool
		cause    string
		evidence func(natCause) []string
		remedy   func() []string
	}{
		{alloc, allocOK, CauseNATAllocationFailure, func(c natCause) []string { return d.allocationEvidence(alloc, drops, dropsOK, c) },
			func() []string { return remedyNATAllocation }},
		{drops, dropsOK, CauseNATPortExhaustion, func(c natCause) []string { return d.dropEvidence(drops, results.DropOutOfResources, c) },
			d.portsRemedy},
		{conflict, conflictOK, CauseNATEndpointConflict, func(c natCause) []string { return d.dropEvidence(conflict, results.DropEndpointConflict, c) },
			d.conflictRemedy},
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
		c.cand.f = results.Finding{Cause: k.cause, Evidence: k.evidence(c), Remedy: k.remedy()}
		c.cand.f.Confidence, _ = c.confidence()
		out = append(out, c)
		claimed = claimed.or(c.hits.dilate(1))
	}
	return out
}

// portsRemedy is the port exhaustion's remedies: keep-alive where the run
// shows a new connection per request, else a bounded, warmed pool.
func (d *diagnosis) portsRemedy() []string {
	if churn, _ := d.churn(); churn {
		return append(slices.Clone(remedyNATPorts), remedyKeepAlive)
	}
	return append(slices.Clone(remedyNATPorts), remedyColdPool)
}

// conflictRemedy is the endpoint-independence conflict's remedies, with
// keep-alive where the run shows a new connection per request.
func (d *diagnosis) conflictRemedy() []string {
	if churn, _ := d.churn(); churn {
		return append(slices.Clone(remedyNATConflict), remedyKeepAlive)
	}
	return remedyNATConflict
}

// dropSignal sums the NAT drop series of reason; OUT_OF_RESOURCES also
// takes the drop series that carry no reason.
func (d *diagnosis) dropSignal(reason string) (signal, bool) {
	return sumSignals(d.sigs, seriesKey(results.QueryNATDroppedSent, map[string]string{"reason": reason}), func(s signal) bool {
		if s.query != results.QueryNATDroppedSent {
			return false
		}
		r := s.labels["reason"]
		return r == reason || (r == "" && reason == results.DropOutOfResources)
	})
}

// natCause measures all errors against sig and says whether the errors of
// the cutover's periods where sig is non-zero are significantly above the
// pre-cutover rate. It claims the errors above that rate there.
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
	in := c.hits.and(d.phaseMask(PhaseDuring))
	if d.excessIn(d.all, in, d.baseRate) == 0 {
		return natCause{}, false
	}
	c.cand.claim = d.claimAbove(in, nil, d.baseRate)
	c.covered = c.cand.claim.covered(d.cells)
	c.unclaimed = d.claimAbove(in.andNot(claimed), nil, d.baseRate).covered(d.cells)
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

// consequence reports whether most of the cause's errors fall in periods
// a more specific NAT cause marks.
func (c natCause) consequence() bool { return 2*c.unclaimed < c.covered }

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
	return fmt.Sprintf("%s of the %s (%s) fell in periods with %s%s; per period, errors and %s correlate with r = %.2f at lag 0 and best r = %.2f at lag %s (of ±%d periods; a positive lag means the metric moves after the errors).",
		num(c.co*sum(d.all)), plural(int64(sum(d.all)), "client errors"), pct(c.co), what, at, what, c.st.Correlation, c.st.BestCorrelation, lagText(c.st.BestLag), MaxLag)
}

// errorsIn describes the errors of the marked buckets, where they fell,
// their classes, and how many of them are above rate: "104 errors fell in
// periods with drops (status_502 88, status_504 16), 91 of them above the
// pre-cutover rate of 0.5%". The classes add up to the count.
func (d *diagnosis) errorsIn(m mask, where string, above int64, rate float64) string {
	var n int64
	for k, c := range d.cells {
		if m[k] {
			n += total(c)
		}
	}
	s := fmt.Sprintf("%s %s (%s)", plural(n, "errors"), where, d.classText(m))
	if above == n {
		return s + fmt.Sprintf(", all above the pre-cutover rate of %s", pct(rate))
	}
	return s + fmt.Sprintf(", %s of them above the pre-cutover rate of %s", numInt(above), pct(rate))
}

func (d *diagnosis) dropEvidence(sig signal, reason string, c natCause) []string {
	during := d.phaseMask(PhaseDuring)
	dropAt := nonZeroMask(sig.at(0))
	in := dropAt.and(during)
	ev := []string{
		fmt.Sprintf("Cloud NAT dropped %s with reason %s during the cutover, in %d of its %s of %s (%s); %s before the first deploy-start.",
			plural(int64(math.Round(sumIn(sig.at(0), during))), "packets"), reason, in.count(), plural(int64(during.count()), "periods"),
			periodText(d.g.period), d.spanText(in), num(sumIn(sig.at(0), d.phaseMask(PhaseBefore)))),
		d.overlapSentence(c, "drops"),
		"During the cutover, " + d.errorsIn(c.hits.and(during), "fell in periods with drops", c.covered, d.baseRate) + ".",
	}
	if p, ok := d.peak(results.QueryNATPortUsage, in); ok {
		s := fmt.Sprintf("nat_port_usage peaked at %s on one endpoint in those periods", plural(int64(math.Round(p)), "ports"))
		if a, ok := d.peak(results.QueryNATAllocatedPorts, in); ok {
			s += fmt.Sprintf(", with %s allocated", num(a))
		}
		ev = append(ev, s+".")
	}
	if reason == results.DropOutOfResources {
		if _, why := d.churn(); why != "" {
			ev = append(ev, why)
		}
	}
	if c.consequence() {
		ev = append(ev, fmt.Sprintf("%s of these %s fall outside the periods where NAT allocation failed: the drops come mostly from endpoints that got no port block (see nat-allocation-failure).",
			numInt(c.unclaimed), plural(c.covered, "errors")))
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
		fmt.Sprintf("nat_allocation_failed was set in %d of the cutover's %s of %s (%s), for up to %s at once: those endpoints got no NAT port block and lost all egress.",
			in.count(), plural(int64(during.count()), "periods"), periodText(d.g.period), d.spanText(in), plural(int64(math.Round(most)), "endpoints")),
		d.overlapSentence(c, "allocation failures"),
		"During the cutover, " + d.errorsIn(c.hits.and(during), "fell in those periods", c.covered, d.baseRate) + ".",
	}
	if dropsOK {
		if n := sumIn(drops.at(0), in); n > 0 {
			ev = append(ev, fmt.Sprintf("Cloud NAT also dropped %s with reason OUT_OF_RESOURCES in those periods: the endpoints without a block drop every new connection.", plural(int64(math.Round(n)), "packets")))
		}
	}
	_, why := c.confidence()
	return append(ev, why)
}

// ChurnRatio is the share of the requests that Cloud NAT's new connections
// plus its OUT_OF_RESOURCES drops (connection attempts that found no port)
// must reach, before the cutover, for the run to show about one new
// outbound connection per request. A pooled service opens far fewer.
const ChurnRatio = 0.5

// churn says whether the service opens a new outbound connection per call,
// and a sentence that says how the run shows it: the scenario's KeepAlive
// when it knows, else the NAT series before the cutover (the whole run
// without one). why is "" when the run shows nothing either way.
func (d *diagnosis) churn() (yes bool, why string) {
	switch d.in.KeepAlive {
	case KeepAliveOff:
		return true, "The service's outbound calls open a new connection each (keep-alive off in the scenario)."
	case KeepAliveOn:
		return false, "The service's outbound calls reuse pooled connections (keep-alive on in the scenario)."
	}
	before := d.phaseMask(PhaseBefore)
	req := sumIn(d.req, before)
	nc, ncOK := sumSignals(d.sigs, string(results.QueryNATNewConnections), func(s signal) bool { return s.query == results.QueryNATNewConnections })
	drops, dropsOK := d.dropSignal(results.DropOutOfResources)
	if req == 0 || (!ncOK && !dropsOK) {
		return false, ""
	}
	var conns, dropped float64
	if ncOK {
		conns = sumIn(nc.at(0), before)
	}
	if dropsOK {
		dropped = sumIn(drops.at(0), before)
	}
	if !ncOK && dropped == 0 {
		return false, "" // no drop says nothing about how many connections opened
	}
	where := "before the cutover"
	if !d.hasCutover {
		where = "over the run"
	}
	ratio := (conns + dropped) / req
	counted := fmt.Sprintf("Cloud NAT counted %s and %s (connection attempts) against %s %s, %s per request",
		plural(int64(math.Round(conns)), "new connections"), plural(int64(math.Round(dropped)), "dropped packets"),
		plural(int64(req), "requests"), where, strconv.FormatFloat(ratio, 'f', 2, 64))
	if ratio >= ChurnRatio {
		return true, counted + ": a new outbound connection for most requests, as without keep-alive."
	}
	if !ncOK {
		return false, ""
	}
	return false, counted + ": the service reuses its outbound connections."
}
