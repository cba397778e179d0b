package reporters

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"
	"golang.org/x/net/html"

	"github.com/cutover-dev/cutover/compare"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// cmpSynthRun is a synthetic record of n windows of 1 s with perWindow
// requests each (latency around mean), a deploy of "api" at window
// deploy, and errs(i) 502s in window i.
func cmpSynthRun(t testing.TB, n, perWindow int, mean time.Duration, deploy int, errs func(int) int64, seed uint64, findings ...results.Finding) *results.Run {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	r := &results.Run{SchemaVersion: 1, RunID: "run-" + string(rune('a'+seed)), ScenarioName: "synth", State: results.StateComplete,
		Scenario: []byte(`{"name":"synth"}`), StartedAt: t0, Totals: results.Totals{ByClass: map[results.Class]int64{}}, Findings: findings,
		Verdict: results.Verdict{Status: results.StatusPass}}
	h := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 3)
	for i := range n {
		h.Reset()
		for range perWindow {
			_ = h.RecordValue(int64(float64(mean.Microseconds()) * (1 + 0.1*rng.NormFloat64())))
		}
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		e := min(errs(i), int64(perWindow))
		w := results.Window{Start: t0.Add(time.Duration(i) * time.Second), Requests: int64(perWindow), Errors: e, Histogram: string(enc),
			ByClass: map[results.Class]int64{results.ClassOK: int64(perWindow) - e, results.ClassStatus502: e}}
		r.Timeline = append(r.Timeline, w)
		r.Totals.Requests += w.Requests
		r.Totals.Errors += e
		r.Totals.ByClass[results.ClassStatus502] += e
	}
	at := t0.Add(time.Duration(deploy) * time.Second)
	svc := map[string]string{"service": "api"}
	r.Events = []results.Event{{Kind: results.EventDeployStart, At: at, Details: svc},
		{Kind: results.EventRevisionReady, At: at.Add(2 * time.Second), Details: svc},
		{Kind: results.EventTrafficApplied, At: at.Add(2500 * time.Millisecond), Details: svc}}
	return r
}

// cmpRegression compares a clean base with a head that fails at its cutover,
// n windows each.
func cmpRegression(t testing.TB, n int) *compare.Comparison {
	t.Helper()
	_, _, c := cmpRegressionRuns(t, n)
	return c
}

// cmpRegressionRuns returns the synthetic regression's two records and
// their comparison.
func cmpRegressionRuns(t testing.TB, n int) (base, head *results.Run, c *compare.Comparison) {
	t.Helper()
	none := func(int) int64 { return 0 }
	burst := func(i int) int64 {
		if i >= n/2 && i < n/2+5 {
			return 30
		}
		return 0
	}
	base = cmpSynthRun(t, n, 50, 10*time.Millisecond, n/2, none, 1)
	head = cmpSynthRun(t, n, 50, 10*time.Millisecond, n/2, burst, 2, results.Finding{Cause: "nat-port-exhaustion", Confidence: "high", Primary: 150})
	c, err := compare.Compare(base, head, compare.Options{Limits: scenarios.DefaultCompare(0), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return base, head, c
}

func renderCompare(t *testing.T, format string, c *compare.Comparison) string {
	t.Helper()
	fn, err := CompareByName(format)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := fn(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompareMarkdownIsValidGFM(t *testing.T) {
	for _, n := range []int{60, 3600} {
		c := cmpRegression(t, n)
		md := renderCompare(t, "markdown", c)
		if len(md) >= 65536 {
			t.Errorf("%d windows: Markdown is %d characters, GitHub takes fewer than 65,536", n, len(md))
		}
		if !strings.Contains(md, "**REGRESSION**") || !strings.Contains(md, "new: nat-port-exhaustion, high") {
			t.Errorf("%d windows: Markdown lacks the verdict or the new finding:\n%s", n, md)
		}
		cmpCheckTables(t, md)
		cmpCheckMermaid(t, md, c)
	}
}

// cmpCheckTables renders md with goldmark's GFM (an independent renderer)
// and checks that every table has a non-empty header and as many cells in
// each row as in it, and that no pipe row was left as text.
func cmpCheckTables(t *testing.T, md string) {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&out)
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "p" && strings.HasPrefix(strings.TrimSpace(cmpText(n)), "|") {
			t.Errorf("a table row rendered as a paragraph: %q", cmpText(n))
		}
		if n.Type == html.ElementNode && n.Data == "table" {
			tables++
			rows := cmpElements(n, "tr")
			if len(rows) < 2 {
				t.Errorf("table %d has %d rows", tables, len(rows))
				return
			}
			header := cmpElements(rows[0], "th")
			empty := true
			for _, th := range header {
				if strings.TrimSpace(cmpText(th)) != "" {
					empty = false
				}
			}
			if len(header) == 0 || empty {
				t.Errorf("table %d has an empty header row", tables)
			}
			for i, tr := range rows[1:] {
				if cells := cmpElements(tr, "td"); len(cells) != len(header) {
					t.Errorf("table %d row %d has %d cells, header %d", tables, i+1, len(cells), len(header))
				}
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if want := strings.Count(md, "\n|---"); tables != want {
		t.Errorf("%d tables rendered, the Markdown has %d", tables, want)
	}
}

func cmpElements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == tag {
				out = append(out, c)
				continue
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

func cmpText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(cmpText(c))
	}
	return b.String()
}

var (
	mermaidTitle = regexp.MustCompile(`^    title "[^"]*"$`)
	mermaidX     = regexp.MustCompile(`^    x-axis "[^"]*" \[("[^"]*"(, "[^"]*")*)\]$`)
	mermaidY     = regexp.MustCompile(`^    y-axis "[^"]*" (\d+) --> (\d+)$`)
	mermaidPlot  = regexp.MustCompile(`^    (line|bar) \[(\d+(, \d+)*)\]$`)
)

// cmpCheckMermaid checks the xychart-beta block against the grammar of
// mermaid's xychart: the header, one title, one x-axis of categories, one
// y-axis range, and plots with one number per category within the range.
func cmpCheckMermaid(t *testing.T, md string, c *compare.Comparison) {
	t.Helper()
	start := strings.Index(md, "```mermaid\n")
	if start < 0 {
		t.Fatal("no mermaid block")
	}
	body, _, ok := strings.Cut(md[start+len("```mermaid\n"):], "\n```")
	if !ok {
		t.Fatal("mermaid block not closed")
	}
	lines := strings.Split(body, "\n")
	if lines[0] != "xychart-beta" {
		t.Fatalf("first line %q, want xychart-beta", lines[0])
	}
	var categories, lineSeries, bars int
	var top int
	for _, l := range lines[1:] {
		switch {
		case mermaidTitle.MatchString(l):
		case mermaidX.MatchString(l):
			categories = strings.Count(mermaidX.FindStringSubmatch(l)[1], ",") + 1
		case mermaidY.MatchString(l):
			m := mermaidY.FindStringSubmatch(l)
			if m[1] != "0" {
				t.Errorf("y-axis starts at %s", m[1])
			}
			top = cmpAtoi(t, m[2])
		case mermaidPlot.MatchString(l):
			m := mermaidPlot.FindStringSubmatch(l)
			nums := strings.Split(m[2], ", ")
			if len(nums) != categories {
				t.Errorf("%s has %d numbers, the x-axis %d categories", m[1], len(nums), categories)
			}
			for _, n := range nums {
				if v := cmpAtoi(t, n); v > top {
					t.Errorf("%s value %d above the y-axis top %d", m[1], v, top)
				}
			}
			if m[1] == "line" {
				lineSeries++
			} else {
				bars++
			}
		default:
			t.Errorf("mermaid line not in the xychart grammar: %q", l)
		}
	}
	if categories == 0 || categories > 100 || lineSeries != 2 || bars != 1 {
		t.Errorf("chart: %d categories (want 1–100), %d lines (want 2), %d bar series (want 1, the cutover)", categories, lineSeries, bars)
	}
	var sum int64
	for _, v := range c.Timeline.Head {
		sum += v
	}
	if sum != c.Head.Errors {
		t.Errorf("timeline holds %d head errors, the run %d", sum, c.Head.Errors)
	}
}

func cmpAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	for _, r := range s {
		n = 10*n + int(r-'0')
	}
	return n
}

func TestCompareJUnit(t *testing.T) {
	out := renderCompare(t, "junit", cmpRegression(t, 60))
	var doc struct {
		XMLName xml.Name   `xml:"testsuites"`
		Attrs   []xml.Attr `xml:",any,attr"`
		Suites  []struct {
			Name    string `xml:"name,attr"`
			Skipped *int   `xml:"skipped,attr"`
			Cases   []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	for _, a := range doc.Attrs {
		if a.Name.Local == "skipped" {
			t.Error("testsuites has a skipped attribute: junit-10.xsd rejects it")
		}
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "cutover-compare/synth" || doc.Suites[0].Skipped == nil {
		t.Fatalf("suites = %+v", doc.Suites)
	}
	cases := doc.Suites[0].Cases
	last := cases[len(cases)-1]
	if last.Name != "verdict" || last.Failure == nil {
		t.Errorf("last testcase %q (failure %v), want a failed verdict", last.Name, last.Failure != nil)
	}
	failed := map[string]bool{}
	for _, c := range cases {
		failed[c.Name] = c.Failure != nil
	}
	if !failed["errors (cutover window)"] || !failed["finding nat-port-exhaustion"] || failed["p99 (overall)"] {
		t.Errorf("failures = %v", failed)
	}
}

func TestCompareJSONFieldNames(t *testing.T) {
	out := renderCompare(t, "json", cmpRegression(t, 60))
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scenario", "base", "head", "limits", "errors", "latency", "cutover", "findings", "timeline", "verdict", "method"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var back compare.Comparison
	if err := json.Unmarshal([]byte(out), &back); err != nil || back.Verdict.Status != compare.StatusRegression {
		t.Errorf("round trip: %v, verdict %q", err, back.Verdict.Status)
	}
}

func TestCompareText(t *testing.T) {
	out := renderCompare(t, "text", cmpRegression(t, 60))
	for _, want := range []string{"VERDICT: REGRESSION", "errors in the cutover window", "new: nat-port-exhaustion, high", "api"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	for i, l := range strings.Split(out, "\n") {
		if n := len([]rune(l)); n > 100 {
			t.Errorf("line %d is %d columns: %q", i+1, n, l)
		}
	}
}

// TestCompareGolden renders the synthetic regression in every compare
// format against testdata/compare-regression.*.golden (-update rewrites
// them); rendering twice gives the same bytes (the bootstrap is seeded).
func TestCompareGolden(t *testing.T) {
	// render renders a fresh comparison of the synthetic records; html
	// (CompareHTML) draws the records too, its assets left out.
	render := func(format string) string {
		base, head, c := cmpRegressionRuns(t, 60)
		if format != "html" {
			return renderCompare(t, format, c)
		}
		var b bytes.Buffer
		if err := CompareHTML(&b, base, head, c); err != nil {
			t.Fatal(err)
		}
		return string(withoutAssets(b.Bytes()))
	}
	for _, format := range CompareFormats {
		t.Run(format, func(t *testing.T) {
			got := render(format)
			path := filepath.Join("testdata", "compare-regression."+format+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", path, got)
			}
			if again := render(format); again != got {
				t.Error("two comparisons of the same records render differently")
			}
		})
	}
}
