package main

import (
	"bytes"
	"cmp"
	"image"
	"image/color"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cutover-dev/cutover/internal/browsertest"
	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
)

// demoRun returns the run directory of the built-in scenario, run once
// per test process through the binary (and shared with the replay pack),
// and checks its exit code is want.
func demoRun(t *testing.T, scenario string, want ExitCode) string {
	t.Helper()
	got := replayOnce(replay{scenario: scenario})
	if got.err != nil {
		t.Fatalf("cutover run %s: %v\nstderr:\n%s", scenario, got.err, got.inv.stderr)
	}
	if got.inv.code != want {
		t.Fatalf("cutover run %s: exit %d, want %d\nstderr:\n%s", scenario, got.inv.code, want, got.inv.stderr)
	}
	return got.dir
}

func readRun(t *testing.T, dir string) *results.Run {
	t.Helper()
	run, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// The demo's report.html, opened in Chromium: every chart drew, with the
// NAT metrics among them, every event marked and listed, every finding
// shown, and nothing on the console. `cutover report --format html`
// renders the same page again.
func TestHTMLReportOfTheDemoInBrowser(t *testing.T) {
	// Parallel: it runs after the package's sequential tests, so it reads
	// the demo the replay pack ran instead of running it again.
	t.Parallel()
	browsertest.Chromium(t)
	dir := demoRun(t, "nat-exhaustion", ExitFail)
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	run := readRun(t, dir)
	p := browsertest.Open(t, browsertest.Serve(t, page), "#charts canvas")
	charts := browsertest.CheckReport(t, p, run)
	ids := map[string]bool{}
	for _, c := range charts {
		ids[c.ID] = true
	}
	for _, id := range []string{"requests", "latency", "revisions"} {
		if !ids[id] {
			t.Errorf("no %s chart among %v", id, ids)
		}
	}
	queries := map[results.Query]bool{}
	for _, s := range run.Series {
		if len(s.Points) > 0 {
			queries[s.Query] = true
		}
	}
	if !queries[results.QueryNATDroppedSent] || len(charts) != 3+len(queries) {
		t.Errorf("%d charts for %d metric queries (%v): want one a query, NAT drops among them", len(charts), len(queries), queries)
	}
	if len(run.Findings) == 0 {
		t.Error("the demo has no finding to show")
	}

	again := runBinary(t, dir, "report", dir, "--format", "html")
	if again.code != ExitPass {
		t.Fatalf("cutover report --format html: exit %d\n%s", again.code, again.stderr)
	}
	if !bytes.Equal([]byte(again.stdout), page) {
		t.Error("cutover report --format html differs from the run's report.html")
	}
}

// TestScreenshots writes docs' screenshots into $CUTOVER_SCREENSHOTS:
// report.png, the demo's report, and compare.png, the demo against its fix.
//
//	CUTOVER_SCREENSHOTS=$PWD/docs go test -run '^TestScreenshots$' ./cmd/cutover/
func TestScreenshots(t *testing.T) {
	out := os.Getenv("CUTOVER_SCREENSHOTS")
	if out == "" {
		t.Skip("CUTOVER_SCREENSHOTS not set")
	}
	browsertest.Chromium(t)
	head := readRun(t, demoRun(t, "nat-exhaustion", ExitFail))
	base := readRun(t, demoRun(t, "nat-exhaustion-fixed", ExitPass))

	var page bytes.Buffer
	if err := reporters.HTML(&page, head); err != nil {
		t.Fatal(err)
	}
	p := browsertest.Open(t, browsertest.Serve(t, page.Bytes()), "#charts canvas")
	browsertest.CheckReport(t, p, head)
	writePNG(t, filepath.Join(out, "report.png"), p.Screenshot())

	baseDir, headDir := demoRun(t, "nat-exhaustion-fixed", ExitPass), demoRun(t, "nat-exhaustion", ExitFail)
	cmpPage := filepath.Join(t.TempDir(), "compare.html")
	if inv := runBinary(t, baseDir, "compare", baseDir, headDir, "--format", "html", "--out", cmpPage); inv.code != ExitFail {
		t.Fatalf("cutover compare: exit %d, want %d\n%s", inv.code, ExitFail, inv.stderr)
	}
	b, err := os.ReadFile(cmpPage)
	if err != nil {
		t.Fatal(err)
	}
	p = browsertest.Open(t, browsertest.Serve(t, b), "#charts canvas")
	browsertest.CheckReport(t, p, base, head)
	writePNG(t, filepath.Join(out, "compare.png"), p.Screenshot())
}

// writePNG writes a screenshot to path as a 256-colour PNG, small enough
// to commit.
func writePNG(t *testing.T, path string, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, paletted(img)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (%d as Chromium took it)", path, out.Len(), len(shot))
}

// paletted is img in its 256 commonest colours, each pixel mapped to the
// nearest: a page of flat fills, lines and text loses nothing a reader
// sees. Colours are counted at 5 bits a channel, each palette entry the mean
// of the colours it stands for.
func paletted(img image.Image) *image.Paletted {
	type bin struct{ n, r, g, b int }
	bins := map[int]*bin{}
	key := func(c color.Color) (int, int, int, int) {
		r, g, b, _ := c.RGBA()
		r, g, b = r>>8, g>>8, b>>8
		return int(r>>3<<10 | g>>3<<5 | b>>3), int(r), int(g), int(b)
	}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			k, r, g, b := key(img.At(x, y))
			bn := bins[k]
			if bn == nil {
				bn = &bin{}
				bins[k] = bn
			}
			bn.n++
			bn.r, bn.g, bn.b = bn.r+r, bn.g+g, bn.b+b
		}
	}
	keys := slices.Collect(maps.Keys(bins))
	slices.SortFunc(keys, func(a, b int) int { return cmp.Or(cmp.Compare(bins[b].n, bins[a].n), cmp.Compare(a, b)) })
	pal := color.Palette{}
	for _, k := range keys[:min(256, len(keys))] {
		bn := bins[k]
		pal = append(pal, color.RGBA{uint8(bn.r / bn.n), uint8(bn.g / bn.n), uint8(bn.b / bn.n), 255})
	}
	out := image.NewPaletted(bounds, pal)
	index := map[int]uint8{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := img.At(x, y)
			k, _, _, _ := key(c)
			i, ok := index[k]
			if !ok {
				i = uint8(pal.Index(c))
				index[k] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}
