// Package load is cutover's load engine and the only user of vegeta: it
// turns a scenarios.Load into a vegeta attack, streams every result to a
// writer in vegeta's own encoding, and aggregates per-window counts and
// latency histograms whose memory stays flat however long the run. It does
// not decide pass or fail, know about phases or deployments, or write the
// run record: the runner does, from the Summary and the windows.
//
// Models. Open: a constant Rate (vegeta.ConstantPacer) or StartRate+Stages
// as piecewise linear ramps (RampPacer), with at most MaxWorkers requests in
// flight. Closed: Concurrency N is exactly N workers, each sending its next
// request when its last one finished.
//
// Requests are handed out in a fixed weighted round robin. Sessions: with
// Sessions.Count N, the request with vegeta sequence number s is sent by
// session s mod N (SessionOf); with Cookies each session has its own cookie
// jar. Every result records its session in Result.Headers under
// SessionHeader (also results without a response).
//
// Classes: Classify sorts each result into the classes of package results.
// The TCP connect has its own timeout, min(MaxConnectTimeout, 90% of the
// request timeout), so that a connect that never completes is a
// connect_timeout, told apart from a response_timeout.
//
// Secrets: results.bin holds none. Before a result is encoded its URL and
// the URLs in its error are redacted by structure (results.RedactURL: URL
// passwords, secret query parameters), once per distinct string, and a kept
// X-Cutover-* tag header with a secret name keeps only its name.
//
// Windows: a result belongs to the window of its send time; a window closes
// once every request sent before its end has returned (see aggregator).
//
// Grid: with Options.GridPeriod, every result is also counted on the
// platform's metric grid. Each cell is one metric period, starting where
// t.Truncate(period) puts it, and a result counts in the cell of its own
// send time (see grid). So client errors line up with the metric period
// that saw them.
//
// Self-health: a run whose achieved rate is short of SaturationRatio of the
// asked rate, or whose client ran out of local ports or file descriptors,
// is reported as saturated in results.LoadInfo.
//
// Concurrency: Run starts vegeta's workers and one consumer goroutine that
// owns every aggregate (the per-result path takes no lock); OnWindow is
// called from that goroutine. All goroutines have ended when Run returns.
package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// Limits of the engine itself. The Load's settings and their defaults
// (max workers, timeout, window, a ramp's duration) are the scenario's:
// package scenarios declares and resolves them, and Run takes them as given.
const (
	// MaxConnectTimeout caps the TCP connect: like Node's fetch (undici),
	// a connect that has not completed in 10 s fails.
	MaxConnectTimeout = 10 * time.Second
	// MaxBody is how much of each response body is kept, enough to classify
	// an error body; bodies of ok results are dropped before encoding.
	MaxBody = 1024
	// InitialWorkers is how many workers the open model starts with; vegeta
	// adds workers (up to MaxWorkers) when all are busy.
	InitialWorkers = 10
	// SaturationRatio is the share of the asked rate below which an
	// open-model run is reported as generator-saturated.
	SaturationRatio = 0.95
)

// Model names, as in results.LoadInfo.Model.
const (
	ModelOpen   = "open"
	ModelClosed = "closed"
)

// Options configures one attack.
type Options struct {
	// Load is the traffic to send, already defaulted and validated
	// (scenarios.Parse does both; scenarios.DefaultLoad starts one built in
	// code). Run re-derives nothing: Timeout, Window and, for the open
	// model, MaxWorkers must be positive, and Duration is the load's length
	// (a ramp's included; zero runs until ctx is cancelled).
	Load scenarios.Load
	// BaseURL is the scenario's target.url; request paths resolve against it.
	BaseURL string
	// Results receives every result as it arrives (see ResultSink),
	// redacted (no URL password, secret query parameter or secret tag
	// header). Bodies of ok results are dropped; others keep up to MaxBody
	// bytes. nil writes nothing.
	Results ResultSink
	// OnWindow is called, in time order from one goroutine, as each window
	// closes; it should return quickly. nil is fine.
	OnWindow func(results.Window)
	// Now is the clock for window boundaries and the load's length; it must
	// tick with the wall clock vegeta stamps results with. nil is time.Now.
	Now func() time.Time
	// TLSConfig is used for https targets; nil verifies against the system
	// roots.
	TLSConfig *tls.Config
	// Resolver resolves target host names; nil is the system resolver.
	Resolver *net.Resolver
	// GridPeriod, when positive, makes the engine also count every result
	// on the platform's metric grid, into Summary.Grid. The cells are
	// GridPeriod wide and start where t.Truncate(GridPeriod) puts them, as
	// the platforms' metric periods do. A result counts in the cell holding
	// its own send time. Give it the metric period as the platform runs
	// it: 60 s on Google, 60 s/time_scale in the local cloud. Zero or less
	// means no grid.
	GridPeriod time.Duration
}

// Summary is what the attack measured (also when stopped early by ctx).
type Summary struct {
	// Totals counts every result; ByClass lists every class and both
	// derived counters, zeros included; ByStatus lists the non-zero status
	// codes of the responses (nil when none). Totals always equal the sum
	// over Timeline.
	Totals results.Totals
	// Latency has percentiles from the run's histogram (the merge of the
	// windows'), and exact Mean and Max.
	Latency results.Latency
	// Timeline is every window from the start of the load to its end, empty
	// ones included; a window's ByClass lists only non-zero counters.
	Timeline []results.Window
	// Grid is every result again, on the metric grid of Options.GridPeriod
	// (nil without one). It has one Window per cell, empty cells included,
	// from the cell holding the load's start through the later of two: the
	// cell holding the load's end, or the cell holding the last result sent.
	// Start is the cell's start. A result counts in the cell holding its
	// Timestamp, unlike the Timeline, which clamps to the load's windows.
	// Totals always equal the sum over Grid as well. A cell's ByClass lists
	// only non-zero counters. Cells keep no latencies: P50, P99 and
	// Histogram are zero.
	Grid []results.Window
	Load results.LoadInfo
}

// runConfig holds knobs for tests and benchmarks only.
type runConfig struct {
	// limit stops the attack after this many hits (0: no limit).
	limit uint64
}

// Run sends the load and returns what it measured. Cancelling ctx stops the
// attack: in-flight requests finish (within the timeout), the last window is
// closed, and the Summary of everything done is returned with a nil error;
// the caller checks ctx.Err(). Errors are only for setup problems (a bad URL)
// or a failing Results sink; in the latter case the attack is stopped and
// the Summary still covers every result.
func Run(ctx context.Context, opts Options) (Summary, error) {
	return run(ctx, opts, runConfig{})
}

func run(ctx context.Context, opts Options, cfg runConfig) (Summary, error) {
	l := opts.Load
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	timeout, width, duration := l.Timeout.D(), l.Window.D(), l.Duration.D()
	if timeout <= 0 || width <= 0 {
		return Summary{}, fmt.Errorf("load not defaulted: timeout %s, window %s (want both positive)", l.Timeout, l.Window)
	}
	pc, err := choosePacing(l)
	if err != nil {
		return Summary{}, err
	}
	tgt, err := newTargeter(opts.BaseURL, l.Requests, l.Sessions.Count)
	if err != nil {
		return Summary{}, fmt.Errorf("build load targets: %w", err)
	}
	client, transport, sessionIDs, err := newClient(l, timeout, opts)
	if err != nil {
		return Summary{}, err
	}
	defer transport.CloseIdleConnections()
	pacer := pc.pacer
	if cfg.limit > 0 {
		pacer = limitPacer{Pacer: pacer, limit: cfg.limit}
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(pc.workers),
		vegeta.MaxWorkers(pc.maxWorkers),
		vegeta.MaxBody(MaxBody),
	)
	c := newConsumer(atk, opts, tgt, sessionIDs)
	start := now()
	c.agg = newAggregator(start, width, duration, timeout, l.RevisionHeader, c.windowClosed)
	if opts.GridPeriod > 0 {
		c.agg.grid = newGrid(start, opts.GridPeriod)
	}
	end := c.attack(ctx, tgt, pacer, duration, width, now)
	elapsed := end.Sub(start)
	if duration > 0 && elapsed > duration {
		elapsed = duration
	}
	c.agg.finish(elapsed)
	c.flush()
	sum := c.summary(pc, start, elapsed, l.Sessions.Count)
	switch {
	case c.err != nil:
		return sum, fmt.Errorf("write load results: %w", c.err)
	case c.agg.err != nil:
		return sum, c.agg.err
	}
	return sum, nil
}

// newClient builds the HTTP client the attack sends with: l's transport
// (see newTransport), behind the sessions' transport when l has sessions,
// whose ids it also returns. The caller closes the transport's idle
// connections when the attack is over.
func newClient(l scenarios.Load, timeout time.Duration, opts Options) (*http.Client, *http.Transport, [][]string, error) {
	transport := newTransport(l, timeout, opts)
	if l.Sessions.Count == 0 {
		return &http.Client{Transport: transport, Timeout: timeout}, transport, nil, nil
	}
	st, err := newSessionTransport(transport, l.Sessions.Count, l.Sessions.Cookies)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("build load sessions: %w", err)
	}
	return &http.Client{Transport: st, Timeout: timeout}, transport, st.ids, nil
}

// newConsumer returns the consumer of atk's results, encoding them into
// opts.Results when set; its aggregator is the caller's to set.
func newConsumer(atk *vegeta.Attacker, opts Options, tgt *targeter, sessionIDs [][]string) *consumer {
	c := &consumer{atk: atk, onWindow: opts.OnWindow, sessions: sessionIDs, keep: keptHeaders(opts.Load.RevisionHeader),
		urls: newURLRedactor(tgt.targets)}
	if opts.Results != nil {
		c.sink = opts.Results
		c.enc = newResultEncoder(c.sink)
	}
	return c
}

// attack runs the attack to its end, or until ctx is done, consuming every
// result, and returns when the load ended: when ctx was done, if it was,
// else when the last result was taken.
func (c *consumer) attack(ctx context.Context, tgt *targeter, pacer vegeta.Pacer, duration, width time.Duration,
	now func() time.Time) time.Time {
	res := c.atk.Attack(tgt.next, pacer, duration, "")

	// The one bridge from ctx to vegeta, which has no context.
	done := make(chan struct{})
	bridged := make(chan time.Time, 1)
	go func() {
		defer close(bridged)
		select {
		case <-ctx.Done():
			bridged <- now()
			c.atk.Stop()
		case <-done:
		}
	}()

	c.consume(res, tgt, width, now)
	end := now()
	close(done)
	if stoppedAt, ok := <-bridged; ok {
		end = stoppedAt
	}
	return end
}

// summary is what the finished attack measured, the load's health judged.
func (c *consumer) summary(pc pacing, start time.Time, elapsed time.Duration, sessions int) Summary {
	sum := Summary{Timeline: c.agg.timeline}
	if g := c.agg.grid; g != nil {
		sum.Grid = g.windows(start.Add(elapsed))
	}
	sum.Totals, sum.Latency = c.agg.totals()
	info := results.LoadInfo{Model: pc.model, Workers: int(pc.maxWorkers), Sessions: sessions,
		Duration: elapsed.Seconds(), SessionRepins: c.repins}
	judge(&info, pc, elapsed, sum.Totals.Requests, c.starved, c.starvedN)
	sum.Load = info
	return sum
}

// pacing is how an attack is paced.
type pacing struct {
	model               string
	pacer               vegeta.Pacer
	workers, maxWorkers uint64
	// asked returns the hits due by an elapsed time (nil: closed model).
	asked func(time.Duration) float64
}

// choosePacing maps the Load's model onto a vegeta pacer and worker bounds.
func choosePacing(l scenarios.Load) (pacing, error) {
	var p pacing
	switch {
	case l.Concurrency > 0:
		n := uint64(l.Concurrency)
		// The zero ConstantPacer sends as fast as workers free up.
		return pacing{model: ModelClosed, pacer: vegeta.ConstantPacer{}, workers: n, maxWorkers: n}, nil
	case len(l.Stages) > 0:
		rp := NewRampPacer(l.StartRate, l.Stages)
		p = pacing{pacer: rp, asked: rp.Hits}
	case l.Rate.Freq > 0 && l.Rate.Per > 0:
		perSec := l.Rate.PerSecond()
		p = pacing{
			pacer: vegeta.ConstantPacer{Freq: l.Rate.Freq, Per: l.Rate.Per},
			asked: func(d time.Duration) float64 { return perSec * d.Seconds() },
		}
	default:
		return pacing{}, errors.New("build load pacer: no rate, stages or concurrency")
	}
	if l.MaxWorkers <= 0 {
		return pacing{}, fmt.Errorf("build load pacer: max_workers %d, want a positive bound (load not defaulted)", l.MaxWorkers)
	}
	p.model = ModelOpen
	p.maxWorkers = uint64(l.MaxWorkers)
	p.workers = min(InitialWorkers, p.maxWorkers)
	return p, nil
}

// judge fills the self-health part of info: the achieved and asked rates,
// and whether the generator was saturated — short of SaturationRatio of the
// asked rate (allowing two hits of rounding), or starved of local
// resources (starved names which, seen in n results).
func judge(info *results.LoadInfo, pc pacing, elapsed time.Duration, sent int64, starved string, n int64) {
	if elapsed <= 0 {
		return
	}
	secs := elapsed.Seconds()
	info.AchievedRate = float64(sent) / secs
	if pc.asked != nil {
		due := pc.asked(elapsed)
		info.AskedRate = due / secs
		if s := float64(sent); s < SaturationRatio*due && due-s >= 2 {
			info.Saturated = true
			info.SaturationReason = fmt.Sprintf("achieved %.1f/s of the asked %.1f/s (%.0f%%) with at most %d workers",
				info.AchievedRate, info.AskedRate, 100*s/due, pc.maxWorkers)
		}
	}
	if starved != "" {
		reason := fmt.Sprintf("the load generator itself is starved: %s in %d results", starved, n)
		if info.Saturated {
			reason = info.SaturationReason + "; " + reason
		}
		info.Saturated, info.SaturationReason = true, reason
	}
}

// newTransport builds the HTTP transport vegeta's own would be for l, with a
// connect timeout short enough to be told apart from the request timeout:
// min(MaxConnectTimeout, 90% of the timeout). Proxies from the environment
// are not used.
func newTransport(l scenarios.Load, timeout time.Duration, opts Options) *http.Transport {
	connect := min(MaxConnectTimeout, timeout*9/10)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second, Resolver: opts.Resolver}
	if !l.KeepAlive {
		dialer.KeepAlive = -1
	}
	tlsConfig := &tls.Config{}
	if opts.TLSConfig != nil {
		tlsConfig = opts.TLSConfig.Clone()
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: connect,
		MaxIdleConnsPerHost: vegeta.DefaultConnections,
		MaxConnsPerHost:     l.Connections,
		DisableKeepAlives:   !l.KeepAlive,
		Protocols:           new(http.Protocols),
	}
	if l.Connections > 0 {
		tr.MaxIdleConnsPerHost = l.Connections
	}
	tr.Protocols.SetHTTP1(true)
	tr.Protocols.SetHTTP2(l.HTTP2)
	return tr
}

// ResultSink is where the engine puts every result, in vegeta's gob
// encoding (what vegeta.NewEncoder writes, so vegeta's decoder reads it).
//
// Each Write holds exactly one whole result (the first also carries gob's
// type definitions), so a sink that keeps a file can
// keep it whole by cutting it between two writes (results.Writer does when
// the disk fills). Write is called for every result on the per-result path
// and should buffer; Flush is called as each window closes and once at the
// end, and should push what was written to where it is kept. The first
// error from either stops the attack: Run returns it wrapped and writes no
// more. Both are called from one goroutine.
type ResultSink interface {
	Write(result []byte) (int, error)
	Flush() error
}

// BufferedSink is a ResultSink over w, which has no Flush of its own (a
// file, a bytes.Buffer): results are written to w through a 64 KiB buffer.
func BufferedSink(w io.Writer) ResultSink { return bufio.NewWriterSize(w, 64<<10) }

var _ ResultSink = (*bufio.Writer)(nil)

// consumer reads vegeta's results channel: it is the one goroutine that
// classifies, encodes and aggregates.
type consumer struct {
	atk      *vegeta.Attacker
	agg      *aggregator
	sink     ResultSink
	enc      *resultEncoder
	onWindow func(results.Window)
	sessions [][]string // SessionHeader value per session; nil: no sessions
	keep     []string   // the response headers a result keeps (canonical names)
	urls     *urlRedactor
	tags     map[string]bool // whether an X-Cutover-* tag's name is secret
	// pins is the instance each session was last served by (X-Instance),
	// repinned whether it has changed since; repins counts those sessions.
	pins     []string
	repinned []bool
	repins   int

	err      error // first write error; encoding stops there
	starved  string
	starvedN int64
}

// consume drains res, ticking the aggregator's clock rules meanwhile.
//
// vegeta's results channel is unbuffered: a worker cannot start its next
// request before this goroutine took its last result, so the receive is on
// every request's path. It is a plain receive whenever a result is waiting
// (the common case under load), and a select over the results and the
// ticker, which costs more, only when none is.
func (c *consumer) consume(res <-chan *vegeta.Result, tgt *targeter, width time.Duration, now func() time.Time) {
	ticker := time.NewTicker(min(width/4, closeGrace))
	defer ticker.Stop()
	for {
		var r *vegeta.Result
		var ok bool
		select {
		case r, ok = <-res:
		default:
			select {
			case r, ok = <-res:
			case <-ticker.C:
				c.agg.tick(now(), tgt.dispatched())
				continue
			}
		}
		if !ok {
			return
		}
		c.add(r)
		select {
		case <-ticker.C:
			c.agg.tick(now(), tgt.dispatched())
		default:
		}
	}
}

// add handles one result: the per-result hot path.
func (c *consumer) add(r *vegeta.Result) {
	cl := classify(r)
	m := markNone
	switch {
	case cl == classOK:
		r.Body = nil
	case cl.isTransport():
		if s := starvation(r.Error); s != "" {
			c.starved = s
			c.starvedN++
		}
	default:
		m = markOf(r, cl)
	}
	r.Headers = c.filterHeaders(r.Headers)
	if c.sessions != nil {
		s := r.Seq % uint64(len(c.sessions))
		if r.Headers == nil {
			// No response: record the session the transport chose from Seq.
			r.Headers = http.Header{SessionHeader: c.sessions[s]}
		} else if in := r.Headers["X-Instance"]; len(in) > 0 {
			c.pin(s, in[0])
		}
	}
	if c.enc != nil && c.err == nil {
		c.redactResult(r)
		if err := c.enc.encode(r); err != nil {
			c.fail(err)
		}
	}
	c.agg.add(r, cl, m)
}

// pin notes that session s was served by instance: a session whose
// instance changes has lost whatever affinity it had.
func (c *consumer) pin(s uint64, instance string) {
	if c.pins == nil {
		c.pins = make([]string, len(c.sessions))
		c.repinned = make([]bool, len(c.sessions))
	}
	switch prev := c.pins[s]; {
	case prev == instance:
		return
	case prev != "" && !c.repinned[s]:
		c.repinned[s] = true
		c.repins++
	}
	c.pins[s] = instance
}

// tagHeaderPrefix starts the response headers a server under test may set
// for cutover to keep in results.bin.
const tagHeaderPrefix = "X-Cutover-"

// keptHeaders lists the response headers a result keeps: the ones cutover
// reads (session, revision, instance), the few that explain an error, and
// any X-Cutover-* header a server under test sets to tag its responses.
// Everything else is dropped before the result is encoded or aggregated:
// results.bin must hold no cookies or tokens, and encoding fewer headers is
// most of what keeps the per-result cost near vegeta's own.
func keptHeaders(revisionHeader string) []string {
	keep := []string{SessionHeader, "X-Instance", "Content-Type", "Server", "Retry-After"}
	if revisionHeader != "" {
		keep = append(keep, http.CanonicalHeaderKey(revisionHeader))
	}
	return keep
}

// filterHeaders deletes from h every header but the keep ones and the
// X-Cutover-* tags, in place, and redacts the value of a tag with a secret
// name (results.SensitiveKey): the result owns its headers, and the
// per-result path allocates nothing for this.
func (c *consumer) filterHeaders(h http.Header) http.Header {
	for k, vs := range h {
		switch {
		case slices.Contains(c.keep, k):
		case !strings.HasPrefix(k, tagHeaderPrefix):
			delete(h, k)
		case c.secretTag(k):
			for i := range vs {
				vs[i] = results.Redacted
			}
		}
	}
	return h
}

// windowClosed flushes the results written so far and passes the window on.
func (c *consumer) windowClosed(w results.Window) {
	c.flush()
	if c.onWindow != nil {
		c.onWindow(w)
	}
}

func (c *consumer) flush() {
	if c.sink == nil || c.err != nil {
		return
	}
	if err := c.sink.Flush(); err != nil {
		c.fail(err)
	}
}

// fail records the first write error and stops the attack; the remaining
// results are still aggregated.
func (c *consumer) fail(err error) {
	if c.err == nil {
		c.err = err
		c.atk.Stop()
	}
}
