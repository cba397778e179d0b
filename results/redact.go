package results

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Redacted is what a secret is replaced with.
const Redacted = "[REDACTED]"

var (
	// headerLine matches "Name: value" for header names that carry
	// credentials; the value runs to the end of the line.
	headerLine = regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|api-key|x-[a-z0-9-]*(?:token|secret|key|auth|password|signature)[a-z0-9-]*)(\s*:\s*)[^\r\n]+`)
	// param matches "name=value" (query strings, key=value lists) for names
	// that carry credentials; the value runs to the next delimiter.
	param = regexp.MustCompile(`(?i)(^|[^a-z0-9_-])((?:[a-z0-9_-]*(?:token|secret|password|passwd|api[_-]?key|apikey|access[_-]?key|signature|credential)[a-z0-9_-]*)|key|sig|auth)=([^&\s"';,]+)`)
	// bearer matches an Authorization scheme followed by its credential.
	bearer = regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+)([a-z0-9._~+/=-]{8,})`)
	// userinfo matches the password part of a URL's user info.
	userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@`)
	// knownToken matches credentials recognisable by their shape alone: JWTs,
	// Google OAuth access tokens and API keys, AWS access key ids, GitHub and
	// Slack tokens.
	knownToken = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*|\bya29\.[0-9A-Za-z_-]{20,}|\bAIza[0-9A-Za-z_-]{35}|\bA[KS]IA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}`)
)

// Redact returns s with secret-looking parts replaced by Redacted: the values
// of credential headers written as "Authorization: …" or "Cookie: …",
// "Bearer …" credentials, credential parameters such as "token=…" or
// "api_key=…", URL passwords, and tokens recognisable by their shape (JWTs,
// Google, AWS, GitHub and Slack tokens). It errs on the side of hiding too
// much. It is safe for concurrent use.
func Redact(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	s = headerLine.ReplaceAllString(s, "${1}${2}"+Redacted)
	s = userinfo.ReplaceAllString(s, "${1}"+Redacted+"@")
	s = param.ReplaceAllStringFunc(s, func(m string) string {
		sub := param.FindStringSubmatch(m)
		if sub[3] == Redacted {
			return m
		}
		return sub[1] + sub[2] + "=" + Redacted
	})
	s = bearer.ReplaceAllStringFunc(s, func(m string) string {
		sub := bearer.FindStringSubmatch(m)
		cred := sub[3]
		// "Basic authentication", "token expired": plain words are prose,
		// not credentials. A credential has a digit or a symbol in it.
		if !strings.EqualFold(sub[1], "bearer") && !strings.ContainsAny(cred, "0123456789=+/._~-") {
			return m
		}
		if cred == Redacted {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
	s = knownToken.ReplaceAllString(s, Redacted)
	return s
}

// secretHints are lower-case substrings without which no pattern of Redact
// can match a string that has neither ':' nor '='.
var secretHints = []string{"bearer", "basic", "token", "eyj", "ya29.", "aiza", "akia", "asia", "gh", "xox"}

// mayHoldSecret is a cheap filter that spares most strings the regular
// expressions.
func mayHoldSecret(s string) bool {
	if s == "" {
		return false
	}
	if strings.ContainsAny(s, ":=") {
		return true
	}
	lower := strings.ToLower(s)
	for _, h := range secretHints {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}

// safeHeaders are request headers whose values are shown; every other header
// value in a "headers" map is redacted.
var safeHeaders = map[string]bool{
	"accept": true, "accept-encoding": true, "accept-language": true, "cache-control": true,
	"content-encoding": true, "content-type": true, "user-agent": true,
}

// SensitiveKey reports whether a header, parameter or field named name holds
// a credential, so that its value must not be shown: Authorization, Cookie,
// and any name mentioning a token, secret, password, API key or credential.
func SensitiveKey(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "key", "auth", "sig":
		return true
	}
	for _, part := range []string{"token", "secret", "password", "passwd", "apikey", "api_key", "api-key",
		"access_key", "access-key", "accesskey", "credential", "signature", "private_key", "private-key"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return strings.HasPrefix(n, "x-") && (strings.Contains(n, "auth") || strings.Contains(n, "key"))
}

// RedactRun returns a copy of run that is safe to show or store. The
// scenario is converted to generic JSON in which every value under a
// sensitive key (see SensitiveKey) and every request header value other than
// a few harmless ones (Content-Type, Accept, User-Agent …) is replaced by
// Redacted, and every other string passes through Redact; so do event
// details, verdict reasons and threshold expressions and the saturation
// reason. The timeline holds only numbers, revision names and histograms and
// is shared with run, not copied. run is not modified.
func RedactRun(run *Run) (*Run, error) {
	out := *run
	if run.Scenario != nil {
		data, err := json.Marshal(run.Scenario)
		if err != nil {
			return nil, fmt.Errorf("redact scenario: encode: %w", err)
		}
		var tree any
		if err := json.Unmarshal(data, &tree); err != nil {
			return nil, fmt.Errorf("redact scenario: decode: %w", err)
		}
		out.Scenario = redactTree(tree, false, false)
	}
	out.RunID = Redact(run.RunID)
	out.ToolVersion = Redact(run.ToolVersion)
	out.Load.SaturationReason = Redact(run.Load.SaturationReason)
	if run.Events != nil {
		out.Events = make([]Event, len(run.Events))
		for i, e := range run.Events {
			e.Kind = Redact(e.Kind)
			if e.Details != nil {
				details := make(map[string]string, len(e.Details))
				for k, v := range e.Details {
					if SensitiveKey(k) && v != "" {
						v = Redacted
					}
					details[k] = Redact(v)
				}
				e.Details = details
			}
			out.Events[i] = e
		}
	}
	if run.Verdict.Reasons != nil {
		out.Verdict.Reasons = make([]string, len(run.Verdict.Reasons))
		for i, r := range run.Verdict.Reasons {
			out.Verdict.Reasons[i] = Redact(r)
		}
	}
	if run.Verdict.Thresholds != nil {
		out.Verdict.Thresholds = make([]ThresholdResult, len(run.Verdict.Thresholds))
		for i, t := range run.Verdict.Thresholds {
			t.Expr = Redact(t.Expr)
			out.Verdict.Thresholds[i] = t
		}
	}
	if run.Findings != nil {
		out.Findings = make([]Finding, len(run.Findings))
		for i, f := range run.Findings {
			f.Evidence = redactAll(f.Evidence)
			f.Remedy = redactAll(f.Remedy)
			out.Findings[i] = f
		}
	}
	if run.Diagnosis != nil {
		d := *run.Diagnosis
		d.Note = Redact(d.Note)
		// Signal keys spell out label values: query{label=value}.
		d.Signals = redactAll(run.Diagnosis.Signals)
		d.Buckets = make([]Bucket, len(run.Diagnosis.Buckets))
		for i, b := range run.Diagnosis.Buckets {
			if b.Signals != nil {
				sig := make(map[string]float64, len(b.Signals))
				for k, v := range b.Signals {
					sig[Redact(k)] = v
				}
				b.Signals = sig
			}
			d.Buckets[i] = b
		}
		out.Diagnosis = &d
	}
	if run.Series != nil {
		out.Series = make([]Series, len(run.Series))
		for i, s := range run.Series {
			s.Labels = redactLabels(s.Labels)
			s.Resource = redactLabels(s.Resource)
			out.Series[i] = s
		}
	}
	return &out, nil
}

func redactAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Redact(s)
	}
	return out
}

// redactLabels redacts metric or resource label values, hiding those
// whose name says they hold a secret.
func redactLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if SensitiveKey(k) && v != "" {
			v = Redacted
		}
		out[k] = Redact(v)
	}
	return out
}

// redactTree redacts a generic JSON value. hide replaces every string below
// it; headers marks the value of a "headers" key, whose entries are hidden
// unless their name is in safeHeaders.
func redactTree(v any, hide, headers bool) any {
	switch t := v.(type) {
	case string:
		if hide && t != "" {
			return Redacted
		}
		return Redact(t)
	case []any:
		for i, e := range t {
			t[i] = redactTree(e, hide, headers)
		}
		return t
	case map[string]any:
		for k, e := range t {
			childHide := hide || SensitiveKey(k) || (headers && !safeHeaders[strings.ToLower(k)])
			t[k] = redactTree(e, childHide, strings.EqualFold(k, "headers"))
		}
		return t
	default:
		return v
	}
}
