package reporters

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cutover-dev/cutover/results"
)

// uplotVersion is the version of the vendored uPlot (assets/uplot/README.md).
const uplotVersion = "1.6.32"

var (
	//go:embed assets/uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uplot/uPlot.min.css
	uplotCSS string
	//go:embed assets/report.js
	reportJS string
	//go:embed assets/report.css
	reportCSS string
	//go:embed assets/report.html.tmpl
	reportTemplate string
)

var htmlTemplate = template.Must(template.New("report.html").Parse(reportTemplate))

// maxBuckets bounds the points of a timeline chart: a longer run's windows
// are summed into wider buckets, so a 1-hour run (3,600 one-second windows)
// draws 600 points a line and its page stays well under 2 MB.
const maxBuckets = 600

// maxSeriesPoints bounds the points of one platform metric series; a longer
// one is downsampled with LTTB, which keeps its peaks.
const maxSeriesPoints = 600

// CompareSummary is what a comparison of two runs concluded, as HTMLCompare
// shows it above the charts: the verdict line (REGRESSION, IMPROVEMENT, NO
// CHANGE or INCONCLUSIVE), its reasons, and a table of the metrics compared
// (Header names the columns; each row has one cell per column).
type CompareSummary struct {
	Verdict string
	Reasons []string
	Header  []string
	Rows    [][]string
}

// HTML writes the run as one self-contained HTML page that works offline:
// the verdict, its reasons and the findings with their evidence and
// remedies, then, on one time axis in seconds from the start of the load,
// charts of the requests per second by result class, the latency
// percentiles, the share of each revision and every platform metric series,
// with a marker for every event. The chart library (uPlot) and the data are
// inlined; the page loads nothing.
func HTML(w io.Writer, run *results.Run) error {
	v, err := newView(run)
	if err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	runs := []pageRun{newPageRun(v, "")}
	page := htmlPage{Title: "cutover: " + v.name, Runs: runs}
	page.Data, err = chartsOf(runs)
	if err != nil {
		return fmt.Errorf("render html report: %w", err)
	}
	page.Events = legendOf(runs)
	return writePage(w, &page)
}

// HTMLCompare writes the comparison of two runs as one self-contained page
// like HTML's: the summary's verdict, reasons and table on top, each run's
// verdict and findings, then the charts with base and head overlaid (each
// run on the seconds from its own load start, base dashed and lighter), and
// the events of both runs marked, labelled base: and head:.
func HTMLCompare(w io.Writer, base, head *results.Run, summary CompareSummary) error {
	bv, err := newView(base)
	if err != nil {
		return fmt.Errorf("render html comparison: base: %w", err)
	}
	hv, err := newView(head)
	if err != nil {
		return fmt.Errorf("render html comparison: head: %w", err)
	}
	runs := []pageRun{newPageRun(bv, "base"), newPageRun(hv, "head")}
	title := "cutover compare: " + bv.name
	if hv.name != bv.name {
		title += " vs " + hv.name
	}
	page := htmlPage{Title: title, Runs: runs, Summary: &summary}
	page.Data, err = chartsOf(runs)
	if err != nil {
		return fmt.Errorf("render html comparison: %w", err)
	}
	page.Events = legendOf(runs)
	return writePage(w, &page)
}

func writePage(w io.Writer, page *htmlPage) error {
	page.UPlotVersion = uplotVersion
	page.UPlotJS = template.JS(uplotJS)
	page.UPlotCSS = template.CSS(uplotCSS)
	page.ReportJS = template.JS(reportJS)
	page.ReportCSS = template.CSS(reportCSS)
	ew := &errWriter{w: w}
	if err := htmlTemplate.Execute(ew, page); err != nil {
		if ew.err != nil {
			return fmt.Errorf("render html report: %w", ew.err)
		}
		return fmt.Errorf("render html report: %w", err)
	}
	return nil
}

// htmlPage is what the template renders. Every string in it is escaped by
// html/template for where it lands; Data is JSON in a script.
type htmlPage struct {
	Title        string
	Summary      *CompareSummary
	Runs         []pageRun
	Events       []legendEvent
	Data         chartsData
	UPlotVersion string
	UPlotJS      template.JS
	UPlotCSS     template.CSS
	ReportJS     template.JS
	ReportCSS    template.CSS
}

// pageRun is one run of a page: its verdict and findings for the header,
// and its view for the charts.
type pageRun struct {
	// Label is "" on a single run's page, "base" or "head" on a compare.
	Label    string
	Name     string
	RunID    string
	Status   string
	Headline string
	Reasons  []string
	Findings []results.Finding
	// Preflight are what the preflight guard found before the load.
	Preflight []results.Finding
	Saturated string
	view      *view
}

func newPageRun(v *view, label string) pageRun {
	return pageRun{
		Label: label, Name: v.name, RunID: v.run.RunID, Status: v.status, Headline: v.headline,
		Reasons: v.run.Verdict.Reasons, Findings: v.findings, Preflight: v.preflight, Saturated: saturationWarning(v.run.Load), view: v,
	}
}

// legendEvent is one event in the page's event list.
type legendEvent struct {
	N       int
	Run     string
	Kind    string
	Offset  string
	Seconds string
	Details string
}

// chartsData is the JSON the page's script draws: every chart on one x
// scale, and the event markers drawn on each.
type chartsData struct {
	XMin    num         `json:"xMin"`
	XMax    num         `json:"xMax"`
	Charts  []chartData `json:"charts"`
	Markers []marker    `json:"markers"`
}

// chartData is one chart: its x values and its series, aligned to them.
type chartData struct {
	ID     string       `json:"id"`
	Title  string       `json:"title"`
	Unit   string       `json:"unit"`
	Log    bool         `json:"log,omitempty"`
	X      []num        `json:"x"`
	Series []seriesData `json:"series"`
}

// seriesData is one line of a chart. Series of the same Stack are drawn
// stacked, in order, each filled down to the one before.
type seriesData struct {
	Label  string `json:"label"`
	Color  string `json:"color"`
	Dash   bool   `json:"dash,omitempty"`
	Stack  string `json:"stack,omitempty"`
	Values []num  `json:"values"`
}

// marker is one event's vertical line.
type marker struct {
	X     num    `json:"x"`
	Label string `json:"label"`
	Color string `json:"color"`
	Dash  bool   `json:"dash,omitempty"`
}

// num is a value of the page's JSON: rounded to a thousandth, and null
// when NaN (no value: a gap in the line).
type num float64

// gap is the value of a chart's series where it has none.
var gap = num(math.NaN())

// MarshalJSON implements json.Marshaler.
func (n num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(f*1000)/1000, 'f', -1, 64), nil
}

// secs is d as a num of seconds.
func secs(d time.Duration) num { return num(d.Seconds()) }

// loadStart is where a run's time axis starts: its first window, or the
// run's start when it has none.
func loadStart(v *view) time.Time {
	if len(v.run.Timeline) > 0 {
		return earliest(v.run.Timeline)
	}
	return v.origin
}

// windowWidth is the timeline's window length: the smallest gap between two
// window starts, one second when it cannot be told.
func windowWidth(ws []results.Window) time.Duration {
	starts := make([]time.Time, len(ws))
	for i, w := range ws {
		starts[i] = w.Start
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	width := time.Duration(0)
	for i := 1; i < len(starts); i++ {
		if d := starts[i].Sub(starts[i-1]); d > 0 && (width == 0 || d < width) {
			width = d
		}
	}
	if width == 0 {
		return time.Second
	}
	return width
}

// runStyle is how a run's lines are drawn on a compare: base dashed and
// lighter, its labels prefixed with "base: ", head's with "head: ".
func runStyle(label string) (dash bool, prefix string) {
	if label == "" {
		return false, ""
	}
	return label == "base", label + ": "
}

// shade is colour c ("#rrggbb") as a run's lines draw it: lighter (mixed
// half with white) when dashed.
func shade(c string, dash bool) string {
	if !dash || len(c) != 7 {
		return c
	}
	rgb, err := strconv.ParseUint(c[1:], 16, 32)
	if err != nil {
		return c
	}
	mix := func(shift uint) uint64 { return (rgb>>shift&0xff + 0xff) / 2 }
	return fmt.Sprintf("#%02x%02x%02x", mix(16), mix(8), mix(0))
}

// chartsOf builds the charts of one run, or of base and head overlaid.
func chartsOf(runs []pageRun) (chartsData, error) {
	grid, span := gridOf(runs)
	var bucketed []*buckets
	n := 0
	for _, r := range runs {
		b, err := grid.bucket(r.view.run.Timeline, loadStart(r.view))
		if err != nil {
			return chartsData{}, fmt.Errorf("%sbucket timeline: %w", prefixOf(r.Label), err)
		}
		bucketed = append(bucketed, b)
		n = max(n, len(b.cells))
	}
	x := make([]num, n)
	for k := range x {
		x[k] = secs(time.Duration(k) * grid.width)
	}
	// The axis ends where the last window does.
	data := chartsData{XMin: 0, XMax: secs(span), Markers: []marker{}}
	data.Charts = timelineCharts(runs, bucketed, x)
	metrics := metricCharts(runs)
	data.Charts = append(data.Charts, metrics...)
	for _, c := range metrics {
		if len(c.X) > 0 {
			data.XMin = min(data.XMin, c.X[0])
			data.XMax = max(data.XMax, c.X[len(c.X)-1])
		}
	}
	addMarkers(&data, runs)
	// A little room on the right, for the label of an event at the end.
	data.XMax += (data.XMax - data.XMin) / 50
	return data, nil
}

// gridOf returns the bucket grid the runs' timelines are summed into and
// where the last window ends. The grid's buckets are a whole number of the
// widest window, so that no window straddles two, and at most maxBuckets
// cover the span.
func gridOf(runs []pageRun) (*bucketGrid, time.Duration) {
	var width, span time.Duration
	for _, r := range runs {
		ws := r.view.run.Timeline
		w := windowWidth(ws)
		width = max(width, w)
		if len(ws) > 0 {
			last := ws[0].Start
			for _, win := range ws {
				if win.Start.After(last) {
					last = win.Start
				}
			}
			span = max(span, last.Sub(loadStart(r.view))+w)
		}
	}
	per := int(span/width)/maxBuckets + 1
	return &bucketGrid{width: width * time.Duration(per)}, span
}

// timelineCharts are the charts of the client's timeline on the grid's x:
// requests per second by class, latency percentiles and, when the server
// told, the share of each revision.
func timelineCharts(runs []pageRun, bucketed []*buckets, x []num) []chartData {
	n := len(x)
	// Empty, not nil: the page's script reads arrays, never null.
	reqs := chartData{ID: "requests", Title: "Requests per second by result class", Unit: "req/s", X: x, Series: []seriesData{}}
	lat := chartData{ID: "latency", Title: "Latency per window: p50, p90, p99", Unit: "ms", Log: true, X: x, Series: []seriesData{}}
	revs := chartData{ID: "revisions", Title: "Share of each revision", Unit: "%", X: x, Series: []seriesData{}}
	// Head's lines first, so that base's dashed ones are drawn over its fills.
	for _, i := range drawOrder(len(runs)) {
		r, b := runs[i], bucketed[i]
		dash, prefix := runStyle(r.Label)
		for _, c := range b.classes() {
			reqs.Series = append(reqs.Series, seriesData{Label: prefix + string(c), Color: shade(classColor(c), dash), Dash: dash,
				Stack: "requests " + r.Label, Values: b.rates(n, c)})
		}
		for _, q := range []struct {
			name  string
			color string
			pick  func(cell) num
		}{
			{"p50", "#2b7bb9", func(c cell) num { return c.p50 }},
			{"p90", "#e08a00", func(c cell) num { return c.p90 }},
			{"p99", "#c0392b", func(c cell) num { return c.p99 }},
		} {
			lat.Series = append(lat.Series, seriesData{Label: prefix + q.name, Color: shade(q.color, dash), Dash: dash, Values: b.values(n, q.pick)})
		}
		for j, rev := range b.revisions {
			revs.Series = append(revs.Series, seriesData{Label: prefix + rev, Color: shade(paletteColor(j), dash), Dash: dash,
				Stack: "revisions " + r.Label, Values: b.shares(n, rev)})
		}
	}
	charts := []chartData{reqs, lat}
	if len(revs.Series) > 0 {
		charts = append(charts, revs)
	}
	return charts
}

// addMarkers adds a marker for every event of every run, at its offset
// from the run's load start, and widens the axis to show them.
func addMarkers(data *chartsData, runs []pageRun) {
	for _, r := range runs {
		dash, prefix := runStyle(r.Label)
		shift := loadStart(r.view).Sub(r.view.origin)
		for i, e := range r.view.events {
			at := secs(e.offset - shift)
			data.Markers = append(data.Markers, marker{X: at, Label: fmt.Sprintf("%s%d %s", prefix, i+1, e.kind), Color: shade(eventColor(e.kind), dash), Dash: dash})
			data.XMin, data.XMax = min(data.XMin, at), max(data.XMax, at)
		}
	}
}

// drawOrder is the order the runs' series are drawn in: the last run (head)
// first.
func drawOrder(n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	return order
}

func prefixOf(label string) string {
	if label == "" {
		return ""
	}
	return label + ": "
}

// legendOf lists the events of the runs, numbered as their markers are.
func legendOf(runs []pageRun) []legendEvent {
	var out []legendEvent
	for _, r := range runs {
		shift := loadStart(r.view).Sub(r.view.origin)
		for i, e := range r.view.events {
			off := e.offset - shift
			out = append(out, legendEvent{N: i + 1, Run: r.Label, Kind: e.kind, Offset: fmtOffset(off),
				Seconds: strconv.FormatFloat(math.Round(off.Seconds()*1000)/1000, 'f', -1, 64), Details: e.details})
		}
	}
	return out
}

// bucketGrid sums the windows of a timeline into buckets of width, counted
// from the load start.
type bucketGrid struct {
	width time.Duration
}

// buckets is a timeline summed into a grid's buckets.
type buckets struct {
	// window is the timeline's window length.
	window    time.Duration
	cells     []cell
	revisions []string // in order of first appearance
	known     map[results.Class]bool
}

// cell is one bucket: the windows' counts summed, and their latency
// percentiles from their histograms merged.
type cell struct {
	windows    int
	requests   int64
	byClass    map[results.Class]int64
	byRevision map[string]int64
	hist       *hdrhistogram.Histogram
	// p50, p90, p99 are in milliseconds, gap without requests. Without
	// histograms (records from before they existed, test fixtures), p50
	// and p99 are the highest of the windows' and p90 is a gap.
	p50, p90, p99 num
}

func (g *bucketGrid) bucket(ws []results.Window, origin time.Time) (*buckets, error) {
	b := &buckets{window: windowWidth(ws), known: map[results.Class]bool{}}
	seen := map[string]bool{}
	sorted := slices.Clone(ws)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	for i, w := range sorted {
		k := int(w.Start.Sub(origin) / g.width)
		if k < 0 {
			k = 0
		}
		for len(b.cells) <= k {
			b.cells = append(b.cells, cell{byClass: map[results.Class]int64{}, byRevision: map[string]int64{}, p50: gap, p90: gap, p99: gap})
		}
		c := &b.cells[k]
		c.windows++
		c.requests += w.Requests
		for class, count := range w.ByClass {
			if results.IsDerived(class) || count == 0 {
				continue
			}
			c.byClass[class] += count
			b.known[class] = true
		}
		for _, rev := range slices.Sorted(maps.Keys(w.ByRevision)) {
			c.byRevision[rev] += w.ByRevision[rev]
			if !seen[rev] && w.ByRevision[rev] > 0 {
				seen[rev] = true
				b.revisions = append(b.revisions, rev)
			}
		}
		if w.Requests == 0 {
			continue
		}
		if w.Histogram == "" {
			c.p50 = maxNum(c.p50, w.P50)
			c.p99 = maxNum(c.p99, w.P99)
			continue
		}
		h, err := hdrhistogram.Decode([]byte(w.Histogram))
		if err != nil {
			return nil, fmt.Errorf("decode latency histogram of window %d (%s): %w", i, w.Start.Format(time.RFC3339), err)
		}
		if c.hist == nil {
			c.hist = h
		} else if dropped := c.hist.Merge(h); dropped != 0 {
			return nil, fmt.Errorf("merge latency histogram of window %d (%s): %d values out of range", i, w.Start.Format(time.RFC3339), dropped)
		}
	}
	for k := range b.cells {
		c := &b.cells[k]
		if c.hist != nil && c.hist.TotalCount() > 0 {
			c.p50 = num(float64(c.hist.ValueAtQuantile(50)) / 1000)
			c.p90 = num(float64(c.hist.ValueAtQuantile(90)) / 1000)
			c.p99 = num(float64(c.hist.ValueAtQuantile(99)) / 1000)
		}
		c.hist = nil
	}
	return b, nil
}

// maxNum is the larger of a and a latency ms, ignoring an ms that is not
// positive (the latency chart's scale is logarithmic).
func maxNum(a num, ms float64) num {
	if ms > 0 && (math.IsNaN(float64(a)) || num(ms) > a) {
		return num(ms)
	}
	return a
}

// classes are the classes the timeline counted, bottom of the stack first:
// the error classes in report order, any this version does not know, then
// ok on top, so that a few errors show as a band along the axis.
func (b *buckets) classes() []results.Class {
	var out []results.Class
	for _, c := range results.Classes {
		if b.known[c] && c != results.ClassOK {
			out = append(out, c)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(b.known)) {
		if !slices.Contains(results.Classes, c) {
			out = append(out, c)
		}
	}
	if b.known[results.ClassOK] {
		out = append(out, results.ClassOK)
	}
	return out
}

// rates are class c's requests per second in each of n buckets: the
// bucket's count over the time its windows cover.
func (b *buckets) rates(n int, c results.Class) []num {
	return b.values(n, func(cl cell) num {
		return num(float64(cl.byClass[c]) / (float64(cl.windows) * b.window.Seconds()))
	})
}

// shares are revision rev's percent of the requests served by a known
// revision in each of n buckets.
func (b *buckets) shares(n int, rev string) []num {
	return b.values(n, func(cl cell) num {
		var total int64
		for _, count := range cl.byRevision {
			total += count
		}
		if total == 0 {
			return gap
		}
		return num(100 * float64(cl.byRevision[rev]) / float64(total))
	})
}

// values picks a value of each of n buckets: a gap past the end of the
// timeline and where a bucket has no window.
func (b *buckets) values(n int, pick func(cell) num) []num {
	out := make([]num, n)
	for k := range out {
		if k >= len(b.cells) || b.cells[k].windows == 0 {
			out[k] = gap
			continue
		}
		out[k] = pick(b.cells[k])
	}
	return out
}

// metricCharts draws the platform's series, one chart a query in the order
// the record holds them, each series on its points' start offsets from its
// run's load start.
func metricCharts(runs []pageRun) []chartData {
	type line struct {
		key   string // the label without the run's prefix: its colour
		label string
		dash  bool
		pts   []xy
	}
	var order []results.Query
	lines := map[results.Query][]line{}
	for _, i := range drawOrder(len(runs)) {
		r := runs[i]
		dash, prefix := runStyle(r.Label)
		origin := loadStart(r.view)
		for _, s := range r.view.run.Series {
			if len(s.Points) == 0 {
				continue
			}
			if _, ok := lines[s.Query]; !ok {
				order = append(order, s.Query)
			}
			pts := make([]xy, len(s.Points))
			for i, p := range s.Points {
				pts[i] = xy{x: p.Start.Sub(origin).Seconds(), y: p.Value}
			}
			sort.SliceStable(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
			lines[s.Query] = append(lines[s.Query], line{key: seriesLabel(s), label: prefix + seriesLabel(s), dash: dash, pts: lttb(pts, maxSeriesPoints)})
		}
	}
	var charts []chartData
	for qi, q := range order {
		var xs []float64
		for _, l := range lines[q] {
			for _, p := range l.pts {
				xs = append(xs, p.x)
			}
		}
		slices.Sort(xs)
		xs = slices.Compact(xs)
		c := chartData{ID: fmt.Sprintf("metric-%d", qi), Title: "Platform: " + string(q), X: make([]num, len(xs))}
		for i, x := range xs {
			c.X[i] = num(x)
		}
		var keys []string
		for _, l := range lines[q] {
			vals := make([]num, len(xs))
			for i := range vals {
				vals[i] = gap
			}
			for _, p := range l.pts {
				vals[sort.SearchFloat64s(xs, p.x)] = num(p.y)
			}
			if !slices.Contains(keys, l.key) {
				keys = append(keys, l.key)
			}
			c.Series = append(c.Series, seriesData{Label: l.label, Color: shade(paletteColor(slices.Index(keys, l.key)), l.dash), Dash: l.dash, Values: vals})
		}
		charts = append(charts, c)
	}
	return charts
}

// seriesLabel names a series by its metric labels and resource labels,
// sorted: "reason=OUT_OF_RESOURCES", or the query when it has none.
func seriesLabel(s results.Series) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		parts = append(parts, k+"="+s.Labels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(s.Resource)) {
		parts = append(parts, k+"="+s.Resource[k])
	}
	if len(parts) == 0 {
		return string(s.Query)
	}
	return strings.Join(parts, " ")
}

// xy is one point of a line.
type xy struct{ x, y float64 }

// lttb downsamples pts (sorted by x) to at most n points with
// Largest-Triangle-Three-Buckets (Steinarsson, 2013): it keeps the first
// and last point and, from each of n-2 buckets between, the point making
// the largest triangle with the point kept before it and the mean of the
// next bucket, so peaks and dips survive. pts is returned as is when it
// has n points or fewer, or n < 3.
func lttb(pts []xy, n int) []xy {
	if n < 3 || len(pts) <= n {
		return pts
	}
	out := make([]xy, 0, n)
	out = append(out, pts[0])
	every := float64(len(pts)-2) / float64(n-2)
	a := 0
	for i := 0; i < n-2; i++ {
		// The next bucket's mean point.
		nextStart := int(float64(i+1)*every) + 1
		nextEnd := min(int(float64(i+2)*every)+1, len(pts))
		var mx, my float64
		for _, p := range pts[nextStart:nextEnd] {
			mx += p.x
			my += p.y
		}
		if cnt := float64(nextEnd - nextStart); cnt > 0 {
			mx, my = mx/cnt, my/cnt
		} else {
			mx, my = pts[len(pts)-1].x, pts[len(pts)-1].y
		}
		// This bucket's point with the largest triangle.
		start, end := int(float64(i)*every)+1, int(float64(i+1)*every)+1
		best, bestArea := start, -1.0
		for j := start; j < end; j++ {
			area := math.Abs((pts[a].x-mx)*(pts[j].y-pts[a].y) - (pts[a].x-pts[j].x)*(my-pts[a].y))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, pts[best])
		a = best
	}
	return append(out, pts[len(pts)-1])
}

// classColors are the colours of the result classes: ok green, the 5xx
// reds, the transport classes blues and violets.
var classColors = map[results.Class]string{
	results.ClassOK:              "#4caf50",
	results.ClassStatus429:       "#f0b400",
	results.ClassStatus500:       "#e53935",
	results.ClassStatus502:       "#ad1457",
	results.ClassStatus503:       "#ff7043",
	results.ClassStatus504:       "#8e24aa",
	results.ClassStatusOther:     "#8d6e63",
	results.ClassConnectTimeout:  "#1e63d6",
	results.ClassConnectRefused:  "#00acc1",
	results.ClassConnReset:       "#5e35b1",
	results.ClassEOF:             "#3949ab",
	results.ClassResponseTimeout: "#00897b",
	results.ClassTLS:             "#9e9d24",
	results.ClassDNS:             "#6d4c41",
	results.ClassTransportOther:  "#546e7a",
}

func classColor(c results.Class) string {
	if col, ok := classColors[c]; ok {
		return col
	}
	return "#757575"
}

// palette colours the lines of revisions and metric series in turn.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"}

func paletteColor(i int) string { return palette[i%len(palette)] }

// eventColor colours an event's marker: failures red, rollbacks orange,
// the deploy's steps dark.
func eventColor(kind string) string {
	switch results.EventKind(kind) {
	case results.EventActionFailed, results.EventRollbackFailed, results.EventAbortTriggered, results.EventClaimReleaseFailed:
		return "#c62828"
	case results.EventRollbackStart, results.EventRollbackDone:
		return "#ef6c00"
	case results.EventTrafficApplied:
		return "#1565c0"
	}
	return "#37474f"
}
