package reporters

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"

	"github.com/cutover-dev/cutover/results"
)

// displayWidth measures a line as a terminal shows it, independently of
// the width library tablewriter uses: "×", "→" and the box drawing take
// one column (not East Asian wide), a wide character two.
var displayWidth = (&runewidth.Condition{EastAsianWidth: false}).StringWidth

// sectionHead is a line that starts a section of the text report:
// "SUMMARY", "TIMELINE (1s windows…", "CONCLUSION: FAIL · …".
var sectionHead = regexp.MustCompile(`^[A-Z][A-Z ]+\b`)

// At every width, every fixture's text report has no line wider than the
// width, and CONCLUSION is its last section.
func TestTextFitsWidth(t *testing.T) {
	for _, fx := range fixtures {
		for _, width := range []int{60, 80, 100, 132} {
			t.Run(fmt.Sprintf("%s/%d", fx.name, width), func(t *testing.T) {
				var buf bytes.Buffer
				if err := TextWidth(width)(&buf, fx.run()); err != nil {
					t.Fatal(err)
				}
				text := buf.String()
				for i, line := range strings.Split(text, "\n") {
					if n := displayWidth(line); n > width {
						t.Errorf("line %d is %d columns wide, over %d: %q", i+1, n, width, line)
					}
				}
				var last string
				for _, line := range strings.Split(text, "\n") {
					if sectionHead.MatchString(line) {
						last = line
					}
				}
				if !strings.HasPrefix(last, "CONCLUSION: ") {
					t.Errorf("last section %q, want CONCLUSION:\n%s", last, text)
				}
			})
		}
	}
}

// Below MinTextWidth the report is written at MinTextWidth, and Text is
// TextWidth(DefaultTextWidth).
func TestTextWidthBounds(t *testing.T) {
	text := func(render func(io.Writer, *results.Run) error) string {
		var buf bytes.Buffer
		if err := render(&buf, failRun()); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if text(TextWidth(20)) != text(TextWidth(MinTextWidth)) {
		t.Error("TextWidth(20) differs from TextWidth(MinTextWidth)")
	}
	if text(Text) != text(TextWidth(DefaultTextWidth)) {
		t.Error("Text differs from TextWidth(DefaultTextWidth)")
	}
}

// A table too wide for the width leaves out its low-value columns and says
// so; the diagnosis is split into the client's side and the platform's.
func TestTextNarrowTables(t *testing.T) {
	var buf bytes.Buffer
	if err := TextWidth(60)(&buf, failRun()); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"  the client's side:\n", "  the platform's side, in the same periods:\n",
		"(left out to fit 60 columns: err %",
		"│ p99 < 800ms       │     2400 ms │ FAIL   │",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the 60-column report lacks %q:\n%s", want, text)
		}
	}
	buf.Reset()
	if err := TextWidth(200)(&buf, failRun()); err != nil {
		t.Fatal(err)
	}
	if wide := buf.String(); strings.Contains(wide, "left out") || strings.Contains(wide, "the client's side") {
		t.Errorf("a 200-column report left out columns or split the diagnosis:\n%s", wide)
	}
}

// Names longer than the width are broken, not let run over it.
func TestTextLongNamesFit(t *testing.T) {
	run := failRun()
	run.ScenarioName = "a-scenario-" + strings.Repeat("with-a-long-name-", 5)
	run.RunID = "20261123-233658-" + run.ScenarioName + "-9c1e"
	var buf bytes.Buffer
	if err := TextWidth(MinTextWidth)(&buf, run); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(buf.String(), "\n") {
		if n := displayWidth(line); n > MinTextWidth {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
	if got := joinFit([]string{"a", "bbbbbbbbbbbb", "c"}, " · ", 8, "  "); strings.Join(got, "|") != "a|  bbbbbb|  bbbbbb|  c" {
		t.Errorf("joinFit = %q", got)
	}
}

// wrap breaks a word too long for a line, by display width.
func TestWrapLongWord(t *testing.T) {
	got := wrap("see https://example.test/a/very/long/path now", 16, "- ", "  ")
	for _, line := range got {
		if displayWidth(line) > 16 {
			t.Errorf("line %q is over 16 columns (all: %q)", line, got)
		}
	}
	if joined := strings.ReplaceAll(strings.Join(got, ""), " ", ""); joined != "-seehttps://example.test/a/very/long/pathnow" {
		t.Errorf("wrap lost text: %q", got)
	}
	if got := wrap("a×b c→d", 5, "", ""); strings.Join(got, "|") != "a×b|c→d" {
		t.Errorf("wrap by display width = %q", got)
	}
}

// The Markdown report ends, as the text report does, with the conclusion.
func TestMarkdownEndsWithConclusion(t *testing.T) {
	for _, fx := range fixtures {
		var buf bytes.Buffer
		if err := Markdown(&buf, fx.run()); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "**CONCLUSION: ") {
			t.Errorf("%s: the Markdown report ends with %q, not its conclusion", fx.name, last)
		}
		if blank := lines[len(lines)-2]; blank != "" {
			t.Errorf("%s: the conclusion does not follow a blank line (it would join a table): %q", fx.name, blank)
		}
	}
}
