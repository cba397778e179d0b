package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/localcloud/gcp"
	"github.com/cutover-dev/cutover/reporters"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/runner/cloudrun"
	"github.com/cutover-dev/cutover/runner/monitoring"
	"github.com/cutover-dev/cutover/scenarios"
)

// runCmd is `cutover run SCENARIO`.
type runCmd struct {
	Scenario string `arg:"" help:"Scenario file, or the name of a built-in scenario (see 'cutover scenarios')."`
	Out      string `default:"runs" placeholder:"DIR" help:"Directory under which the run's record directory is created."`
	Format   string `enum:"text,json,markdown,junit,html" default:"text" help:"Report printed to stdout: text, json, markdown, junit or html."`
	DryRun   bool   `name:"dry-run" help:"Validate, read the service and print the plan; change nothing, send no load."`
	Force    bool   `help:"Take over a service that another cutover run holds (its claim); see 'cutover restore'."`
}

// reportFiles are the reports written into every run directory.
var reportFiles = []struct{ format, file string }{
	{"text", "report.txt"},
	{"markdown", "report.md"},
	{"junit", "junit.xml"},
	{"html", "report.html"},
}

func (c *runCmd) run(ctx context.Context, env Env) error {
	sc, err := loadScenario(c.Scenario)
	if err != nil {
		return err
	}
	render, err := stdoutReporter(c.Format, env)
	if err != nil {
		return usageError{err}
	}
	tgt, err := openTarget(ctx, sc, env.Stderr)
	if err != nil {
		return err
	}
	defer tgt.close()
	if c.DryRun {
		return printPlan(ctx, env.Stdout, sc, tgt.platforms)
	}
	prog := newProgress(env.Stderr, env.Interactive)
	out, err := runner.Run(ctx, runner.Options{
		Scenario:    sc,
		ResultsDir:  c.Out,
		ToolVersion: version(),
		Progress:    prog.update,
		Platforms:   tgt.platforms,
		Metrics:     tgt.metrics,
		Target:      platformTarget(sc),
		Abandon:     env.Abandon,
		Force:       c.Force,
	})
	prog.done()
	if out != nil {
		if werr := writeReports(out.Dir, out.Run); werr != nil {
			return werr
		}
		if rerr := render(env.Stdout, out.Run); rerr != nil {
			return fmt.Errorf("render %s report: %w", c.Format, rerr)
		}
		fmt.Fprintf(env.Stderr, "record: %s\n", out.Dir)
	}
	if err != nil {
		if errors.Is(err, runner.ErrNotRestored) && out != nil && out.Run.Cutover != nil {
			printNotRestored(env.Stderr, out.Run.Cutover)
		}
		if pe := (*runner.PreflightError)(nil); errors.As(err, &pe) {
			_ = printFindings(env.Stderr, sc.Name, pe.Findings, stdoutWidth(env)) // the error below is what matters
		}
		return runnerExit(err)
	}
	return verdictOutcome(out.Run)
}

// printNotRestored tells the user, last and loud, what the run left changed
// and how to put it back.
func printNotRestored(w io.Writer, c *results.Cutover) {
	fmt.Fprintf(w, "cutover: NOT RESTORED: the run changed the traffic and did not put it back")
	if c.RestoreError != "" {
		fmt.Fprintf(w, " (%s)", c.RestoreError)
	}
	fmt.Fprintf(w, ".\n  put back: %s\n", c.RestoreTo)
	if c.RestoreCommand != "" {
		fmt.Fprintf(w, "  command:  %s\n", c.RestoreCommand)
	}
}

// platformTarget records how the run reached its platform, for `cutover
// restore`.
func platformTarget(sc *scenarios.Scenario) results.PlatformTarget {
	return results.PlatformTarget{
		Platform: sc.Target.Platform, Project: sc.Target.Project, Region: sc.Target.Region,
		Endpoint: sc.Target.Endpoint, LocalCloud: sc.LocalCloud.Present(), Cluster: sc.Target.Cluster,
	}
}

// target is where a run's load goes and what its actions change: the
// platform driver, and the local cloud when the scenario embeds one.
type target struct {
	// platforms has a driver per service the scenario changes.
	platforms map[string]runner.Platform
	// metrics reads the platform's metrics for the diagnosis; nil when the
	// scenario's metrics section is off.
	metrics runner.MetricSource
	closers []func()
}

func (t *target) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}

// openTarget starts the scenario's local cloud if it has one, connects the
// platform driver its target names, and resolves the load's URL.
func openTarget(ctx context.Context, sc *scenarios.Scenario, stderr io.Writer) (*target, error) {
	t := &target{}
	if sc.Target.Platform == scenarios.PlatformECS {
		if err := openECSTarget(ctx, sc, t, stderr); err != nil {
			t.close()
			return nil, err
		}
		return t, nil
	}
	endpoint := sc.Target.Endpoint
	if sc.LocalCloud.Enabled() {
		// The embedded default: the target lives in the local cloud, started
		// in-process; the driver talks to its control plane.
		cloud, err := startCloud(ctx, sc, nil)
		if err != nil {
			return nil, err
		}
		t.closers = append(t.closers, func() { stopCloud(ctx, cloud, stderr) })
		cp, err := gcp.StartControlPlane(ctx, cloud)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("start local cloud control plane: %w", err)
		}
		t.closers = append(t.closers, func() { cp.Close() })
		endpoint = cp.Addr()
		if sc.Target.URL == "" {
			if sc.Target.URL, err = cloud.ServiceURL(sc.Target.Service); err != nil {
				t.close()
				return nil, err
			}
		}
	}
	if sc.Target.Platform != scenarios.PlatformCloudRun {
		return t, nil
	}
	opts := googleClientOptions(endpoint)
	t.platforms = map[string]runner.Platform{}
	services := []string{sc.Target.Service}
	for _, a := range sc.Actions {
		if a.Deploy != nil && a.Deploy.Service != "" && !slices.Contains(services, a.Deploy.Service) {
			services = append(services, a.Deploy.Service)
		}
	}
	for _, name := range services {
		driver, err := cloudrun.New(ctx, cloudrun.Config{
			Project: sc.Target.Project, Region: sc.Target.Region, Service: name, Host: endpoint,
		}, opts...)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("connect to Cloud Run: %w", err)
		}
		t.closers = append(t.closers, func() { driver.Close() })
		t.platforms[name] = driver
	}
	if sc.Metrics.Enabled {
		src, err := monitoring.New(ctx, monitoring.Config{
			Project: sc.Target.Project, Region: sc.Target.Region, Service: sc.Target.Service,
			NATRegion: sc.Metrics.NAT.Region, Router: sc.Metrics.NAT.Router, Gateway: sc.Metrics.NAT.Gateway,
			Queries: metricQueries(sc),
		}, opts...)
		if err != nil {
			t.close()
			return nil, err
		}
		t.closers = append(t.closers, func() { src.Close() })
		t.metrics = src
	}
	if sc.Target.URL == "" {
		svc, err := t.platforms[sc.Target.Service].Service(ctx)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("read the service: %w", err)
		}
		sc.Target.URL = svc.URL
	}
	return t, nil
}

// metricQueries are the default queries for the scenario's target, with
// its extra queries added; an extra query named like a default replaces it.
func metricQueries(sc *scenarios.Scenario) []monitoring.Query {
	m := sc.Metrics
	qs := monitoring.DefaultQueries(monitoring.Config{
		Project: sc.Target.Project, Region: sc.Target.Region, Service: sc.Target.Service,
		NATRegion: m.NAT.Region, Router: m.NAT.Router, Gateway: m.NAT.Gateway,
	})
	for _, x := range m.Extra {
		q := monitoring.Query{Name: results.Query(x.Name), MetricType: x.Type, Filter: x.Filter,
			Aligner: x.Aligner, Reducer: x.Reducer, GroupBy: x.GroupBy}
		if i := slices.IndexFunc(qs, func(d monitoring.Query) bool { return d.Name == q.Name }); i >= 0 {
			qs[i] = q
			continue
		}
		qs = append(qs, q)
	}
	return qs
}

// printPlan is --dry-run: what a run would do, from the service as it is.
func printPlan(ctx context.Context, w io.Writer, sc *scenarios.Scenario, platforms map[string]runner.Platform) error {
	fmt.Fprintf(w, "scenario %s: valid\n", sc.Name)
	fmt.Fprintf(w, "load: %s for %s against %s\n", describeLoad(sc.Load), sc.Load.Duration, results.RedactURL(sc.Target.URL))
	services := map[string]runner.Service{}
	if len(sc.Actions) > 0 {
		var err error
		if services, err = runner.Preflight(ctx, sc, platforms); err != nil {
			return runnerExit(fmt.Errorf("preflight: %w", err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc := services[name]
		fmt.Fprintf(w, "service: %s\n  latest ready revision: %s\n  traffic now: %s\n",
			svc.Name, svc.LatestReadyRevision, runner.FormatSplit(svc.Traffic))
		if svc.Claim.RunID != "" {
			fmt.Fprintf(w, "  held by cutover run %s since %s (until %s)\n", svc.Claim.RunID,
				svc.Claim.Since.UTC().Format(time.RFC3339), svc.Claim.Expires.UTC().Format(time.RFC3339))
		}
	}
	findings, err := runner.Guard(ctx, sc, platforms)
	switch {
	case err != nil:
		fmt.Fprintf(w, "preflight guard: could not check: %v\n", err)
	case len(findings) > 0:
		for _, f := range findings {
			fmt.Fprintf(w, "preflight guard: %s: %s\n", f.Cause, strings.Join(f.Evidence, " "))
		}
		if sc.Preflight == scenarios.PreflightStrict {
			fmt.Fprintln(w, "preflight: strict: a run would stop here, before any load")
		}
	}
	for i, a := range sc.Actions {
		fmt.Fprintf(w, "action %d at +%s: %s\n", i, a.At, describeAction(a))
	}
	if len(sc.Actions) > 0 {
		fmt.Fprintf(w, "rollback: %s (restores the traffic split above)\n", sc.Rollback)
	}
	if m := sc.Metrics; m.Enabled {
		source := "NAT gateway " + cmp.Or(m.NAT.Gateway, "(every gateway in the region)")
		if sc.Target.Platform == scenarios.PlatformECS {
			source = "CloudWatch: the service's load balancer and running tasks"
		}
		fmt.Fprintf(w, "metrics: after the load, wait %s, then query every %s until covered (at most %s); %s\n",
			sc.Wall(m.Settle), sc.Wall(m.Period), sc.Wall(m.MaxWait), source)
	}
	fmt.Fprintln(w, "dry run: nothing was changed and no load was sent")
	return nil
}

func describeLoad(l scenarios.Load) string {
	switch {
	case l.Concurrency > 0:
		return fmt.Sprintf("%d concurrent clients", l.Concurrency)
	case len(l.Stages) > 0:
		return fmt.Sprintf("ramp from %s over %d stages", l.StartRate, len(l.Stages))
	default:
		return l.Rate.String()
	}
}

func describeAction(a scenarios.Action) string {
	switch {
	case a.Deploy != nil:
		d := a.Deploy
		s := "deploy"
		if d.Service != "" {
			s += " service " + d.Service
		}
		if d.Image != "" {
			s += " image " + d.Image
		}
		if len(d.Env) > 0 {
			s += fmt.Sprintf(" with %d env changes", len(d.Env))
		}
		if d.Traffic == scenarios.DeployTrafficNone {
			return s + ", no traffic"
		}
		return s + ", then all traffic to it"
	case a.Traffic != nil && len(a.Traffic.Split) > 0:
		parts := make([]string, len(a.Traffic.Split))
		for i, sp := range a.Traffic.Split {
			parts[i] = fmt.Sprintf("%s=%d%%", sp.Revision, sp.Percent)
		}
		return "traffic " + strings.Join(parts, ", ")
	case a.Traffic != nil:
		return fmt.Sprintf("traffic to %s in steps %v every %s", a.Traffic.Revision, a.Traffic.Steps, a.Traffic.Every)
	case a.Chaos != nil:
		c := a.Chaos
		switch c.Action {
		case scenarios.ChaosScale:
			return fmt.Sprintf("chaos scale to %d tasks", c.Desired)
		case scenarios.ChaosFailHealthCheck:
			return fmt.Sprintf("chaos fail-health-check of %d tasks", c.Count)
		}
		return fmt.Sprintf("chaos stop-task of %d tasks", c.Count)
	default:
		return "wait for " + a.Wait
	}
}

// loadScenario reads a scenario file or a built-in by name.
func loadScenario(arg string) (*scenarios.Scenario, error) {
	name, data, err := scenarios.Resolve(arg)
	if err != nil {
		return nil, usageError{err}
	}
	sc, err := scenarios.Parse(name, data)
	return sc, scenarioExit(err)
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

// verdictOutcome is a finalized record's outcome, which its report has
// shown: nil for a pass, else the verdict with its exit code.
func verdictOutcome(run *results.Run) error {
	if run.State == results.StateAborted {
		return reportedOutcome{"aborted by the user", ExitAborted}
	}
	switch run.Verdict.Status {
	case results.StatusPass:
		return nil
	case results.StatusFail:
		return reportedOutcome{"verdict: fail", ExitFail}
	default:
		return reportedOutcome{"verdict: " + run.Verdict.Status, ExitInconclusive}
	}
}

// progress prints the state of a run to stderr: one redrawn line on a
// terminal, a plain line every plainEvery otherwise (CI logs).
type progress struct {
	w           io.Writer
	interactive bool
	phase       string
	lastPlain   time.Duration
	lastNote    string
	drawn       bool
}

const plainEvery = 5 * time.Second

func newProgress(w io.Writer, interactive bool) *progress {
	return &progress{w: w, interactive: interactive}
}

func (p *progress) update(s runner.Progress) {
	line := fmt.Sprintf("%-8s %s/%s  rate %.0f/s  requests %d  errors %d",
		s.Phase, s.Elapsed.Round(time.Second), s.Total.Round(time.Second), s.Rate, s.Requests, s.Errors)
	if s.Phase == runner.PhaseMetrics || s.Phase == runner.PhaseRestore {
		line = fmt.Sprintf("%-8s %s/%s  %s", s.Phase, s.Elapsed.Round(time.Second), s.Total.Round(time.Second), s.Note)
	}
	if s.Phase != p.phase {
		// A new phase starts its own clock: print its first line at once.
		p.phase, p.lastPlain, p.lastNote = s.Phase, -plainEvery, ""
	}
	if p.interactive {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	if s.Elapsed-p.lastPlain >= plainEvery || s.Elapsed >= s.Total || s.Note != p.lastNote {
		p.lastPlain, p.lastNote = s.Elapsed, s.Note
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
