package correlate

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// The ECS side (incident 001): a task replaced with an image the ECR
// lifecycle policy deleted cannot start, the tasks left dwindle, the one
// left is overloaded (504) and then none is left (503). Every rule here
// reads the ECS API's events (task-stopped, deployment, preflight-finding)
// and the CloudWatch series of the load balancer and the service, never
// the local cloud's internals.

// StopCodeFailedToStart is the stopCode ECS gives a task that never
// started (its image could not be pulled, its container could not be
// created).
const StopCodeFailedToStart = "TaskFailedToStart"

// Remedies of the ECS side, from seed 001.
var (
	remedyImageMissing = []string{
		"Redeploy with an image that exists in ECR (the fix that day).",
		"Keep more images: raise the lifecycle policy's countNumber, or expire by age (sinceImagePushed).",
		"Tag production images (e.g. prod-*) and give them a rule of higher priority, so only unused images expire.",
		"Build and push per environment: staging builds in their own repository.",
		"Deploy production more often, so its image is among the newest.",
		"Run `cutover preflight` before a deploy, or set preflight: strict.",
	}
	remedyNoHealthyTargets = []string{
		"Keep tasks registered and healthy while others are replaced: minimumHealthyPercent 100 (and maximumPercent 200), so ECS starts a replacement before it stops a task and the target group is never empty.",
		"Fix what removed the tasks: see image-missing when their replacements could not start, else the stopped tasks' stoppedReason.",
		"Run enough tasks that losing one or two still leaves healthy targets, spread over Availability Zones.",
	}
	remedyOverloaded = []string{
		"Scale out: more tasks (desiredCount), or target-tracking auto scaling on ALBRequestCountPerTarget or CPU, so the tasks left can carry the load.",
		"Keep capacity during replacements: minimumHealthyPercent 100 and maximumPercent 200, so a task is replaced before it is stopped.",
		"Fix what removed the tasks: see image-missing when their replacements could not start, else the stopped tasks' stoppedReason.",
	}
)

var (
	// imageRef is an ECR image reference by digest, as CannotPullContainerError names it.
	imageRef = regexp.MustCompile(`[0-9A-Za-z]+\.dkr\.ecr\.[0-9a-z-]+\.amazonaws\.com/[0-9A-Za-z._/-]+@sha256:[0-9a-fA-Fx]+`)
	// digestRef is any sha256 digest.
	digestRef = regexp.MustCompile(`sha256:[0-9a-fA-Fx]+`)
)

// pullFailed reports whether a stopped task's reason says its image could
// not be pulled: CannotPullContainerError, "not found", "manifest unknown".
func pullFailed(reason string) bool {
	m := strings.ToLower(reason)
	return imageMissing(m) || strings.Contains(m, "not found") || strings.Contains(m, "manifest unknown")
}

// failedStarts are the task-stopped events of tasks that failed to start
// because their image could not be pulled, oldest first.
func (d *diagnosis) failedStarts() []results.Event {
	var out []results.Event
	for _, e := range d.eventsOf(results.EventTaskStopped) {
		if e.Details["stop_code"] == StopCodeFailedToStart && pullFailed(stopReason(e)) {
			out = append(out, e)
		}
	}
	return out
}

// stopReason is what a task-stopped event says about why: its
// stoppedReason and its container's reason.
func stopReason(e results.Event) string {
	r, c := e.Details["stopped_reason"], e.Details["container_reason"]
	switch {
	case c == "" || strings.Contains(r, c):
		return r
	case r == "":
		return c
	}
	return r + "; " + c
}

// preflightWarnings are the preflight guard's findings of cause.
func (d *diagnosis) preflightWarnings(cause string) []results.Event {
	var out []results.Event
	for _, e := range d.eventsOf(results.EventPreflightFinding) {
		if e.Details["cause"] == cause {
			out = append(out, e)
		}
	}
	return out
}

// isFailure reports whether an error of class can be the service's
// failing: every class but 429 and the other 4xx.
func isFailure(class results.Class) bool {
	return class != results.ClassStatus429 && class != results.ClassStatusOther
}

// vectorOf counts per bucket the errors of the classes keep selects.
func (d *diagnosis) vectorOf(keep func(results.Class) bool) []float64 {
	v := make([]float64, len(d.buckets))
	for k, cell := range d.cells {
		for c, n := range cell {
			if keep(c) {
				v[k] += float64(n)
			}
		}
	}
	return v
}

// isClass returns a class filter for the classes given.
func isClass(classes ...results.Class) func(results.Class) bool {
	return func(c results.Class) bool { return slices.Contains(classes, c) }
}

// fromMask marks the buckets from k on.
func (d *diagnosis) fromMask(k int) mask {
	m := make(mask, len(d.buckets))
	for j := max(k, 0); j < len(m); j++ {
		m[j] = true
	}
	return m
}

// rateBefore is the rate of errs before the incident that begins in
// bucket k: the pre-cutover rate's buckets when the run has a cutover,
// else the buckets before k.
func (d *diagnosis) rateBefore(errs []float64, k int) float64 {
	if d.hasCutover {
		return d.rateIn(errs, d.phaseMask(PhaseBefore))
	}
	return d.rateIn(errs, d.fromMask(0).andNot(d.fromMask(k)))
}

// incidentStart is the bucket the incident starts in: the cutover's
// start (a deploy, a chaos action, a task stopped) when it comes before
// bucket k, else k.
func (d *diagnosis) incidentStart(k int) int {
	if d.hasCutover {
		return min(k, d.bucketOf(d.deployAt))
	}
	return k
}

// gauge is one CloudWatch query's values per bucket, the series summed
// over resources; seen marks the buckets from the series' first point to
// its last (inside them a gap is zero, as the ALB publishes only while
// requests flow).
type gauge struct {
	v    []float64
	seen mask
}

// metric returns the gauge of query; ok is false when no series of it
// has a point on the buckets.
func (d *diagnosis) metric(query results.Query) (g gauge, ok bool) {
	sig, found := sumSignals(d.sigs, string(query), func(s signal) bool { return s.query == query })
	if !found {
		return gauge{}, false
	}
	g = gauge{v: sig.at(0), seen: make(mask, len(d.buckets))}
	lo, hi := math.MaxInt, math.MinInt
	for _, s := range d.in.Series {
		if s.Query != query {
			continue
		}
		for _, p := range s.Points {
			k := d.g.index(p.Start) - d.first
			lo, hi = min(lo, k), max(hi, k)
		}
	}
	for k := max(lo, 0); k <= hi && k < len(g.seen); k++ {
		g.seen[k] = true
	}
	return g, g.seen.count() > 0
}

// before is the most the gauge read in the buckets before k (the
// capacity before the incident); ok is false when it read none there.
func (g gauge) before(k int) (most float64, ok bool) {
	for j := 0; j < k && j < len(g.v); j++ {
		if g.seen[j] {
			most, ok = max(most, g.v[j]), true
		}
	}
	return most, ok
}

// below marks the buckets the gauge saw under level.
func (g gauge) below(level float64) mask {
	m := make(mask, len(g.v))
	for k, v := range g.v {
		m[k] = g.seen[k] && v < level
	}
	return m
}

// fall describes how the gauge fell from bucket k on, from what it read
// before: "from 3 to 1 (12:04:00 UTC), then 0 (12:08:00 UTC)"; "" when it
// did not fall.
func (d *diagnosis) fall(g gauge, k int) string {
	base, ok := g.before(k)
	if !ok {
		return ""
	}
	low := base
	var steps []string
	for j := max(k, 0); j < len(g.v); j++ {
		if g.seen[j] && g.v[j] < low {
			low = g.v[j]
			steps = append(steps, fmt.Sprintf("%s (%s UTC)", level(low), clock(d.buckets[j].Start)))
		}
	}
	if len(steps) == 0 {
		return ""
	}
	if len(steps) > 3 {
		steps = append(steps[:2], steps[len(steps)-1])
	}
	return fmt.Sprintf("from %s to %s", level(base), strings.Join(steps, ", then "))
}

// level formats a gauge's value, a period's average: "3", "2.3".
func level(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// albCounts says what the ALB counted in the marked buckets: "The load
// balancer itself counted 5,400 answers 504 Gateway Time-out and 20,000
// answers 503 Service Unavailable, 25,400 5XX in all (HTTPCode_ELB_5XX_Count) in
// those periods."; "" when it counted none.
func (d *diagnosis) albCounts(m mask) string {
	var parts []string
	for _, q := range []struct {
		query results.Query
		what  string
	}{{results.QueryALB504, "answers 504 Gateway Time-out"}, {results.QueryALB503, "answers 503 Service Unavailable"}} {
		if g, ok := d.metric(q.query); ok {
			if n := sumIn(g.v, m); n > 0 {
				parts = append(parts, num(n)+" "+q.what)
			}
		}
	}
	s := strings.Join(parts, " and ")
	if g, ok := d.metric(results.QueryALB5XX); ok {
		if n := sumIn(g.v, m); n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s 5XX in all (HTTPCode_ELB_5XX_Count)", num(n))
		}
	}
	if s == "" {
		return ""
	}
	return "The load balancer itself counted " + s + " in those periods."
}

// example quotes a stop reason, cut at n runes.
func example(reason string, n int) string {
	r := []rune(strings.TrimSpace(reason))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// imageMissingCause finds tasks that failed to start because their image
// could not be pulled (task-stopped, stopCode TaskFailedToStart,
// CannotPullContainerError), and the preflight guard's image-missing
// warnings. It claims the failures (every error but 4xx) from the first
// failed start on, above their rate before the incident: the tasks that
// could not be replaced are why the tasks left were overloaded and then
// gone, so it comes before overloaded-target and no-healthy-targets in
// the attribution. Like revision-not-ready it is found whatever the
// errors; it explains the verdict by itself when the deployment failed.
func (d *diagnosis) imageMissingCause() []candidate {
	fails, warned := d.failedStarts(), d.preflightWarnings(CauseImageMissing)
	if len(fails) == 0 && len(warned) == 0 {
		return nil
	}
	f := results.Finding{Cause: CauseImageMissing, Confidence: ConfidenceHigh, Remedy: remedyImageMissing}
	if len(fails) == 0 {
		f.Confidence = ConfidenceMedium
		f.Evidence = append(d.preflightText(warned), "No task failed to start during the run: the image is missing, but nothing needed it yet.",
			"Confidence medium: the preflight guard found the image missing; the run did not replace a task.")
		return []candidate{{f: f}}
	}
	k := d.bucketOf(fails[0].At)
	failures := d.vectorOf(isFailure)
	rate := d.rateBefore(failures, d.incidentStart(k))
	f.Evidence = d.failedStartText(fails)
	fell := d.capacityText(k)
	f.Evidence = append(f.Evidence, fell...)
	var cl claim
	from := d.fromMask(k)
	switch {
	case d.excessIn(failures, from, rate) > 0:
		cl = d.claimAbove(from, isFailure, rate)
		above := d.aboveIn(failures, from, rate)
		if above.count() == 0 {
			above = nonZeroMask(failures).and(from)
		}
		f.Evidence = append(f.Evidence, fmt.Sprintf("From the first failed start on (%s), %s.", d.spanText(above), d.errorsIn(above, "followed", cl.covered(d.cells), rate)))
		if s := d.albCounts(above); s != "" {
			f.Evidence = append(f.Evidence, s)
		}
	case sum(d.all) == 0:
		f.Evidence = append(f.Evidence, "No client saw an error: the tasks left carried the load.")
	default:
		f.Evidence = append(f.Evidence, "No errors beyond the rate before the incident followed: the tasks left carried the load.")
	}
	f.Evidence = append(f.Evidence, d.preflightText(warned)...)
	switch {
	case cl.limit == nil:
		f.Evidence = append(f.Evidence, "Confidence high: ECS reported the failed starts.")
	case len(fell) > 0:
		f.Evidence = append(f.Evidence, "Confidence high: ECS reported the failed starts, the service's capacity fell and the errors followed.")
	default:
		f.Confidence = ConfidenceMedium
		f.Evidence = append(f.Evidence, "Confidence medium: ECS reported the failed starts and the errors followed, but no CloudWatch series shows the healthy hosts or running tasks falling.")
	}
	return []candidate{{f: f, claim: cl, verdict: d.cutoverFailed()}}
}

// failedStartText says how many tasks failed to start, when, why (one
// example of ECS's reason and the image it names), and what stopped the
// tasks they were to replace.
func (d *diagnosis) failedStartText(fails []results.Event) []string {
	first, last := fails[0], fails[len(fails)-1]
	tasks := map[string]bool{}
	for _, e := range fails {
		tasks[e.Details["task"]] = true
	}
	when := "at " + d.at(first.At)
	if len(fails) > 1 {
		when = "from " + d.at(first.At) + " to " + clock(last.At) + " UTC"
	}
	ev := []string{fmt.Sprintf("%s failed to start (stopCode %s) %s: ECS could not pull the image.",
		verbCount(int64(len(tasks)), "task", "tasks"), StopCodeFailedToStart, when)}
	reason := stopReason(first)
	ev = append(ev, fmt.Sprintf("ECS's reason: %q.", example(reason, 400)))
	if ref := imageRef.FindString(reason); ref != "" {
		ev = append(ev, fmt.Sprintf("The image %s is gone from its ECR repository (a lifecycle policy expires images beyond its count, whatever ECS still runs).", ref))
	} else if dg := digestRef.FindString(reason); dg != "" {
		ev = append(ev, fmt.Sprintf("The digest %s is gone from its ECR repository.", dg))
	}
	if s := d.removedText(first, last); s != "" {
		ev = append(ev, s)
	}
	return ev
}

// removedText says what stopped the tasks the failed starts were to
// replace: the chaos action and the tasks stopped otherwise, up to the
// last failed start.
func (d *diagnosis) removedText(first, last results.Event) string {
	var stopped []results.Event
	for _, e := range d.eventsOf(results.EventTaskStopped) {
		if !e.At.After(last.At) && e.Details["stop_code"] != StopCodeFailedToStart {
			stopped = append(stopped, e)
		}
	}
	var parts []string
	for _, e := range d.eventsOf(results.EventChaos) {
		if !e.At.After(first.At) {
			parts = append(parts, fmt.Sprintf("the chaos action %s at %s", e.Details["action"], d.at(e.At)))
		}
	}
	if len(stopped) > 0 {
		s := fmt.Sprintf("%s stopped first, from %s", verbCount(int64(len(stopped)), "running task was", "running tasks were"), d.at(stopped[0].At))
		if r := stopReason(stopped[0]); r != "" {
			s += fmt.Sprintf(", %s: %s", stopped[0].Details["stop_code"], example(r, 160))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	return "What the failed starts were to replace: " + s + "."
}

// capacityText says how the load balancer's healthy hosts and the
// service's running tasks fell from bucket k on; none when neither
// series shows a fall.
func (d *diagnosis) capacityText(k int) []string {
	var out []string
	from := d.incidentStart(k)
	if g, ok := d.metric(results.QueryALBHealthyHosts); ok {
		if s := d.fall(g, from); s != "" {
			out = append(out, "The load balancer's healthy hosts (HealthyHostCount) fell "+s+".")
		}
	}
	if g, ok := d.metric(results.QueryECSRunningTasks); ok {
		if s := d.fall(g, from); s != "" {
			out = append(out, "The service's running tasks (RunningTaskCount) fell "+s+": fewer tasks ran than before.")
		}
	}
	return out
}

// preflightText quotes the preflight guard's warnings.
func (d *diagnosis) preflightText(warned []results.Event) []string {
	var out []string
	for _, e := range warned {
		msg := strings.TrimSuffix(cmp.Or(e.Details["message"], e.Details["image"]), ".")
		out = append(out, fmt.Sprintf("The preflight guard warned before the load: %s.", msg))
	}
	return out
}

// cutoverFailed reports whether the cutover failed by itself: an action
// failed, or an ECS deployment's rollout failed.
func (d *diagnosis) cutoverFailed() bool {
	if len(d.eventsOf(results.EventActionFailed)) > 0 {
		return true
	}
	for _, e := range d.eventsOf(results.EventDeployment) {
		if strings.EqualFold(e.Details["rollout_state"], "FAILED") {
			return true
		}
	}
	return false
}

// capacity is the load balancer's healthy hosts and the service's running
// tasks, as far as CloudWatch returned them.
type capacity struct {
	hosts, tasks     gauge
	hostsOK, tasksOK bool
}

func (d *diagnosis) capacity() capacity {
	var c capacity
	c.hosts, c.hostsOK = d.metric(results.QueryALBHealthyHosts)
	c.tasks, c.tasksOK = d.metric(results.QueryECSRunningTasks)
	return c
}

// noHealthyTargets finds client 503s in the periods where the load
// balancer answered 503 itself (HTTPCode_ELB_503_Count) with no healthy
// host, or no running task: the ALB answers 503 when its target group has
// no registered target. It claims those 503s above their rate before the
// incident. It is the mechanism, not the root cause: a cause that says
// why the tasks went (image-missing) takes them first, and it stays among
// the causes beside it.
func (d *diagnosis) noHealthyTargets() []candidate {
	alb, ok := d.metric(results.QueryALB503)
	c := d.capacity()
	if !ok || (!c.hostsOK && !c.tasksOK) {
		return nil
	}
	empty := make(mask, len(d.buckets))
	for k := range empty {
		noHosts := c.hostsOK && c.hosts.seen[k] && c.hosts.v[k] == 0
		noTasks := c.tasksOK && c.tasks.seen[k] && c.tasks.v[k] == 0
		empty[k] = alb.v[k] > 0 && (noHosts || noTasks)
	}
	is503 := isClass(results.ClassStatus503)
	errs := d.vectorOf(is503)
	lo, _, ok := empty.span()
	if !ok {
		return nil
	}
	rate := d.rateBefore(errs, d.incidentStart(lo))
	if d.excessIn(errs, empty, rate) == 0 {
		return nil
	}
	cl := d.claimAbove(empty, is503, rate)
	above := d.aboveIn(errs, empty, rate)
	if above.count() == 0 {
		above = nonZeroMask(errs).and(empty)
	}
	which := "HealthyHostCount 0"
	conf := ConfidenceHigh
	if !c.hostsOK || c.hosts.below(1).and(above).count() == 0 {
		which, conf = "RunningTaskCount 0", ConfidenceMedium
	}
	ev := []string{
		fmt.Sprintf("%s (status_503) in %s of %s (%s), where the load balancer had no healthy target (%s) and answered 503 itself: %s (HTTPCode_ELB_503_Count).",
			plural(cl.covered(d.cells), "client 503s"), plural(int64(above.count()), "periods"), periodText(d.g.period), d.spanText(above), which, perPeriod(alb.v, above)),
		"The ALB answers 503 when the target group has no registered targets (or all of them are unused): no task was registered and healthy, so no request reached the service.",
	}
	ev = append(ev, d.capacityText(lo)...)
	if conf == ConfidenceHigh {
		ev = append(ev, "Confidence high: the load balancer's own 503 count and its healthy hosts at 0 match the clients' 503s, period by period.")
	} else {
		ev = append(ev, "Confidence medium: the load balancer counted the 503s and no task ran, but its healthy hosts were not measured at 0.")
	}
	return []candidate{{f: results.Finding{Cause: CauseNoHealthyTargets, Confidence: conf, Evidence: ev, Remedy: remedyNoHealthyTargets}, claim: cl, mechanism: true}}
}

// perPeriod lists v in the marked buckets: "1,200, 1,500 and 1,400 per
// period", the first few and the last.
func perPeriod(v []float64, m mask) string {
	var parts []string
	for k, on := range m {
		if on {
			parts = append(parts, num(v[k]))
		}
	}
	if len(parts) > 6 {
		parts = append(parts[:4], "…", parts[len(parts)-1])
	}
	if len(parts) == 1 {
		return parts[0] + " in that period"
	}
	return strings.Join(parts[:len(parts)-1], "; ") + " and " + parts[len(parts)-1] + " per period"
}

// overloadedTarget finds client 504s (and client timeouts) in the periods
// where the load balancer answered 504 itself (HTTPCode_ELB_504_Count)
// while it had fewer healthy hosts, or the service fewer running tasks,
// than before the incident: the few tasks left did not answer within the
// ALB's idle timeout. It claims those errors above their rate before the
// incident. Like no-healthy-targets it is the mechanism: image-missing
// takes them first, and it stays among the causes beside it.
func (d *diagnosis) overloadedTarget() []candidate {
	alb, ok := d.metric(results.QueryALB504)
	c := d.capacity()
	if !ok || (!c.hostsOK && !c.tasksOK) || sum(alb.v) == 0 {
		return nil
	}
	ref := d.incidentStart(len(d.buckets))
	if !d.hasCutover {
		ref, _, _ = nonZeroMask(alb.v).span()
	}
	fewer, hostsFell := d.fewer(c, ref)
	hit := nonZeroMask(alb.v).and(fewer)
	is504 := isClass(results.ClassStatus504, results.ClassResponseTimeout)
	errs := d.vectorOf(is504)
	lo, _, ok := hit.span()
	if !ok {
		return nil
	}
	rate := d.rateBefore(errs, d.incidentStart(lo))
	if d.excessIn(errs, hit, rate) == 0 {
		return nil
	}
	cl := d.claimAbove(hit, is504, rate)
	above := d.aboveIn(errs, hit, rate)
	if above.count() == 0 {
		above = nonZeroMask(errs).and(hit)
	}
	got := plural(int64(sumIn(classVector(d.buckets, results.ClassStatus504), above)), "504 responses") + " (status_504)"
	if n := int64(sumIn(classVector(d.buckets, results.ClassResponseTimeout), above)); n > 0 {
		got += fmt.Sprintf(" and %s out at the client (response_timeout)", verbCount(n, "request timed", "requests timed"))
	}
	ev := []string{
		fmt.Sprintf("Clients got %s in %s of %s (%s), where the load balancer answered 504 itself (HTTPCode_ELB_504_Count: %s) with fewer tasks behind it than before.",
			got, plural(int64(above.count()), "periods"), periodText(d.g.period), d.spanText(above), perPeriod(alb.v, above)),
		"The ALB answers 504 when a registered target does not answer within its idle timeout: the few tasks left could not keep up with the load of all of them (with every task gone it answers 503 instead).",
	}
	ev = append(ev, d.capacityText(ref)...)
	if s := d.responseTimeText(ref, above); s != "" {
		ev = append(ev, s)
	}
	conf := ConfidenceHigh
	if hostsFell {
		ev = append(ev, "Confidence high: the load balancer's own 504 count and its fewer healthy hosts match the clients' 504s, period by period.")
	} else {
		conf = ConfidenceMedium
		ev = append(ev, "Confidence medium: the load balancer counted the 504s while fewer tasks ran, but its healthy hosts were not seen falling.")
	}
	return []candidate{{f: results.Finding{Cause: CauseOverloadedTarget, Confidence: conf, Evidence: ev, Remedy: remedyOverloaded}, claim: cl, mechanism: true}}
}

// fewer marks the buckets with fewer healthy hosts, or else fewer running
// tasks, than the most before bucket ref (before any bucket: the most the
// run saw); hostsFell says the healthy hosts mark them.
func (d *diagnosis) fewer(c capacity, ref int) (m mask, hostsFell bool) {
	m = make(mask, len(d.buckets))
	level := func(g gauge) float64 {
		if base, ok := g.before(ref); ok {
			return base
		}
		base, _ := g.before(len(g.v))
		return base
	}
	if c.hostsOK {
		m = c.hosts.below(level(c.hosts))
		hostsFell = m.count() > 0
	}
	if c.tasksOK {
		m = m.or(c.tasks.below(level(c.tasks)))
	}
	return m, hostsFell
}

// responseTimeText compares TargetResponseTime in the marked buckets with
// before bucket ref; "" without the series.
func (d *diagnosis) responseTimeText(ref int, m mask) string {
	g, ok := d.metric(results.QueryALBResponseTime)
	if !ok {
		return ""
	}
	var before float64
	n := 0
	for k := 0; k < ref && k < len(g.v); k++ {
		if g.seen[k] {
			before += g.v[k]
			n++
		}
	}
	peak, _ := d.peak(results.QueryALBResponseTime, m)
	if n == 0 || peak <= before/float64(n) {
		return ""
	}
	return fmt.Sprintf("The targets' response time (TargetResponseTime) rose from %s before to %s in those periods.", seconds(before/float64(n)), seconds(peak))
}

// seconds formats a CloudWatch time in seconds: "0.05 s", "9.8 s", "12 s".
func seconds(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.0f s", v)
	case v >= 1:
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("%.2f s", v)
}
