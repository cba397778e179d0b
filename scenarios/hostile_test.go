package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// aliasBomb returns a scenario of about 130 KB whose aliases expand, through
// typed fields (20,000 requests sharing one 5,000-entry header map), to 10⁸
// map entries.
func aliasBomb() []byte {
	var b strings.Builder
	b.WriteString("version: 1\nname: bomb\ntarget: {url: \"http://127.0.0.1:1\"}\nload:\n  rate: 1/s\n  duration: 1s\n")
	b.WriteString("  requests:\n    - &r {path: /, headers: {")
	for i := range 5000 {
		fmt.Fprintf(&b, "h%d: x, ", i)
	}
	b.WriteString("}}\n    - [")
	b.WriteString(strings.Repeat("*r, ", 20000))
	b.WriteString("]\n")
	return []byte(b.String())
}

// TestParseHostile checks that input built to exhaust the parser, or that
// is not text at all, gets one positioned problem, quickly.
func TestParseHostile(t *testing.T) {
	bigBody := strings.Repeat("x", 1<<20)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"alias bomb", aliasBomb(), "h.yaml:9:40: more than 100000 YAML nodes with aliases expanded; a scenario has at most 100000"},
		{"alias of itself", []byte("version: 1\nx: &a [1, *a]\n"), "h.yaml:2:11: alias *a refers to a node that contains it"},
		{"alias of a large body", []byte("version: 1\nb: &b \"" + bigBody + "\"\nc: [*b, *b, *b, *b]\n"),
			"h.yaml:3:13: more than 4 MiB of text with aliases expanded; a scenario has at most 4 MiB"},
		{"not UTF-8", []byte("version: 1\nname: caf\xe9\n"), "h.yaml:2:10: invalid YAML: byte 0xe9 is not UTF-8; a scenario is UTF-8 text"},
		{"NUL", []byte("version: 1\r\nname: a\x00b\n"), "h.yaml:2:8: invalid YAML: a NUL byte; a scenario is UTF-8 text, not a binary file"},
		{"escape sequence", []byte("version: 1\nname: \x1b[31mred\n"), "h.yaml:2:7: invalid YAML: control character U+001B is not allowed in YAML"},
		{"UTF-16", []byte("\xff\xfev\x00:\x00 \x001\x00"), "h.yaml:1:1: invalid YAML: the file is UTF-16; save it as UTF-8"},
		{"an ELF binary", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), "h.yaml:1:1: invalid YAML: control character U+007F is not allowed in YAML"},
		{"too deep", []byte("version: " + strings.Repeat("[", 20000)), "h.yaml:1: invalid YAML: exceeded max depth of 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse("h.yaml", tt.data)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse:\n got %v\nwant %s", err, tt.want)
			}
			t.Logf("%d bytes in %s", len(tt.data), time.Since(start))
		})
	}
}

// TestParseManyProblems checks that reporting is not quadratic in the number
// of problems: 15,000 requests, each with a decoding problem and a
// validation problem.
func TestParseManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nname: many\nload:\n  rate: 1/s\n  duration: 1s\n  requests:\n")
	for range 15000 {
		b.WriteString("    - {path: /, weight: x}\n")
	}
	start := time.Now()
	_, err := Parse("m.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("Parse accepted 15,000 bad requests")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %s", d)
	}
}
