package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"slices"
	"strings"
)

// Redaction works on structure. A value is hidden because of the name it is
// stored under — a header, an environment variable, a query parameter, a form
// field, a JSON key (SensitiveKey) — or because it is the password of a URL,
// never because of the words in it. Free text (event details, findings,
// verdict reasons, errors) is searched for URLs only, and those are redacted
// as RedactURL does. So a service called token-api and its revision
// token-api-00001-abc stay readable; "Authorization: Bearer …" pasted into
// free text is not recognised, and need not be: cutover keeps credentials
// under names.

// Redacted is what a secret is replaced with.
const Redacted = "[REDACTED]"

// secretParts mark a name as secret wherever they appear in it (case
// insensitive): DB_PASSWORD, X-Api-Key, access_token, Proxy-Authorization,
// Set-Cookie, session_id. This is the one list of secret-looking names;
// everything that redacts by name asks SensitiveKey.
var secretParts = []string{
	"token", "secret", "passw", "pwd", "key", "credential", "session", "auth", "cookie", "signature", "jwt",
}

// secretWords mark a name as secret only as a whole word of it (split at
// every character but a letter or digit): "sig" and "sid" but not "signal"
// or "side".
var secretWords = []string{"sig", "sid", "pass", "otp"}

// SensitiveKey reports whether a header, environment variable, query or form
// parameter, JSON key or label named name holds a secret, so that its value
// must not be shown: any name that contains token, secret, password (passw,
// pwd), key, credential, session, auth, cookie, signature or jwt, or that
// has sig, sid, pass or otp as a word. It errs on the side of hiding: a
// "monkey" parameter is hidden too. It is safe for concurrent use.
func SensitiveKey(name string) bool {
	n := strings.ToLower(name)
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(n, func(r rune) bool { return !isAlnum(r) }) {
		if slices.Contains(secretWords, w) {
			return true
		}
	}
	return false
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// RedactURL returns the URL (absolute, or a reference such as
// "/search?q=1&token=x") raw with the password of its user info and the value
// of every query or fragment parameter with a secret name (SensitiveKey)
// replaced by Redacted; a parameter whose value is itself a URL has that URL
// redacted. Everything else is kept byte for byte, and a string that does not
// parse as a URL is redacted as far as its structure can be told. It is safe
// for concurrent use.
func RedactURL(raw string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	out := redactUserinfo(rest)
	if hasQuery {
		out += "?" + redactPairs(query)
	}
	if hasFrag {
		// OAuth's implicit flow returns #access_token=…
		out += "#" + redactPairs(frag)
	}
	return out
}

// redactUserinfo redacts the password in the authority of s, a URL without
// its query and fragment.
func redactUserinfo(s string) string {
	i := strings.Index(s, "//")
	// An authority follows "scheme:" or starts a network-path reference.
	if i < 0 || i > 0 && (s[i-1] != ':' || !isScheme(s[:i-1])) {
		return s
	}
	authority := s[i+2:]
	if j := strings.IndexByte(authority, '/'); j >= 0 {
		authority = authority[:j]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	user, pass, ok := strings.Cut(authority[:at], ":")
	if !ok || pass == "" || pass == Redacted {
		return s
	}
	start := i + 2 + len(user) + 1
	return s[:start] + Redacted + s[i+2+at:]
}

func isScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isSchemeChar(s[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// redactPairs redacts a query string or form body, name=value pairs joined
// by '&', by name; pairs are kept in order and byte for byte unless hidden.
func redactPairs(q string) string {
	if !strings.Contains(q, "=") {
		return q
	}
	var b strings.Builder
	done := 0 // q[:done] is in b
	for start := 0; start <= len(q); {
		end := strings.IndexByte(q[start:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		if r, ok := redactPair(q[start:end]); ok {
			b.WriteString(q[done:start])
			b.WriteString(r)
			done = end
		}
		start = end + 1
	}
	if done == 0 {
		return q
	}
	b.WriteString(q[done:])
	return b.String()
}

// redactPair redacts one name=value pair; ok says whether it changed.
func redactPair(p string) (_ string, ok bool) {
	k, v, found := strings.Cut(p, "=")
	if !found || v == "" || v == Redacted {
		return p, false
	}
	name := k
	if u, err := url.QueryUnescape(k); err == nil {
		name = u
	}
	if SensitiveKey(name) {
		return k + "=" + Redacted, true
	}
	// A value that is a URL (a redirect, a callback) may carry its own.
	val, err := url.QueryUnescape(v)
	if err != nil {
		val = v
	}
	if strings.Contains(val, "://") {
		if r := RedactText(val); r != val {
			return k + "=" + url.QueryEscape(r), true
		}
	}
	return p, false
}

// RedactText returns the free text s with every URL in it ("scheme://…", up
// to a space, a quote or an angle bracket, less trailing punctuation)
// redacted as RedactURL does. Nothing else in s is changed: it is not
// searched for secret-looking words. It is safe for concurrent use.
func RedactText(s string) string {
	var b strings.Builder
	done, from := 0, 0 // s[:done] is in b; the search goes on at from
	for {
		k := strings.Index(s[from:], "://")
		if k < 0 {
			break
		}
		k += from
		start := k
		for start > done && isSchemeChar(s[start-1]) {
			start--
		}
		for start < k && !isLetter(s[start]) {
			start++
		}
		end := k + 3
		for end < len(s) && !endsURL(s[end]) {
			end++
		}
		from = end
		if start == k {
			continue // no scheme
		}
		u := trimURLEnd(s[start:end])
		if r := RedactURL(u); r != u {
			b.WriteString(s[done:start])
			b.WriteString(r)
			done = start + len(u)
		}
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// trimURLEnd drops the punctuation that ends the sentence around a URL
// rather than the URL, but not the bracket of a Redacted value.
func trimURLEnd(u string) string {
	for u != "" && strings.IndexByte(".,;:!?)]}", u[len(u)-1]) >= 0 && !strings.HasSuffix(u, Redacted) {
		u = u[:len(u)-1]
	}
	return u
}

// endsURL reports whether c cannot be part of a URL written in text.
func endsURL(c byte) bool {
	return c <= ' ' || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == 0x7f
}

// Media types RedactBody parses.
const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// RedactBody returns a request body with the value of every secret-named
// field (SensitiveKey) replaced by Redacted: a JSON document at any depth (the
// whole value of a secret key, a string or number or object, becomes the
// string Redacted; the rest is kept byte for byte), or a form
// (application/x-www-form-urlencoded) by field name. contentType is the
// body's Content-Type; when it is empty the body is recognised by its first
// character (JSON) or its shape (name=value pairs without spaces). Any other
// body has the URLs in it redacted (RedactText). It is safe for concurrent
// use.
func RedactBody(body, contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := strings.TrimSpace(body)
	isJSON := mt == jsonType || strings.HasSuffix(mt, "+json")
	if isJSON || mt == "" && (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) {
		if r, err := redactJSON(body); err == nil {
			return r
		}
	}
	if mt == formType || mt == "" && strings.Contains(trimmed, "=") && !strings.ContainsAny(trimmed, " \t\r\n") {
		return redactPairs(body)
	}
	return RedactText(body)
}

// redactJSON redacts the JSON document doc by key, keeping every byte but
// the redacted values.
func redactJSON(doc string) (string, error) {
	if !json.Valid([]byte(doc)) {
		return "", errors.New("not valid JSON")
	}
	r := &jsonRedactor{doc: doc, dec: json.NewDecoder(strings.NewReader(doc))}
	r.dec.UseNumber()
	for {
		start := int(r.dec.InputOffset())
		tok, err := r.dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		// The token starts after the separators before it.
		for start < len(doc) && strings.IndexByte(" \t\r\n:,", doc[start]) >= 0 {
			start++
		}
		if d, ok := tok.(json.Delim); ok {
			err = r.delim(start, d)
		} else {
			err = r.scalar(start, tok)
		}
		if err != nil {
			return "", err
		}
	}
	if r.done == 0 {
		return doc, nil
	}
	r.b.WriteString(doc[r.done:])
	return r.b.String(), nil
}

// jsonRedactor is redactJSON's walk over one document: the open objects
// and arrays, and the output written so far.
type jsonRedactor struct {
	doc   string
	dec   *json.Decoder
	stack []jsonLevel
	b     strings.Builder
	done  int  // doc[:done] is in b (redacted)
	hide  bool // the next value is under a secret key
}

// jsonLevel is an open object or array; in an object, whether a key comes
// next.
type jsonLevel struct{ object, wantKey bool }

// replace writes doc up to start, then with in place of doc[start:end].
func (r *jsonRedactor) replace(start, end int, with string) {
	r.b.WriteString(r.doc[r.done:start])
	r.b.WriteString(with)
	r.done = end
}

// valueDone notes that a value of the innermost level ended.
func (r *jsonRedactor) valueDone() {
	if n := len(r.stack); n > 0 && r.stack[n-1].object {
		r.stack[n-1].wantKey = true
	}
}

// delim handles an object's or array's delimiter at start: a whole object
// or array under a secret key becomes one redacted string.
func (r *jsonRedactor) delim(start int, d json.Delim) error {
	switch {
	case d == '}' || d == ']':
		r.stack = r.stack[:len(r.stack)-1]
		r.valueDone()
	case r.hide:
		if err := skipValue(r.dec); err != nil {
			return err
		}
		r.replace(start, int(r.dec.InputOffset()), `"`+Redacted+`"`)
		r.hide = false
		r.valueDone()
	default:
		r.stack = append(r.stack, jsonLevel{object: d == '{', wantKey: d == '{'})
	}
	return nil
}

// scalar handles a key, string, number, bool or null at start: a value
// under a secret key is redacted, and any other string as RedactText does.
func (r *jsonRedactor) scalar(start int, tok json.Token) error {
	if top := len(r.stack) - 1; top >= 0 && r.stack[top].object && r.stack[top].wantKey {
		key, _ := tok.(string)
		r.hide = SensitiveKey(key)
		r.stack[top].wantKey = false
		return nil
	}
	end := int(r.dec.InputOffset())
	switch v := tok.(type) {
	case string:
		if r.hide {
			if v != "" && v != Redacted {
				r.replace(start, end, `"`+Redacted+`"`)
			}
		} else if red := RedactText(v); red != v {
			q, err := json.Marshal(red)
			if err != nil {
				return err
			}
			r.replace(start, end, string(q))
		}
	case json.Number:
		if r.hide {
			r.replace(start, end, `"`+Redacted+`"`)
		}
	}
	r.hide = false
	r.valueDone()
	return nil
}

// skipValue reads the rest of an object or array whose opening delimiter
// dec has just returned.
func skipValue(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// RedactRun returns a copy of run that is safe to show or store, redacted by
// structure (see SensitiveKey):
//   - the scenario's JSON: every string under a secret
//     key (a header such as Authorization, an env var such as DB_PASSWORD) is
//     replaced by Redacted; a request "body" is redacted as RedactBody does
//     with the request's Content-Type; "url", "path" and "*_url" values as
//     RedactURL does; every other string as RedactText does;
//   - event details, series labels and the labels spelled out in the
//     diagnosis's signal keys: values under a secret key are replaced;
//   - free text (event details, verdict reasons, findings, the diagnosis
//     note, the cutover's errors, the saturation reason): URLs are redacted
//     (RedactText); nothing else is changed.
//
// Names — the run id, the scenario's name, services, revisions, event
// kinds — are kept as they are. The timeline holds only numbers, revision
// names and histograms and is shared with run, not copied. run is not
// modified.
func RedactRun(run *Run) (*Run, error) {
	out := *run
	if len(run.Scenario) > 0 {
		var tree any
		if err := json.Unmarshal(run.Scenario, &tree); err != nil {
			return nil, fmt.Errorf("redact scenario: decode: %w", err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // run.json keeps "&" in URLs readable
		if err := enc.Encode(redactTree(tree)); err != nil {
			return nil, fmt.Errorf("redact scenario: encode: %w", err)
		}
		out.Scenario = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	out.Load.SaturationReason = RedactText(run.Load.SaturationReason)
	if run.Events != nil {
		out.Events = make([]Event, len(run.Events))
		for i, e := range run.Events {
			e.Details = redactLabels(e.Details)
			out.Events[i] = e
		}
	}
	out.Verdict.Reasons = redactAll(run.Verdict.Reasons)
	if run.Verdict.Thresholds != nil {
		out.Verdict.Thresholds = make([]ThresholdResult, len(run.Verdict.Thresholds))
		for i, t := range run.Verdict.Thresholds {
			t.Expr = RedactText(t.Expr)
			out.Verdict.Thresholds[i] = t
		}
	}
	if run.Cutover != nil {
		c := *run.Cutover
		c.FailedAction = RedactText(c.FailedAction)
		c.RestoreError = RedactText(c.RestoreError)
		out.Cutover = &c
	}
	out.Findings = redactFindings(run.Findings)
	out.Preflight = redactFindings(run.Preflight)
	if run.Diagnosis != nil {
		d := *run.Diagnosis
		d.Note = RedactText(d.Note)
		d.RuledOut = redactFindings(run.Diagnosis.RuledOut)
		if d.Signals != nil {
			d.Signals = make([]string, len(run.Diagnosis.Signals))
			for i, k := range run.Diagnosis.Signals {
				d.Signals[i] = redactSignalKey(k)
			}
		}
		d.Buckets = make([]Bucket, len(run.Diagnosis.Buckets))
		for i, b := range run.Diagnosis.Buckets {
			if b.Signals != nil {
				sig := make(map[string]float64, len(b.Signals))
				for k, v := range b.Signals {
					sig[redactSignalKey(k)] = v
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

// redactFindings redacts the free text of findings: evidence, remedies and
// why one was ruled out. Causes and the names of other findings are words
// of the record's vocabulary.
func redactFindings(fs []Finding) []Finding {
	if fs == nil {
		return nil
	}
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Evidence = redactAll(f.Evidence)
		f.Remedy = redactAll(f.Remedy)
		f.RuledOut = RedactText(f.RuledOut)
		f.AlsoConsistent = slices.Clone(f.AlsoConsistent)
		out[i] = f
	}
	return out
}

func redactAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = RedactText(s)
	}
	return out
}

// redactLabels redacts a name → free text map (event details, metric
// labels): the values of secret names are hidden, the URLs in the others
// redacted.
func redactLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if SensitiveKey(k) && v != "" {
			v = Redacted
		}
		out[k] = RedactText(v)
	}
	return out
}

// redactSignalKey redacts the label values a signal key spells out,
// "query{name=value,…}", by label name.
func redactSignalKey(key string) string {
	query, labels, ok := strings.Cut(key, "{")
	if !ok || !strings.HasSuffix(labels, "}") {
		return RedactText(key)
	}
	pairs := strings.Split(strings.TrimSuffix(labels, "}"), ",")
	for i, p := range pairs {
		if k, v, ok := strings.Cut(p, "="); ok {
			if SensitiveKey(k) && v != "" {
				v = Redacted
			}
			pairs[i] = k + "=" + RedactText(v)
		}
	}
	return query + "{" + strings.Join(pairs, ",") + "}"
}

// redactTree redacts a generic JSON scenario in place and returns it.
func redactTree(v any) any {
	switch t := v.(type) {
	case string:
		return RedactText(t)
	case []any:
		for i, e := range t {
			t[i] = redactTree(e)
		}
	case map[string]any:
		contentType := headerValue(t["headers"], "Content-Type")
		for k, e := range t {
			s, isString := e.(string)
			switch {
			case SensitiveKey(k):
				t[k] = hideStrings(e)
			case isString && k == "body":
				t[k] = RedactBody(s, contentType)
			case isString && (k == "url" || k == "path" || strings.HasSuffix(k, "_url")):
				t[k] = RedactURL(s)
			default:
				t[k] = redactTree(e)
			}
		}
	}
	return v
}

// hideStrings replaces every non-empty string in v by Redacted. Numbers and
// booleans are kept: in a scenario they are settings (a sessions count),
// not secrets.
func hideStrings(v any) any {
	switch t := v.(type) {
	case string:
		if t != "" {
			return Redacted
		}
	case []any:
		for i, e := range t {
			t[i] = hideStrings(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = hideStrings(e)
		}
	}
	return v
}

// headerValue returns the value of header name in a generic JSON headers
// object, "" when there is none.
func headerValue(headers any, name string) string {
	m, _ := headers.(map[string]any)
	for k, v := range m {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}
