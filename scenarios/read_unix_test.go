//go:build unix

package scenarios

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadFileSpecialFiles checks that a named pipe nobody writes to and an
// endless device are refused at once, without blocking or reading them.
func TestReadFileSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{fifo, fifo + ": not a regular file (a named pipe); a scenario is a YAML file of at most 1 MiB"},
		{"/dev/zero", "/dev/zero: not a regular file (a character device); a scenario is a YAML file of at most 1 MiB"},
	}
	for _, tt := range tests {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(tt.path)
			done <- err
		}()
		select {
		case err := <-done:
			var problems *Problems
			if !errors.As(err, &problems) || err.Error() != tt.want {
				t.Errorf("ReadFile(%s) = %v, want the *Problems %q", tt.path, err, tt.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", tt.path)
		}
	}
}
