package load

import (
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// results.bin holds no secret: before a result is encoded its URL is
// redacted (results.RedactURL: URL passwords, secret query parameters), the
// URLs in its error are redacted (results.RedactText: net/http puts the
// request URL in every transport error), and any X-Cutover-* tag header with
// a secret name (results.SensitiveKey) has its value replaced; every other
// response header was dropped already (keptHeaders). Request headers and
// bodies are not part of a vegeta.Result. The response body of an error,
// kept for classifying it, is the server's and is kept as sent.

// maxLinearURLs is how many target URLs urlRedactor compares one by one
// before it uses a map.
const maxLinearURLs = 16

// maxCached bounds each cache of urlRedactor beyond the targets' URLs
// (URLs no target has, error strings) and of the consumer's tag names.
const maxCached = 1024

// urlRedactor redacts the URLs results carry, once per distinct URL: vegeta
// sets Result.URL to the target's URL string, and a run has few targets (one
// per request template), so each is redacted when the targets are built and
// the per-result cost is a string comparison (which finds the target's own
// string at once: same pointer, same bytes) or, with many targets, a map
// lookup. It is used by one goroutine.
type urlRedactor struct {
	raw, red []string          // the targets' URLs and their redacted forms
	byRaw    map[string]string // raw → red, when there are many targets
	other    map[string]string // URLs met that no target has; bounded
	// errs are the error strings met, redacted: a failing target fails
	// the same way many times (connection refused, timeouts). Bounded.
	errs map[string]string
}

func newURLRedactor(targets []vegeta.Target) *urlRedactor {
	u := &urlRedactor{}
	for _, t := range targets {
		u.raw = append(u.raw, t.URL)
		u.red = append(u.red, results.RedactURL(t.URL))
	}
	if len(u.raw) > maxLinearURLs {
		u.byRaw = make(map[string]string, len(u.raw))
		for i, r := range u.raw {
			u.byRaw[r] = u.red[i]
		}
	}
	return u
}

// url returns raw redacted.
func (u *urlRedactor) url(raw string) string {
	if u.byRaw == nil {
		for i, r := range u.raw {
			if r == raw {
				return u.red[i]
			}
		}
	} else if red, ok := u.byRaw[raw]; ok {
		return red
	}
	if red, ok := u.other[raw]; ok {
		return red
	}
	red := results.RedactURL(raw)
	if u.other == nil {
		u.other = map[string]string{}
	}
	if len(u.other) < maxCached {
		u.other[raw] = red
	}
	return red
}

// text returns the error s with the URLs in it redacted.
func (u *urlRedactor) text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	if red, ok := u.errs[s]; ok {
		return red
	}
	red := results.RedactText(s)
	if u.errs == nil {
		u.errs = map[string]string{}
	}
	if len(u.errs) < maxCached {
		u.errs[s] = red
	}
	return red
}

// redactResult redacts r's URL and error in place (its headers are
// filtered by filterHeaders).
func (c *consumer) redactResult(r *vegeta.Result) {
	if r.URL != "" {
		r.URL = c.urls.url(r.URL)
	}
	if r.Error != "" {
		r.Error = c.urls.text(r.Error)
	}
}

// secretTag reports whether the X-Cutover-* tag header name has a secret
// name, asking results.SensitiveKey once per name.
func (c *consumer) secretTag(name string) bool {
	secret, ok := c.tags[name]
	if !ok {
		secret = results.SensitiveKey(name)
		if c.tags == nil {
			c.tags = map[string]bool{}
		}
		if len(c.tags) < maxCached {
			c.tags[name] = secret
		}
	}
	return secret
}
