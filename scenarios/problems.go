package scenarios

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem is one thing wrong with a scenario, located where it was found.
type Problem struct {
	// File is the name the scenario was parsed under ("" if none).
	File string
	// Line and Col are 1-based; 0 means the position is not known.
	Line, Col int
	// Path is the field path, such as "load.requests[0].url" ("" for the
	// document as a whole).
	Path string
	// Msg says what is wrong and, where it helps, what to write instead.
	Msg string
}

// String formats p as "FILE:LINE:COL: PATH: MESSAGE", leaving out the parts
// that are not known. Control characters, other unprintable runes and bytes
// that are not UTF-8 are escaped as in a Go string literal (a newline in a
// header name becomes \n), so a problem is always one line and never
// carries a terminal escape; this is the one place that escapes.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(escapeUnprintable(p.File))
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, "%d:", p.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(escapeUnprintable(p.Path))
		b.WriteString(": ")
	}
	b.WriteString(escapeUnprintable(p.Msg))
	return b.String()
}

// escapeUnprintable returns s with every rune strconv.IsPrint refuses
// written as strconv.Quote writes it, without the quotes, and every byte
// that is not UTF-8 as \xNN.
func escapeUnprintable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && size == 1
		if b.Len() == 0 && (bad || !strconv.IsPrint(r)) {
			b.Grow(len(s) + 8)
			b.WriteString(s[:i])
		}
		switch {
		case bad:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		case b.Len() > 0:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	if b.Len() == 0 {
		return s // nothing needed escaping
	}
	return b.String()
}

// Problems is the error Parse, Load and Validate return for an invalid
// scenario: every problem found, in file order. Find it with errors.As and a
// *Problems target; the CLI maps it to the "invalid input" exit code.
type Problems struct {
	List []Problem
}

// Error returns the problems one per line.
func (ps *Problems) Error() string {
	lines := make([]string, len(ps.List))
	for i, p := range ps.List {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problemsError sorts list into file order (problems without a position
// last, in the order they were found) and returns it as a *Problems, or nil
// when list is empty.
func problemsError(list []Problem) error {
	if len(list) == 0 {
		return nil
	}
	slices.SortStableFunc(list, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return &Problems{List: list}
}

// Printable returns s with control characters, unprintable runes and bytes
// that are not UTF-8 escaped, as problems print them: text from a user (a
// file name, an argument) that is echoed in a message stays one line and
// sends no terminal escape.
func Printable(s string) string { return escapeUnprintable(s) }
