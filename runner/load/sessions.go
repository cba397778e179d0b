package load

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strconv"
)

// SessionHeader is the header, in vegeta.Result.Headers, in which every
// result of a run with sessions records the session (virtual client,
// 0 … Sessions.Count−1) that sent it. A request's session is its vegeta
// sequence number modulo Sessions.Count (SessionOf). The header is added on
// the client side — to the response, or for a result without a response by
// the engine — and never goes over the wire.
const SessionHeader = "X-Cutover-Session"

// seqHeader is the request header vegeta sets to each hit's sequence number.
const seqHeader = "X-Vegeta-Seq"

// SessionOf returns the session that sends the request with vegeta
// sequence number seq when a run has count sessions (-1 when count is 0:
// one anonymous client).
func SessionOf(seq uint64, count int) int {
	if count <= 0 {
		return -1
	}
	return int(seq % uint64(count))
}

// sessionTransport is the http.RoundTripper that makes one http.Client act
// as many virtual clients: it picks the request's session from its vegeta
// sequence number, applies and updates that session's own cookie jar, and
// records the session in the response headers. Connections are shared by
// all sessions. It is safe for concurrent use (each jar locks itself).
type sessionTransport struct {
	next http.RoundTripper
	jars []*cookiejar.Jar // one per session; nil when cookies are off
	ids  [][]string       // header value per session, allocated once
}

var _ http.RoundTripper = (*sessionTransport)(nil)

// newSessionTransport wraps next for count sessions, each with its own
// cookie jar when cookies is true.
func newSessionTransport(next http.RoundTripper, count int, cookies bool) (*sessionTransport, error) {
	t := &sessionTransport{next: next, ids: make([][]string, count)}
	for i := range count {
		t.ids[i] = []string{strconv.Itoa(i)}
	}
	if cookies {
		t.jars = make([]*cookiejar.Jar, count)
		for i := range count {
			jar, err := cookiejar.New(nil)
			if err != nil {
				return nil, fmt.Errorf("create cookie jar for session %d: %w", i, err)
			}
			t.jars[i] = jar
		}
	}
	return t, nil
}

// errNoSeq is returned for a request that did not come from the attacker.
var errNoSeq = errors.New("session transport: request has no " + seqHeader + " header")

// RoundTrip sends req as its session. It does not modify req: when cookies
// are added it sends a shallow copy with its own header map.
func (t *sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	vals := req.Header[seqHeader]
	if len(vals) == 0 {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoSeq
	}
	seq, err := strconv.ParseUint(vals[0], 10, 64)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("session transport: parse %s %q: %w", seqHeader, vals[0], err)
	}
	s := int(seq % uint64(len(t.ids)))

	out := req
	var jar *cookiejar.Jar
	if t.jars != nil {
		jar = t.jars[s]
		if cookies := jar.Cookies(req.URL); len(cookies) > 0 {
			out = new(http.Request)
			*out = *req
			out.Header = req.Header.Clone()
			for _, c := range cookies {
				out.AddCookie(c)
			}
		}
	}
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if jar != nil {
		if len(resp.Header["Set-Cookie"]) > 0 {
			jar.SetCookies(req.URL, resp.Cookies())
		}
	}
	resp.Header[SessionHeader] = t.ids[s]
	return resp, nil
}
