package main

import (
	"io"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
)

// stdoutReporter is the reporter for format as printed to stdout: the text
// report fitted to stdoutWidth, any other format as reporters.ByName has
// it. The report files of a run directory are rendered by ByName alone:
// report.txt is read piped or in an editor, at reporters.DefaultTextWidth.
func stdoutReporter(format string, env Env) (func(io.Writer, *results.Run) error, error) {
	if format == "text" {
		return reporters.TextWidth(stdoutWidth(env)), nil
	}
	return reporters.ByName(format)
}

// stdoutWidth is the width the text report is printed at: COLUMNS when it
// is a positive number, else the terminal's width when stdout is one, else
// reporters.DefaultTextWidth (a pipe, a file). reporters.TextWidth raises
// a width below reporters.MinTextWidth to it.
func stdoutWidth(env Env) int {
	if env.Getenv != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(env.Getenv("COLUMNS"))); err == nil && n > 0 {
			return n
		}
	}
	if env.TerminalWidth > 0 {
		return env.TerminalWidth
	}
	return reporters.DefaultTextWidth
}
