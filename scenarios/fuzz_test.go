package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *Problems whose every problem has a line and prints as one line of
// printable text, and that whatever it accepts validates and survives a
// JSON round trip. The seeds include hostile input (an alias bomb, binary
// garbage, control characters, out-of-range values). Run beyond its seeds
// with: go test -run '^$' -fuzz FuzzParse -fuzztime 10s ./scenarios/
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, name := range BuiltinNames() {
		data, _ := Builtin(name)
		f.Add(data)
	}
	f.Add([]byte("version: 1\nname: a\nload: {requests: [{url: 'http://127.0.0.1:1/'}], concurrency: 2, duration: 1s}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("version: 1\n<<: {name: x}\n"))
	for _, seed := range hostileSeeds {
		f.Add([]byte(seed))
	}
	f.Add([]byte(billionLaughs))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var problems *Problems
			if !errors.As(err, &problems) || len(problems.List) == 0 {
				t.Fatalf("Parse error %v (%T) is not a non-empty *Problems", err, err)
			}
			for _, p := range problems.List {
				if p.Line < 1 {
					t.Errorf("problem without a line: %s", p)
				}
				if s := p.String(); !printable(s) {
					t.Errorf("problem %q holds a control character or bytes that are not UTF-8", s)
				}
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted a scenario Validate rejects: %v", err)
		}
		first, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		var back Scenario
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("json.Unmarshal(%s): %v", first, err)
		}
		second, err := json.Marshal(&back)
		if err != nil {
			t.Fatalf("json.Marshal again: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("JSON round trip changed the scenario:\n%s\n%s", first, second)
		}
	})
}

// hostileSeeds are inputs users found to crash cutover or to be accepted
// though the engine cannot run them.
var hostileSeeds = []string{
	"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00",
	"\xff\xfe\x00\x01garbage\x00\x1b[2J",
	"version: 1\nname: caf\xe9\n",
	"version: 1\nname: \"a\\r\\nb\\x1b[31m\"\n",
	"version: " + strings.Repeat("[", 10001),
	hostileScenario("rate: 10/s\n  window: 1ns"),
	hostileScenario("rate: 10/s\n  sessions: {count: 1000000000}"),
	hostileScenario("rate: 10/s\n  duration: 100000h"),
	hostileScenario("rate: 1000000000000/s"),
	hostileScenario("rate: 10/1ns"),
	hostileScenario("rate: 10/s\n  timeout: 1ns"),
	hostileScenario("concurrency: 100000000"),
	hostileScenario("stages: [{for: 1ns, rate: 10/1ns}]"),
	hostileScenario("rate: 10/s\n  requests: [{path: items}, {path: /a/../b}, {path: /%2e%2e/x}]"),
	hostileScenario("rate: 10/s\n  requests: [{path: /, headers: {\"X-A\\r\\nX-B\": v, X-C: \"a\\nb\"}}]"),
	hostileScenario("rate: 10/s\nverdict: {abort: {error_rate: 5%, for: 10s}, thresholds: [{expr: \"status_504 == 0\", abort: true}]}"),
}

// billionLaughs is the classic alias bomb: under 1 KB, 10⁹ nodes expanded.
// (TestParseHostile also feeds one through typed fields; at 130 KB it is
// too large a seed to mutate quickly.)
const billionLaughs = `version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
load: {requests: *i}
`

// hostileScenario returns a valid scenario but for the load lines given.
func hostileScenario(load string) string {
	return "version: 1\nname: h\ntarget: {url: \"http://127.0.0.1:1\"}\nload:\n  requests: [{path: /}]\n  duration: 1m\n  " + load + "\n"
}

// printable reports whether s is UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return false
		}
	}
	return true
}
