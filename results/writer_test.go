package results

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// record is a stand-in for vegeta.Result: the writer knows nothing of gob,
// only that each Write is whole.
type record struct {
	Seq  int
	Body string
}

// writeRecords gob-encodes n records into w.Results(), one Write each as
// the load engine does (the first carries the type definitions), and
// returns the first write error and how many records were written before
// it.
func writeRecords(w *Writer, n int, body func(int) string) (int, error) {
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for i := range n {
		buf.Reset()
		if err := enc.Encode(record{Seq: i, Body: body(i)}); err != nil {
			panic(err)
		}
		if _, err := w.Results().Write(buf.Bytes()); err != nil {
			return i, err
		}
	}
	return n, w.Flush()
}

// decodeRecords reads results.bin to its end; any error but a clean io.EOF
// fails the test.
func decodeRecords(t *testing.T, dir string) []record {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := gob.NewDecoder(f)
	var out []record
	for {
		var r record
		err := dec.Decode(&r)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decode results.bin after %d records: %v", len(out), err)
		}
		out = append(out, r)
	}
}

func fileSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A disk that fills mid-run leaves results.bin cut at the last whole result
// that reached it: it decodes to a clean end, holds a prefix of what was
// written, and nothing is written after the failure.
func TestResultsCutAtLastWholeResultOnDiskFull(t *testing.T) {
	small := func(i int) string { return fmt.Sprintf("result %d", i) }
	large := func(i int) string {
		if i%50 == 49 {
			return strings.Repeat("x", resultsBufferSize+1000) // written past the buffer
		}
		return small(i)
	}
	for _, tc := range []struct {
		name  string
		limit int64
		n     int
		body  func(int) string
	}{
		{"in the first buffer", 1000, 100, small},
		{"after many buffers", 3 * resultsBufferSize / 2, 200000, small},
		{"in a result larger than the buffer", 2*resultsBufferSize + 5000, 400, large},
		// 400 bytes into the small results flushed ahead of the fourth large
		// one (gob's encoding is stable: the three large ones end at 792,139).
		{"in the flush before a result larger than the buffer", 792139 + 400, 400, large},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := CreateWith(t.TempDir(), WriterOptions{ResultsLimit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			wrote, err := writeRecords(w, tc.n, tc.body)
			if err == nil {
				t.Fatalf("wrote %d records into a %d-byte disk", wrote, tc.limit)
			}
			if !IsDiskFull(err) || !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v does not wrap ENOSPC", err)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != filepath.Join(w.Dir(), ResultsFile) {
				t.Errorf("error %v does not name results.bin", err)
			}
			size := fileSize(t, w.Dir())
			if size > tc.limit {
				t.Errorf("results.bin has %d bytes, past the disk's %d", size, tc.limit)
			}
			got := decodeRecords(t, w.Dir())
			if len(got) == 0 || len(got) > wrote {
				t.Fatalf("decoded %d records of the %d written", len(got), wrote)
			}
			for i, r := range got {
				if r.Seq != i || r.Body != tc.body(i) {
					t.Fatalf("record %d decoded as %d", i, r.Seq)
				}
			}
			t.Logf("limit %d: kept %d of %d records, %d bytes", tc.limit, len(got), wrote, size)
			if want := fmt.Sprintf("cut to its first %d results (%d bytes)", len(got), size); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
			// Nothing more is written, and every later call says why.
			if _, err2 := w.Results().Write([]byte("more")); !errors.Is(err2, syscall.ENOSPC) {
				t.Errorf("Write after the failure: %v", err2)
			}
			if err2 := w.Close(); !errors.Is(err2, syscall.ENOSPC) {
				t.Errorf("Close after the failure: %v", err2)
			}
			if after := fileSize(t, w.Dir()); after != size {
				t.Errorf("results.bin grew from %d to %d bytes after the failure", size, after)
			}
		})
	}
}

// When not even the first result (the one with gob's type definitions)
// fits, results.bin is left empty: a stream of no results.
func TestResultsEmptyWhenTheFirstResultDoesNotFit(t *testing.T) {
	w, err := CreateWith(t.TempDir(), WriterOptions{ResultsLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeRecords(w, 5, func(int) string { return "a result longer than the disk" }); !IsDiskFull(err) {
		t.Fatalf("err = %v, want a full disk", err)
	}
	w.Close()
	if size := fileSize(t, w.Dir()); size != 0 {
		t.Errorf("results.bin has %d bytes, want 0", size)
	}
	if got := decodeRecords(t, w.Dir()); len(got) != 0 {
		t.Errorf("decoded %d records", len(got))
	}
}

// A disk that takes every byte: the limit is never reached.
func TestResultsLimitNotReached(t *testing.T) {
	w, err := CreateWith(t.TempDir(), WriterOptions{ResultsLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := writeRecords(w, 1000, func(i int) string { return fmt.Sprint(i) }); n != 1000 || err != nil {
		t.Fatalf("wrote %d records: %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decodeRecords(t, w.Dir()); len(got) != 1000 {
		t.Errorf("decoded %d records, want 1000", len(got))
	}
}

// A real device that is always full (Linux's /dev/full) fails the write
// with the system's ENOSPC; it cannot be truncated, and the error says so
// too.
func TestResultsOnDevFull(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/dev/full is Linux's")
	}
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	r := newResultsFile(f, 0)
	if _, err := r.Write([]byte("one result")); err != nil {
		t.Fatalf("buffered write: %v", err)
	}
	err = r.Flush()
	if !IsDiskFull(err) || !strings.Contains(err.Error(), "cut to its first 0 results (0 bytes)") {
		t.Errorf("Flush on /dev/full: %v", err)
	}
	if !strings.Contains(err.Error(), "cut results file to 0 bytes") {
		t.Errorf("Flush on /dev/full does not say the cut failed: %v", err)
	}
}

// Save's errors wrap the system's, so a caller can tell a full disk.
func TestSaveErrorWrapsDiskFull(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.sync = func(f *os.File) error { return &fs.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC} }
	err = w.Save(testRun(StateRunning, 1))
	if !IsDiskFull(err) || !strings.Contains(err.Error(), "save run record") {
		t.Errorf("Save on a full disk: %v", err)
	}
}

func TestIsDiskFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("no space left on device"), false},
		{syscall.ENOSPC, true},
		{fmt.Errorf("save: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.EDQUOT}), true},
		{errors.Join(errors.New("a"), syscall.ENOSPC), true},
		{fs.ErrPermission, false},
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// BenchmarkResultsWrite is the per-result cost of the results file: a copy
// into the buffer and a noted end, and the file writes.
func BenchmarkResultsWrite(b *testing.B) {
	w, err := Create(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rec := bytes.Repeat([]byte("r"), 120)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Results().Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}
