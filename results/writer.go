package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// resultsBufferSize is the buffer in front of results.bin.
const resultsBufferSize = 256 << 10

// Writer keeps one run directory on disk: results.bin, which the load engine
// streams every result into, and run.json, which Save replaces atomically so
// that the record is readable at every moment, whatever the process suffers.
//
// results.bin is kept whole on a failing disk too: a write that fails (a
// full disk) cuts the file back to the end of the last whole result that
// reached it, so that it still decodes to a clean end, and no later result
// is written.
//
// Results and Flush must be used from one goroutine at a time (the load
// engine's). Save may be called from any goroutine, concurrently with them and
// with itself. Close must be called once, after every other use.
type Writer struct {
	dir     string
	results *resultsFile

	mu sync.Mutex // serializes Save, so run.json only moves forward.
	// sync flushes a temporary record to stable storage; tests replace it
	// to simulate a failing disk.
	sync func(*os.File) error
	// reserve is the file that holds room for the last record (see
	// ReserveFile); "" once it was given up.
	reserve string
	// saveError is WriterOptions.SaveError.
	saveError func(final bool) error
}

// ReserveFile holds ReserveBytes of the run directory's disk while a run
// goes: when the disk is full (results.bin grew into it, or another
// program filled it), SaveFinal gives the reserve up and tries again, so
// the final record — "failed: disk full", what was restored — still
// reaches the disk. Close removes it, so a Save after Close has its room.
const (
	ReserveFile  = ".reserve"
	ReserveBytes = 256 << 10
)

// WriterOptions change what CreateWith opens; the zero value is what Create
// does. They exist for tests that make the disk fail.
type WriterOptions struct {
	// ResultsLimit, when positive, is how many bytes results.bin can hold,
	// as on a disk with that much room left: the write that would take the
	// file past it writes what fits and fails with an *fs.PathError wrapping
	// syscall.ENOSPC (IsDiskFull reports true), as a full disk does.
	ResultsLimit int64
	// SaveError, when set, is asked before every save of run.json (final
	// for SaveFinal); an error it returns is the save's, as from a disk
	// that refuses the record.
	SaveError func(final bool) error
}

// Create makes the run directory dir (and its parents) and opens a new, empty
// results.bin in it. It refuses to reuse a directory that already has one,
// so a run never overwrites another run's results.
func Create(dir string) (*Writer, error) {
	return CreateWith(dir, WriterOptions{})
}

// CreateWith is Create with options.
func CreateWith(dir string, opts WriterOptions) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create run directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, ResultsFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create results file: %w", err)
	}
	w := &Writer{
		dir:       dir,
		results:   newResultsFile(f, opts.ResultsLimit),
		sync:      (*os.File).Sync,
		saveError: opts.SaveError,
	}
	if err := w.makeReserve(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// makeReserve writes the reserve file, synced.
func (w *Writer) makeReserve() error {
	path := filepath.Join(w.dir, ReserveFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create the record's reserve: %w", err)
	}
	_, err = f.Write(make([]byte, ReserveBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("create the record's reserve (%d bytes): %w", ReserveBytes, err)
	}
	w.reserve = path
	return nil
}

// giveUpReserve frees the reserve's room; it reports whether there was any.
func (w *Writer) giveUpReserve() bool {
	if w.reserve == "" {
		return false
	}
	_ = os.Remove(w.reserve)
	w.reserve = ""
	return true
}

// Dir returns the run directory.
func (w *Writer) Dir() string { return w.dir }

// Results returns the buffered writer in front of results.bin. Each Write
// to it must be one whole result (or several): the file is only ever cut
// between two writes. Bytes written reach the file when the buffer fills, on
// Flush, and on Close. Once a write to the file failed, every Write and
// Flush returns that error (see IsDiskFull).
func (w *Writer) Results() io.Writer { return w.results }

// Flush writes the buffered results to results.bin, so that a crash after it
// loses none of them (short of the operating system crashing too). When the
// file refuses them (a full disk), results.bin is cut back to the end of
// the last whole result on it, and the error, which wraps the system's
// (syscall.ENOSPC for a full disk), says how many results it kept.
func (w *Writer) Flush() error { return w.results.Flush() }

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
	return w.save(buf.Bytes(), false)
}

// SaveFinal is Save for the last record of a run: when the disk is full it
// gives up the reserve (ReserveFile) and tries again, so that the record
// that says how the run ended reaches the disk whenever it can.
func (w *Writer) SaveFinal(run *Run) error {
	var buf bytes.Buffer
	if err := Encode(&buf, run); err != nil {
		return fmt.Errorf("save run record: %w", err)
	}
	return w.save(buf.Bytes(), true)
}

func (w *Writer) save(data []byte, final bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.saveError != nil {
		if err := w.saveError(final); err != nil {
			return fmt.Errorf("save run record: %w", err)
		}
	}
	err := w.writeAtomic(RecordFile, data)
	if err != nil && final && IsDiskFull(err) && w.giveUpReserve() {
		err = w.writeAtomic(RecordFile, data)
	}
	if err != nil {
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
// run.json: the caller saves the final record with Save. After a failed
// write it returns that error again, as Flush does.
func (w *Writer) Close() error {
	var errs []error
	if err := w.results.Flush(); err != nil {
		errs = append(errs, err)
	}
	if err := w.results.f.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("sync results file: %w", err))
	}
	if err := w.results.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close results file: %w", err))
	}
	// The reserve's room goes to the final record, saved after Close.
	w.mu.Lock()
	w.giveUpReserve()
	w.mu.Unlock()
	return errors.Join(errs...)
}

// IsDiskFull reports whether err comes from a full disk or an exhausted
// quota (it wraps syscall.ENOSPC or syscall.EDQUOT).
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// resultsFile is results.bin behind a buffer that knows where each whole
// result in it ends, so that a failed write can cut the file back to a
// result boundary. Only whole results are buffered, and the buffer is
// written out before a result that does not fit, so the file's length after
// every successful write is a boundary.
type resultsFile struct {
	f    *os.File
	path string
	buf  []byte
	ends []int // the end of each result in buf, as an offset in buf
	// size is the length of the file: whole results only. results counts
	// them.
	size    int64
	results int64
	err     error // the first write error; nothing is written after it
	limit   int64 // WriterOptions.ResultsLimit
}

func newResultsFile(f *os.File, limit int64) *resultsFile {
	return &resultsFile{
		f: f, path: f.Name(), limit: limit,
		buf:  make([]byte, 0, resultsBufferSize),
		ends: make([]int, 0, 4096),
	}
}

// Write buffers p, one or more whole results.
func (r *resultsFile) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(r.buf)+len(p) > cap(r.buf) {
		if err := r.Flush(); err != nil {
			return 0, err
		}
		if len(p) > cap(r.buf) {
			// Larger than the buffer: straight to the file.
			r.ends = append(r.ends, len(p))
			err := r.writeOut(p)
			r.ends = r.ends[:0]
			if err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	r.buf = append(r.buf, p...)
	r.ends = append(r.ends, len(r.buf))
	return len(p), nil
}

// Flush writes the buffer to the file.
func (r *resultsFile) Flush() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) == 0 {
		return nil
	}
	err := r.writeOut(r.buf)
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	return err
}

// writeOut appends data, whose results end at r.ends, to the file. When the
// file takes only part of it, the file is cut back to the end of the last
// whole result on it.
func (r *resultsFile) writeOut(data []byte) error {
	n, err := r.write(data)
	if err == nil {
		r.size += int64(n)
		r.results += int64(len(r.ends))
		return nil
	}
	keep, kept := r.size, r.results
	for _, e := range r.ends {
		if e > n {
			break
		}
		keep, kept = r.size+int64(e), kept+1
	}
	r.err = fmt.Errorf("results file cut to its first %d results (%d bytes): %w", kept, keep, err)
	if terr := r.f.Truncate(keep); terr != nil {
		r.err = errors.Join(r.err, fmt.Errorf("cut results file to %d bytes: %w", keep, terr))
	}
	r.size, r.results = keep, kept
	return r.err
}

// write writes data to the file, as far as WriterOptions.ResultsLimit lets
// it.
func (r *resultsFile) write(data []byte) (int, error) {
	if r.limit <= 0 || r.size+int64(len(data)) <= r.limit {
		return r.f.Write(data)
	}
	n, err := r.f.Write(data[:max(0, r.limit-r.size)])
	if err != nil {
		return n, err
	}
	return n, &fs.PathError{Op: "write", Path: r.path, Err: syscall.ENOSPC}
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
