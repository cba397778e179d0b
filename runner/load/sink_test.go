package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// A disk that fills mid-run stops the load promptly; Run returns the write
// error (a full disk, so callers can say so), every goroutine it started has
// ended, and results.bin holds the results written before, each whole:
// vegeta's decoder reads it to a clean end.
// recordSink is the run record's results.bin as a ResultSink, as the runner
// wires it.
type recordSink struct{ w *results.Writer }

func (s recordSink) Write(p []byte) (int, error) { return s.w.Results().Write(p) }
func (s recordSink) Flush() error                { return s.w.Flush() }

func TestDiskFullStopsTheLoadAndKeepsResultsWhole(t *testing.T) {
	for _, limit := range []int64{10, 20000} { // not even the first result; a few hundred
		t.Run(fmt.Sprintf("disk=%dB", limit), func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			srv, _ := server(t, okHandler)
			w, err := results.CreateWith(t.TempDir(), results.WriterOptions{ResultsLimit: limit})
			if err != nil {
				t.Fatal(err)
			}
			l := testLoad()
			l.Rate = perSecond(500)
			l.Duration = scenarios.Duration(time.Minute)
			l.Window = scenarios.Duration(50 * time.Millisecond) // flush soon
			sum, err := Run(context.Background(), Options{Load: l, BaseURL: srv.URL, Results: recordSink{w}})
			if !errors.Is(err, syscall.ENOSPC) || !results.IsDiskFull(err) || !strings.Contains(err.Error(), "write load results") {
				t.Fatalf("err = %v, want the full disk wrapped", err)
			}
			checkSummary(t, sum)
			if sum.Load.Duration > 10 {
				t.Errorf("the load ran %.1fs on a full disk", sum.Load.Duration)
			}
			if err := w.Close(); !results.IsDiskFull(err) {
				t.Errorf("Close: %v", err)
			}
			f, err := os.Open(filepath.Join(w.Dir(), results.ResultsFile))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, _ := f.Stat()
			rs := decodeAll(t, f)
			t.Logf("%d of %d results kept in %d bytes", len(rs), sum.Totals.Requests, fi.Size())
			if fi.Size() > limit || int64(len(rs)) >= sum.Totals.Requests {
				t.Errorf("results.bin: %d bytes, %d results, of %d requests", fi.Size(), len(rs), sum.Totals.Requests)
			}
			if limit == 10 && (len(rs) != 0 || fi.Size() != 0) {
				t.Errorf("the first result did not fit, yet results.bin has %d bytes", fi.Size())
			}
			if limit > 10 && len(rs) == 0 {
				t.Error("no results kept")
			}
			srv.Close() // before goleak looks
		})
	}
}
