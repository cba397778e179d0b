package scenarios

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks every rule that spans fields (one load model, requests
// that resolve, positive durations, …) and returns every problem at once as
// a *Problems, or nil. Parse runs the same rules with file positions;
// Validate serves scenarios built in code, whose problems have a path but no
// position.
func (s *Scenario) Validate() error {
	return problemsError(validate(s, nil))
}

// validator collects problems; locate, when not nil, finds a path's
// position in the file.
type validator struct {
	file     string
	locate   func(path string) (line, col int)
	problems []Problem
}

func (v *validator) addf(path, format string, args ...any) {
	p := Problem{File: v.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if v.locate != nil {
		p.Line, p.Col = v.locate(path)
	}
	v.problems = append(v.problems, p)
}

func validate(s *Scenario, locate func(path string) (line, col int)) []Problem {
	v := &validator{file: s.File, locate: locate}
	switch {
	case s.Version == 0:
		v.addf("version", "required; start the file with version: 1")
	case s.Version != 1:
		v.addf("version", "unsupported version %d; this cutover reads version 1", s.Version)
	}
	if strings.TrimSpace(s.Name) == "" {
		v.addf("name", "required; name the scenario in lower case with dashes, e.g. name: checkout-cutover")
	}
	if s.Target.URL != "" {
		if msg := checkHTTPURL(s.Target.URL); msg != "" {
			v.addf("target.url", "%q: %s", s.Target.URL, msg)
		}
	}
	v.load(&s.Load, s.Target.URL != "" || s.Target.Platform != "" || s.LocalCloud.Present())
	v.target(s)
	v.actions(s)
	v.verdict(&s.Verdict, &s.Load)
	v.localCloud("localcloud", &s.LocalCloud)
	v.metrics(s)
	v.preflight(s)
	v.compare(&s.Compare)
	return v.problems
}

func (v *validator) load(l *Load, hasTarget bool) {
	if len(l.Requests) == 0 {
		v.addf("load.requests", "at least one request is required, e.g. requests: [{path: /}]")
	}
	v.listMax("load.requests", len(l.Requests), maxRequests, "requests")
	for i, r := range l.Requests {
		v.request(fmt.Sprintf("load.requests[%d]", i), r, hasTarget)
	}

	hasRate, hasStages, hasConc := !l.Rate.IsZero(), len(l.Stages) > 0, l.Concurrency != 0
	switch {
	case !hasRate && !hasStages && !hasConc:
		v.addf("load", "no load model; set rate (e.g. rate: 100/s), stages (a ramp) or concurrency (a closed model)")
	case hasRate && hasStages:
		v.addf("load.stages", "cannot be combined with load.rate; use rate for a constant load or stages for a ramp")
	}
	if hasConc && (hasRate || hasStages) {
		v.addf("load.concurrency", "cannot be combined with load.rate or load.stages; "+
			"choose the open model (rate, stages) or the closed one (concurrency)")
	}
	if hasRate {
		v.rate("load.rate", l.Rate, false)
	}
	if !l.StartRate.IsZero() {
		if !hasStages {
			v.addf("load.start_rate", "only used with stages; remove it or add stages")
		} else {
			v.rate("load.start_rate", l.StartRate, true)
		}
	}
	v.listMax("load.stages", len(l.Stages), maxStages, "stages")
	for i, st := range l.Stages {
		p := fmt.Sprintf("load.stages[%d]", i)
		if st.For == 0 {
			v.addf(p+".for", "required; how long this ramp lasts, e.g. for: 30s")
		} else {
			v.durationIn(p+".for", st.For, minStageFor, maxLoadDuration)
		}
		if st.Rate.IsZero() {
			v.addf(p+".rate", "required; the rate this stage ramps to, e.g. rate: 100/s")
		} else {
			v.rate(p+".rate", st.Rate, true)
		}
	}
	v.intIn("load.concurrency", int64(l.Concurrency), 0, maxConcurrency, "")

	if l.Duration == 0 {
		v.addf("load.duration", "required; how long load runs, e.g. duration: 5m")
	} else {
		v.durationIn("load.duration", l.Duration, time.Millisecond, maxLoadDuration)
	}
	v.durationIn("load.timeout", l.Timeout, minTimeout, maxTimeout)
	v.durationIn("load.window", l.Window, minWindow, maxWindow)
	if w := l.Window.D(); w >= minWindow && w <= maxWindow {
		if d := l.Duration.D(); d > 0 && d <= maxLoadDuration && (d+w-1)/w > maxWindows {
			v.addf("load.window", "%s over a load of %s is %d windows; at most %d (widen the window to %s)",
				l.Window, l.Duration, (d+w-1)/w, maxWindows, ceilMillis(d/maxWindows))
		}
		if t := l.Timeout.D(); t > 0 && t <= maxTimeout && t/w > maxOpenWindows {
			v.addf("load.window", "%s with a timeout of %s keeps up to %d windows open; at most %d (widen the window to %s or shorten the timeout)",
				l.Window, l.Timeout, t/w, maxOpenWindows, ceilMillis(t/maxOpenWindows))
		}
	}
	v.intIn("load.max_workers", int64(l.MaxWorkers), 1, maxWorkers, "")
	v.intIn("load.connections", int64(l.Connections), 0, maxConnections, "0 means no bound")
	if l.RevisionHeader != "" && !isToken(l.RevisionHeader) {
		v.addf("load.revision_header", "%q: not a valid header name", l.RevisionHeader)
	}
	v.intIn("load.sessions.count", int64(l.Sessions.Count), 0, maxSessions, "")
	if l.Sessions.Cookies && l.Sessions.Count < 1 {
		v.addf("load.sessions.cookies", "needs sessions.count of at least 1: each session has its own cookie jar")
	}
}

func (v *validator) request(p string, r Request, hasTarget bool) {
	switch {
	case r.URL != "" && r.Path != "":
		v.addf(p, "set url or path, not both")
	case r.URL == "" && r.Path == "":
		v.addf(p, "set url (absolute) or path (resolved against target.url)")
	}
	if r.URL != "" {
		if msg := checkHTTPURL(r.URL); msg != "" {
			v.addf(p+".url", "%q: %s", r.URL, msg)
		} else if u, _ := url.Parse(r.URL); hasDotDot(u.EscapedPath()) {
			v.addf(p+".url", "%q: the path has a .. segment; write the path it means", r.URL)
		}
	}
	if r.Path != "" {
		u, err := url.Parse(r.Path)
		switch {
		case err != nil || u.Scheme != "" || u.Host != "":
			v.addf(p+".path", "%q: must be a path such as /api/items; use url for an absolute URL", r.Path)
		case !strings.HasPrefix(r.Path, "/"):
			v.addf(p+".path", "%q: must start with /, e.g. /%s", r.Path, strings.TrimPrefix(r.Path, "./"))
		case hasDotDot(u.EscapedPath()):
			v.addf(p+".path", "%q: has a .. segment; write the path it means", r.Path)
		case !hasTarget:
			v.addf(p+".path", "needs target.url to resolve against (or write an absolute url instead)")
		}
	}
	switch {
	case r.Method == "":
		v.addf(p+".method", "required, e.g. GET")
	case !isToken(r.Method):
		v.addf(p+".method", "%q: not a valid HTTP method", r.Method)
	}
	v.intIn(p+".weight", int64(r.Weight), 1, maxWeight, "")
	v.listMax(p+".headers", len(r.Headers), maxHeaders, "headers")
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !isToken(k):
			v.addf(p+".headers."+k, "%q: not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)", k)
		case strings.ContainsFunc(r.Headers[k], isCTL):
			v.addf(p+".headers."+k, "%q: the value must not contain line breaks or other control characters", r.Headers[k])
		}
	}
}

// isCTL reports whether r is a control character that an HTTP field value
// cannot hold (every one but tab).
func isCTL(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

// hasDotDot reports whether an escaped URL path has a ".." segment, also
// when it is percent-encoded (%2e%2e).
func hasDotDot(escaped string) bool {
	for seg := range strings.SplitSeq(escaped, "/") {
		if seg == ".." {
			return true
		}
		if unescaped, err := url.PathUnescape(seg); err == nil && unescaped == ".." {
			return true
		}
	}
	return false
}

// wholeRunLatencies are the latency metrics known only at the end of a run:
// an abort threshold cannot test them live.
var wholeRunLatencies = []MetricName{MetricP90, MetricP95, MetricMax, MetricMean}

func (v *validator) verdict(vd *Verdict, l *Load) {
	v.intIn("verdict.max_errors", vd.MaxErrors, 0, maxCount, "")
	v.intIn("verdict.min_requests", vd.MinRequests, 0, maxCount, "")
	v.listMax("verdict.thresholds", len(vd.Thresholds), maxThresholds, "thresholds")
	for i, t := range vd.Thresholds {
		p := fmt.Sprintf("verdict.thresholds[%d]", i)
		if _, ok := lookupMetric(t.Metric); !ok {
			v.addf(p, "%q: unknown metric %q%s; metrics are %s",
				t, t.Metric, didYouMean(string(t.Metric), metricNames()), strings.Join(metricNames(), ", "))
		}
		if !slices.Contains(thresholdOps, t.Op) {
			v.addf(p, "%q: unknown operator %q; %s", t, t.Op, thresholdHelp)
		}
		if t.Abort && slices.Contains(wholeRunLatencies, t.Metric) {
			v.addf(p, "%q: abort: true needs a metric known while the run goes: a count, error_rate, p50 or p99 (of the last window), not %s",
				t.Expr, t.Metric)
		}
	}
	if a := vd.Abort; a != nil {
		switch {
		case a.ErrorRate == 0:
			v.addf("verdict.abort.error_rate", "required, above 0%%: the error rate that stops the run, e.g. error_rate: 5%%")
		case a.ErrorRate < 0 || a.ErrorRate > 1:
			v.addf("verdict.abort.error_rate", "must be above 0%% and at most 100%%, got %s", formatPercent(a.ErrorRate))
		}
		switch {
		case a.For == 0:
			v.addf("verdict.abort.for", "required; how long the error rate must stay above it, e.g. for: 10s")
		case a.For < l.Window || l.Duration > 0 && a.For > l.Duration:
			v.addf("verdict.abort.for", "must be between the load window (%s) and the load duration (%s), got %s", l.Window, l.Duration, a.For)
		}
		v.intIn("verdict.abort.min_requests", int64(a.MinRequests), 1, maxCount, "")
	}
	v.durationIn("verdict.observe_after_abort", vd.ObserveAfterAbort, 0, maxObserveAfterAbort)
}

// ceilMillis returns d rounded up to a whole millisecond, for suggestions.
func ceilMillis(d time.Duration) Duration {
	return Duration((d + time.Millisecond - 1).Truncate(time.Millisecond))
}

// formatPercent writes a fraction as a percentage: 0.05 as 5%.
func formatPercent(f float64) string {
	return strconv.FormatFloat(f*100, 'g', -1, 64) + "%"
}

// checkHTTPURL returns what is wrong with u as an absolute http(s) URL, or
// "" if nothing is.
func checkHTTPURL(u string) string {
	parsed, err := url.Parse(u)
	switch {
	case err != nil || parsed.Scheme != "http" && parsed.Scheme != "https":
		return "must be an absolute http:// or https:// URL"
	case parsed.Host == "":
		return "has no host"
	}
	return ""
}

// isToken reports whether s is an RFC 9110 token, the syntax of HTTP
// methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
