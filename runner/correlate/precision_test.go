package correlate

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// Tests for the diagnosis' precision: findings without errors, windows
// off the metric grid, an accounting that adds up, remedies that follow
// the evidence.

var (
	// fractionalCount is a count written with decimals: "72.7 errors".
	fractionalCount = regexp.MustCompile(`\d\.\d+ (errors?|requests?|periods?|responses?|packets?|ports?|sessions?|connections?|endpoints?|workers?)\b`)
	// badPlural is "1 periods", "1 errors", or an "(s)" that dodges it.
	badPlural = regexp.MustCompile(`(^|[^\d,.])1 (errors|periods|requests|responses|packets|ports|sessions|connections|endpoints|workers)\b|\(s\)`)
	// breakdown is a count followed by its classes in parentheses: "104
	// errors fell in periods with drops (status_502 88, status_504 16".
	// quoted is text quoted verbatim from the platform ("CannotPull…").
	quoted    = regexp.MustCompile(`"[^"]*"`)
	breakdown = regexp.MustCompile(`([\d,]+) errors? [^()]*?\(([a-z_0-9]+ [\d,]+(?:, [a-z_0-9]+ [\d,]+)*)[;)]`)
)

// checkAccounting checks what every Analysis must hold: each error is the
// primary error of at most one finding, so the findings' Primary plus
// Unexplained is the timeline's errors exactly; counts are whole, singular
// and plural right, and class breakdowns add up to the count they follow.
func checkAccounting(t *testing.T, in Input, a Analysis) {
	t.Helper()
	var errs int64
	for _, w := range in.Timeline {
		errs += w.Errors
	}
	var primary int64
	for _, f := range a.Findings {
		primary += f.Primary
		if f.Primary > f.Explained {
			t.Errorf("%s: primary %d > explained %d", f.Cause, f.Primary, f.Explained)
		}
		if slices.Contains(f.AlsoConsistent, f.Cause) {
			t.Errorf("%s is also consistent with itself", f.Cause)
		}
		if f.RuledOut != "" {
			t.Errorf("cause %s says it is ruled out: %s", f.Cause, f.RuledOut)
		}
	}
	if primary+a.Unexplained != errs {
		t.Errorf("primary %d + unexplained %d = %d, want the %d errors of the timeline\n%s", primary, a.Unexplained, primary+a.Unexplained, errs, dump(a.Findings))
	}
	if a.Unexplained < 0 {
		t.Errorf("unexplained %d < 0", a.Unexplained)
	}
	for _, f := range a.RuledOut {
		if f.Primary != 0 || len(f.Remedy) != 0 || f.RuledOut == "" {
			t.Errorf("ruled out %s: primary %d, remedies %v, why %q; want no primary, no remedy, a reason", f.Cause, f.Primary, f.Remedy, f.RuledOut)
		}
	}
	for _, f := range slices.Concat(a.Findings, a.RuledOut) {
		for _, s := range append(slices.Clone(f.Evidence), f.RuledOut) {
			checkSentence(t, f.Cause, s)
		}
	}
}

// checkSentence checks one sentence of evidence for fractional counts,
// wrong plurals and class breakdowns that do not add up, leaving out what
// it quotes.
func checkSentence(t *testing.T, cause, s string) {
	t.Helper()
	s = quoted.ReplaceAllString(s, `""`) // the platform's own words, verbatim
	if m := fractionalCount.FindString(s); m != "" {
		t.Errorf("%s: fractional count %q in %q", cause, m, s)
	}
	if m := badPlural.FindString(s); m != "" {
		t.Errorf("%s: wrong plural %q in %q", cause, m, s)
	}
	for _, m := range breakdown.FindAllStringSubmatch(s, -1) {
		want := atoi(t, m[1])
		var got int
		for _, part := range strings.Split(m[2], ", ") {
			_, n, _ := strings.Cut(part, " ")
			got += atoi(t, n)
		}
		if got != want {
			t.Errorf("%s: classes add up to %d, not the %d they follow: %q", cause, got, want, s)
		}
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatalf("%q is not a count: %v", s, err)
	}
	return n
}

// imageDeleted is S4 without churn: the new revision's image was deleted,
// it never becomes ready, the old revision keeps serving and no client
// sees an error. msg is the platform's error.
func imageDeleted(msg string) Input {
	const n = 10
	return Input{
		Timeline: timeline(n, 6000, nil, func(int) string { return "api-00001" }),
		Events: []results.Event{
			ev(results.EventDeployStart, at(3, 10)),
			ev(results.EventRevisionCreated, at(3, 15), "revision", "api-00002"),
			ev(results.EventActionFailed, at(3, 40), "action", "0", "error", msg),
		},
		Series: natQuietSeries(n),
		Period: minute,
	}
}

// Item 1: the rules about the cutover itself run whatever the errors.
func TestAnalyzeFindingsWithoutErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     Input
		causes []string
		ruled  []string
		remedy string // the first cause's remedies say this
		quote  string // its evidence says this
	}{
		{
			name:   "image not found: the old revision kept serving",
			in:     imageDeleted(`deploy to service "api": revision "api-00002" failed: Image 'europe-docker.pkg.dev/p/r/api@sha256:abc' not found.`),
			causes: []string{CauseRevisionNotReady},
			remedy: "image that exists", quote: "the old revision kept serving",
		},
		{
			name:   "CannotPullContainerError gives the missing-image remedy",
			in:     imageDeleted(`CannotPullContainerError: pull access denied for api, repository does not exist or may require 'docker login'`),
			causes: []string{CauseRevisionNotReady},
			remedy: "Keep more images", quote: "No client saw an error",
		},
		{
			name: "a saturated generator, no error",
			in: func() Input {
				in := s3()
				in.Timeline = timeline(10, 6000, nil, revAfter)
				in.Load = results.LoadInfo{Saturated: true, AskedRate: 100, AchievedRate: 62.5, Workers: 1}
				return in
			}(),
			causes: []string{CauseLoadGeneratorSaturated},
			remedy: "fewer requests per second", quote: "It sent 62.5/s of the 100/s asked",
		},
		{
			name: "sessions re-pinned, no error: considered and ruled out",
			in: func() Input {
				in := s5()
				in.Timeline = timeline(10, 6000, nil, revAfter)
				return in
			}(),
			ruled: []string{CauseAffinityBroken},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.in)
			checkAccounting(t, tt.in, a)
			if got := causes(a.Findings); !slices.Equal(got, tt.causes) {
				t.Fatalf("causes %v, want %v\n%s", got, tt.causes, dump(a.Findings))
			}
			if got := causes(a.RuledOut); !slices.Equal(got, tt.ruled) {
				t.Errorf("ruled out %v, want %v\n%s", got, tt.ruled, dump(a.RuledOut))
			}
			if len(a.Findings) == 0 {
				return
			}
			f := a.Findings[0]
			if f.Primary != 0 || a.Unexplained != 0 || f.Confidence != ConfidenceHigh {
				t.Errorf("%s: primary %d, unexplained %d, confidence %s; want 0, 0, high", f.Cause, f.Primary, a.Unexplained, f.Confidence)
			}
			if !strings.Contains(strings.Join(f.Remedy, "\n"), tt.remedy) {
				t.Errorf("remedies do not say %q:\n%s", tt.remedy, strings.Join(f.Remedy, "\n"))
			}
			if !strings.Contains(strings.Join(f.Evidence, "\n"), tt.quote) {
				t.Errorf("evidence does not say %q:\n%s", tt.quote, strings.Join(f.Evidence, "\n"))
			}
		})
	}
}

// misaligned is a local-cloud cutover on a 6 s metric grid whose 1 s load
// windows start offset after the grid, as the load engine aligns them to
// the load's start. perSecond gives the errors in each second of the grid
// (a multiple of 10, so that a window's share is whole); NAT drops the
// errors' seconds' packets in the same periods. A window gets the errors
// of the part of each second it covers.
func misaligned(offset time.Duration, perSecond func(sec int) int64) Input {
	const (
		periods = 12
		period  = 6 * time.Second
		seconds = periods * 6
	)
	frac := offset.Seconds()
	var tl []results.Window
	for i := range seconds - 1 {
		e := int64(float64(perSecond(i))*(1-frac) + float64(perSecond(i+1))*frac + 0.5)
		tl = append(tl, results.Window{
			Start: t0.Add(time.Duration(i)*time.Second + offset), Requests: 200, Errors: e,
			ByClass: map[results.Class]int64{results.ClassOK: 200 - e, results.ClassStatus502: e, results.AppFetchFailed: e},
		})
	}
	dropped := results.Series{Query: results.QueryNATDroppedSent, Labels: map[string]string{"reason": results.DropOutOfResources}}
	for k := range periods {
		var n int64
		for s := k * 6; s < k*6+6; s++ {
			n += perSecond(s)
		}
		start := t0.Add(time.Duration(k) * period)
		dropped.Points = append(dropped.Points, results.Point{Start: start, End: start.Add(period), Value: float64(10 * n)})
	}
	sec := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	return Input{
		Timeline: tl,
		Events: []results.Event{
			ev(results.EventDeployStart, sec(12)),
			ev(results.EventRevisionReady, sec(24), "revision", "api-00002"),
			ev(results.EventTrafficApplied, sec(24)),
		},
		Series: []results.Series{dropped},
		Period: period,
		Window: time.Second,
	}
}

// burstSeconds are errors per second in periods 4–7 (from +24 s): evenly
// spread over each period, or in its first two seconds only, as when new
// instances open their connections at once.
func burstSeconds(front bool) func(int) int64 {
	per := map[int]int64{4: 60, 5: 40, 6: 30, 7: 10}
	return func(s int) int64 {
		n := per[s/6]
		if !front {
			return n
		}
		if s%6 < 2 {
			return 3 * n
		}
		return 0
	}
}

// Item 2: windows off the grid count where most of them is, so errors and
// drops in the same seconds line up at lag 0.
func TestAnalyzeWindowsOffTheGrid(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		front  bool
		exact  bool // every period holds exactly its own seconds' errors
	}{
		{"errors spread over the period, windows 0.4 s off", 400 * time.Millisecond, false, false},
		{"errors spread over the period, windows 0.6 s off", 600 * time.Millisecond, false, false},
		// The window straddling each burst's boundary holds 0.6 s of the
		// burst: it belongs to the burst's period, not the one before.
		{"errors at the start of the period, windows 0.6 s off", 600 * time.Millisecond, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := misaligned(tt.offset, burstSeconds(tt.front))
			a := Analyze(in)
			checkAccounting(t, in, a)
			st := statFor(t, a, AllErrors, oorKey)
			if st.Correlation <= 0.95 || st.BestLag != 0 {
				t.Errorf("r = %.3f at lag 0, best lag %d (r = %.3f); want r > 0.95 at lag 0", st.Correlation, st.BestLag, st.BestCorrelation)
			}
			f, ok := find(a.Findings, CauseNATPortExhaustion)
			if !ok || a.Findings[0].Cause != CauseNATPortExhaustion {
				t.Fatalf("causes %v, want %s first", causes(a.Findings), CauseNATPortExhaustion)
			}
			ev := strings.Join(f.Evidence, "\n")
			if !strings.Contains(ev, "best r = 1.00 at lag 0") && !strings.Contains(ev, "at lag 0 (within ±1)") || strings.Contains(ev, "counting the periods") {
				t.Errorf("the finding does not rest on lag 0:\n%s", ev)
			}
			if !tt.exact {
				return
			}
			perSecond := burstSeconds(tt.front)
			for _, b := range a.Buckets {
				k := int(b.Start.Sub(t0) / (6 * time.Second))
				var want int64
				for s := k * 6; s < k*6+6; s++ {
					want += perSecond(s)
				}
				if b.Errors != want {
					t.Errorf("period %d holds %d errors, want its own %d", k, b.Errors, want)
				}
			}
		})
	}
}

// Item 2, the onset: a window straddling the boundary at which the new
// revision took traffic does not make its errors begin a period early.
func TestAnalyzeOnsetOffTheGrid(t *testing.T) {
	in := misaligned(600*time.Millisecond, burstSeconds(true))
	for i := range in.Series[0].Points {
		in.Series[0].Points[i].Value = 0 // NAT measured and quiet: egress-not-ready
	}
	a := Analyze(in)
	checkAccounting(t, in, a)
	f, ok := find(a.Findings, CauseEgressNotReady)
	if !ok {
		t.Fatalf("causes %v, want %s", causes(a.Findings), CauseEgressNotReady)
	}
	if ev := strings.Join(f.Evidence, "\n"); !strings.Contains(ev, "They began in the period the new revision took traffic") {
		t.Errorf("onset:\n%s", ev)
	}
}

// slowDependency is a service whose dependency is slower than its request
// timeout, before and after a deploy: a share of the requests end in 504
// "upstream request timeout" throughout, with p99 at 8 s in the windows
// with them. other adds errors of another class per minute. NAT is
// measured and quiet; keep-alive is on.
func slowDependency(timeout time.Duration, other map[results.Class]int64) Input {
	const n = 10
	in := Input{
		Timeline: timeline(n, 6000, func(int) map[results.Class]int64 { return with(upstream504(300), other) }, revAfter),
		Events:   cutoverEvents(),
		Series: append(natQuietSeries(n),
			series(results.QueryNATNewConnections, nil, slices.Repeat([]float64{40}, n)...)),
		Period:         minute,
		KeepAlive:      KeepAliveOn,
		RequestTimeout: timeout,
	}
	for i := range in.Timeline {
		if in.Timeline[i].ByClass[results.UpstreamTimeout] > 0 {
			in.Timeline[i].P99 = 8000
		}
	}
	return in
}

// deadEndpoint is a run whose target refuses some connections throughout.
func deadEndpoint(keepAlive KeepAlive) Input {
	in := slowDependency(0, nil)
	in.Timeline = timeline(10, 6000, func(int) map[results.Class]int64 {
		return map[results.Class]int64{results.ClassConnectRefused: 120, results.FetchFailed: 120}
	}, revAfter)
	in.KeepAlive = keepAlive
	return in
}

// Items 3 and 4: the errors several findings cover go to the most
// specific one; remedies only where the evidence supports them.
func TestAnalyzeRemediesFollowTheEvidence(t *testing.T) {
	churnOn := s6()
	churnOn.KeepAlive = KeepAliveOn
	portsOff := s1()
	portsOff.KeepAlive = KeepAliveOff
	conflict := s3()
	conflict.Timeline = s1().Timeline
	conflict.Series = append(conflict.Series, series(results.QueryNATDroppedSent, map[string]string{"reason": results.DropEndpointConflict},
		0, 0, 0, 40, 5000, 3000, 1200, 100, 0, 0))
	tests := []struct {
		name     string
		in       Input
		top      string
		conf     string
		ruled    []string
		want     []string // the top finding's remedies say these
		nowhere  []string // no cause's remedies say these
		evidence string   // the top finding's evidence says this
	}{
		{
			name: "timeouts at the request timeout, keep-alive on: the timeout, not keep-alive",
			in:   slowDependency(8*time.Second, nil),
			top:  CauseUpstreamTimeout, conf: ConfidenceHigh,
			ruled:    []string{CausePreExistingErrors},
			want:     []string{"ran into the timeout"},
			nowhere:  []string{"keep-alive", "Cloud NAT"},
			evidence: "In the windows with them, p99 reached 8,000 ms, at the request timeout of 8s.",
		},
		{
			name: "timeouts, the request timeout unknown: still above pre-existing-errors",
			in:   slowDependency(0, nil),
			top:  CauseUpstreamTimeout, conf: ConfidenceMedium,
			ruled:   []string{CausePreExistingErrors},
			want:    []string{"slow or failing dependency"},
			nowhere: []string{"keep-alive"},
		},
		{
			name: "timeouts and 500s before the cutover: both causes, no keep-alive",
			in:   slowDependency(8*time.Second, fetchFailed500(100)),
			top:  CauseUpstreamTimeout, conf: ConfidenceHigh,
			want:    []string{"ran into the timeout"},
			nowhere: []string{"keep-alive"},
		},
		{
			name: "connections refused: a dead endpoint, not keep-alive",
			in:   deadEndpoint(KeepAliveUnknown),
			top:  CausePreExistingErrors, conf: ConfidenceHigh,
			want:     []string{"baseline", "dead endpoint"},
			nowhere:  []string{"keep-alive", "timeout"},
			evidence: "connections were refused",
		},
		{
			name: "churn shown by the NAT series: keep-alive",
			in:   s6(),
			top:  CausePreExistingErrors, conf: ConfidenceHigh,
			want:     []string{"keep-alive", "TIME_WAIT"},
			evidence: "a new outbound connection for most requests, as without keep-alive",
		},
		{
			name: "the same drops with keep-alive on in the scenario: no keep-alive",
			in:   churnOn,
			top:  CausePreExistingErrors, conf: ConfidenceHigh,
			want:     []string{"TIME_WAIT"},
			nowhere:  []string{"keep-alive with a pooled"},
			evidence: "keep-alive on in the scenario",
		},
		{
			name: "cold-pool exhaustion, keep-alive unknown: a bounded, warmed pool",
			in:   s1(),
			top:  CauseNATPortExhaustion, conf: ConfidenceHigh,
			ruled:   []string{CauseUpstreamTimeout},
			want:    []string{"private IP", "warm it"},
			nowhere: []string{"turn on keep-alive"},
		},
		{
			name: "endpoint-independence conflict, no sign of churn: no keep-alive",
			in:   conflict,
			top:  CauseNATEndpointConflict, conf: ConfidenceHigh,
			ruled:   []string{CauseUpstreamTimeout},
			want:    []string{"endpoint-independent mapping"},
			nowhere: []string{"keep-alive"},
		},
		{
			name: "port exhaustion with keep-alive off: keep-alive",
			in:   portsOff,
			top:  CauseNATPortExhaustion, conf: ConfidenceHigh,
			ruled:    []string{CauseUpstreamTimeout},
			want:     []string{"turn on keep-alive"},
			evidence: "keep-alive off in the scenario",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.in)
			checkAccounting(t, tt.in, a)
			if len(a.Findings) == 0 || a.Findings[0].Cause != tt.top || a.Findings[0].Confidence != tt.conf {
				t.Fatalf("causes %v, want %s (%s) first\n%s", causes(a.Findings), tt.top, tt.conf, dump(a.Findings))
			}
			if got := causes(a.RuledOut); !slices.Equal(got, tt.ruled) {
				t.Errorf("ruled out %v, want %v\n%s", got, tt.ruled, dump(a.RuledOut))
			}
			top := a.Findings[0]
			for _, w := range tt.want {
				if !strings.Contains(strings.Join(top.Remedy, "\n"), w) {
					t.Errorf("remedies do not say %q:\n%s", w, strings.Join(top.Remedy, "\n"))
				}
			}
			for _, f := range a.Findings {
				for _, w := range tt.nowhere {
					if r := strings.Join(f.Remedy, "\n"); strings.Contains(r, w) {
						t.Errorf("%s's remedies say %q, which the evidence does not support:\n%s", f.Cause, w, r)
					}
				}
			}
			if ev := strings.Join(top.Evidence, "\n"); !strings.Contains(ev, tt.evidence) {
				t.Errorf("evidence does not say %q:\n%s", tt.evidence, ev)
			}
		})
	}
}

// Item 3: each error counts once. Where two findings cover the same errors
// the more specific one is their primary cause and the other is named
// beside it; no two causes each explain every error.
func TestAnalyzeAccounting(t *testing.T) {
	tests := []struct {
		name    string
		in      Input
		primary map[string]int64 // cause → primary errors
		also    map[string][]string
		ruled   []string
	}{
		{
			name:    "timeouts everywhere: upstream-timeout takes them, pre-existing-errors is consistent with them",
			in:      slowDependency(8*time.Second, nil),
			primary: map[string]int64{CauseUpstreamTimeout: 3000},
			also:    map[string][]string{CauseUpstreamTimeout: {CausePreExistingErrors}},
			ruled:   []string{CausePreExistingErrors},
		},
		{
			name: "steady churn plus a burst at the cutover: the burst above the rate to NAT, the rest to the baseline",
			in:   churnWithBurst(),
			// The pre-cutover rate predicts 500 errors a minute; minutes
			// 6–8 have 3,485, 2,500 and 1,510 (noise −15, 0, +10): NAT is
			// the primary cause of the 5,995 above 500 there, the baseline
			// of the other 6,005 of the 12,000.
			primary: map[string]int64{CauseNATPortExhaustion: 5995, CausePreExistingErrors: 6005},
			also:    map[string][]string{CauseNATPortExhaustion: nil, CausePreExistingErrors: nil},
		},
		{
			name:    "a pre-cutover rate that does not divide evenly: whole errors",
			in:      unevenRate(),
			primary: nil, // only the invariant
		},
		{
			name:    "allocation failure and its drops: the allocation failure takes them",
			in:      s2(),
			primary: map[string]int64{CauseNATAllocationFailure: 19800},
			also:    map[string][]string{CauseNATAllocationFailure: {CauseNATPortExhaustion, CauseUpstreamTimeout}},
			ruled:   []string{CauseNATPortExhaustion, CauseUpstreamTimeout},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.in)
			checkAccounting(t, tt.in, a)
			var errs int64
			for _, w := range tt.in.Timeline {
				errs += w.Errors
			}
			for _, f := range a.Findings {
				if tt.primary != nil {
					if want, ok := tt.primary[f.Cause]; !ok || f.Primary != want {
						t.Errorf("%s: primary %d, want %d (of %v)", f.Cause, f.Primary, want, tt.primary)
					}
				}
				if want, ok := tt.also[f.Cause]; ok && !slices.Equal(f.AlsoConsistent, want) {
					t.Errorf("%s also consistent with %v, want %v", f.Cause, f.AlsoConsistent, want)
				}
			}
			if tt.primary != nil && len(a.Findings) != len(tt.primary) {
				t.Errorf("causes %v, want those of %v", causes(a.Findings), tt.primary)
			}
			if got := causes(a.RuledOut); tt.ruled != nil && !slices.Equal(got, tt.ruled) {
				t.Errorf("ruled out %v, want %v", got, tt.ruled)
			}
			for i, f := range a.Findings {
				if i > 0 && f.Primary > a.Findings[i-1].Primary {
					t.Errorf("causes not ordered by primary errors: %v", causes(a.Findings))
				}
			}
		})
	}
}

// churnWithBurst is S6's steady churn (about 500 errors a minute, with
// noise) plus a burst of 3,000, 2,000 and 1,000 errors in minutes 6–8 that
// the NAT drops follow.
func churnWithBurst() Input {
	in := s6()
	noise := []int64{0, 10, -10, 5, -5, 15, -15, 0, 10, -10, 5, -5}
	extra := map[int]int64{6: 3000, 7: 2000, 8: 1000}
	in.Timeline = timeline(12, 6000, func(m int) map[results.Class]int64 { return fetchFailed500(500 + noise[m] + extra[m]) }, nil)
	for m, b := range extra {
		in.Series[0].Points[m].Value += float64(b) * 20
	}
	return in
}

// unevenRate is S1 with a pre-cutover error rate that does not divide
// evenly into the periods.
func unevenRate() Input {
	in := s1()
	in.Timeline = timeline(12, 6000, errsAt(map[int]map[results.Class]int64{
		0: fetchFailed500(7), 1: fetchFailed500(3), 2: fetchFailed500(4),
		4: with(fetchFailed500(300), upstream504(50)), 5: with(fetchFailed500(200), upstream504(40)), 6: with(fetchFailed500(100), upstream504(10)),
	}), revAfter)
	return in
}

func TestAttributeTake(t *testing.T) {
	tests := []struct {
		name  string
		left  map[results.Class]int64
		limit int64
		of    map[results.Class]int64
		want  map[results.Class]int64
	}{
		{"all of it", map[results.Class]int64{"a": 3, "b": 2}, 10, nil, map[results.Class]int64{"a": 3, "b": 2}},
		{"only the classes claimed", map[results.Class]int64{"a": 3, "b": 2}, 10, map[results.Class]int64{"b": 5}, map[results.Class]int64{"b": 2}},
		{"at most of each class", map[results.Class]int64{"a": 3, "b": 2}, 10, map[results.Class]int64{"a": 1, "b": 5}, map[results.Class]int64{"a": 1, "b": 2}},
		{"a limit splits in proportion", map[results.Class]int64{"a": 6, "b": 4}, 5, nil, map[results.Class]int64{"a": 3, "b": 2}},
		{"whole errors, the remainder to the largest share", map[results.Class]int64{"a": 5, "b": 5, "c": 1}, 7, nil, map[results.Class]int64{"a": 3, "b": 3, "c": 1}},
		{"nothing", map[results.Class]int64{"a": 5}, 0, nil, map[results.Class]int64{}},
	}
	for _, tt := range tests {
		got := take(tt.left, tt.limit, tt.of)
		if !maps.Equal(got, tt.want) {
			t.Errorf("%s: take = %v, want %v", tt.name, got, tt.want)
		}
		if total(got) > tt.limit {
			t.Errorf("%s: took %d > limit %d", tt.name, total(got), tt.limit)
		}
	}
}

func TestCellsAddUpToTheErrors(t *testing.T) {
	buckets := []Bucket{
		{Errors: 5, ByClass: map[results.Class]int64{"status_500": 3, "app_fetch_failed": 3, "status_504": 2, "upstream_timeout": 2}},
		{Errors: 4, ByClass: map[results.Class]int64{"status_500": 1}},
		{Errors: 1, ByClass: map[results.Class]int64{"status_500": 3}},
		{},
	}
	want := []map[results.Class]int64{
		{"status_500": 3, "status_504": 2},
		{"status_500": 1, ClassUnclassified: 3},
		{ClassUnclassified: 1},
		{},
	}
	for k, c := range cellsOf(buckets) {
		if !maps.Equal(c, want[k]) || total(c) != buckets[k].Errors {
			t.Errorf("bucket %d: cells %v, want %v (adding up to %d)", k, c, want[k], buckets[k].Errors)
		}
	}
}
