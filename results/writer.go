package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// resultsBufferSize is the buffer in front of results.bin.
const resultsBufferSize = 256 << 10

// Writer keeps one run directory on disk: results.bin, which the load engine
// streams every result into, and run.json, which Save replaces atomically so
// that the record is readable at every moment, whatever the process suffers.
//
// Results and Flush must be used from one goroutine at a time (the load
// engine's). Save may be called from any goroutine, concurrently with them and
// with itself. Close must be called once, after every other use.
type Writer struct {
	dir     string
	file    *os.File
	results *bufio.Writer

	mu sync.Mutex // serializes Save, so run.json only moves forward.
	// sync flushes a temporary record to stable storage; tests replace it
	// to simulate a failing disk.
	sync func(*os.File) error
}

// Create makes the run directory dir (and its parents) and opens a new, empty
// results.bin in it. It refuses to reuse a directory that already has one,
// so a run never overwrites another run's results.
func Create(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, ResultsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	return &Writer{
		dir:     dir,
		file:    f,
		results: bufio.NewWriterSize(f, resultsBufferSize),
		sync:    (*os.File).Sync,
	}, nil
}

// Dir returns the run directory.
func (w *Writer) Dir() string { return w.dir }

// Results returns the buffered writer in front of results.bin. Bytes written
// to it reach the file when the buffer fills, on Flush, and on Close.
func (w *Writer) Results() io.Writer { return w.results }

// Flush writes the buffered results to results.bin, so that a crash after it
// loses none of them (short of the operating system crashing too).
func (w *Writer) Flush() error {
	if err := w.results.Flush(); err != nil {
		return fmt.Errorf("flush results file: %w", err)
	}
	return nil
}

// Save writes run to run.json atomically: it encodes the record as Encode
// does (secrets redacted), writes it to a temporary file in the run
// directory, flushes that to stable storage and renames it over run.json. A
// crash at any moment leaves either the previous run.json or the new one,
// never a mix. run is not modified.
func (w *Writer) Save(run *Run) error {
	var buf bytes.Buffer
	if err := Encode(&buf, run); err != nil {
		return fmt.Errorf("save run record: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.writeAtomic(RecordFile, buf.Bytes()); err != nil {
		return fmt.Errorf("save run record: %w", err)
	}
	return nil
}

// writeAtomic replaces dir/name with data through a synced temporary file.
func (w *Writer) writeAtomic(name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(w.dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("set mode of %s: %w", tmp.Name(), err)
	}
	if err := w.sync(tmp); err != nil {
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(w.dir, name)); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	// Make the rename itself durable. Windows cannot sync a directory, and
	// the rename has already happened, so this is best effort there.
	if err := syncDir(w.dir); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("sync run directory: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// Close flushes and syncs results.bin and closes it. It does not write
// run.json: the caller saves the final record with Save.
func (w *Writer) Close() error {
	var errs []error
	if err := w.results.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flush results file: %w", err))
	}
	if err := w.file.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("sync results file: %w", err))
	}
	if err := w.file.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close results file: %w", err))
	}
	return errors.Join(errs...)
}

// Encode writes run as run.json holds it: indented JSON with the current
// SchemaVersion (when run has none) and secrets redacted (see RedactRun).
// run is not modified.
func Encode(w io.Writer, run *Run) error {
	if run == nil {
		return errors.New("encode run record: no record")
	}
	red, err := RedactRun(run)
	if err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	if red.SchemaVersion == 0 {
		red.SchemaVersion = SchemaVersion
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(red); err != nil {
		return fmt.Errorf("encode run record: %w", err)
	}
	return nil
}
