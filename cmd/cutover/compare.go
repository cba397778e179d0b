package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/compare"
	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// compareCmd is `cutover compare BASE HEAD`.
type compareCmd struct {
	Base   string `arg:"" name:"base" help:"The base run: a run directory, its run.json, or the --out directory of one run."`
	Head   string `arg:"" name:"head" help:"The head run: a run directory, its run.json, or the --out directory of one run."`
	Format string `enum:"text,json,markdown,junit,html" default:"text" help:"Report format: text, json, markdown, junit or html."`
	Out    string `help:"Write the report to this file instead of stdout."`
	Force  bool   `help:"Compare runs of scenarios with different names (and no compare.as joining them)."`
	Seed   uint64 `default:"1" help:"Seed of the latency bootstrap."`

	MaxP50Increase       string        `name:"max-p50-increase" help:"Override compare.max_p50_increase (10% or 0.1)."`
	MaxP90Increase       string        `name:"max-p90-increase" help:"Override compare.max_p90_increase."`
	MaxP99Increase       string        `name:"max-p99-increase" help:"Override compare.max_p99_increase."`
	MaxErrorIncrease     *int64        `name:"max-error-increase" help:"Override compare.max_error_increase (errors in the cutover window beyond the base's rate)."`
	MaxErrorRateIncrease string        `name:"max-error-rate-increase" help:"Override compare.max_error_rate_increase (0.1% or 0.001)."`
	MinRequests          *int64        `name:"min-requests" help:"Override compare.min_requests."`
	Settle               time.Duration `help:"Override compare.settle (the cutover window's tail after its last event)."`
}

func (c *compareCmd) run(ctx context.Context, env Env) error {
	base, err := readCompared("base", c.Base)
	if err != nil {
		return err
	}
	head, err := readCompared("head", c.Head)
	if err != nil {
		return err
	}
	render, err := c.renderer(base, head)
	if err != nil {
		return usageError{err}
	}
	if err := c.sameScenario(base, head); err != nil {
		return err
	}
	limits, err := c.limits(head)
	if err != nil {
		return err
	}
	cmp, err := compare.Compare(base, head, compare.Options{Limits: limits, Seed: c.Seed})
	if err != nil {
		return WithExitCodeIfNone(fmt.Errorf("compare: %w", err), ExitHarness)
	}
	if len(cmp.ScenarioDiffers) > 0 {
		fmt.Fprintf(env.Stderr, "cutover: warning: the resolved scenarios of base and head differ in %s\n", strings.Join(cmp.ScenarioDiffers, ", "))
	}
	if err := c.write(env, render, cmp); err != nil {
		return err
	}
	return reportedOutcome{string(cmp.Verdict.Status), compareExit(cmp.Verdict.Status)}
}

// renderer returns the renderer of --format; html draws the two records
// beside the comparison.
func (c *compareCmd) renderer(base, head *results.Run) (func(io.Writer, *compare.Comparison) error, error) {
	if c.Format == "html" {
		return func(w io.Writer, cmp *compare.Comparison) error { return reporters.CompareHTML(w, base, head, cmp) }, nil
	}
	return reporters.CompareByName(c.Format)
}

// sameScenario refuses runs of different scenarios unless --force: runs
// compare when their scenarios compare as one name (compare.as, which
// defaults to the scenario's name, so a fix compares with the incident it
// fixes when it says so).
func (c *compareCmd) sameScenario(base, head *results.Run) error {
	if c.Force {
		return nil
	}
	bn, err := comparedAs(base)
	if err != nil {
		return WithExitCodeIfNone(fmt.Errorf("base run: %w", err), ExitHarness)
	}
	hn, err := comparedAs(head)
	if err != nil {
		return WithExitCodeIfNone(fmt.Errorf("head run: %w", err), ExitHarness)
	}
	if bn == hn {
		return nil
	}
	return WithExitCodeIfNone(fmt.Errorf("compare: base is a run of scenario %s, head of %s; a variant of a scenario compares with it when it says compare: {as: NAME}; --force compares them anyway",
		scenarioLabel(base.ScenarioName, bn), scenarioLabel(head.ScenarioName, hn)), ExitInvalidInput)
}

// comparedAs is the name a run's scenario is compared under.
func comparedAs(run *results.Run) (string, error) {
	lim, err := scenarios.CompareOf(run.Scenario)
	if err != nil {
		return "", err
	}
	return cmp.Or(lim.As, run.ScenarioName), nil
}

// scenarioLabel names a scenario, and the name it compares as when that
// is another.
func scenarioLabel(name, as string) string {
	if as == name {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("%q (compared as %q)", name, as)
}

// write renders the comparison to --out or stdout; with --out the verdict
// line is printed on stdout too.
func (c *compareCmd) write(env Env, render func(w io.Writer, c *compare.Comparison) error, cmp *compare.Comparison) error {
	if c.Out == "" {
		if err := render(env.Stdout, cmp); err != nil {
			return fmt.Errorf("render %s comparison: %w", c.Format, err)
		}
		return nil
	}
	f, err := os.Create(c.Out)
	if err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	err = render(f, cmp)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write comparison %s: %w", c.Out, err)
	}
	fmt.Fprintf(env.Stdout, "%s · %s\n", cmp.Verdict.Status, strings.Join(cmp.Verdict.Reasons, "; "))
	return nil
}

// limits are the head scenario's compare section with the flags' overrides.
func (c *compareCmd) limits(head *results.Run) (scenarios.Compare, error) {
	lim, err := scenarios.CompareOf(head.Scenario)
	if err != nil {
		return lim, WithExitCodeIfNone(fmt.Errorf("head run: %w", err), ExitHarness)
	}
	var problems []error
	percent := func(flag, value string, into *float64) {
		if value == "" {
			return
		}
		f, err := scenarios.ParsePercent(value)
		if err != nil {
			problems = append(problems, fmt.Errorf("--%s: %w", flag, err))
			return
		}
		*into = f
	}
	percent("max-p50-increase", c.MaxP50Increase, &lim.MaxP50Increase)
	percent("max-p90-increase", c.MaxP90Increase, &lim.MaxP90Increase)
	percent("max-p99-increase", c.MaxP99Increase, &lim.MaxP99Increase)
	percent("max-error-rate-increase", c.MaxErrorRateIncrease, &lim.MaxErrorRateIncrease)
	if c.MaxErrorIncrease != nil {
		lim.MaxErrorIncrease = *c.MaxErrorIncrease
	}
	if c.MinRequests != nil {
		lim.MinRequests = *c.MinRequests
	}
	if c.Settle != 0 {
		lim.Settle = scenarios.Duration(c.Settle)
	}
	if err := lim.Validate(); err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return lim, usageError{err}
	}
	return lim, nil
}

// readCompared reads a run record from a run directory, its run.json, or
// the directory a run's --out named, when it holds one run directory. A
// record that is missing or cannot be read is ExitHarness (4); a --out
// directory of several runs is ExitInvalidInput (2): name one.
func readCompared(which, path string) (*results.Run, error) {
	dir := path
	if filepath.Base(path) == results.RecordFile {
		dir = filepath.Dir(path)
	} else if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return nil, WithExitCodeIfNone(fmt.Errorf("%s: %s is a file but not a %s", which, path, results.RecordFile), ExitHarness)
	} else if err == nil {
		var err error
		if dir, err = runDirIn(path); err != nil {
			return nil, WithExitCodeIfNone(fmt.Errorf("%s: %w", which, err), ExitInvalidInput)
		}
	}
	run, err := results.Read(dir)
	if err != nil {
		return nil, WithExitCodeIfNone(fmt.Errorf("%s: %w", which, err), ExitHarness)
	}
	return run, nil
}

// runDirIn returns dir when it is a run directory (or holds no run at
// all, for results.Read to say so), else the one run directory in it:
// `cutover run --out DIR` makes DIR/<run-id>.
func runDirIn(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, results.RecordFile)); err == nil {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return dir, nil
	}
	var runs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), results.RecordFile)); err == nil {
			runs = append(runs, e.Name())
		}
	}
	switch len(runs) {
	case 0:
		return dir, nil
	case 1:
		return filepath.Join(dir, runs[0]), nil
	}
	const shown = 5
	names := runs[:min(len(runs), shown)]
	more := ""
	if len(runs) > shown {
		more = fmt.Sprintf(", … (%d in all)", len(runs))
	}
	return "", fmt.Errorf("%s holds %d runs (%s%s): name one of their directories", dir, len(runs), strings.Join(names, ", "), more)
}

// compareExit is the exit code of a comparison's verdict.
func compareExit(s compare.Status) ExitCode {
	switch s {
	case compare.StatusRegression:
		return ExitFail
	case compare.StatusInconclusive:
		return ExitInconclusive
	}
	return ExitPass
}
