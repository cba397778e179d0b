package scenarios

import (
	"fmt"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Bounds of the YAML itself, checked before a value is decoded.
const (
	// MaxNodes bounds the YAML nodes of a scenario, counted with every
	// alias expanded (a billion-laughs file is a few kilobytes that expand
	// to billions of nodes). Scenarios have hundreds.
	MaxNodes = 100_000
	// MaxScalarBytes bounds the bytes of every scalar (keys and values)
	// with aliases expanded: an alias of a large body repeated a thousand
	// times is refused before it is copied a thousand times.
	MaxScalarBytes = 4 << 20
)

// checkText returns where and why data is not YAML text: bytes that are
// not UTF-8, a NUL or another character YAML does not allow (YAML 1.2's
// c-printable: tab, line breaks, and no other C0 or C1 control, DEL or
// surrogate). yaml.v3 refuses the same without a line; this gives one.
// A UTF-8 byte order mark is allowed at the start.
func checkText(data []byte) (line, col int, msg string) {
	if len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff) {
		return 1, 1, "the file is UTF-16; save it as UTF-8"
	}
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return line, col, fmt.Sprintf("byte 0x%02x is not UTF-8; a scenario is UTF-8 text", data[i])
		case r == 0:
			return line, col, "a NUL byte; a scenario is UTF-8 text, not a binary file"
		case !yamlPrintable(r):
			return line, col, fmt.Sprintf("control character %U is not allowed in YAML", r)
		}
		switch {
		case r == '\n', r == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			line, col = line+1, 1
		case r != '\r':
			col++
		}
		i += size
	}
	return 0, 0, ""
}

// yamlPrintable reports whether YAML allows r in a stream.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85:
		return true
	case r < 0x20, r == 0x7f:
		return false
	case r < 0x7f:
		return true
	}
	return r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

// treeSize walks a node tree with every alias expanded and stops at the
// first node that passes MaxNodes or MaxScalarBytes, or at an alias that
// refers to a node containing it.
type treeSize struct {
	nodes, bytes int
	onPath       map[*yaml.Node]bool
	// expanding is the alias of the file being expanded, outside any
	// other expansion: where a limit passed inside it is reported.
	expanding *yaml.Node
	// at is where the walk stopped and msg why ("" when it did not).
	at  *yaml.Node
	msg string
}

// stop ends the walk at n, or at the alias whose expansion n is in.
func (w *treeSize) stop(n *yaml.Node, format string, args ...any) bool {
	w.at, w.msg = n, fmt.Sprintf(format, args...)
	if w.expanding != nil {
		w.at = w.expanding
	}
	return false
}

// checkTreeSize returns the node at which n is too large, and why, or nil.
func checkTreeSize(n *yaml.Node) (*yaml.Node, string) {
	w := &treeSize{onPath: map[*yaml.Node]bool{}}
	w.walk(n)
	return w.at, w.msg
}

func (w *treeSize) walk(n *yaml.Node) bool {
	w.nodes++
	if w.nodes > MaxNodes {
		return w.stop(n, "more than %d YAML nodes with aliases expanded; a scenario has at most %d", MaxNodes, MaxNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return true
		}
		if w.onPath[n.Alias] {
			return w.stop(n, "alias *%s refers to a node that contains it", n.Value)
		}
		if w.expanding == nil {
			w.expanding = n
			defer func() { w.expanding = nil }()
		}
		return w.walk(n.Alias)
	case yaml.ScalarNode:
		w.bytes += len(n.Value)
		if w.bytes > MaxScalarBytes {
			return w.stop(n, "more than %d MiB of text with aliases expanded; a scenario has at most %d MiB", MaxScalarBytes>>20, MaxScalarBytes>>20)
		}
		return true
	}
	w.onPath[n] = true
	defer delete(w.onPath, n)
	for _, c := range n.Content {
		if !w.walk(c) {
			return false
		}
	}
	return true
}
