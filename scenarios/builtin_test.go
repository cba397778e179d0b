package scenarios

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestBuiltinsAreValid(t *testing.T) {
	names := BuiltinNames()
	if !slices.Contains(names, "smoke") {
		t.Fatalf("BuiltinNames() = %v, want it to include smoke", names)
	}
	for _, name := range names {
		data, ok := Builtin(name)
		if !ok {
			t.Fatalf("Builtin(%q) not found though listed", name)
		}
		s, err := Parse(name, data)
		if err != nil {
			t.Errorf("built-in %s: %v", name, err)
			continue
		}
		if s.Name != name {
			t.Errorf("built-in %s is named %q inside; the two must match", name, s.Name)
		}
		if strings.TrimSpace(s.Description) == "" {
			t.Errorf("built-in %s has no description", name)
		}
	}
}

func TestBuiltinUnknown(t *testing.T) {
	for _, name := range []string{"nope", "../smoke", "builtin/smoke", "smoke.yaml", ""} {
		if _, ok := Builtin(name); ok {
			t.Errorf("Builtin(%q) found a scenario", name)
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	fileYAML := []byte("version: 1\n# from a file\n")
	for _, f := range []string{"mine.yaml", "smoke-local", filepath.Join("sub", "x.yaml")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, fileYAML, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	smoke, _ := Builtin("smoke")

	tests := []struct {
		arg      string
		wantName string
		wantData []byte
		wantErr  string
		notExist bool
	}{
		{arg: "mine.yaml", wantName: "mine.yaml", wantData: fileYAML},
		{arg: "sub/x.yaml", wantName: "sub/x.yaml", wantData: fileYAML},
		{arg: "smoke-local", wantName: "smoke-local", wantData: fileYAML}, // a file wins over a name
		{arg: "smoke", wantName: "builtin/smoke.yaml", wantData: smoke},
		{arg: "smoke.yaml", wantErr: "read scenario", notExist: true}, // looks like a file
		{arg: "./smoke", wantErr: "read scenario", notExist: true},    // looks like a file
		{arg: "sub/smoke", wantErr: "read scenario", notExist: true},  // looks like a file
		{arg: "smoek", wantErr: `scenario "smoek": no such file and no built-in scenario of that name (built-ins: `},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			name, data, err := Resolve(tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve(%q) error = %v, want one containing %q", tt.arg, err, tt.wantErr)
				}
				if tt.notExist != errors.Is(err, fs.ErrNotExist) {
					t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tt.notExist, tt.notExist)
				}
				return
			}
			if err != nil || name != tt.wantName || !bytes.Equal(data, tt.wantData) {
				t.Fatalf("Resolve(%q) = %q, %q, %v; want %q, %q", tt.arg, name, data, err, tt.wantName, tt.wantData)
			}
		})
	}
}
