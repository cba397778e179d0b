package load

import (
	"bytes"
	"strconv"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// class is the index of a result class; the hot path counts into arrays
// indexed by it instead of maps keyed by name.
type class uint8

// The classes, in the order of results.Classes.
const (
	classOK class = iota
	class429
	class500
	class502
	class503
	class504
	classStatusOther
	classConnectTimeout
	classConnectRefused
	classConnReset
	classEOF
	classResponseTimeout
	classTLS
	classDNS
	classTransportOther
	numClasses
)

// classNames maps a class index to its name in results.
var classNames = [numClasses]results.Class{
	classOK:              results.ClassOK,
	class429:             results.ClassStatus429,
	class500:             results.ClassStatus500,
	class502:             results.ClassStatus502,
	class503:             results.ClassStatus503,
	class504:             results.ClassStatus504,
	classStatusOther:     results.ClassStatusOther,
	classConnectTimeout:  results.ClassConnectTimeout,
	classConnectRefused:  results.ClassConnectRefused,
	classConnReset:       results.ClassConnReset,
	classEOF:             results.ClassEOF,
	classResponseTimeout: results.ClassResponseTimeout,
	classTLS:             results.ClassTLS,
	classDNS:             results.ClassDNS,
	classTransportOther:  results.ClassTransportOther,
}

// isTransport reports whether c is a transport class (part of FetchFailed).
func (c class) isTransport() bool { return c >= classConnectTimeout }

// upstreamTimeoutBody is what an Envoy-style front end (Cloud Run's GFE
// included) writes in the body of a 504 when the upstream timed out.
var upstreamTimeoutBody = []byte("upstream request timeout")

// Classify returns the class of one result, one of results.Classes:
// ok for 2xx and 3xx; status_429, status_500, status_502, status_503,
// status_504 for those codes and status_other for any other code; and, when
// no response arrived (Code 0), a transport class read from Result.Error:
//
//   - dns: the host name did not resolve ("lookup …", "no such host").
//   - tls: handshake or certificate failure, or a plain-HTTP server spoken
//     to over https.
//   - connect_refused: the port is closed (RST to the SYN).
//   - connect_timeout: the TCP connect did not complete within the connect
//     timeout (the SYN went unanswered, as behind an exhausted NAT).
//   - conn_reset: connection reset by peer or broken pipe after connecting.
//   - eof: the server closed the connection before a complete response.
//   - response_timeout: connected, but the response did not complete within
//     the request timeout.
//   - transport_other: anything else (redirect loops, local errors such as
//     port exhaustion).
//
// Classify works on the stored result alone, so it gives the same answer
// on results read back from results.bin.
func Classify(r *vegeta.Result) results.Class {
	return classNames[classify(r)]
}

// fetchFailedBody is what a Node service writes when its own fetch failed.
var fetchFailedBody = []byte("fetch failed")

// mark is a derived counter a result adds to besides its class.
type mark uint8

const (
	markNone mark = iota
	markUpstreamTimeout
	markAppFetchFailed
	numMarks
)

// markNames are the results names of the marks.
var markNames = [numMarks]results.Class{"", results.UpstreamTimeout, results.AppFetchFailed}

// markOf returns the derived counter a result of class c adds to.
func markOf(r *vegeta.Result, c class) mark {
	switch {
	case c == class504 && IsUpstreamTimeout(r):
		return markUpstreamTimeout
	case r.Code >= 500 && bytes.Contains(r.Body, fetchFailedBody):
		return markAppFetchFailed
	}
	return markNone
}

// IsUpstreamTimeout reports whether r is a 504 whose body says
// "upstream request timeout"; such results also count in
// results.UpstreamTimeout.
func IsUpstreamTimeout(r *vegeta.Result) bool {
	return r.Code == 504 && bytes.Contains(r.Body, upstreamTimeoutBody)
}

// classify is Classify returning the class index.
func classify(r *vegeta.Result) class {
	switch c := r.Code; {
	case c >= 200 && c < 400:
		return classOK
	case c == 0:
		return classifyError(r.Error)
	case c == 429:
		return class429
	case c == 500:
		return class500
	case c == 502:
		return class502
	case c == 503:
		return class503
	case c == 504:
		return class504
	default:
		return classStatusOther
	}
}

// classifyError sorts a transport error message into a transport class. The
// order matters: a DNS failure is reported by the dialer ("dial tcp: lookup
// …"), and a connect timeout can carry the client's timeout note too.
func classifyError(msg string) class {
	d := errorDetail(msg)
	has := func(s string) bool { return strings.Contains(d, s) }
	switch {
	case has("lookup ") || has("no such host"):
		return classDNS
	case has("tls: ") || has("x509: ") || has("TLS handshake") ||
		has("HTTP response to HTTPS client") || has("does not look like a TLS handshake"):
		return classTLS
	case has("connection refused"):
		return classConnectRefused
	case has("dial ") && (has("timeout") || has("timed out")):
		return classConnectTimeout
	case has("connection reset") || has("broken pipe"):
		return classConnReset
	case has("EOF") || has("server closed idle connection"):
		return classEOF
	case has("Client.Timeout") || has("timeout awaiting response headers") ||
		has("i/o timeout") || has("deadline exceeded"):
		return classResponseTimeout
	default:
		return classTransportOther
	}
}

// errorDetail strips the `Get "URL": ` prefix of a *url.Error message, so
// that words inside the URL cannot change the class.
func errorDetail(msg string) string {
	sp := strings.IndexByte(msg, ' ')
	if sp <= 0 || sp+1 >= len(msg) || msg[sp+1] != '"' {
		return msg
	}
	q, err := strconv.QuotedPrefix(msg[sp+1:])
	if err != nil {
		return msg
	}
	rest := msg[sp+1+len(q):]
	if !strings.HasPrefix(rest, ": ") {
		return msg
	}
	return rest[2:]
}

// starvation returns a reason when a transport error shows that the local
// client itself ran out of resources (ports, file descriptors), "" otherwise.
func starvation(msg string) string {
	switch {
	case strings.Contains(msg, "cannot assign requested address"):
		return "local ports exhausted (cannot assign requested address)"
	case strings.Contains(msg, "too many open files"):
		return "local file descriptors exhausted (too many open files)"
	default:
		return ""
	}
}
