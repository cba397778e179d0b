package scenarios

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := []byte("version: 1\n")
	okPath := write("ok.yaml", small)
	atLimit := write("limit.yaml", bytes.Repeat([]byte("#"), MaxFileSize))
	tooBig := write("big.yaml", bytes.Repeat([]byte("#"), MaxFileSize+1))

	if data, err := ReadFile(okPath); err != nil || !bytes.Equal(data, small) {
		t.Errorf("ReadFile(ok.yaml) = %q, %v; want %q", data, err, small)
	}
	if data, err := ReadFile(atLimit); err != nil || len(data) != MaxFileSize {
		t.Errorf("ReadFile of exactly MaxFileSize bytes = %d bytes, %v", len(data), err)
	}

	refused := []struct {
		path, want string
	}{
		{tooBig, tooBig + ": 1048577 bytes is too large; a scenario file is at most 1 MiB (1048576 bytes)"},
		{dir, dir + ": not a regular file (a directory); a scenario is a YAML file of at most 1 MiB"},
	}
	for _, tt := range refused {
		_, err := ReadFile(tt.path)
		var problems *Problems
		if !errors.As(err, &problems) || err.Error() != tt.want {
			t.Errorf("ReadFile(%s) = %v (%T), want the *Problems %q", tt.path, err, err, tt.want)
		}
	}

	_, err := ReadFile(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read scenario: ") {
		t.Errorf("ReadFile of a missing file = %v, want read scenario: … wrapping fs.ErrNotExist", err)
	}
}
