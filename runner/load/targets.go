package load

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// maxMixLen bounds the length of the weighted round-robin table; larger
// weight sums are scaled down to fit (the mix then approximates the weights).
const maxMixLen = 1 << 16

// targeter hands out the weighted request templates in a fixed, smoothly
// interleaved order (no randomness: a run's mix is reproducible and exact
// over every cycle). It is safe for concurrent use: one atomic add per hit.
type targeter struct {
	targets []vegeta.Target
	mix     []uint32 // template index per position, weights interleaved
	// shiftEvery rotates the mix by one position every lcm(len(mix),
	// sessions) hits, so that session k (Seq mod sessions) is not stuck with
	// the templates whose positions share its residue.
	shiftEvery uint64
	n          atomic.Uint64
}

// newTargeter resolves the request templates against base and builds the
// weighted mix. No requests means one GET of base.
func newTargeter(base string, reqs []scenarios.Request, sessions int) (*targeter, error) {
	if len(reqs) == 0 {
		reqs = []scenarios.Request{{Method: http.MethodGet, URL: base, Weight: 1}}
	}
	var baseURL *url.URL
	t := &targeter{}
	weights := make([]int, len(reqs))
	for i, r := range reqs {
		raw := r.URL
		if raw == "" {
			if baseURL == nil {
				u, err := parseHTTPURL(base)
				if err != nil {
					return nil, fmt.Errorf("parse target url %q: %w", results.RedactURL(base), redactURLError(err))
				}
				baseURL = u
			}
			ref, err := url.Parse(r.Path)
			if err != nil {
				return nil, fmt.Errorf("parse path %q of request %d: %w", results.RedactURL(r.Path), i, redactURLError(err))
			}
			raw = baseURL.ResolveReference(ref).String()
		}
		if _, err := parseHTTPURL(raw); err != nil {
			return nil, fmt.Errorf("parse url %q of request %d: %w", results.RedactURL(raw), i, redactURLError(err))
		}
		method := r.Method
		if method == "" {
			method = http.MethodGet
		}
		var hdr http.Header
		if len(r.Headers) > 0 {
			hdr = make(http.Header, len(r.Headers))
			for k, v := range r.Headers {
				hdr[http.CanonicalHeaderKey(k)] = []string{v}
			}
		}
		var body []byte
		if r.Body != "" {
			body = []byte(r.Body)
		}
		t.targets = append(t.targets, vegeta.Target{Method: method, URL: raw, Body: body, Header: hdr})
		weights[i] = max(r.Weight, 1)
	}
	t.mix = interleave(weights)
	t.shiftEvery = lcm(uint64(len(t.mix)), uint64(max(sessions, 1)))
	return t, nil
}

// next is the vegeta.Targeter.
func (t *targeter) next(tgt *vegeta.Target) error {
	n := t.n.Add(1) - 1
	*tgt = t.targets[t.mix[(n+n/t.shiftEvery)%uint64(len(t.mix))]]
	return nil
}

// dispatched returns how many targets were handed out, that is how many
// hits were started.
func (t *targeter) dispatched() uint64 { return t.n.Load() }

// redactURLError redacts the URL a *url.Error quotes; setup errors are
// printed and recorded.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: results.RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// parseHTTPURL parses an absolute http or https URL.
func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

// interleave expands weights into a table where template i appears
// weight[i] times (after dividing by their gcd), spread by smooth weighted
// round robin: weights 3,1 give 0,0,1,0 rather than 0,0,0,1.
func interleave(weights []int) []uint32 {
	g := 0
	sum := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	for i := range weights {
		weights[i] /= g
		sum += weights[i]
	}
	if sum > maxMixLen {
		scaled := 0
		for i, w := range weights {
			weights[i] = max(1, int(int64(w)*maxMixLen/int64(sum)))
			scaled += weights[i]
		}
		sum = scaled
	}
	table := make([]uint32, 0, sum)
	current := make([]int, len(weights))
	for range sum {
		best := 0
		for i, w := range weights {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= sum
		table = append(table, uint32(best))
	}
	return table
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b uint64) uint64 {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}
