package correlate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// revisionNotReady finds a deploy whose revision could not become ready:
// an action-failed event about a revision, a deploy or an image. It
// explains the errors of the cutover from the failure on.
func (d *diagnosis) revisionNotReady() []candidate {
	var fails []results.Event
	for _, e := range d.eventsOf(EventActionFailed) {
		if aboutRevision(e.Details["error"]) {
			fails = append(fails, e)
		}
	}
	if len(fails) == 0 {
		return nil
	}
	from := make(mask, len(d.buckets))
	for k := d.bucketOf(fails[0].At); k < len(from); k++ {
		from[k] = true
	}
	m := from.and(d.phaseMask(PhaseDuring))
	explained := d.excessIn(d.all, m, d.baseRate)
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
	conf := ConfidenceHigh
	if explained > 0 {
		ev = append(ev, fmt.Sprintf("From then until the cutover settled, %s errors above the pre-cutover rate of %s (%s); by class: %s.",
			num(explained), pct(d.baseRate), d.spanText(m), d.classText(m)))
		ev = append(ev, "Confidence high: the platform reported the failure and the errors followed it.")
	} else {
		conf = ConfidenceLow
		ev = append(ev, "No errors beyond the pre-cutover rate followed it: the old revision kept serving, so it does not explain the client errors.")
		ev = append(ev, "Confidence low as the cause of the client errors.")
	}
	return []candidate{{f: results.Finding{Cause: CauseRevisionNotReady, Confidence: conf, Evidence: ev, Remedy: remedy}, rank: explained}}
}

// aboutRevision reports whether a failed action's error is about a revision
// not becoming ready (and not, say, a traffic update refused).
func aboutRevision(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"revision", "deploy", "image", "ready"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// imageMissing reports whether a failure says the container image could
// not be found or pulled.
func imageMissing(m string) bool {
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
// allocation failure. It is never found when a NAT cause is.
func (d *diagnosis) egressNotReady(natFound bool) []candidate {
	if natFound || !d.hasCutover {
		return nil
	}
	ready, ok := d.firstAfterDeploy(EventRevisionReady, EventTrafficApplied)
	if !ok {
		return nil
	}
	egress := d.egressVector()
	before, during := d.phaseMask(PhaseBefore), d.phaseMask(PhaseDuring)
	rate := d.rateIn(egress, before)
	explained := d.excessIn(egress, during, rate)
	if explained == 0 {
		return nil
	}
	above := d.aboveIn(egress, during, rate)
	if above.count() == 0 { // significant together, not period by period
		above = nonZeroMask(egress).and(during)
	}
	lo, _, _ := above.span()
	onset := lo - d.bucketOf(ready.At)
	soon := onset >= -1 && onset <= 2

	observed, quiet := d.natObserved(), d.natQuiet(during.dilate(MaxLag))
	ev := []string{
		fmt.Sprintf("%s errors of the service's outbound calls (5xx and connection errors) above the pre-cutover rate of %s during the cutover, in %d periods of %s (%s).",
			num(explained), pct(rate), above.count(), periodText(d.g.period), d.spanText(above)),
		fmt.Sprintf("%s; by class: %s.", onsetText(onset, d.at(ready.At)), d.classText(above)),
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
	return []candidate{{f: results.Finding{Cause: CauseEgressNotReady, Confidence: conf, Evidence: ev, Remedy: remedyEgress}, rank: explained}}
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
		if s.query != QueryNATDropped && s.query != QueryNATAllocationFailed {
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
func (d *diagnosis) firstAfterDeploy(kinds ...string) (at results.Event, ok bool) {
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
		if s.query == QueryRunRequestCount && s.labels["response_code_class"] == "5xx" && slices.Contains(revs, s.labels["revision_name"]) {
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
// explains the 4xx (status_other) above the pre-cutover rate during the
// cutover: requests that reached an instance without the session's state.
func (d *diagnosis) affinityBroken() []candidate {
	if d.in.Sessions <= 0 || d.in.AffinityRepins <= 0 || !d.hasCutover {
		return nil
	}
	other := classVector(d.buckets, results.ClassStatusOther)
	before, during := d.phaseMask(PhaseBefore), d.phaseMask(PhaseDuring)
	rate := d.rateIn(other, before)
	explained := d.excessIn(other, during, rate)
	share := float64(d.in.AffinityRepins) / float64(d.in.Sessions)
	at := d.deployAt
	if e, ok := d.firstAfterDeploy(EventTrafficApplied, EventRevisionReady); ok {
		at = e.At
	}
	ev := []string{fmt.Sprintf("%s of %s sessions with an affinity cookie (%s) were re-pinned to another instance during the run (their X-Instance changed); the new revision took traffic at %s: affinity is best effort and a revision switch breaks it.",
		num(float64(d.in.AffinityRepins)), num(float64(d.in.Sessions)), pct(share), d.at(at))}
	conf := ConfidenceLow
	if explained > 0 {
		above := d.aboveIn(other, during, rate)
		ev = append(ev, fmt.Sprintf("%s 4xx responses (status_other) above the pre-cutover rate of %s during the cutover (%s): requests that reached an instance without the session's in-memory state.",
			num(explained), pct(rate), d.spanText(above)))
		conf = ConfidenceHigh
		ev = append(ev, "Confidence high: sessions were re-pinned and their 4xx rose at the cutover.")
	} else {
		ev = append(ev, fmt.Sprintf("No 4xx beyond the pre-cutover rate during the cutover; the errors there were: %s.", d.classText(during)))
		if share >= 0.1 {
			conf = ConfidenceMedium
		}
		ev = append(ev, "Confidence "+conf+": sessions were re-pinned, but no session error (4xx) rose with it.")
	}
	return []candidate{{f: results.Finding{Cause: CauseAffinityBroken, Confidence: conf, Evidence: ev, Remedy: remedyAffinity}, rank: explained}}
}

// preExistingErrors finds errors before the first deploy-start (or in a
// run with no deploy). It explains the errors the pre-cutover rate
// predicts over the whole run.
func (d *diagnosis) preExistingErrors() []candidate {
	before := d.phaseMask(PhaseBefore)
	errsBefore := sumIn(d.all, before)
	if errsBefore == 0 {
		return nil
	}
	total := sum(d.all)
	withErr := nonZeroMask(d.all).and(before).count()
	rank := total
	var ev []string
	if d.hasCutover {
		rank = min(total, d.baseRate*sum(d.req))
		ev = append(ev, fmt.Sprintf("%s errors in %s requests (%s) in the %d periods of %s before the first deploy-start at %s UTC, in %d of them: the service was failing before the cutover.",
			num(errsBefore), num(sumIn(d.req, before)), pct(d.baseRate), before.count(), periodText(d.g.period), clock(d.deployAt), withErr))
		during := d.phaseMask(PhaseDuring)
		ev = append(ev, fmt.Sprintf("The error rate was %s before the cutover and %s during it.", pct(d.baseRate), pct(d.rateIn(d.all, during))))
	} else {
		ev = append(ev, fmt.Sprintf("Nothing was deployed in this run: all %s errors (%s of %s requests) are the service's steady state, in %d of %d periods of %s.",
			num(total), pct(d.baseRate), num(sum(d.req)), withErr, len(d.buckets), periodText(d.g.period)))
	}
	ev = append(ev, "By class before the cutover: "+d.classText(before)+".")
	remedy := slices.Clone(remedyPreExisting)
	if drops, ok := d.dropSignal(ReasonOutOfResources); ok {
		if n := sumIn(drops.at(0), before); n > 0 {
			errs := slices.Clone(d.all)
			for k := range errs {
				if !before[k] {
					errs[k] = 0
				}
			}
			co := overlap(errs, drops.at(0)) / errsBefore
			ev = append(ev, fmt.Sprintf("Cloud NAT dropped %s packets with reason OUT_OF_RESOURCES before the cutover; %s of the errors before it fell in periods with drops: ports run out in steady state, as with connection churn (a new connection per call, each port held in TIME_WAIT).",
				num(n), pct(co)))
			remedy = append(remedy, remedyPreExistingNAT...)
		}
	}
	if nc, ok := sumSignals(d.sigs, QueryNATNewConnections, func(s signal) bool { return s.query == QueryNATNewConnections }); ok && before.count() > 0 {
		if mean := sumIn(nc.at(0), before) / float64(before.count()); mean > 0 {
			ev = append(ev, fmt.Sprintf("nat_new_connections averaged %s per period before the cutover.", num(float64(int64(mean+0.5)))))
		}
	}
	conf := ConfidenceLow
	switch {
	case withErr >= 2 && errsBefore >= 3:
		conf = ConfidenceHigh
	case errsBefore >= 3:
		conf = ConfidenceMedium
	}
	ev = append(ev, fmt.Sprintf("Confidence %s: %s errors in %d periods before the cutover.", conf, num(errsBefore), withErr))
	return []candidate{{f: results.Finding{Cause: CausePreExistingErrors, Confidence: conf, Evidence: ev, Remedy: remedy}, rank: rank}}
}

// upstreamTimeout finds 504 "upstream request timeout" responses. It
// explains those that no NAT signal coincides with; the others are most
// likely a symptom of the NAT cause.
func (d *diagnosis) upstreamTimeout() []candidate {
	ut := classVector(d.buckets, results.UpstreamTimeout)
	total := sum(ut)
	if total == 0 {
		return nil
	}
	natAt := make(mask, len(d.buckets))
	for _, s := range d.sigs {
		if s.query == QueryNATDropped || s.query == QueryNATAllocationFailed {
			natAt = natAt.or(nonZeroMask(s.at(0)))
		}
	}
	inNAT := sumIn(ut, natAt.dilate(1))
	ev := []string{fmt.Sprintf("%s responses were 504 upstream request timeout (%s of all errors), %s.",
		num(total), pct(total/sum(d.all)), d.spanText(nonZeroMask(ut)))}
	conf := ConfidenceMedium
	share := inNAT / total
	if inNAT > 0 {
		ev = append(ev, fmt.Sprintf("%s of them fell in or next to periods with Cloud NAT drops or allocation failures: most likely the same cause, an outbound connection that stalled until the request timed out.", pct(share)))
	} else {
		ev = append(ev, "No Cloud NAT drop or allocation failure coincides with them: a dependency was slow.")
	}
	if share >= HighCoOccurrence {
		conf = ConfidenceLow
		ev = append(ev, "Confidence low as a cause of its own: it is a symptom of the NAT finding.")
	} else {
		ev = append(ev, "Confidence medium: the timeouts are measured, the slow dependency is not named.")
	}
	return []candidate{{f: results.Finding{Cause: CauseUpstreamTimeout, Confidence: conf, Evidence: ev, Remedy: remedyUpstream}, rank: total - inNAT}}
}

// loadGeneratorSaturated reports a generator that could not keep up; it
// explains no error, so it comes last, but it is found even with none.
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
		ev = append(ev, fmt.Sprintf("It sent %.1f requests/s of the %.1f asked (%s).", l.AchievedRate, l.AskedRate, pct(l.AchievedRate/l.AskedRate)))
	}
	if l.Workers > 0 {
		ev = append(ev, fmt.Sprintf("It used up to %d workers.", l.Workers))
	}
	ev = append(ev, "The service saw less load than asked, so a pass does not show that it copes with the asked load.")
	return []candidate{{f: results.Finding{Cause: CauseLoadGeneratorSaturated, Confidence: ConfidenceHigh, Evidence: ev, Remedy: remedySaturated}, rank: -1}}
}
