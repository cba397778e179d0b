package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *Problems, and that whatever it accepts validates and survives a JSON
// round trip. Run beyond its seeds with: go test -fuzz FuzzParse ./scenarios
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

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var problems *Problems
			if !errors.As(err, &problems) || len(problems.List) == 0 {
				t.Fatalf("Parse error %v (%T) is not a non-empty *Problems", err, err)
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
