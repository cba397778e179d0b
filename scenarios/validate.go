package scenarios

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
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
	v.load(&s.Load, s.Target.URL != "" || s.Target.Platform != "" || s.LocalCloud.Enabled())
	v.target(s)
	v.actions(s)
	v.verdict(&s.Verdict)
	v.localCloud("localcloud", &s.LocalCloud)
	v.metrics(s)
	return v.problems
}

func (v *validator) load(l *Load, hasTarget bool) {
	if len(l.Requests) == 0 {
		v.addf("load.requests", "at least one request is required, e.g. requests: [{path: /}]")
	}
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
	if hasRate && (l.Rate.Freq <= 0 || l.Rate.Per <= 0) {
		v.addf("load.rate", "%q: rate must be positive", l.Rate)
	}
	if !l.StartRate.IsZero() {
		switch {
		case !hasStages:
			v.addf("load.start_rate", "only used with stages; remove it or add stages")
		case l.StartRate.Freq < 0 || l.StartRate.Per <= 0:
			v.addf("load.start_rate", "%q: rate must not be negative", l.StartRate)
		}
	}
	for i, st := range l.Stages {
		p := fmt.Sprintf("load.stages[%d]", i)
		switch {
		case st.For == 0:
			v.addf(p+".for", "required; how long this ramp lasts, e.g. for: 30s")
		case st.For < 0:
			v.addf(p+".for", "must be positive, got %s", st.For)
		}
		switch {
		case st.Rate.IsZero():
			v.addf(p+".rate", "required; the rate this stage ramps to, e.g. rate: 100/s")
		case st.Rate.Freq < 0 || st.Rate.Per <= 0:
			v.addf(p+".rate", "%q: rate must not be negative", st.Rate)
		}
	}
	if l.Concurrency < 0 {
		v.addf("load.concurrency", "must not be negative, got %d", l.Concurrency)
	}

	switch {
	case l.Duration == 0:
		v.addf("load.duration", "required; how long load runs, e.g. duration: 5m")
	case l.Duration < 0:
		v.addf("load.duration", "must be positive, got %s", l.Duration)
	}
	if l.Timeout <= 0 {
		v.addf("load.timeout", "must be positive, got %s", l.Timeout)
	}
	if l.Window <= 0 {
		v.addf("load.window", "must be positive, got %s", l.Window)
	}
	if l.MaxWorkers < 1 {
		v.addf("load.max_workers", "must be at least 1, got %d", l.MaxWorkers)
	}
	if l.Connections < 0 {
		v.addf("load.connections", "must not be negative, got %d (0 means no bound)", l.Connections)
	}
	if l.RevisionHeader != "" && !isToken(l.RevisionHeader) {
		v.addf("load.revision_header", "%q: not a valid header name", l.RevisionHeader)
	}
	if l.Sessions.Count < 0 {
		v.addf("load.sessions.count", "must not be negative, got %d", l.Sessions.Count)
	}
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
		}
	}
	if r.Path != "" {
		if u, err := url.Parse(r.Path); err != nil || u.Scheme != "" || u.Host != "" {
			v.addf(p+".path", "%q: must be a relative URL such as /api/items; use url for an absolute one", r.Path)
		} else if !hasTarget {
			v.addf(p+".path", "needs target.url to resolve against (or write an absolute url instead)")
		}
	}
	switch {
	case r.Method == "":
		v.addf(p+".method", "required, e.g. GET")
	case !isToken(r.Method):
		v.addf(p+".method", "%q: not a valid HTTP method", r.Method)
	}
	if r.Weight < 1 {
		v.addf(p+".weight", "must be at least 1, got %d", r.Weight)
	}
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !isToken(k):
			v.addf(p+".headers."+k, "%q: not a valid header name", k)
		case strings.ContainsAny(r.Headers[k], "\r\n\x00"):
			v.addf(p+".headers."+k, "the value must not contain line breaks or NUL")
		}
	}
}

func (v *validator) verdict(vd *Verdict) {
	if vd.MaxErrors < 0 {
		v.addf("verdict.max_errors", "must not be negative, got %d", vd.MaxErrors)
	}
	if vd.MinRequests < 0 {
		v.addf("verdict.min_requests", "must not be negative, got %d", vd.MinRequests)
	}
	for i, t := range vd.Thresholds {
		p := fmt.Sprintf("verdict.thresholds[%d]", i)
		if _, ok := lookupMetric(t.Metric); !ok {
			v.addf(p, "%q: unknown metric %q%s; metrics are %s",
				t, t.Metric, didYouMean(t.Metric, metricNames()), strings.Join(metricNames(), ", "))
		}
		if !slices.Contains(thresholdOps, t.Op) {
			v.addf(p, "%q: unknown operator %q; %s", t, t.Op, thresholdHelp)
		}
	}
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
