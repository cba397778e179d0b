package correlate

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// errsAt returns an error function from a table of minute → classes.
func errsAt(table map[int]map[results.Class]int64) func(int) map[results.Class]int64 {
	return func(m int) map[results.Class]int64 { return table[m] }
}

// fetchFailed500 is n 500s whose body says "fetch failed".
func fetchFailed500(n int64) map[results.Class]int64 {
	return map[results.Class]int64{results.ClassStatus500: n, results.AppFetchFailed: n}
}

// with merges class maps.
func with(ms ...map[results.Class]int64) map[results.Class]int64 {
	out := map[results.Class]int64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func upstream504(n int64) map[results.Class]int64 {
	return map[results.Class]int64{results.ClassStatus504: n, results.UpstreamTimeout: n}
}

// natQuietSeries are NAT series as Cloud Monitoring returns them for a
// healthy gateway: no drop, no allocation failure, some ports in use.
func natQuietSeries(minutes int) []results.Series {
	usage := make([]float64, minutes)
	for i := range usage {
		usage[i] = 12
	}
	return []results.Series{
		drops(zeros(minutes)...),
		series(results.QueryNATDroppedSent, map[string]string{"reason": results.DropEndpointConflict}, zeros(minutes)...),
		series(results.QueryNATAllocationFailed, nil, zeros(minutes)...),
		series(results.QueryNATPortUsage, nil, usage...),
	}
}

// s1 is canonical scenario S1: a cold-pool port exhaustion at the cutover.
// New instances open a connection per in-flight request, NAT drops SYNs
// with OUT_OF_RESOURCES, and the app returns 500 "fetch failed" and 504
// "upstream request timeout" while its pool fills.
func s1() Input {
	const n = 12
	return Input{
		Timeline: timeline(n, 6000, errsAt(map[int]map[results.Class]int64{
			4: with(fetchFailed500(300), upstream504(50)),
			5: with(fetchFailed500(200), upstream504(40)),
			6: with(fetchFailed500(100), upstream504(10)),
			7: fetchFailed500(20),
		}), revAfter),
		Events: cutoverEvents(),
		Series: []results.Series{
			drops(0, 0, 0, 40, 5000, 3000, 1200, 100, 0, 0, 0, 0),
			series(results.QueryNATDroppedSent, map[string]string{"reason": results.DropEndpointConflict}, zeros(n)...),
			series(results.QueryNATAllocationFailed, nil, zeros(n)...),
			series(results.QueryNATPortUsage, nil, 20, 20, 20, 40, 64, 64, 64, 50, 30, 20, 20, 20),
			series(results.QueryNATAllocatedPorts, nil, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64, 64),
			series(results.QueryRunRequestCount, map[string]string{"response_code_class": "5xx", "revision_name": "api-00002"}, 0, 0, 0, 0, 350, 240, 110, 20, 0, 0, 0, 0),
			series(results.QueryRunInstanceCount, map[string]string{"state": "active"}, 20, 20, 20, 30, 40, 40, 30, 20, 20, 20, 20, 20),
		},
		Period: minute,
	}
}

// s2 is canonical scenario S2: NAT IP allocation failure. Old endpoints
// keep their port blocks, 9 new ones get none for ≈15 minutes, and about
// 45% of the requests to new instances fail; the endpoints without a block
// also drop with OUT_OF_RESOURCES.
func s2() Input {
	const n = 25
	alloc, drop := zeros(n), zeros(n)
	table := map[int]map[results.Class]int64{}
	for m := 4; m <= 18; m++ {
		alloc[m], drop[m] = 9, 2000+float64(m%4)*50
		table[m] = with(fetchFailed500(1200+int64(m%3)*20), upstream504(100))
	}
	return Input{
		Timeline: timeline(n, 6000, errsAt(table), revAfter),
		Events:   cutoverEvents(),
		Series: []results.Series{
			drops(drop...),
			series(results.QueryNATAllocationFailed, nil, alloc...),
			series(results.QueryNATPortUsage, nil, slices.Repeat([]float64{2048}, n)...),
		},
		Period: minute,
	}
}

// s3 is canonical scenario S3, the negative control: each new instance's
// first outbound calls fail for 20–40 s while Direct VPC egress is
// programmed. NAT is large: no drop and no allocation failure.
func s3() Input {
	const n = 10
	return Input{
		Timeline: timeline(n, 6000, errsAt(map[int]map[results.Class]int64{
			3: fetchFailed500(80),
			4: fetchFailed500(40),
		}), revAfter),
		Events: cutoverEvents(),
		Series: natQuietSeries(n),
		Period: minute,
	}
}

// s4 is S4-churn on a platform that reports the failure: the new
// revision's image was deleted, it never becomes ready, and the old
// instances go away, so the front end answers 503.
func s4() Input {
	const n = 10
	return Input{
		Timeline: timeline(n, 6000, errsAt(map[int]map[results.Class]int64{
			5: {results.ClassStatus503: 200},
			6: {results.ClassStatus503: 200},
			7: {results.ClassStatus503: 200},
		}), nil),
		Events: []results.Event{
			ev(results.EventDeployStart, at(3, 10)),
			ev(results.EventRevisionCreated, at(3, 15), "revision", "api-00002"),
			ev(results.EventActionFailed, at(3, 40), "action", "0", "error",
				`deploy to service "api": revision "api-00002" failed: Image 'europe-docker.pkg.dev/p/r/api@sha256:abc' not found.`),
			ev(results.EventRollbackStart, at(3, 41)),
			ev(results.EventRollbackDone, at(3, 42)),
		},
		Series: natQuietSeries(n),
		Period: minute,
	}
}

// s5 is canonical scenario S5: sticky sessions are re-pinned at the
// cutover and lose their per-instance state (409 from the app); NAT flat.
func s5() Input {
	const n = 10
	return Input{
		Timeline: timeline(n, 6000, errsAt(map[int]map[results.Class]int64{
			4: {results.ClassStatusOther: 120},
			5: {results.ClassStatusOther: 10},
		}), revAfter),
		Events:         cutoverEvents(),
		Series:         natQuietSeries(n),
		Period:         minute,
		Sessions:       200,
		AffinityRepins: 150,
	}
}

// s6 is canonical scenario S6: connection churn without keep-alive. NAT
// drops most new SYNs in steady state, so errors run at the same rate
// before, during and after a deploy.
func s6() Input {
	const n = 12
	noise := []int64{0, 10, -10, 5, -5, 15, -15, 0, 10, -10, 5, -5}
	table := map[int]map[results.Class]int64{}
	drop, conns := zeros(n), zeros(n)
	for m := range n {
		table[m] = fetchFailed500(500 + noise[m])
		drop[m] = 3000 + float64(noise[m]*20)
		conns[m] = 640
	}
	events := []results.Event{
		ev(results.EventDeployStart, at(5, 10)),
		ev(results.EventRevisionCreated, at(5, 15), "revision", "api-00002"),
		ev(results.EventRevisionReady, at(5, 40), "revision", "api-00002"),
		ev(results.EventTrafficApplied, at(5, 45)),
	}
	return Input{
		Timeline: timeline(n, 6000, errsAt(table), nil),
		Events:   events,
		Series: []results.Series{
			drops(drop...),
			series(results.QueryNATAllocationFailed, nil, zeros(n)...),
			series(results.QueryNATNewConnections, nil, conns...),
		},
		Period: minute,
	}
}

// canonicalCase is one canonical scenario and what its analysis must find.
type canonicalCase struct {
	name  string
	in    Input
	top   string
	conf  string
	noNAT bool     // no NAT finding at all
	also  []string // further causes found
	ruled []string // causes considered and ruled out
	not   []string // causes that must not be found
	quote []string // the top finding's evidence contains these
}

func TestAnalyzeCanonicalScenarios(t *testing.T) {
	tests := []canonicalCase{
		{
			// The 504s fall where NAT dropped: they are the drops' errors.
			name: "S1 cold-pool port exhaustion", in: s1(),
			top: CauseNATPortExhaustion, conf: ConfidenceHigh,
			ruled: []string{CauseUpstreamTimeout},
			not:   []string{CauseEgressNotReady, CauseNATAllocationFailure, CausePreExistingErrors},
			quote: []string{"9,340 packets", "OUT_OF_RESOURCES", "720 of the 720 client errors (100%)", "at lag 0", "12:03:00–12:08:00 UTC", "deploy-start", "peaked at 64"},
		},
		{
			// The drops come from the endpoints without a block: the
			// allocation failure explains them, and the 504s with them.
			name: "S2 NAT IP allocation failure", in: s2(),
			top: CauseNATAllocationFailure, conf: ConfidenceHigh,
			ruled: []string{CauseNATPortExhaustion, CauseUpstreamTimeout},
			not:   []string{CauseEgressNotReady, CausePreExistingErrors},
			quote: []string{"15 of the cutover's", "up to 9 endpoints", "12:04:00–12:19:00 UTC"},
		},
		{
			name: "S3 egress not ready, no NAT signal", in: s3(),
			top: CauseEgressNotReady, conf: ConfidenceHigh, noNAT: true,
			quote: []string{"120 errors", "not NAT exhaustion", "api-00002"},
		},
		{
			name: "S4 image missing: revision not ready", in: s4(),
			top: CauseRevisionNotReady, conf: ConfidenceHigh, noNAT: true,
			not:   []string{CauseEgressNotReady},
			quote: []string{"not found", "600 errors"},
		},
		{
			name: "S5 affinity broken at the cutover", in: s5(),
			top: CauseAffinityBroken, conf: ConfidenceHigh, noNAT: true,
			not:   []string{CauseEgressNotReady, CausePreExistingErrors},
			quote: []string{"150 of 200 sessions", "75%", "130 4xx"},
		},
		{
			name: "S6 connection churn before any deploy", in: s6(),
			top: CausePreExistingErrors, conf: ConfidenceHigh, noNAT: true,
			not:   []string{CauseEgressNotReady},
			quote: []string{"before the first deploy-start", "connection churn", "nat_new_connections averaged 640"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, Analyze(tt.in)) })
	}
}

// check compares an analysis of tt.in with what tt wants.
func (tt canonicalCase) check(t *testing.T, a Analysis) {
	t.Helper()
	got := causes(a.Findings)
	if len(got) == 0 {
		t.Fatal("no finding")
	}
	top := a.Findings[0]
	if top.Cause != tt.top {
		t.Fatalf("top finding = %s, want %s; all: %v\n%s", top.Cause, tt.top, got, dump(a.Findings))
	}
	if top.Confidence != tt.conf {
		t.Errorf("top confidence = %s, want %s\n%s", top.Confidence, tt.conf, dump(a.Findings[:1]))
	}
	if len(top.Evidence) == 0 || len(top.Remedy) == 0 {
		t.Errorf("top finding lacks evidence or remedy: %+v", top)
	}
	for _, c := range tt.also {
		if !slices.Contains(got, c) {
			t.Errorf("%s not found; got %v", c, got)
		}
	}
	ruled := causes(a.RuledOut)
	if !slices.Equal(ruled, tt.ruled) {
		t.Errorf("ruled out %v, want %v\n%s", ruled, tt.ruled, dump(a.RuledOut))
	}
	for _, c := range tt.not {
		if slices.Contains(got, c) || slices.Contains(ruled, c) {
			t.Errorf("%s found; got %v, ruled out %v\n%s", c, got, ruled, dump(a.Findings))
		}
	}
	checkAccounting(t, tt.in, a)
	if tt.noNAT {
		for _, c := range got {
			if isNAT(c) {
				t.Errorf("NAT finding %s where NAT shows no cause; got %v\n%s", c, got, dump(a.Findings))
			}
		}
	}
	text := strings.Join(top.Evidence, "\n")
	for _, q := range tt.quote {
		if !strings.Contains(text, q) {
			t.Errorf("evidence does not quote %q:\n%s", q, text)
		}
	}
}

func dump(fs []results.Finding) string {
	b, _ := json.MarshalIndent(fs, "", "  ")
	return string(b)
}

func TestAnalyzeRemedies(t *testing.T) {
	tests := []struct {
		name  string
		in    Input
		cause string
		want  []string
	}{
		{"S1: private IP, private ranges, self-call, NAT room, pooling", s1(), CauseNATPortExhaustion,
			[]string{"private IP", "private-ranges-only", "127.0.0.1", "min ports per VM", "dynamic port allocation", "more NAT IPs", "TIME_WAIT", "reuse"}},
		{"S2: more IPs or AUTO, fewer ports, private ranges", s2(), CauseNATAllocationFailure,
			[]string{"NAT IPs", "AUTO", "fewer ports", "private-ranges-only"}},
		{"S3: startup probe, min instances, connector", s3(), CauseEgressNotReady,
			[]string{"startup probe", "min instances", "Serverless VPC Access connector"}},
		{"S4: existing image, keep more images", s4(), CauseRevisionNotReady,
			[]string{"image that exists", "Keep more images"}},
		{"S5: state out of the instance, best effort", s5(), CauseAffinityBroken,
			[]string{"session state out of the instance", "best-effort"}},
		{"S6: keep-alive pooling, fix the baseline", s6(), CausePreExistingErrors,
			[]string{"keep-alive", "baseline", "TIME_WAIT"}},
		{"upstream timeout, NAT quiet: slow dependency first, not NAT", slowDependency(0, nil), CauseUpstreamTimeout,
			[]string{"slow or failing dependency", "measured and shows no drop", "only after"}},
		{"upstream timeout at the request timeout: the timeout's remedy", slowDependency(8*time.Second, nil), CauseUpstreamTimeout,
			[]string{"ran into the timeout", "raise the request timeout above the dependency's latency"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := find(Analyze(tt.in).Findings, tt.cause)
			if !ok {
				t.Fatalf("%s not found", tt.cause)
			}
			text := strings.Join(f.Remedy, "\n")
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("remedy does not say %q:\n%s", w, text)
				}
			}
		})
	}
}

// statFor returns the stat of class against signal.
func statFor(t *testing.T, a Analysis, class results.Class, signal string) SeriesStat {
	t.Helper()
	for _, s := range a.Stats {
		if s.Class == class && s.Signal == signal {
			return s
		}
	}
	t.Fatalf("no stat for %s × %s", class, signal)
	return SeriesStat{}
}

var oorKey = "nat_dropped_sent{reason=OUT_OF_RESOURCES}"

// Acceptance: aligned series → high overlap and lag 0.
func TestAnalyzeAlignedSeries(t *testing.T) {
	a := Analyze(s1())
	st := statFor(t, a, AllErrors, oorKey)
	if st.CoOccurrence < 0.99 || st.BestLag != 0 || st.Correlation < 0.9 {
		t.Errorf("aligned drops: co-occurrence %v, correlation %v, best lag %d; want ≈1, ≥ 0.9, 0", st.CoOccurrence, st.Correlation, st.BestLag)
	}
	if st.Errors != 720 || st.Overlap != 720 {
		t.Errorf("errors %d, overlap %d; want 720, 720", st.Errors, st.Overlap)
	}
}

// Acceptance: a series shifted by one period → best lag 1.
func TestAnalyzeSeriesShiftedOnePeriod(t *testing.T) {
	in := s1()
	in.Series[0] = drops(0, 0, 0, 0, 40, 5000, 3000, 1200, 100, 0, 0, 0)
	a := Analyze(in)
	st := statFor(t, a, AllErrors, oorKey)
	if st.BestLag != 1 || st.BestCorrelation < 0.9 {
		t.Errorf("shifted drops: best lag %d (r = %v), want 1 (r ≥ 0.9)", st.BestLag, st.BestCorrelation)
	}
	if st.LagCoOccurrence < 0.99 {
		t.Errorf("co-occurrence at the best lag = %v, want ≈ 1", st.LagCoOccurrence)
	}
	// The finding still stands, read at the lag.
	f, ok := find(a.Findings, CauseNATPortExhaustion)
	if !ok || a.Findings[0].Cause != CauseNATPortExhaustion {
		t.Fatalf("top = %v, want %s", causes(a.Findings), CauseNATPortExhaustion)
	}
	if f.Confidence != ConfidenceHigh || !strings.Contains(strings.Join(f.Evidence, " "), "lag +1") {
		t.Errorf("confidence %s, evidence:\n%s", f.Confidence, strings.Join(f.Evidence, "\n"))
	}
}

// Acceptance: errors with a flat series → no finding for that series.
func TestAnalyzeErrorsWithFlatSeries(t *testing.T) {
	in := s1()
	for i := range in.Series {
		if in.Series[i].Query == results.QueryNATDroppedSent {
			for j := range in.Series[i].Points {
				in.Series[i].Points[j].Value = 0
			}
		}
	}
	a := Analyze(in)
	for _, f := range a.Findings {
		if isNAT(f.Cause) {
			t.Errorf("NAT finding %s from a flat series:\n%s", f.Cause, dump(a.Findings))
		}
	}
	st := statFor(t, a, AllErrors, oorKey)
	if !st.Flat || st.CoOccurrence != 0 || st.BestCorrelation != 0 {
		t.Errorf("flat series stat = %+v, want Flat and no measure", st)
	}
	// The errors are still there: with NAT measured and quiet, they are
	// egress not ready.
	if len(a.Findings) == 0 || a.Findings[0].Cause != CauseEgressNotReady {
		t.Errorf("top = %v, want %s", causes(a.Findings), CauseEgressNotReady)
	}
}

// Acceptance: zero errors → no finding that rests on errors; the rules
// about the cutover itself still report what happened.
func TestAnalyzeZeroErrors(t *testing.T) {
	loud := s2() // drops, allocation failures …
	loud.Timeline = timeline(25, 6000, nil, revAfter)
	loud.Sessions, loud.AffinityRepins = 100, 100
	loud.Events = append(loud.Events, ev(results.EventActionFailed, at(5, 0), "error", `revision "x" failed: image not found`))
	quiet := s2()
	quiet.Timeline = timeline(25, 6000, nil, revAfter)
	tests := []struct {
		name  string
		in    Input
		want  []string
		ruled []string
	}{
		{"nothing at all", Input{}, nil, nil},
		{"no errors, NAT drops and failures: nothing to explain", quiet, nil, nil},
		{"no errors, NAT drops and failures, re-pinned sessions, a failed action", loud,
			[]string{CauseRevisionNotReady}, []string{CauseAffinityBroken}},
		{"no errors, generator saturated", func() Input {
			in := loud
			in.Load = results.LoadInfo{Saturated: true, SaturationReason: "achieved 80% of the asked rate", AskedRate: 100, AchievedRate: 80, Workers: 128}
			return in
		}(), []string{CauseRevisionNotReady, CauseLoadGeneratorSaturated}, []string{CauseAffinityBroken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Analyze(tt.in)
			if got := causes(a.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings = %v, want %v\n%s", got, tt.want, dump(a.Findings))
			}
			if got := causes(a.RuledOut); !slices.Equal(got, tt.ruled) {
				t.Errorf("ruled out = %v, want %v\n%s", got, tt.ruled, dump(a.RuledOut))
			}
			if len(a.Stats) != 0 {
				t.Errorf("stats with no errors: %d, want 0", len(a.Stats))
			}
			checkAccounting(t, tt.in, a)
		})
	}
}

func TestAnalyzeSaturatedComesLast(t *testing.T) {
	in := s1()
	in.Load = results.LoadInfo{Saturated: true, SaturationReason: "every worker busy"}
	got := causes(Analyze(in).Findings)
	if got[0] != CauseNATPortExhaustion || got[len(got)-1] != CauseLoadGeneratorSaturated {
		t.Errorf("findings = %v, want NAT first and saturation last", got)
	}
}

func TestAnalyzeEgressWithoutNATMetrics(t *testing.T) {
	in := s3()
	in.Series = nil
	a := Analyze(in)
	if len(a.Findings) == 0 || a.Findings[0].Cause != CauseEgressNotReady {
		t.Fatalf("findings = %v, want %s first", causes(a.Findings), CauseEgressNotReady)
	}
	if c := a.Findings[0].Confidence; c != ConfidenceMedium {
		t.Errorf("confidence without NAT metrics = %s, want %s", c, ConfidenceMedium)
	}
	if !strings.Contains(strings.Join(a.Findings[0].Evidence, " "), "NAT cannot be ruled out") {
		t.Errorf("evidence does not say NAT was not measured:\n%s", strings.Join(a.Findings[0].Evidence, "\n"))
	}
}

func TestAnalyzeChurnPlusCutoverBurst(t *testing.T) {
	// S6's steady churn with an S1 burst on top: both causes, the burst
	// counted above the steady rate only.
	in := s6()
	burst := map[int]int64{6: 3000, 7: 2000, 8: 1000}
	noise := []int64{0, 10, -10, 5, -5, 15, -15, 0, 10, -10, 5, -5}
	in.Timeline = timeline(12, 6000, func(m int) map[results.Class]int64 { return fetchFailed500(500 + noise[m] + burst[m]) }, nil)
	for m, b := range burst {
		in.Series[0].Points[m].Value += float64(b) * 20
	}
	got := causes(Analyze(in).Findings)
	if !slices.Contains(got, CauseNATPortExhaustion) || !slices.Contains(got, CausePreExistingErrors) {
		t.Errorf("findings = %v, want both %s and %s", got, CauseNATPortExhaustion, CausePreExistingErrors)
	}
}

func TestAnalyzeBuckets(t *testing.T) {
	in := s1()
	// Windows that start mid-minute land on the series' minute grid.
	for i := range in.Timeline {
		in.Timeline[i].Start = in.Timeline[i].Start.Add(25 * time.Second)
	}
	a := Analyze(in)
	if len(a.Buckets) != 13 {
		t.Fatalf("%d buckets, want 13", len(a.Buckets))
	}
	for i, b := range a.Buckets {
		if !b.Start.Equal(at(i, 0)) || b.End.Sub(b.Start) != minute {
			t.Fatalf("bucket %d spans %v–%v, want the minute grid", i, b.Start, b.End)
		}
	}
	phases := ""
	for _, b := range a.Buckets {
		phases += b.Phase[:1]
	}
	if phases != "bbbddddddaaaa" {
		t.Errorf("phases = %s, want bbbddddddaaaa", phases)
	}
	if v := a.Buckets[4].Signals[oorKey]; v != 5000 {
		t.Errorf("bucket 4 drops = %v, want 5000", v)
	}
	if !slices.Contains(a.Signals, oorKey) {
		t.Errorf("signals %v lack %s", a.Signals, oorKey)
	}
	var total int64
	for _, b := range a.Buckets {
		total += b.Errors
	}
	if total != 720 {
		t.Errorf("errors in buckets = %d, want 720", total)
	}
}

func TestAnalyzeLeavesItsInputAlone(t *testing.T) {
	in := s1()
	before, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	Analyze(in)
	after, _ := json.Marshal(in)
	if string(before) != string(after) {
		t.Error("Analyze changed its input")
	}
	if !reflect.DeepEqual(Analyze(s1()), Analyze(s1())) {
		t.Error("Analyze is not deterministic")
	}
}

func TestAnalyzeDropReasons(t *testing.T) {
	vals := []float64{0, 0, 0, 40, 5000, 3000, 1200, 100, 0, 0, 0, 0}
	tests := []struct {
		name   string
		labels map[string]string
		top    string
	}{
		{"OUT_OF_RESOURCES", map[string]string{"reason": results.DropOutOfResources}, CauseNATPortExhaustion},
		{"no reason label counts as out of resources", nil, CauseNATPortExhaustion},
		{"ENDPOINT_INDEPENDENCE_CONFLICT", map[string]string{"reason": results.DropEndpointConflict}, CauseNATEndpointConflict},
		{"another reason is not a NAT cause", map[string]string{"reason": "SOMETHING_ELSE"}, CauseEgressNotReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := s3()
			in.Timeline = s1().Timeline
			in.Series = append(in.Series, series(results.QueryNATDroppedSent, tt.labels, vals...))
			got := causes(Analyze(in).Findings)
			if len(got) == 0 || got[0] != tt.top {
				t.Errorf("findings = %v, want %s first", got, tt.top)
			}
		})
	}
}
