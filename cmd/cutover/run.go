package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// runCmd is `cutover run SCENARIO`.
type runCmd struct {
	Scenario string `arg:"" help:"Scenario file, or the name of a built-in scenario (see 'cutover scenarios')."`
	Out      string `default:"results" placeholder:"DIR" help:"Directory under which the run's record directory is created."`
	Format   string `enum:"text,json,markdown,junit" default:"text" help:"Report printed to stdout: text, json, markdown or junit."`
}

// reportFiles are the reports written into every run directory.
var reportFiles = []struct{ format, file string }{
	{"text", "report.txt"},
	{"markdown", "report.md"},
	{"junit", "junit.xml"},
}

func (c *runCmd) run(ctx context.Context, env Env) (int, error) {
	sc, err := loadScenario(c.Scenario)
	if err != nil {
		return 0, err
	}
	render, err := reporters.ByName(c.Format)
	if err != nil {
		return 0, usageError{err}
	}
	if sc.LocalCloud.Enabled() {
		// The embedded default: the target lives in the local cloud, started
		// in-process; load goes to the first service's front end.
		cloud, err := startCloud(ctx, sc, nil)
		if err != nil {
			return 0, err
		}
		defer stopCloud(ctx, cloud, env.Stderr)
		if sc.Target.URL, err = cloud.ServiceURL(cloud.ServiceNames()[0]); err != nil {
			return 0, err
		}
	}
	prog := newProgress(env.Stderr, env.Interactive)
	out, err := runner.Run(ctx, runner.Options{
		Scenario:    sc,
		ResultsDir:  c.Out,
		ToolVersion: version(),
		Progress:    prog.update,
	})
	prog.done()
	if err != nil {
		if out != nil {
			fmt.Fprintf(env.Stderr, "cutover: the record of this run is in %s\n", out.Dir)
		}
		return 0, err
	}
	if err := writeReports(out.Dir, out.Run); err != nil {
		return 0, err
	}
	if err := render(env.Stdout, out.Run); err != nil {
		return 0, fmt.Errorf("render %s report: %w", c.Format, err)
	}
	fmt.Fprintf(env.Stderr, "record: %s\n", out.Dir)
	return verdictCode(out.Run), nil
}

// loadScenario reads a scenario file or a built-in by name.
func loadScenario(arg string) (*scenarios.Scenario, error) {
	name, data, err := scenarios.Resolve(arg)
	if err != nil {
		return nil, usageError{err}
	}
	return scenarios.Parse(name, data)
}

// writeReports renders the record into the run directory in every format.
func writeReports(dir string, run *results.Run) error {
	for _, r := range reportFiles {
		render, err := reporters.ByName(r.format)
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(dir, r.file), func(w io.Writer) error { return render(w, run) }); err != nil {
			return fmt.Errorf("write %s report: %w", r.format, err)
		}
	}
	return nil
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verdictCode maps a finalized record to the exit code.
func verdictCode(run *results.Run) int {
	if run.State == results.StateAborted {
		return ExitAborted
	}
	switch run.Verdict.Status {
	case results.StatusPass:
		return ExitPass
	case results.StatusFail:
		return ExitFail
	default:
		return ExitInconclusive
	}
}

// progress prints the state of a run to stderr: one redrawn line on a
// terminal, a plain line every plainEvery otherwise (CI logs).
type progress struct {
	w           io.Writer
	interactive bool
	lastPlain   time.Duration
	drawn       bool
}

const plainEvery = 5 * time.Second

func newProgress(w io.Writer, interactive bool) *progress {
	return &progress{w: w, interactive: interactive}
}

func (p *progress) update(s runner.Progress) {
	line := fmt.Sprintf("%-8s %s/%s  rate %.0f/s  requests %d  errors %d",
		s.Phase, s.Elapsed.Round(time.Second), s.Total.Round(time.Second), s.Rate, s.Requests, s.Errors)
	if p.interactive {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if s.Elapsed-p.lastPlain >= plainEvery || s.Elapsed >= s.Total {
		p.lastPlain = s.Elapsed
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
