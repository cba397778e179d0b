package reporters

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cutover-dev/cutover/internal/browsertest"
	"github.com/cutover-dev/cutover/results"
)

func renderHTML(t testing.TB, run *results.Run) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := HTML(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withoutAssets is an HTML page with the embedded assets (uPlot, the page's
// script and styles) replaced by their names: what a golden file holds, so
// that it shows the page and its data, not the vendored library.
func withoutAssets(page []byte) []byte {
	s := string(page)
	for name, asset := range map[string]string{"uPlot.iife.min.js": uplotJS, "uPlot.min.css": uplotCSS, "report.js": reportJS, "report.css": reportCSS} {
		s = strings.Replace(s, asset, "/* assets/"+name+" */", 1)
	}
	return []byte(s)
}

func TestLTTB(t *testing.T) {
	var pts []xy
	for i := range 1000 {
		pts = append(pts, xy{float64(i), math.Sin(float64(i) / 50)})
	}
	pts[500].y = 40 // a spike LTTB must keep
	pts[700].y = -30
	got := lttb(pts, 100)
	if len(got) != 100 {
		t.Fatalf("lttb kept %d points, want 100", len(got))
	}
	if got[0] != pts[0] || got[len(got)-1] != pts[len(pts)-1] {
		t.Errorf("lttb lost an end: %v … %v", got[0], got[len(got)-1])
	}
	var spike, dip bool
	for i, p := range got {
		spike = spike || p == pts[500]
		dip = dip || p == pts[700]
		if i > 0 && p.x <= got[i-1].x {
			t.Fatalf("lttb out of order at %d: %v after %v", i, p, got[i-1])
		}
	}
	if !spike || !dip {
		t.Errorf("lttb dropped the spike (%v) or the dip (%v)", spike, dip)
	}
	if short := pts[:50]; len(lttb(short, 100)) != 50 {
		t.Error("lttb changed a line shorter than its bound")
	}
	if len(lttb(pts, 2)) != len(pts) {
		t.Error("lttb with a bound under 3 changed the line")
	}
}

// A long run's windows are summed into buckets: no request is dropped, and
// the rates drawn times the time their buckets cover are the counts; also
// on a compare of runs with windows of different lengths.
func TestHTMLBucketsSumCounts(t *testing.T) {
	hour := oneHourRun(t)
	two := inconclusiveRun() // 2 s windows, 10 minutes
	one := passRun()         // 1 s windows
	for _, tc := range []struct {
		name string
		runs []pageRun
	}{
		{"one hour", []pageRun{pageRunOf(t, hour, "")}},
		{"compare", []pageRun{pageRunOf(t, two, "base"), pageRunOf(t, one, "head")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := chartsOf(tc.runs)
			if err != nil {
				t.Fatal(err)
			}
			reqs := data.Charts[0]
			if reqs.ID != "requests" || len(reqs.X) > maxBuckets {
				t.Fatalf("first chart %q has %d points, want requests with at most %d", reqs.ID, len(reqs.X), maxBuckets)
			}
			width := float64(reqs.X[1] - reqs.X[0])
			for _, r := range tc.runs {
				ws := r.view.run.Timeline
				end := ws[len(ws)-1].Start.Add(windowWidth(ws)).Sub(ws[0].Start).Seconds()
				var drawn float64
				for _, s := range reqs.Series {
					if !strings.HasPrefix(s.Label, prefixOf(r.Label)) {
						continue
					}
					for k, rate := range s.Values {
						if !math.IsNaN(float64(rate)) {
							drawn += float64(rate) * min(width, end-float64(reqs.X[k]))
						}
					}
				}
				if math.Abs(drawn-float64(r.view.run.Totals.Requests)) > 1 {
					t.Errorf("%s: rates × time drawn = %.1f requests, the run has %d", r.Label, drawn, r.view.run.Totals.Requests)
				}
			}
		})
	}
}

func pageRunOf(t *testing.T, run *results.Run, label string) pageRun {
	t.Helper()
	v, err := newView(run)
	if err != nil {
		t.Fatal(err)
	}
	return newPageRun(v, label)
}

// Everything the record's text puts on the page is escaped: a finding or an
// event cannot close the data script or add markup.
func TestHTMLEscapesRecordText(t *testing.T) {
	run := failRun()
	hostile := `</script><img src=x onerror=alert(1)>`
	run.ScenarioName = "name" + hostile
	run.Findings[0].Evidence = append(run.Findings[0].Evidence, "evidence"+hostile)
	run.Verdict.Reasons = append(run.Verdict.Reasons, "reason"+hostile)
	run.Events = append(run.Events, results.Event{Kind: "note", At: at(30 * time.Second), Details: map[string]string{"message": hostile}})
	run.Series[0].Labels = map[string]string{"reason": hostile}
	page := string(renderHTML(t, run))
	if strings.Contains(page, "<img") {
		t.Errorf("record text reached the page as markup:\n%s", excerpt(page, "<img"))
	}
	if n := strings.Count(page, "</script>"); n != 3 {
		t.Errorf("page has %d </script>, want the 3 of its own scripts", n)
	}
	if !strings.Contains(page, "evidence&lt;/script&gt;&lt;img") {
		t.Error("the hostile evidence is not shown escaped")
	}
}

func excerpt(s, sub string) string {
	i := strings.Index(s, sub)
	return s[max(0, i-200):min(len(s), i+200)]
}

// The page loads nothing: no script, style or image from anywhere.
func TestHTMLIsSelfContained(t *testing.T) {
	page := string(renderHTML(t, failRun()))
	for _, re := range []string{`<script[^>]+src=`, `<link[^>]+href="(?:https?:)?//`, `<img[^>]+src=`, `@import`, `url\((?:'|")?(?:https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("page loads something: %q", m)
		}
	}
	if !strings.Contains(page, "uPlot (v"+uplotVersion+")") {
		t.Errorf("page does not inline uPlot %s", uplotVersion)
	}
}

// oneHourRun is an hour of load at 50/s in one-second windows, with real
// histograms, a deploy at 30 minutes switching revisions over a minute,
// errors around it, five events and seven platform series of one point a
// second.
func oneHourRun(t testing.TB) *results.Run {
	t.Helper()
	run := failRecord()
	run.Timeline, run.Series = nil, nil
	run.Totals = results.Totals{ByClass: map[results.Class]int64{}}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 3600
	deploy := 1800
	for i := range n {
		h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
		w := results.Window{Start: at(time.Duration(i) * time.Second), Requests: 50, ByClass: map[results.Class]int64{}, ByRevision: map[string]int64{}}
		for range 50 {
			us := int64(20000 + rng.ExpFloat64()*10000)
			if i >= deploy && i < deploy+60 && rng.IntN(10) == 0 {
				us *= 50
			}
			_ = h.RecordValue(us)
		}
		if i >= deploy && i < deploy+60 {
			w.ByClass[results.ClassStatus502] = 3
			w.ByClass[results.ClassConnectTimeout] = 1
			w.ByClass[results.FetchFailed] = 1
			w.Errors = 4
		}
		newShare := min(max(int64(i-deploy), 0), 60) * 50 / 60
		w.ByRevision["web-00001-abc"], w.ByRevision["web-00002-xyz"] = 50-newShare, newShare
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		w.Histogram = string(enc)
		w.P50, w.P99 = float64(h.ValueAtQuantile(50))/1000, float64(h.ValueAtQuantile(99))/1000
		addWindow(run, run.Totals.ByClass, w)
	}
	run.Events = []results.Event{
		{Kind: results.EventDeployStart, At: at(time.Duration(deploy) * time.Second)},
		{Kind: results.EventRevisionCreated, At: at(time.Duration(deploy+2) * time.Second)},
		{Kind: results.EventRevisionReady, At: at(time.Duration(deploy+9) * time.Second)},
		{Kind: results.EventTrafficApplied, At: at(time.Duration(deploy+10) * time.Second)},
		{Kind: results.EventRollbackDone, At: at((n + 5) * time.Second)},
	}
	for _, key := range []string{"nat_dropped_sent{reason=OUT_OF_RESOURCES}", "nat_allocation_failed", "nat_port_usage", "nat_open_connections",
		"nat_new_connections", "run_instance_count{revision_name=web-00001-abc}", "run_instance_count{revision_name=web-00002-xyz}"} {
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(rng.IntN(100))
		}
		run.Series = append(run.Series, seriesOf([]string{key}, map[string][]float64{key: vals}, time.Second, n)...)
	}
	return run
}

// maxOneHourPage is the bound on a 1-hour run's page (issue 13).
const maxOneHourPage = 2 << 20

func TestHTMLOneHourSize(t *testing.T) {
	page := renderHTML(t, oneHourRun(t))
	if len(page) > maxOneHourPage {
		t.Errorf("a 1-hour run's page is %d bytes, over %d", len(page), maxOneHourPage)
	}
	t.Logf("1-hour page: %d bytes", len(page))
}

func BenchmarkHTMLOneHour(b *testing.B) {
	run := oneHourRun(b)
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := HTML(&buf, run); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}

func TestHTMLInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			run := fx.run()
			p := browsertest.Open(t, browsertest.Serve(t, renderHTML(t, run)), "#charts canvas")
			charts := browsertest.CheckReport(t, p, run)
			var metrics int
			for _, c := range charts {
				if strings.HasPrefix(c.ID, "metric-") {
					metrics++
				}
			}
			queries := map[results.Query]bool{}
			for _, s := range run.Series {
				if len(s.Points) > 0 {
					queries[s.Query] = true
				}
			}
			if metrics != len(queries) {
				t.Errorf("%d metric charts for %d queries with points", metrics, len(queries))
			}
		})
	}
}

// A record with nothing on its timeline (a run that failed before the
// load) still makes a page without a script error, saying there is no data.
func TestHTMLEmptyRunInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	run := failRecord()
	run.Timeline, run.Events, run.Series = nil, nil, nil
	run.Verdict = results.Verdict{Status: results.StatusFail, Reasons: []string{"the target refused every connection"}}
	p := browsertest.Open(t, browsertest.Serve(t, renderHTML(t, run)), "#plots")
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page had problems:\n%s", strings.Join(probs, "\n"))
	}
	text := p.Text()
	for _, s := range []string{"No data.", "No events.", "the target refused every connection"} {
		if !strings.Contains(text, s) {
			t.Errorf("page lacks %q:\n%s", s, text)
		}
	}
}

// A 1-hour run's page draws in the browser like any other; the test logs
// how long the charts took (BenchmarkHTMLOneHour times the rendering).
func TestHTMLOneHourInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	run := oneHourRun(t)
	p := browsertest.Open(t, browsertest.Serve(t, renderHTML(t, run)), "#charts canvas")
	browsertest.CheckReport(t, p, run)
	t.Logf("the browser drew the charts in %.0f ms", browsertest.Eval[float64](p, "window.cutoverDrawMs"))
}

// compareSummary is a plausible summary of failRun against passRun.
func compareSummary() CompareSummary {
	return CompareSummary{
		Verdict: "REGRESSION",
		Reasons: []string{"errors in the cutover window rose from 0 to 90 (p < 0.001)", "new finding: nat-port-exhaustion (high)"},
		Header:  []string{"metric", "base", "head", "Δ", "verdict"},
		Rows: [][]string{
			{"errors (cutover window)", "0", "90", "+90", "regression"},
			{"p99 (cutover window)", "48 ms", "2,400 ms", "+2,352 ms", "regression"},
		},
	}
}

func TestHTMLCompareInBrowser(t *testing.T) {
	browsertest.Chromium(t)
	base, head := passRun(), failRun()
	var buf bytes.Buffer
	if err := HTMLCompare(&buf, base, head, compareSummary()); err != nil {
		t.Fatal(err)
	}
	p := browsertest.Open(t, browsertest.Serve(t, buf.Bytes()), "#charts canvas")
	charts := browsertest.CheckReport(t, p, base, head)
	for _, c := range charts {
		if c.ID == "revisions" {
			continue // each run's own revisions
		}
		var b, h int64
		for label, n := range c.Series {
			switch {
			case strings.HasPrefix(label, "base: "):
				b = max(b, n)
			case strings.HasPrefix(label, "head: "):
				h = max(h, n)
			default:
				t.Errorf("chart %s: series %q is of neither run", c.ID, label)
			}
		}
		if c.ID == "requests" || c.ID == "latency" {
			if b < 20 || h < 20 {
				t.Errorf("chart %s: base drew %d pixels, head %d", c.ID, b, h)
			}
		}
	}
	text := p.Text()
	for _, s := range []string{"REGRESSION", "new finding: nat-port-exhaustion (high)", "2,400 ms"} {
		if !strings.Contains(text, s) {
			t.Errorf("the summary's %q is not on the page", s)
		}
	}
	for _, e := range []string{"base: 1", "head: 1"} {
		if !strings.Contains(text, e) {
			t.Errorf("no event labelled %q", e)
		}
	}
}

// The compare page of failRun against passRun, less the embedded assets,
// is testdata/compare.html.golden; a missing run or a failing writer is
// an error.
func TestHTMLCompare(t *testing.T) {
	var buf bytes.Buffer
	if err := HTMLCompare(&buf, passRun(), failRun(), compareSummary()); err != nil {
		t.Fatal(err)
	}
	got := withoutAssets(buf.Bytes())
	path := filepath.Join("testdata", "compare.html.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept)", path)
	}
	for _, runs := range [][2]*results.Run{{nil, failRun()}, {passRun(), nil}} {
		if err := HTMLCompare(&bytes.Buffer{}, runs[0], runs[1], compareSummary()); err == nil {
			t.Error("HTMLCompare without a run succeeded")
		}
	}
	for _, after := range []int{0, 100, 1000} {
		err := HTMLCompare(&failingWriter{after: after}, passRun(), failRun(), compareSummary())
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("with a writer failing after %d bytes: err = %v", after, err)
		}
	}
}

// TestHTMLScreenshotFixtures writes the fixtures' pages as PNGs into
// $CUTOVER_SCREENSHOTS, to look at while working on the page.
func TestHTMLScreenshotFixtures(t *testing.T) {
	dir := os.Getenv("CUTOVER_SCREENSHOTS")
	if dir == "" {
		t.Skip("CUTOVER_SCREENSHOTS not set")
	}
	for _, fx := range fixtures {
		p := browsertest.Open(t, browsertest.Serve(t, renderHTML(t, fx.run())), "#charts canvas")
		if err := os.WriteFile(filepath.Join(dir, "fixture-"+fx.name+".png"), p.Screenshot(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
