package browsertest

import (
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// chartsDrawn reads, for each chart, how many pixels of its plot area have
// each series' colour, and how many of a marker's colour lie on each
// marker's line.
const chartsDrawn = `(function () {
	function rgb(hex) { var n = parseInt(hex.slice(1), 16); return [n >> 16 & 255, n >> 8 & 255, n & 255]; }
	function near(d, i, c) { return d[i + 3] > 200 && Math.abs(d[i] - c[0]) < 28 && Math.abs(d[i + 1] - c[1]) < 28 && Math.abs(d[i + 2] - c[2]) < 28; }
	return window.cutoverPlots.map(function (u, k) {
		var chart = window.cutoverData.charts[k], b = u.bbox;
		var d = u.ctx.getImageData(b.left, b.top, b.width, b.height).data;
		var series = {}, markers = {};
		chart.series.forEach(function (s) {
			var c = rgb(s.color), n = 0;
			for (var i = 0; i < d.length; i += 4) { if (near(d, i, c)) { n++; } }
			series[s.label] = n;
		});
		// Markers at the same time share a line: the last drawn colours it.
		var colours = window.cutoverData.markers.map(function (m) { return rgb(m.color); });
		window.cutoverData.markers.forEach(function (m) {
			var x = Math.round(u.valToPos(m.x, "x", true)) - b.left, n = 0;
			for (var y = 0; y < b.height; y++) {
				for (var dx = 0; dx <= 1; dx++) {
					var i = (y * b.width + x + dx) * 4;
					if (colours.some(function (c) { return near(d, i, c); })) { n++; }
				}
			}
			markers[m.label] = n;
		});
		return { id: chart.id, series: series, markers: markers };
	});
})()`

// Chart is what CheckReport read of one chart of a report: how many
// pixels of its plot area have each series' colour, and how many on each
// event marker's line have the marker's.
type Chart struct {
	ID      string           `json:"id"`
	Series  map[string]int64 `json:"series"`
	Markers map[string]int64 `json:"markers"`
}

// CheckReport checks a page of reporters.HTML or HTMLCompare open in p,
// made from runs: no console error, exception or request out; every chart
// drew at least one series, every event marker is drawn on every chart, and
// every event and every finding's cause, evidence and remedy is on the page.
// It returns what it read of the charts.
func CheckReport(t *testing.T, p *Page, runs ...*results.Run) []Chart {
	t.Helper()
	if probs := p.Problems(); len(probs) > 0 {
		t.Errorf("the page had problems:\n%s", strings.Join(probs, "\n"))
	}
	charts := Eval[[]Chart](p, chartsDrawn)
	if len(charts) < 2 || charts[0].ID != "requests" || charts[1].ID != "latency" {
		t.Errorf("charts %v, want requests and latency first", charts)
	}
	for _, c := range charts {
		var any int64
		for _, n := range c.Series {
			any = max(any, n)
		}
		if any < 20 {
			t.Errorf("chart %s: no series drew (pixels per series: %v)", c.ID, c.Series)
		}
		for label, n := range c.Markers {
			if n < 20 {
				t.Errorf("chart %s: marker %q has %d pixels on its line", c.ID, label, n)
			}
		}
	}
	text := p.Text()
	events := Eval[int](p, `document.querySelectorAll("#events li").length`)
	want := 0
	for _, run := range runs {
		red, err := results.RedactRun(run)
		if err != nil {
			t.Fatal(err)
		}
		want += len(red.Events)
		for _, e := range red.Events {
			if !strings.Contains(text, string(e.Kind)) {
				t.Errorf("event %s is not on the page", e.Kind)
			}
		}
		for _, f := range red.Findings {
			for _, s := range append([]string{f.Cause}, append(f.Evidence, f.Remedy...)...) {
				if !strings.Contains(text, s) {
					t.Errorf("finding %s: %q is not on the page", f.Cause, s)
				}
			}
		}
	}
	if events != want {
		t.Errorf("the event list has %d entries, the records %d events", events, want)
	}
	return charts
}
