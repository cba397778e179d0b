package scenarios

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Bounds of the YAML itself, checked before a value is decoded.
const (
	// MaxNodes bounds the YAML nodes of a scenario, counted with every
	// alias expanded (a billion-laughs file is a few kilobytes that expand
	// to billions of nodes). Scenarios have hundreds.
	MaxNodes = 100_000
	// MaxScalarBytes bounds the bytes of every scalar (keys and values)
	// with aliases expanded: an alias of a large body repeated a thousand
	// times is refused before it is copied a thousand times.
	MaxScalarBytes = 4 << 20
)

// checkText returns where and why data is not YAML text: bytes that are
// not UTF-8, a NUL or another character YAML does not allow (YAML 1.2's
// c-printable: tab, line breaks, and no other C0 or C1 control, DEL or
// surrogate). yaml.v3 refuses the same without a line; this gives one.
// A UTF-8 byte order mark is allowed at the start.
func checkText(data []byte) (line, col int, msg string) {
	if len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		return 1, 1, "the file is UTF-16; save it as UTF-8"
	}
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line, col, fmt.Sprintf("byte 0x%02x is not UTF-8; a scenario is UTF-8 text", data[i])
		case r == 0:
			return line, col, "a NUL byte; a scenario is UTF-8 text, not a binary file"
		case !yamlPrintable(r):
			return line, col, fmt.Sprintf("control character %U is not allowed in YAML", r)
		}
		switch {
		case r == '\n', r == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			line, col = line+1, 1
		case r != '\r':
			col++
		}
		i += size
	}
	return 0, 0, ""
}

// yamlPrintable reports whether YAML allows r in a stream.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r < 0x20, r == 0x7f:
		return false
	case r < 0x7f:
		return true
	}
	return r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

// treeSize walks a node tree with every alias expanded and stops at the
// first node that passes MaxNodes or MaxScalarBytes, or at an alias that
// refers to a node containing it.
type treeSize struct {
	nodes, bytes int
	onPath       map[*yaml.Node]bool
	// expanding is the alias of the file being expanded, outside any
	// other expansion: where a limit passed inside it is reported.
	expanding *yaml.Node
	// at is where the walk stopped and msg why ("" when it did not).
	at  *yaml.Node
	msg string
}

// stop ends the walk at n, or at the alias whose expansion n is in.
func (w *treeSize) stop(n *yaml.Node, format string, args ...any) bool {
	w.at, w.msg = n, fmt.Sprintf(format, args...)
	if w.expanding != nil {
		w.at = w.expanding
	}
	return false
}

// checkTreeSize returns the node at which n is too large, and why, or nil.
func checkTreeSize(n *yaml.Node) (*yaml.Node, string) {
	w := &treeSize{onPath: map[*yaml.Node]bool{}}
	w.walk(n)
	return w.at, w.msg
}

func (w *treeSize) walk(n *yaml.Node) bool {
	w.nodes++
	if w.nodes > MaxNodes {
		return w.stop(n, "more than %d YAML nodes with aliases expanded; a scenario has at most %d", MaxNodes, MaxNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return true
		}
		if w.onPath[n.Alias] {
			return w.stop(n, "alias *%s refers to a node that contains it", n.Value)
		}
		if w.expanding == nil {
			w.expanding = n
			defer func() { w.expanding = nil }()
		}
		return w.walk(n.Alias)
	case yaml.ScalarNode:
		w.bytes += len(n.Value)
		if w.bytes > MaxScalarBytes {
			return w.stop(n, "more than %d MiB of text with aliases expanded; a scenario has at most %d MiB", MaxScalarBytes>>20, MaxScalarBytes>>20)
		}
		return true
	}
	w.onPath[n] = true
	defer delete(w.onPath, n)
	for _, c := range n.Content {
		if !w.walk(c) {
			return false
		}
	}
	return true
}

// Bounds of the values, chosen from what the load engine and one machine can
// do (and what a scenario plausibly means); Validate names the bound in
// each problem.
const (
	maxRequests = 1000   // load.requests
	maxWeight   = 10_000 // a request's weight
	maxHeaders  = 100    // headers of one request
	maxStages   = 1000   // load.stages

	// maxRatePerSecond is the most one generator sends; its period is at
	// least minRatePer (vegeta's pacer sleeps between hits).
	maxRatePerSecond = 100_000
	minRatePer       = time.Millisecond
	maxRatePer       = 24 * time.Hour

	maxConcurrency = 10_000  // load.concurrency (goroutines and sockets)
	maxWorkers     = 10_000  // load.max_workers
	maxConnections = 10_000  // load.connections
	maxSessions    = 100_000 // load.sessions.count (a cookie jar each)

	maxLoadDuration = 24 * time.Hour
	minStageFor     = 100 * time.Millisecond
	minTimeout      = time.Millisecond
	maxTimeout      = 10 * time.Minute
	minWindow       = 100 * time.Millisecond
	maxWindow       = time.Minute
	// maxWindows bounds the timeline kept in memory and in the record (24h
	// of one-second windows); maxOpenWindows the windows open at once, each
	// with a latency histogram of about 190 KB, timeout/window of them.
	maxWindows     = 86_400
	maxOpenWindows = 600

	// maxCount bounds counts of requests: no run sends more than 100,000/s
	// for 24 hours (8.64·10⁹).
	maxCount      = 10_000_000_000
	maxThresholds = 100
	// maxLatency is the largest latency the histograms record.
	maxLatency = time.Hour

	defaultAbortMinRequests  = 20
	defaultObserveAfterAbort = 30 * time.Second
	maxObserveAfterAbort     = 10 * time.Minute

	maxActions     = 100
	maxSplits      = 100
	maxEnv         = 1000 // Cloud Run's limit of environment variables
	minEvery       = time.Millisecond
	maxEvery       = 24 * time.Hour
	maxSettle      = time.Hour
	maxMaxWait     = 2 * time.Hour
	maxPeriod      = time.Hour
	maxExtraQuery  = 50
	maxGroupBy     = 10
	maxServices    = 50
	maxInstances   = 1000
	maxCalls       = 20
	maxSYNs        = 20
	maxUnpullable  = 100
	maxSimulated   = 24 * time.Hour // any local cloud delay, in simulated time
	minScaleEvery  = time.Second    // a ticker: at time_scale 1000 still 1 ms of wall time
	minCloudPeriod = time.Second
	maxRetention   = 7 * 24 * time.Hour
	maxPoints      = 100_000 // retention / period: points kept per series
)

// durationIn adds a problem when d is outside [lo, hi].
func (v *validator) durationIn(path string, d Duration, lo, hi time.Duration) {
	switch {
	case lo == 0 && d < 0:
		v.addf(path, "must not be negative, got %s", d)
	case lo == 0 && d.D() > hi:
		v.addf(path, "must be at most %s, got %s", Duration(hi), d)
	case d.D() < lo || d.D() > hi:
		v.addf(path, "must be between %s and %s, got %s", Duration(lo), Duration(hi), d)
	}
}

// intIn adds a problem when n is outside [lo, hi]; note, when not empty,
// is added in parentheses (what 0 means).
func (v *validator) intIn(path string, n, lo, hi int64, note string) {
	if note != "" {
		note = " (" + note + ")"
	}
	switch {
	case lo == 0 && n < 0:
		v.addf(path, "must not be negative, got %d%s", n, note)
	case lo == 0 && n > hi:
		v.addf(path, "must be at most %d, got %d%s", hi, n, note)
	case n < lo || n > hi:
		v.addf(path, "must be between %d and %d, got %d%s", lo, hi, n, note)
	}
}

// listMax adds a problem when a list at path has more than hi items.
func (v *validator) listMax(path string, n, hi int, what string) {
	if n > hi {
		v.addf(path, "at most %d %s, got %d", hi, what, n)
	}
}

// rate adds a problem when r, a rate that is set, is faster than one
// generator sends or has a period outside [minRatePer, maxRatePer]. zeroOK
// allows 0/s (the end of a ramp).
func (v *validator) rate(path string, r Rate, zeroOK bool) {
	switch {
	case r.Freq < 0 || r.Per <= 0 || r.Freq == 0 && !zeroOK:
		if zeroOK {
			v.addf(path, "%q: rate must not be negative", r)
		} else {
			v.addf(path, "%q: rate must be positive", r)
		}
	case r.Per < minRatePer:
		v.addf(path, "%q: the time after / must be at least %s", r, Duration(minRatePer))
	case r.Per > maxRatePer:
		v.addf(path, "%q: the time after / must be at most %s", r, Duration(maxRatePer))
	case r.PerSecond() > maxRatePerSecond && r.Per == time.Second:
		v.addf(path, "%q: at most %d/s, the most one generator sends", r, maxRatePerSecond)
	case r.PerSecond() > maxRatePerSecond:
		v.addf(path, "%q is %s/s: at most %d/s, the most one generator sends", r,
			strconv.FormatFloat(r.PerSecond(), 'f', 0, 64), maxRatePerSecond)
	}
}
