package reporters

import (
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// textColumn is a column of a text report's table.
type textColumn struct {
	header string
	align  tw.Align
	// drop > 0 marks a column the table leaves out when it cannot fit its
	// width otherwise, the lowest first; 0 is always shown.
	drop int
}

// textTable is a table of the text report: its columns and rows of cells,
// one per column.
type textTable struct {
	cols []textColumn
	rows [][]string
}

// shrinkSteps bounds how many times render narrows tablewriter's maximum
// width to make a wrapped table fit: tablewriter's MaxWidth is a target it
// can overshoot by a column or two (borders, a word it will not break).
const shrinkSteps = 6

// render writes the table so that no line is wider than width: as it is
// when it fits; else with its cells wrapped at word boundaries
// (tablewriter's MaxWidth with WrapNormal); else, when even that is too
// wide, without its droppable columns, lowest first, saying which it left
// out; and when the columns left still do not fit, with words broken
// across lines (WrapBreak).
func (t textTable) render(w io.Writer, width int) error {
	out, err := t.text(0, tw.WrapNone)
	if err != nil || widest(out) <= width {
		return writeString(w, out, err)
	}
	var dropped []string
	for {
		if out, err = t.wrapped(width, tw.WrapNormal); err != nil || widest(out) <= width {
			break
		}
		next, name, ok := t.dropOne()
		if !ok {
			out, err = t.wrapped(width, tw.WrapBreak)
			break
		}
		t, dropped = next, append(dropped, name)
	}
	if err == nil && len(dropped) > 0 {
		note := "(left out to fit " + fmtInt(int64(width)) + " columns: " + strings.Join(dropped, ", ") + ")"
		out += strings.Join(wrap(note, width, "  ", "   "), "\n") + "\n"
	}
	return writeString(w, out, err)
}

// wrapped renders the table with its cells wrapped to fit width, narrowing
// tablewriter's target while it overshoots.
func (t textTable) wrapped(width, mode int) (string, error) {
	target := width
	var out string
	for range shrinkSteps {
		var err error
		if out, err = t.text(target, mode); err != nil {
			return "", err
		}
		over := widest(out) - width
		if over <= 0 || target-over < len(t.cols)*4 {
			break
		}
		target -= over
	}
	return out, nil
}

// dropOne returns the table without its droppable column of the lowest
// drop, and that column's header; false when none is droppable.
func (t textTable) dropOne() (textTable, string, bool) {
	at := -1
	for i, c := range t.cols {
		if c.drop > 0 && (at < 0 || c.drop < t.cols[at].drop) {
			at = i
		}
	}
	if at < 0 {
		return t, "", false
	}
	out := textTable{cols: slices.Delete(slices.Clone(t.cols), at, at+1)}
	for _, r := range t.rows {
		out.rows = append(out.rows, slices.Delete(slices.Clone(r), at, at+1))
	}
	return out, t.cols[at].header, true
}

// text renders the table; maxWidth > 0 wraps header and cells in mode
// (tw.WrapNormal or tw.WrapBreak) so that the table aims at maxWidth
// columns.
func (t textTable) text(maxWidth, mode int) (string, error) {
	header := make([]string, len(t.cols))
	aligns := make([]tw.Align, len(t.cols))
	for i, c := range t.cols {
		header[i], aligns[i] = c.header, c.align
	}
	var b strings.Builder
	tab := newTable(&b, maxWidth, mode, aligns...)
	tab.Header(header)
	if err := tab.Bulk(t.rows); err != nil {
		return "", err
	}
	if err := tab.Render(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// renderTable writes a table of rows under header, none of its columns
// droppable, fitted to width as textTable.render does.
func renderTable(w io.Writer, width int, aligns []tw.Align, header []string, rows [][]string) error {
	t := textTable{rows: rows}
	for i, h := range header {
		t.cols = append(t.cols, textColumn{header: h, align: aligns[i]})
	}
	return t.render(w, width)
}

// newTable returns a table with light borders, headers as written and the
// given column alignments; maxWidth > 0 wraps header and cells in mode so
// the table aims at maxWidth columns.
func newTable(w io.Writer, maxWidth, mode int, aligns ...tw.Align) *tablewriter.Table {
	opts := []tablewriter.Option{
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleLight)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithAlignment(tw.Alignment(aligns)),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	}
	if maxWidth > 0 {
		opts = append(opts, tablewriter.WithMaxWidth(maxWidth),
			tablewriter.WithRowAutoWrap(mode), tablewriter.WithHeaderAutoWrap(mode))
	}
	return tablewriter.NewTable(w, opts...)
}

// widest is the display width of the widest line of s.
func widest(s string) int {
	most := 0
	for line := range strings.Lines(s) {
		most = max(most, twwidth.Width(strings.TrimSuffix(line, "\n")))
	}
	return most
}

// writeString writes s unless err is set, and returns the first error.
func writeString(w io.Writer, s string, err error) error {
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}
