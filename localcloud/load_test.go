package localcloud

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// lcResult is one request of a test load.
type lcResult struct {
	at       time.Duration // since the load started, when the request was sent
	status   int           // 0 for a transport error
	body     string
	revision string
	instance string
	session  int
	latency  time.Duration
	// setCookie is the GAESA cookie the response set, "" if none.
	setCookie string
}

// lcLoad sends GET requests to url at a constant rate from a bounded pool of
// goroutines, loopback only. With sessions > 0 requests cycle over that many
// virtual clients, each keeping the GAESA cookie it was last given.
type lcLoad struct {
	url  string
	rate float64 // requests per wall second
	// startRate and ramp, when ramp > 0, ramp the rate linearly from
	// startRate to rate over ramp.
	startRate float64
	ramp      time.Duration
	sessions  int
	// maxInFlight bounds concurrent requests; past it a request is not sent
	// and counted in skipped.
	maxInFlight int

	mu      sync.Mutex
	results []lcResult
	cookies map[int]string
	skipped int
	start   time.Time
}

// run drives the load until ctx ends, then waits for the requests in flight.
func (l *lcLoad) run(ctx context.Context, t *testing.T) {
	client := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: l.maxInFlight,
			DisableCompression:  true,
		},
	}
	defer client.CloseIdleConnections()
	l.cookies = map[int]string{}
	l.start = time.Now()
	sem := make(chan struct{}, l.maxInFlight)
	var wg sync.WaitGroup
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		due := int(l.due(time.Since(l.start)))
		for ; sent < due && ctx.Err() == nil; sent++ {
			select {
			case sem <- struct{}{}:
			default:
				l.mu.Lock()
				l.skipped++
				l.mu.Unlock()
				continue
			}
			session := 0
			if l.sessions > 0 {
				session = sent % l.sessions
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				l.one(t, client, session)
			}()
		}
	}
	wg.Wait()
}

// due returns how many requests are due after elapsed.
func (l *lcLoad) due(elapsed time.Duration) float64 {
	if l.ramp <= 0 || elapsed >= l.ramp {
		rampCount := 0.0
		if l.ramp > 0 {
			rampCount = (l.startRate + l.rate) / 2 * l.ramp.Seconds()
		}
		return rampCount + (elapsed-max(l.ramp, 0)).Seconds()*l.rate
	}
	x := elapsed.Seconds()
	return l.startRate*x + (l.rate-l.startRate)*x*x/(2*l.ramp.Seconds())
}

func (l *lcLoad) one(t *testing.T, client *http.Client, session int) {
	at := time.Since(l.start)
	req, err := http.NewRequest("GET", l.url+"/", nil)
	if err != nil {
		t.Error(err)
		return
	}
	if l.sessions > 0 {
		l.mu.Lock()
		if ck := l.cookies[session]; ck != "" {
			req.Header.Set("Cookie", ck)
		}
		l.mu.Unlock()
	}
	r := lcResult{at: at, session: session}
	resp, err := client.Do(req)
	if err != nil {
		r.body = err.Error()
	} else {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		r.status, r.body = resp.StatusCode, string(b)
		r.revision, r.instance = resp.Header.Get(headerRevision), resp.Header.Get(headerInstance)
		for _, c := range resp.Cookies() {
			if c.Name == AffinityCookie {
				r.setCookie = c.Name + "=" + c.Value
			}
		}
	}
	r.latency = time.Since(l.start) - at
	l.mu.Lock()
	if r.setCookie != "" {
		l.cookies[session] = r.setCookie
	}
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// snapshot returns the results so far, sorted by send time.
func (l *lcLoad) snapshot() []lcResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]lcResult(nil), l.results...)
	sort.Slice(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

// lcClass names a result's class for the tests: ok, fetch_failed (a 502
// whose body says fetch failed), upstream_timeout (a 504 saying upstream
// request timeout), or status_N / transport.
func lcClass(r lcResult) string {
	switch {
	case r.status == 0:
		return "transport"
	case r.status == 200:
		return "ok"
	case r.status == 502 && strings.Contains(r.body, "fetch failed"):
		return "fetch_failed"
	case r.status == 504 && strings.Contains(r.body, "upstream request timeout"):
		return "upstream_timeout"
	}
	return fmt.Sprintf("status_%d", r.status)
}

// lcCount counts results by class within [from, to).
func lcCount(results []lcResult, from, to time.Duration) map[string]int {
	m := map[string]int{}
	for _, r := range results {
		if r.at >= from && r.at < to {
			m[lcClass(r)]++
		}
	}
	return m
}

func lcErrors(m map[string]int) int {
	n := 0
	for k, v := range m {
		if k != "ok" {
			n += v
		}
	}
	return n
}

// lcTimeline logs per-interval counts by class, for a failing test.
func lcTimeline(t *testing.T, results []lcResult, step time.Duration) {
	t.Helper()
	if len(results) == 0 {
		return
	}
	end := results[len(results)-1].at
	var b strings.Builder
	for from := time.Duration(0); from <= end; from += step {
		fmt.Fprintf(&b, "%6.1fs %v\n", from.Seconds(), lcCount(results, from, from+step))
	}
	t.Logf("timeline:\n%s", b.String())
}
