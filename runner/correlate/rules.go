package correlate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// revisionNotReady finds a deploy whose revision could not become ready:
// an action-failed event about a revision, a deploy or an image. It claims
// the errors of the cutover from the failure on, above the pre-cutover
// rate. It is found whatever the errors: the failed action fails the run
// by itself, also when the old revision kept serving and no client saw an
// error.
func (d *diagnosis) revisionNotReady() []candidate {
	var fails []results.Event
	for _, e := range d.eventsOf(results.EventActionFailed) {
		if aboutRevision(e.Details["error"]) {
			fails = append(fails, e)
		}
	}
	if len(fails) == 0 {
		return nil
	}
	from := make(mask, len(d.buckets))
	for k := max(d.bucketOf(fails[0].At), 0); k < len(from); k++ {
		from[k] = true
	}
	m := from.and(d.phaseMask(PhaseDuring))
	var ev, remedy []string
	for _, e := range fails {
		action := e.Details["action"]
		if action != "" {
			action = " " + action
		}
		ev = append(ev, fmt.Sprintf("Action%s failed at %s: %s.", action, d.at(e.At), strings.TrimSuffix(e.Details["error"], ".")))
		for _, r := range revisionRemedy(e.Details["error"]) {
			if !slices.Contains(remedy, r) {
				remedy = append(remedy, r)
			}
		}
	}
	var cl claim
	switch {
	case d.excessIn(d.all, m, d.baseRate) > 0:
		cl = d.claimAbove(m, nil, d.baseRate)
		ev = append(ev, fmt.Sprintf("From then until the cutover settled (%s), %s.", d.spanText(m), d.errorsIn(m, "fell", cl.covered(d.cells), d.baseRate)))
		ev = append(ev, "Confidence high: the platform reported the failure and the errors followed it.")
	case sum(d.all) == 0:
		ev = append(ev, "No client saw an error: the old revision kept serving. The failed action, not the clients, failed the run.")
		ev = append(ev, "Confidence high: the platform reported the failure.")
	default:
		ev = append(ev, "No errors beyond the pre-cutover rate followed it: the old revision kept serving, so it explains the failed action, not the client errors.")
		ev = append(ev, "Confidence high: the platform reported the failure.")
	}
	return []candidate{{f: results.Finding{Cause: CauseRevisionNotReady, Confidence: ConfidenceHigh, Evidence: ev, Remedy: remedy}, claim: cl, verdict: true}}
}

// aboutRevision reports whether a failed action's error is about a revision
// not becoming ready (and not, say, a traffic update refused).
func aboutRevision(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"revision", "deploy", "image", "ready", "pull", "container", "manifest"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// imageMissing reports whether a failure says the container image could
// not be found or pulled.
func imageMissing(m string) bool {
	for _, w := range []string{"cannotpull", "errimagepull", "imagepullbackoff", "manifest unknown"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	if !strings.Contains(m, "image") && !strings.Contains(m, "manifest") {
		return false
	}
	for _, w := range []string{"not found", "missing", "pull", "does not exist", "manifest unknown", "notfound"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// revisionRemedy returns the known fixes for a revision failure, by what
// its error says.
func revisionRemedy(msg string) []string {
	m := strings.ToLower(msg)
	switch {
	case imageMissing(m):
		return []string{
			"The image is missing: redeploy with an image that exists (pin the digest of one that is still in the registry).",
			"Keep more images: a lifecycle policy that keeps the last N images can delete the one production runs; tag production images so only unused ones expire, and keep builds for each environment apart.",
			"Deploy to production more often, so the image it runs is never the oldest.",
		}
	case strings.Contains(m, "probe") || strings.Contains(m, "health") || strings.Contains(m, "port") || strings.Contains(m, "start"):
		return []string{
			"The container did not start or pass its health check: read the revision's logs and conditions, and check that it listens on the expected port within the startup probe's time.",
			"Deploy with no traffic and a tag first, and test the tagged URL before moving traffic.",
		}
	case strings.Contains(m, "quota") || strings.Contains(m, "limit"):
		return []string{"The platform refused the revision for a quota or limit: raise it or ask for fewer resources."}
	}
	return []string{
		"Read the revision's conditions and logs for why it did not become ready; traffic stays on the old revision (check the rollback).",
		"Deploy with no traffic and a tag first, and test the tagged URL before moving traffic.",
	}
}

// egressNotReady finds errors of the service's outbound calls right after
// new instances took traffic, with no NAT signal: no drops and no
// allocation failure. It is never found when a NAT cause is. It claims the
// egress errors of the cutover above their pre-cutover rate.
func (d *diagnosis) egressNotReady(natFound bool) []candidate {
	if natFound || !d.hasCutover {
		return nil
	}
	ready, ok := d.firstAfterDeploy(results.EventRevisionReady, results.EventTrafficApplied)
	if !ok {
		return nil
	}
	egress := d.egressVector()
	before, during := d.phaseMask(PhaseBefore), d.phaseMask(PhaseDuring)
	rate := d.rateIn(egress, before)
	if d.excessIn(egress, during, rate) == 0 {
		return nil
	}
	cl := d.claimAbove(during, isEgress, rate)
	explained := cl.covered(d.cells)
	above := d.aboveIn(egress, during, rate)
	if above.count() == 0 { // significant together, not period by period
		above = nonZeroMask(egress).and(during)
	}
	lo, _, _ := above.span()
	onset := lo - d.bucketOf(ready.At)
	soon := onset >= -1 && onset <= 2

	observed, quiet := results.NATObserved(d.in.Series), d.natQuiet(during.dilate(MaxLag))
	ev := []string{
		fmt.Sprintf("%s of the service's outbound calls (5xx and connection errors) above the pre-cutover rate of %s during the cutover, in %s of %s (%s).",
			plural(explained, "errors"), pct(rate), plural(int64(above.count()), "periods"), periodText(d.g.period), d.spanText(above)),
		fmt.Sprintf("%s; %s.", onsetText(onset, d.at(ready.At)), d.errorsIn(above, "fell in those periods", d.claimAbove(above, isEgress, rate).covered(d.cells), rate)),
	}
	if s := d.newRevisionText(above); s != "" {
		ev = append(ev, s)
	}
	switch {
	case observed && quiet:
		ev = append(ev, "Cloud NAT reported no dropped packets and no allocation failure around the cutover: this is not NAT exhaustion.")
	case !observed:
		ev = append(ev, "No Cloud NAT series came back, so NAT cannot be ruled out.")
	default:
		ev = append(ev, "Cloud NAT dropped packets around the cutover, but too few in the periods with the errors to explain them.")
	}
	remedy := remedyEgress
	if n := sumIn(classVector(d.buckets, results.ClassConnectRefused), above); n > 0 {
		ev = append(ev, fmt.Sprintf("%s refused (connect_refused): nothing listened at the address.", verbCount(int64(n), "connection was", "connections were")))
		remedy = append(slices.Clone(remedy), remedyDeadEndpoint)
	}
	conf := ConfidenceLow
	switch {
	case observed && quiet && soon:
		conf = ConfidenceHigh
		ev = append(ev, "Confidence high: NAT was measured and quiet, and the errors began with the new instances.")
	case observed && quiet:
		conf = ConfidenceMedium
		ev = append(ev, "Confidence medium: NAT was measured and quiet, but the errors did not begin with the new instances.")
	case quiet && soon:
		conf = ConfidenceMedium
		ev = append(ev, "Confidence medium: the errors began with the new instances, but NAT was not measured.")
	default:
		ev = append(ev, "Confidence low: NAT shows drops around the cutover, or the errors are not tied to the new instances.")
	}
	return []candidate{{f: results.Finding{Cause: CauseEgressNotReady, Confidence: conf, Evidence: ev, Remedy: remedy}, claim: cl}}
}

// isEgress reports whether an error of class can come from the service's
// outbound calls: every class but 429 and the other 4xx.
func isEgress(class results.Class) bool {
	return class != results.ClassStatus429 && class != results.ClassStatusOther
}

// verbCount writes a count with the singular or plural phrase after it:
// "1 connection was", "3 connections were".
func verbCount(n int64, one, many string) string {
	return numInt(n) + " " + verb(n, one, many)
}

// egressVector counts per bucket the errors that can come from the
// service's outbound calls: every error but 429 and the other 4xx.
func (d *diagnosis) egressVector() []float64 {
	v := classVector(d.buckets, AllErrors)
	for k, b := range d.buckets {
		v[k] -= float64(b.ByClass[results.ClassStatus429] + b.ByClass[results.ClassStatusOther])
	}
	return v
}

// natQuiet reports whether no NAT drop and no allocation failure was
// reported in the marked buckets.
func (d *diagnosis) natQuiet(m mask) bool {
	for _, s := range d.sigs {
		if s.query != results.QueryNATDroppedSent && s.query != results.QueryNATAllocationFailed {
			continue
		}
		if sumIn(s.at(0), m) != 0 {
			return false
		}
	}
	return true
}

// firstAfterDeploy returns the earliest event of the kinds at or after the
// first deploy-start.
func (d *diagnosis) firstAfterDeploy(kinds ...results.EventKind) (at results.Event, ok bool) {
	for _, e := range d.in.Events {
		if slices.Contains(kinds, e.Kind) && !e.At.Before(d.deployAt) && (!ok || e.At.Before(at.At)) {
			at, ok = e, true
		}
	}
	return at, ok
}

// newRevisionText says how much of the traffic in the marked buckets the
// new revisions served, and what Cloud Run counted as 5xx on them.
func (d *diagnosis) newRevisionText(m mask) string {
	revs := d.newRevisions()
	if len(revs) == 0 {
		return ""
	}
	var served, all int64
	for k, b := range d.buckets {
		if !m[k] {
			continue
		}
		for r, n := range b.ByRevision {
			all += n
			if slices.Contains(revs, r) {
				served += n
			}
		}
	}
	var parts []string
	if all > 0 {
		parts = append(parts, fmt.Sprintf("the new revision %s served %s of the requests in those periods", strings.Join(revs, ", "), pct(float64(served)/float64(all))))
	}
	var fivexx float64
	for _, s := range d.sigs {
		if s.query == results.QueryRunRequestCount && s.labels["response_code_class"] == "5xx" && slices.Contains(revs, s.labels["revision_name"]) {
			fivexx += sumIn(s.at(0), m)
		}
	}
	if fivexx > 0 {
		parts = append(parts, fmt.Sprintf("Cloud Run counted %s 5xx responses on it", num(fivexx)))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// onsetText says when errors began relative to the new revision taking
// traffic, n periods apart.
func onsetText(n int, at string) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 period"
		}
		return fmt.Sprintf("%d periods", n)
	}
	switch {
	case n == 0:
		return "They began in the period the new revision took traffic, at " + at
	case n < 0:
		return "They began " + plural(-n) + " before the new revision took traffic at " + at
	}
	return "They began " + plural(n) + " after the new revision took traffic at " + at
}

// affinityBroken finds sessions re-pinned at the cutover: sessions kept
// affinity cookies and the runner saw their serving instance change. It
// claims the 4xx (status_other) above the pre-cutover rate during the
// cutover: requests that reached an instance without the session's state.
// It is found whatever the errors; re-pins with no session error are
// ruled out.
func (d *diagnosis) affinityBroken() []candidate {
	if d.in.Sessions <= 0 || d.in.AffinityRepins <= 0 || !d.hasCutover {
		return nil
	}
	isOther := func(c results.Class) bool { return c == results.ClassStatusOther }
	other := classVector(d.buckets, results.ClassStatusOther)
	before, during := d.phaseMask(PhaseBefore), d.phaseMask(PhaseDuring)
	rate := d.rateIn(other, before)
	share := float64(d.in.AffinityRepins) / float64(d.in.Sessions)
	at := d.deployAt
	if e, ok := d.firstAfterDeploy(results.EventTrafficApplied, results.EventRevisionReady); ok {
		at = e.At
	}
	ev := []string{fmt.Sprintf("%s of %s with an affinity cookie (%s) were re-pinned to another instance during the run (their X-Instance changed); the new revision took traffic at %s: affinity is best effort and a revision switch breaks it.",
		numInt(int64(d.in.AffinityRepins)), plural(int64(d.in.Sessions), "sessions"), pct(share), d.at(at))}
	conf := ConfidenceLow
	var cl claim
	if d.excessIn(other, during, rate) > 0 {
		cl = d.claimAbove(during, isOther, rate)
		above := d.aboveIn(other, during, rate)
		ev = append(ev, fmt.Sprintf("%s (status_other) above the pre-cutover rate of %s during the cutover (%s): requests that reached an instance without the session's in-memory state.",
			plural(cl.covered(d.cells), "4xx responses"), pct(rate), d.spanText(above)))
		conf = ConfidenceHigh
		ev = append(ev, "Confidence high: sessions were re-pinned and their 4xx rose at the cutover.")
	} else {
		if sumIn(d.all, during) == 0 {
			ev = append(ev, "No client error during the cutover.")
		} else {
			ev = append(ev, fmt.Sprintf("No 4xx beyond the pre-cutover rate during the cutover; the errors there were: %s.", d.classText(during)))
		}
		if share >= 0.1 {
			conf = ConfidenceMedium
		}
		ev = append(ev, "Confidence "+conf+": sessions were re-pinned, but no session error (4xx) rose with it.")
	}
	return []candidate{{f: results.Finding{Cause: CauseAffinityBroken, Confidence: conf, Evidence: ev, Remedy: remedyAffinity}, claim: cl}}
}

// preExistingErrors finds errors before the first deploy-start (or in a
// run with no deploy). It claims every error before the cutover, and in
// each later period the errors the pre-cutover rate predicts (all of
// them where they are not significantly above it). Its remedies follow
// what the errors before the cutover were: connection churn, refused
// connections (timeouts are upstream-timeout's).
func (d *diagnosis) preExistingErrors() []candidate {
	before := d.phaseMask(PhaseBefore)
	errsBefore := sumIn(d.all, before)
	if errsBefore == 0 {
		return nil
	}
	total := sum(d.all)
	withErr := nonZeroMask(d.all).and(before).count()
	cl := newClaim(len(d.buckets))
	for k, b := range d.buckets {
		cl.limit[k] = b.Errors
		if !before[k] && aboveRate(b.Errors, b.Requests, d.baseRate) {
			cl.limit[k] = expected(d.baseRate, b.Requests)
		}
	}
	var ev []string
	if d.hasCutover {
		ev = append(ev, fmt.Sprintf("%s in %s (%s) in the %s of %s before the first %s at %s UTC, in %d of them: the service was failing before the cutover.",
			plural(int64(errsBefore), "errors"), plural(int64(sumIn(d.req, before)), "requests"), pct(d.baseRate), plural(int64(before.count()), "periods"),
			periodText(d.g.period), d.startKind, clock(d.deployAt), withErr))
		during := d.phaseMask(PhaseDuring)
		ev = append(ev, fmt.Sprintf("The error rate was %s before the cutover and %s during it.", pct(d.baseRate), pct(d.rateIn(d.all, during))))
	} else {
		ev = append(ev, fmt.Sprintf("Nothing was deployed in this run: all %s (%s of %s) are the service's steady state, in %d of %s of %s.",
			plural(int64(total), "errors"), pct(d.baseRate), plural(int64(sum(d.req)), "requests"), withErr, plural(int64(len(d.buckets)), "periods"), periodText(d.g.period)))
	}
	ev = append(ev, "By class before the cutover: "+d.classText(before)+".")
	remedy := []string{remedyBaseline}
	if churn, why := d.churn(); why != "" {
		ev = append(ev, why)
		if churn {
			remedy = append(remedy, remedyKeepAlive)
		}
	}
	if drops, ok := d.dropSignal(results.DropOutOfResources); ok {
		if n := sumIn(drops.at(0), before); n > 0 {
			errs := slices.Clone(d.all)
			for k := range errs {
				if !before[k] {
					errs[k] = 0
				}
			}
			co := overlap(errs, drops.at(0)) / errsBefore
			ev = append(ev, fmt.Sprintf("Cloud NAT dropped %s with reason OUT_OF_RESOURCES before the cutover; %s of the errors before it fell in periods with drops: ports run out in steady state, as with connection churn (a new connection per call, each port held in TIME_WAIT).",
				plural(int64(math.Round(n)), "packets"), pct(co)))
			remedy = append(remedy, remedyPreExistingNAT)
		}
	}
	if nc, ok := sumSignals(d.sigs, string(results.QueryNATNewConnections), func(s signal) bool { return s.query == results.QueryNATNewConnections }); ok && before.count() > 0 {
		if mean := sumIn(nc.at(0), before) / float64(before.count()); mean > 0 {
			ev = append(ev, fmt.Sprintf("nat_new_connections averaged %s per period before the cutover.", num(mean)))
		}
	}
	if n := int64(sumIn(classVector(d.buckets, results.ClassConnectRefused), before)); n > 0 {
		ev = append(ev, fmt.Sprintf("%s refused (connect_refused) before the cutover: nothing listened at the address.", verbCount(n, "connection was", "connections were")))
		remedy = append(remedy, remedyDeadEndpoint)
	}
	if t := d.timeouts(before); t.n > 0 {
		// upstream-timeout claims these and carries their remedy.
		ev = append(ev, t.sentence("before the cutover")+" See upstream-timeout.")
	}
	conf := ConfidenceLow
	switch {
	case withErr >= 2 && errsBefore >= 3:
		conf = ConfidenceHigh
	case errsBefore >= 3:
		conf = ConfidenceMedium
	}
	ev = append(ev, fmt.Sprintf("Confidence %s: %s in %s before the cutover.", conf, plural(int64(errsBefore), "errors"), plural(int64(withErr), "periods")))
	return []candidate{{f: results.Finding{Cause: CausePreExistingErrors, Confidence: conf, Evidence: ev, Remedy: remedy}, claim: cl}}
}

// upstreamTimeout finds timeouts: 504 "upstream request timeout"
// responses (the service's request timeout) and requests the client gave
// up on (response_timeout, the load's timeout). It claims them all; the
// NAT causes come first in the attribution, so those that fell where NAT
// dropped are theirs. Where the latency ran to the timeout its confidence
// is high and its remedy is the timeout's.
func (d *diagnosis) upstreamTimeout() []candidate {
	all := make(mask, len(d.buckets))
	for k := range all {
		all[k] = true
	}
	t := d.timeouts(all)
	if t.n == 0 {
		return nil
	}
	ut := t.perBucket
	cl := newClaim(len(d.buckets))
	for k, b := range d.buckets {
		of := map[results.Class]int64{
			results.ClassStatus504:       min(b.ByClass[results.UpstreamTimeout], d.cells[k][results.ClassStatus504]),
			results.ClassResponseTimeout: d.cells[k][results.ClassResponseTimeout],
		}
		cl.of[k], cl.limit[k] = of, of[results.ClassStatus504]+of[results.ClassResponseTimeout]
	}
	natAt := make(mask, len(d.buckets))
	for _, s := range d.sigs {
		if s.query == results.QueryNATDroppedSent || s.query == results.QueryNATAllocationFailed {
			natAt = natAt.or(nonZeroMask(s.at(0)))
		}
	}
	inNAT := sumIn(ut, natAt.dilate(1))
	ev := []string{fmt.Sprintf("%s (%s of all errors), %s.", t.what(), pct(float64(t.n)/sum(d.all)), d.spanText(nonZeroMask(ut)))}
	share := inNAT / float64(t.n)
	if inNAT > 0 {
		ev = append(ev, fmt.Sprintf("%s of them fell in or next to periods with Cloud NAT drops or allocation failures: most likely the same cause, an outbound connection that stalled until the request timed out.", pct(share)))
	} else if results.NATObserved(d.in.Series) {
		ev = append(ev, "No Cloud NAT drop or allocation failure coincides with them: a dependency was slow.")
	}
	if s := t.latency(); s != "" {
		ev = append(ev, s)
	}
	var remedy []string
	switch {
	case t.reached:
		remedy = []string{remedyTimeoutReached}
	case inNAT > 0 || !results.NATObserved(d.in.Series):
		remedy = []string{remedyFindDependencyNAT, remedyRaiseAfter}
	default:
		remedy = []string{remedyFindDependency, remedyRaiseAfter}
	}
	conf := ConfidenceMedium
	switch {
	case share >= HighCoOccurrence:
		conf = ConfidenceLow
		ev = append(ev, "Confidence low as a cause of its own: it is a symptom of the NAT finding.")
	case t.reached:
		conf = ConfidenceHigh
		ev = append(ev, "Confidence high: the timeouts are measured and the latency ran to the timeout.")
	default:
		ev = append(ev, "Confidence medium: the timeouts are measured, the slow dependency is not named.")
	}
	return []candidate{{f: results.Finding{Cause: CauseUpstreamTimeout, Confidence: conf, Evidence: ev, Remedy: remedy}, claim: cl}}
}

// timeoutsSeen are the timeouts of some buckets: 504 upstream request
// timeouts and client response timeouts, with the latency of the windows
// they fell in against the timeouts that cut them off.
type timeoutsSeen struct {
	upstream, client int64
	n                int64
	perBucket        []float64 // upstream + client timeouts per bucket
	// p99 is the highest p99 (ms) of a window with an upstream timeout,
	// clientP99 of one with a client timeout.
	p99, clientP99 float64
	// timeout and clientTimeout are the Input's; reached says the
	// latency ran to one of them (a p99 of at least ReachedTimeout of it).
	timeout, clientTimeout time.Duration
	reached                bool
}

// ReachedTimeout is how close to a timeout the p99 of the windows with
// timeouts must come for the latency to have run to it.
const ReachedTimeout = 0.9

// timeouts counts the timeouts in the marked buckets and the latency of
// the windows that hold them.
func (d *diagnosis) timeouts(m mask) timeoutsSeen {
	t := timeoutsSeen{perBucket: make([]float64, len(d.buckets)), timeout: d.in.RequestTimeout, clientTimeout: d.in.ClientTimeout}
	for k, b := range d.buckets {
		if !m[k] {
			continue
		}
		up := min(b.ByClass[results.UpstreamTimeout], d.cells[k][results.ClassStatus504])
		cl := d.cells[k][results.ClassResponseTimeout]
		t.upstream += up
		t.client += cl
		t.perBucket[k] = float64(up + cl)
	}
	t.n = t.upstream + t.client
	if t.n == 0 {
		return t
	}
	width := windowWidth(d.in.Window, d.in.Timeline)
	for _, w := range d.in.Timeline {
		k := d.g.index(w.Start.Add(width/2)) - d.first
		if k < 0 || k >= len(m) || !m[k] {
			continue
		}
		if w.ByClass[results.UpstreamTimeout] > 0 {
			t.p99 = max(t.p99, w.P99)
		}
		if w.ByClass[results.ClassResponseTimeout] > 0 {
			t.clientP99 = max(t.clientP99, w.P99)
		}
	}
	ran := func(p99 float64, timeout time.Duration) bool {
		return timeout > 0 && p99 >= ReachedTimeout*float64(timeout.Milliseconds())
	}
	t.reached = (t.upstream > 0 && ran(t.p99, t.timeout)) || (t.client > 0 && ran(t.clientP99, t.clientTimeout))
	return t
}

// what names the timeouts: "42 responses were 504 upstream request
// timeout and 3 requests timed out at the client (response_timeout)".
func (t timeoutsSeen) what() string {
	var parts []string
	if t.upstream > 0 {
		parts = append(parts, fmt.Sprintf("%s 504 upstream request timeout", verbCount(t.upstream, "response was", "responses were")))
	}
	if t.client > 0 {
		parts = append(parts, fmt.Sprintf("%s out at the client (response_timeout)", verbCount(t.client, "request timed", "requests timed")))
	}
	return strings.Join(parts, " and ")
}

// sentence says what the timeouts were, where: "Before the cutover, 3
// responses were 504 upstream request timeout; in the windows with them,
// p99 reached …".
func (t timeoutsSeen) sentence(where string) string {
	s := strings.ToUpper(where[:1]) + where[1:] + ", " + t.what()
	if l := t.latency(); l != "" {
		return s + "; i" + l[1:]
	}
	return s + "."
}

// latency compares the latency of the windows with timeouts with the
// known timeouts: "In the windows with them, p99 reached 8,000 ms, at the
// request timeout of 8s."; "" when no timeout is known.
func (t timeoutsSeen) latency() string {
	var parts []string
	say := func(p99 float64, timeout time.Duration, name string) {
		if timeout <= 0 {
			return
		}
		if p99 >= ReachedTimeout*float64(timeout.Milliseconds()) {
			parts = append(parts, fmt.Sprintf("p99 reached %s ms, at the %s of %s", num(p99), name, timeout))
		} else {
			parts = append(parts, fmt.Sprintf("p99 was %s ms, below the %s of %s", num(p99), name, timeout))
		}
	}
	if t.upstream > 0 {
		say(t.p99, t.timeout, "request timeout")
	}
	if t.client > 0 {
		say(t.clientP99, t.clientTimeout, "client timeout (load.timeout)")
	}
	if len(parts) == 0 {
		return ""
	}
	return "In the windows with them, " + strings.Join(parts, "; ") + "."
}

// loadGeneratorSaturated reports a generator that could not keep up; it
// explains no error, but the verdict (the asked load was not delivered),
// so it is found whatever the errors.
func (d *diagnosis) loadGeneratorSaturated() []candidate {
	l := d.in.Load
	if !l.Saturated {
		return nil
	}
	why := l.SaturationReason
	if why == "" {
		why = "the generator could not keep up"
	}
	ev := []string{"The load generator was saturated: " + strings.TrimSuffix(why, ".") + "."}
	if l.AskedRate > 0 {
		ev = append(ev, fmt.Sprintf("It sent %s of the %s asked (%s).", rate(l.AchievedRate), rate(l.AskedRate), pct(l.AchievedRate/l.AskedRate)))
	}
	if l.Workers > 0 {
		ev = append(ev, fmt.Sprintf("It used up to %s.", plural(int64(l.Workers), "workers")))
	}
	ev = append(ev, "The service saw less load than asked, so a pass does not show that it copes with the asked load.")
	return []candidate{{f: results.Finding{Cause: CauseLoadGeneratorSaturated, Confidence: ConfidenceHigh, Evidence: ev, Remedy: remedySaturated}, verdict: true}}
}
