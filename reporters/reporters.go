// Package reporters renders a run record for people and machines: a terminal
// report, the JSON record, a Markdown report for pull-request comments,
// JUnit XML for CI, and a self-contained HTML page with charts (HTML, and
// HTMLCompare for two runs). Each reporter is a pure function of a
// *results.Run that writes to an io.Writer; none reads the clock, the
// environment or the disk.
// Reporters never print request headers, and every report is made from the
// record as results.RedactRun returns it: secrets redacted by name, URLs in
// free text redacted, names (a service called token-api) kept. Reporters are
// safe for concurrent use.
package reporters

import (
	"fmt"
	"io"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// Formats lists the report formats ByName knows, in the order they are
// documented.
var Formats = []string{"text", "json", "markdown", "junit", "html"}

// ByName returns the reporter for format (text, json, markdown, junit or
// html).
func ByName(format string) (func(io.Writer, *results.Run) error, error) {
	switch format {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	case "markdown":
		return Markdown, nil
	case "junit":
		return JUnit, nil
	case "html":
		return HTML, nil
	}
	return nil, fmt.Errorf("unknown report format %q (valid: %s)", format, strings.Join(Formats, ", "))
}

// JSON writes the run record as run.json holds it: indented, with secrets
// redacted.
func JSON(w io.Writer, run *results.Run) error {
	if err := results.Encode(w, run); err != nil {
		return fmt.Errorf("render json report: %w", err)
	}
	return nil
}

// errWriter remembers the first write error so a report can be written with
// plain Fprintf calls and checked once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(e, format, args...)
}
