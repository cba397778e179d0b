package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// within reports whether got is within frac of want.
func within(got, want int64, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

// TestOpenRate500For10s is the acceptance case: 10 s at 500/s (a fifth of
// that under -race, see rateDivisor) sends
// 5000 ± 1%. With -short it runs 2 s at 500/s instead.
func TestOpenRate500For10s(t *testing.T) {
	t.Parallel()
	du := 10 * time.Second
	if testing.Short() {
		du = 2 * time.Second
	}
	rate := 500 / rateDivisor
	srv, f := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(rate)
	l.Duration = scenarios.Duration(du)
	sum, _ := attack(t, l, srv.URL, 0)
	want := int64(float64(rate) * du.Seconds())
	t.Logf("sent %d requests in %v (%.1f/s)", sum.Totals.Requests, du, sum.Load.AchievedRate)
	if got := sum.Totals.Requests; !within(got, want, 0.01) {
		t.Errorf("sent %d requests, want %d ± 1%%", got, want)
	}
	if got := f.total.Load(); got != sum.Totals.Requests {
		t.Errorf("server saw %d requests, engine counted %d", got, sum.Totals.Requests)
	}
	if sum.Totals.Errors != 0 {
		t.Errorf("errors = %d: %v", sum.Totals.Errors, sum.Totals.ByClass)
	}
	if got := len(sum.Timeline); got != int(du/time.Second) {
		t.Errorf("%d windows, want %d", got, int(du/time.Second))
	}
	info := sum.Load
	if info.Model != ModelOpen || math.Abs(info.AskedRate-float64(rate)) > 1e-9 || info.Saturated || info.Workers != 64 {
		t.Errorf("load info = %+v", info)
	}
	if math.Abs(info.AchievedRate-float64(rate)) > float64(rate)/100 || info.Duration != du.Seconds() {
		t.Errorf("achieved %.1f/s over %.3fs, want %v/s over %v", info.AchievedRate, info.Duration, rate, du)
	}
}

// TestRamp100To500Over10s is the acceptance case: a linear ramp from 100/s
// to 500/s over 10 s sends about 3000 requests (± 2%). With -short it ramps
// over 2 s (600).
func TestRamp100To500Over10s(t *testing.T) {
	t.Parallel()
	du := 10 * time.Second
	if testing.Short() {
		du = 2 * time.Second
	}
	srv, _ := server(t, okHandler)
	l := testLoad()
	l.StartRate = perSecond(100 / rateDivisor)
	l.Stages = []scenarios.Stage{{For: scenarios.Duration(du), Rate: perSecond(500 / rateDivisor)}}
	l.Duration = scenarios.Duration(du)
	sum, res := attack(t, l, srv.URL, 0)
	mean := 300.0 / rateDivisor
	want := int64(mean * du.Seconds())
	t.Logf("sent %d requests in %v, windows %v", sum.Totals.Requests, du, windowCounts(sum.Timeline))
	if got := sum.Totals.Requests; !within(got, want, 0.02) {
		t.Errorf("sent %d requests, want %d ± 2%%", got, want)
	}
	if got := sum.Load.AskedRate; math.Abs(got-mean) > 0.01 {
		t.Errorf("asked rate = %v, want the ramp's mean %v", got, mean)
	}
	// The rate rises: the last window carries more than the first.
	tl := sum.Timeline
	if first, last := tl[0].Requests, tl[len(tl)-1].Requests; last <= 2*first {
		t.Errorf("first window %d requests, last %d: not a ramp", first, last)
	}
	if int64(len(res)) != sum.Totals.Requests {
		t.Errorf("streamed %d results, counted %d", len(res), sum.Totals.Requests)
	}
}

// TestClosedModelKeepsExactlyNInFlight: concurrency 8 never has more than
// 8 requests at the server, over at most 8 connections.
func TestClosedModelKeepsExactlyNInFlight(t *testing.T) {
	t.Parallel()
	srv, f := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A little service time so that more than 8 senders would overlap.
		time.Sleep(2 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	l := closed(8)
	l.Duration = scenarios.Duration(time.Second)
	sum, _ := attack(t, l, srv.URL, 0)
	t.Logf("peak in flight %d, %d connections, %d requests", f.peak.Load(), f.conns.Load(), sum.Totals.Requests)
	if p := f.peak.Load(); p > 8 || p < 2 {
		t.Errorf("peak in flight at the server = %d, want 2..8", p)
	}
	// 8 workers at ≥2 ms each cannot exceed 4000/s.
	if sum.Totals.Requests < 50 || sum.Load.AchievedRate > 4000 {
		t.Errorf("sent %d requests at %.0f/s", sum.Totals.Requests, sum.Load.AchievedRate)
	}
	info := sum.Load
	if info.Model != ModelClosed || info.Workers != 8 || info.AskedRate != 0 || info.Saturated {
		t.Errorf("load info = %+v", info)
	}
}

// TestImpossibleRateSaturatesWithoutCollapse asks 50,000/s of 8 workers:
// the run reports itself saturated, never has more than 8 requests in
// flight, and still sends at a sane rate.
func TestImpossibleRateSaturatesWithoutCollapse(t *testing.T) {
	srv, f := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(50000)
	l.MaxWorkers = 8
	l.Duration = scenarios.Duration(2 * time.Second)
	sum, _ := attack(t, l, srv.URL, 0)
	info := sum.Load
	t.Logf("achieved %.0f/s of %.0f/s; %s", info.AchievedRate, info.AskedRate, info.SaturationReason)
	if !info.Saturated || !strings.Contains(info.SaturationReason, "asked 50000.0/s") {
		t.Errorf("saturated = %v (%q), want true", info.Saturated, info.SaturationReason)
	}
	if p := f.peak.Load(); p > 8 {
		t.Errorf("peak in flight = %d, want at most MaxWorkers 8", p)
	}
	if info.AchievedRate < 200 {
		t.Errorf("achieved %.0f/s: the generator collapsed", info.AchievedRate)
	}
	if sum.Totals.Errors != 0 {
		t.Errorf("errors = %v", sum.Totals.ByClass)
	}
}

func TestWeightedRequests(t *testing.T) {
	t.Parallel()
	var seen counter
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen.add(fmt.Sprintf("%s %s h=%s b=%s", r.Method, r.URL.RequestURI(), r.Header.Get("X-Kind"), body))
	}))
	l := closed(4)
	l.Requests = []scenarios.Request{
		{Method: "GET", Path: "/a?x=1", Headers: map[string]string{"x-kind": "read"}, Weight: 3},
		{Method: "POST", URL: srv.URL + "/b", Body: `{"n":1}`, Weight: 1},
		{Path: "c", Weight: 0}, // defaults: GET, weight 1; relative to the base path
	}
	sum, _ := attack(t, l, srv.URL+"/api/", 500)
	if sum.Totals.Requests != 500 || sum.Totals.Errors != 0 {
		t.Fatalf("totals = %+v", sum.Totals)
	}
	// 500 hits over a cycle of 5 (3+1+1): exactly 300, 100, 100.
	for k, want := range map[string]int{
		"GET /a?x=1 h=read b=": 300,
		`POST /b h= b={"n":1}`: 100,
		"GET /api/c h= b=":     100,
	} {
		if got := seen.get(k); got != want {
			t.Errorf("%q: %d requests, want %d (all: %v)", k, got, want, seen.m)
		}
	}
}

func TestMixInterleavesWeights(t *testing.T) {
	if got := interleave([]int{3, 1}); fmt.Sprint(got) != "[0 0 1 0]" {
		t.Errorf("interleave(3,1) = %v", got)
	}
	if got := interleave([]int{20, 10, 10}); len(got) != 4 {
		t.Errorf("interleave(20,10,10) has %d slots, want 4 (divided by the gcd)", len(got))
	}
	big := interleave([]int{1 << 20, 1})
	if len(big) > maxMixLen+1 || big[0] != 0 {
		t.Errorf("interleave of a huge weight: %d slots", len(big))
	}
}

// TestSessionsHaveTheirOwnCookies: the server sets a unique cookie on a
// request without one; each of 20 sessions must send back its own cookie
// and only its own.
func TestSessionsHaveTheirOwnCookies(t *testing.T) {
	t.Parallel()
	var issued atomic.Int64
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("sid"); err == nil {
			w.Header().Set("X-Cutover-Seen", c.Value)
			return
		}
		v := strconv.FormatInt(issued.Add(1), 10)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: v, Path: "/"})
		w.Header().Set("X-Cutover-Issued", v)
	}))
	l := closed(8)
	l.Sessions = scenarios.Sessions{Count: 20, Cookies: true}
	sum, res := attack(t, l, srv.URL, 400)
	if sum.Totals.Requests != 400 || sum.Load.Sessions != 20 {
		t.Fatalf("totals %+v, load %+v", sum.Totals, sum.Load)
	}
	owner := map[string]string{} // cookie → session it was issued to
	for _, r := range res {
		if v := r.Headers.Get("X-Cutover-Issued"); v != "" {
			owner[v] = r.Headers.Get(SessionHeader)
		}
	}
	sent := map[string]int{} // session → requests carrying its cookie
	for _, r := range res {
		s := r.Headers.Get(SessionHeader)
		if want := strconv.Itoa(SessionOf(r.Seq, 20)); s != want {
			t.Fatalf("seq %d recorded session %q, want %s", r.Seq, s, want)
		}
		if v := r.Headers.Get("X-Cutover-Seen"); v != "" {
			if owner[v] != s {
				t.Fatalf("session %s sent cookie %s, which was issued to session %q", s, v, owner[v])
			}
			sent[s]++
		}
	}
	if len(sent) != 20 {
		t.Errorf("%d sessions sent their cookie back, want 20", len(sent))
	}
	// A session whose first request is slow may send its next one before
	// the cookie came back (as a browser would), so a session can be issued
	// more than one cookie: at most one per request in flight (8) before
	// its first response; and never fewer than one each.
	if n := issued.Load(); n < 20 || n > 8*20 {
		t.Errorf("%d cookies issued, want 20..160", n)
	}
}

// A session's affinity breaks when the instance serving it changes. The
// server pins sessions to instance "a" by cookie and, after the cutover
// (request 100), moves the odd sessions to "b": exactly those are counted.
func TestSessionRepinsCountSessionsWhoseInstanceChanged(t *testing.T) {
	t.Parallel()
	var served, issued atomic.Int64
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		c, err := r.Cookie("sid")
		if err != nil {
			v := strconv.FormatInt(issued.Add(1), 10)
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: v, Path: "/"})
			w.Header().Set("X-Instance", "a")
			return
		}
		inst := "a"
		if id, _ := strconv.Atoi(c.Value); n > 100 && id%2 == 1 {
			inst = "b"
		}
		w.Header().Set("X-Instance", inst)
	}))
	l := closed(1)
	l.Sessions = scenarios.Sessions{Count: 10, Cookies: true}
	sum, _ := attack(t, l, srv.URL, 300)
	// One client in flight: request s (0-based) is session s mod 10, and
	// the first ten requests set the cookies 1..10 (the server's count).
	if sum.Load.SessionRepins != 5 {
		t.Errorf("session repins %d, want 5 (the sessions moved to instance b)", sum.Load.SessionRepins)
	}
}

func TestSessionsWithoutCookiesSendNone(t *testing.T) {
	t.Parallel()
	var withCookie atomic.Int64
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("sid"); err == nil {
			withCookie.Add(1)
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "x"})
	}))
	l := closed(2)
	l.Sessions = scenarios.Sessions{Count: 3}
	_, res := attack(t, l, srv.URL, 30)
	if n := withCookie.Load(); n != 0 {
		t.Errorf("%d requests carried a cookie with cookies off", n)
	}
	for _, r := range res {
		if r.Headers.Get(SessionHeader) == "" {
			t.Fatalf("result %d has no session", r.Seq)
		}
	}
}

// TestCancelStopsAndSummarizes cancels the run when its fifth window
// closes: Run returns nil, with every result accounted for.
func TestCancelStopsAndSummarizes(t *testing.T) {
	t.Parallel()
	srv, f := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(200)
	l.Duration = scenarios.Duration(time.Minute)
	l.Window = scenarios.Duration(200 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int
	var buf bytes.Buffer
	sum, err := Run(ctx, Options{Load: l, BaseURL: srv.URL, Results: BufferedSink(&buf), OnWindow: func(results.Window) {
		if seen++; seen == 5 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkSummary(t, sum)
	if sum.Load.Duration > 30 || sum.Totals.Requests == 0 {
		t.Errorf("ran %.1fs with %d requests after cancel", sum.Load.Duration, sum.Totals.Requests)
	}
	if got := f.total.Load(); got != sum.Totals.Requests {
		t.Errorf("server saw %d, engine counted %d", got, sum.Totals.Requests)
	}
	if n := len(decodeAll(t, &buf)); int64(n) != sum.Totals.Requests {
		t.Errorf("streamed %d results, counted %d", n, sum.Totals.Requests)
	}
	if sum.Load.Saturated {
		t.Errorf("a cancelled run is not saturated: %s", sum.Load.SaturationReason)
	}
}

// TestBufferedResultsReachTheWriterAtEachWindow: the ResultSink (here a
// *bufio.Writer, a buffer as results.Writer's is) is encoded into directly,
// with no buffer of the engine's own in between, and flushed as each window closes, so every
// result of a closed window has reached what it buffers by the time OnWindow
// hears of the window.
func TestBufferedResultsReachTheWriterAtEachWindow(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(200)
	l.Duration = scenarios.Duration(time.Second)
	l.Window = scenarios.Duration(200 * time.Millisecond)
	var file bytes.Buffer
	// Smaller than the engine's own buffer would be, larger than a window's
	// results: only the window's flush can empty it.
	buf := bufio.NewWriterSize(&file, 32<<10)
	var closed int64
	windows := 0
	sum, err := Run(context.Background(), Options{Load: l, BaseURL: srv.URL, Results: buf, OnWindow: func(w results.Window) {
		windows++
		closed += w.Requests
		if got := int64(len(decodeAll(t, bytes.NewReader(file.Bytes())))); got < closed {
			t.Errorf("window %d closed: %d results reached the file, want at least the %d of the closed windows", windows, got, closed)
		}
	}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	checkSummary(t, sum)
	if windows != 5 || closed == 0 {
		t.Errorf("saw %d windows with %d requests, want 5 windows", windows, closed)
	}
	if buf.Buffered() != 0 {
		t.Errorf("%d bytes left in the buffer after Run", buf.Buffered())
	}
	if n := len(decodeAll(t, bytes.NewReader(file.Bytes()))); int64(n) != sum.Totals.Requests {
		t.Errorf("streamed %d results, counted %d", n, sum.Totals.Requests)
	}
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestResultsWriterFailureStopsTheAttack(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, okHandler)
	l := testLoad()
	l.Rate = perSecond(500)
	l.Duration = scenarios.Duration(time.Minute)
	l.Window = scenarios.Duration(50 * time.Millisecond) // flush soon
	sum, err := Run(context.Background(), Options{Load: l, BaseURL: srv.URL, Results: BufferedSink(&failingWriter{n: 10})})
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "write load results") {
		t.Fatalf("err = %v, want the writer's error wrapped", err)
	}
	checkSummary(t, sum)
	if sum.Load.Duration > 30 {
		t.Errorf("attack ran %.1fs after the writer failed", sum.Load.Duration)
	}
}

func TestSetupErrors(t *testing.T) {
	l := closed(1)
	for name, tt := range map[string]struct {
		base string
		reqs []scenarios.Request
		want string
	}{
		"bad base":        {"ftp://x", nil, "scheme"},
		"relative base":   {"/just/a/path", []scenarios.Request{{Path: "/x"}}, "scheme must be http or https"},
		"no host":         {"http:///x", []scenarios.Request{{Path: "/x"}}, "no host"},
		"bad request url": {"http://127.0.0.1:1", []scenarios.Request{{URL: "http://%zz"}}, "invalid URL escape"},
	} {
		l.Requests = tt.reqs
		_, err := Run(context.Background(), Options{Load: l, BaseURL: tt.base})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tt.want)
		}
	}
	if _, err := Run(context.Background(), Options{Load: testLoad(), BaseURL: "http://127.0.0.1:1"}); err == nil {
		t.Error("a load without rate, stages or concurrency ran")
	}
}

func TestRevisionsPerWindow(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Revision", fmt.Sprintf("api-%d", n.Add(1)%2))
	}))
	sum, _ := attack(t, closed(2), srv.URL, 100)
	var byRev = map[string]int64{}
	for _, w := range sum.Timeline {
		for k, v := range w.ByRevision {
			byRev[k] += v
		}
	}
	if byRev["api-0"] != 50 || byRev["api-1"] != 50 {
		t.Errorf("by revision = %v, want 50 each", byRev)
	}
}

func TestProtocolAndConnectionSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tls       bool
		http2     bool
		keepAlive bool
		conns     int
		wantProto int
		// connection count bounds
		minConns, maxConns int64
	}{
		// Go's transport dials for a request that finds no idle connection
		// even if one frees up a moment later, so with keep-alive more
		// connections than workers can open; but most requests reuse one.
		{"http2 over tls", true, true, true, 0, 2, 1, 20},
		{"http2 off", true, false, true, 0, 1, 1, 20},
		{"keep-alive off opens one connection per request", false, true, false, 0, 1, 40, 40},
		// Bound 2 with 8 workers: without the bound there would be 8. The
		// transport may replace a connection it saw fail mid-run (seen under
		// -race on a loaded machine), hence one spare.
		{"connections bound", false, true, true, 2, 1, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var proto counter
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				proto.add(strconv.Itoa(r.ProtoMajor))
			})
			f := &inflight{next: h}
			srv := httptest.NewUnstartedServer(f)
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					f.conns.Add(1)
				}
			}
			var mod func(*Options)
			if tt.tls {
				srv.EnableHTTP2 = true
				srv.StartTLS()
				mod = func(o *Options) {
					o.TLSConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
				}
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			l := closed(8)
			l.HTTP2, l.KeepAlive, l.Connections = tt.http2, tt.keepAlive, tt.conns
			sum, _ := attack(t, l, srv.URL, 40, mod)
			if sum.Totals.Errors != 0 {
				t.Fatalf("errors: %v", sum.Totals.ByClass)
			}
			if got := proto.get(strconv.Itoa(tt.wantProto)); got != 40 {
				t.Errorf("%d of 40 requests over HTTP/%d (%v)", got, tt.wantProto, proto.m)
			}
			if c := f.conns.Load(); c < tt.minConns || c > tt.maxConns {
				t.Errorf("%d connections, want %d..%d", c, tt.minConns, tt.maxConns)
			}
		})
	}
}

func windowCounts(ws []results.Window) []int64 {
	var out []int64
	for _, w := range ws {
		out = append(out, w.Requests)
	}
	return out
}

func TestJudgeSelfHealth(t *testing.T) {
	open := pacing{model: ModelOpen, maxWorkers: 16, asked: func(d time.Duration) float64 { return 100 * d.Seconds() }}
	closedP := pacing{model: ModelClosed, maxWorkers: 8}
	tests := []struct {
		name      string
		pc        pacing
		sent      int64
		starved   string
		saturated bool
		reason    string
	}{
		{"on target", open, 1000, "", false, ""},
		{"5% short is still fine", open, 951, "", false, ""},
		{"short of 95%", open, 900, "", true, "achieved 90.0/s of the asked 100.0/s (90%) with at most 16 workers"},
		{"starved", open, 1000, "local ports exhausted", true, "starved: local ports exhausted in 3 results"},
		{"short and starved", open, 10, "fds", true, "(1%) with at most 16 workers; the load generator itself is starved: fds"},
		{"closed is never short", closedP, 1, "", false, ""},
		{"closed starved", closedP, 1, "fds", true, "starved: fds"},
	}
	for _, tt := range tests {
		var info results.LoadInfo
		judge(&info, tt.pc, 10*time.Second, tt.sent, tt.starved, 3)
		if info.Saturated != tt.saturated || !strings.Contains(info.SaturationReason, tt.reason) {
			t.Errorf("%s: saturated %v %q, want %v containing %q", tt.name, info.Saturated, info.SaturationReason, tt.saturated, tt.reason)
		}
		if want := float64(tt.sent) / 10; info.AchievedRate != want {
			t.Errorf("%s: achieved %v, want %v", tt.name, info.AchievedRate, want)
		}
	}
}

// results.bin keeps what cutover reads and what explains an error, and
// never a cookie or a token the server sent.
func TestResultsKeepOnlySafeHeaders(t *testing.T) {
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "GAESA", Value: "secret-session"})
		w.Header().Set("X-Revision", "api-00002-xyz")
		w.Header().Set("X-Auth-Token", "t0ken")
		w.WriteHeader(http.StatusOK)
	}))
	l := closed(2)
	l.Sessions = scenarios.Sessions{Count: 2, Cookies: true}
	sum, rs := attack(t, l, srv.URL, 20)
	if sum.Totals.Requests != 20 || len(rs) != 20 {
		t.Fatalf("%d requests, %d results; want 20", sum.Totals.Requests, len(rs))
	}
	for _, r := range rs {
		if r.Headers.Get("Set-Cookie") != "" || r.Headers.Get("X-Auth-Token") != "" {
			t.Fatalf("result %d kept a secret header: %v", r.Seq, r.Headers)
		}
		if r.Headers.Get("X-Revision") != "api-00002-xyz" || r.Headers.Get(SessionHeader) == "" {
			t.Fatalf("result %d lost the revision or session: %v", r.Seq, r.Headers)
		}
	}
}

// Run takes a resolved Load and re-derives no default: a Load whose
// timeout, window or open-model worker bound is zero (never defaulted) is
// refused before any request is sent.
func TestRunRefusesALoadNotDefaulted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		unset func(*scenarios.Load)
		want  string
	}{
		{"timeout", func(l *scenarios.Load) { l.Timeout = 0 }, "timeout 0s"},
		{"window", func(l *scenarios.Load) { l.Window = 0 }, "window 0s"},
		{"max workers", func(l *scenarios.Load) { l.MaxWorkers = 0 }, "max_workers 0"},
	}
	for _, tt := range tests {
		l := testLoad()
		l.Rate = perSecond(10)
		l.Duration = scenarios.Duration(time.Second)
		tt.unset(&l)
		// No server: a request sent would fail, but none is.
		_, err := Run(context.Background(), Options{Load: l, BaseURL: "http://127.0.0.1:1/"})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "not defaulted") {
			t.Errorf("%s unset: err = %v, want it refused naming %q", tt.name, err, tt.want)
		}
	}
}
