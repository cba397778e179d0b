package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// ErrPreflight is matched (errors.Is) by a *PreflightError: a run with
// preflight: strict stopped before any load because the guard found
// something.
var ErrPreflight = errors.New("preflight guard found a problem")

// PreflightError is a strict preflight's stop: what the guard found.
type PreflightError struct {
	Findings []results.Finding
}

func (e *PreflightError) Error() string {
	causes := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		causes[i] = f.Cause
	}
	return fmt.Sprintf("preflight: strict, and the guard found %s; no load was sent", strings.Join(causes, ", "))
}

func (e *PreflightError) Is(target error) bool { return target == ErrPreflight }

// Guard runs the preflight guard of the scenario's target: the images the
// service runs, the one a rollback returns to, and the images of the
// run's deploys must exist and be safe from the registry's lifecycle
// policy. It returns what the guard found; no finding when the target's
// platform has no guard (ImageGuard).
func Guard(ctx context.Context, sc *scenarios.Scenario, platforms map[string]Platform) ([]results.Finding, error) {
	g, ok := platforms[sc.Target.Service].(ImageGuard)
	if !ok {
		return nil, nil
	}
	var images []string
	for _, a := range sc.Actions {
		if d := a.Deploy; d != nil && d.Image != "" && (d.Service == "" || d.Service == sc.Target.Service) && !slices.Contains(images, d.Image) {
			images = append(images, d.Image)
		}
	}
	findings, err := g.CheckImages(ctx, images)
	if err != nil {
		return nil, fmt.Errorf("preflight guard: %w", err)
	}
	return findings, nil
}

// guard is open's preflight guard: its findings go on the record and the
// timeline; with preflight: strict a finding stops the run. A guard that
// cannot check stops a strict run and is noted on a warning one.
func (r *run) guard(ctx context.Context) error {
	findings, err := Guard(ctx, r.sc, r.opts.Platforms)
	strict := r.sc.Preflight == scenarios.PreflightStrict
	if err != nil {
		if strict {
			return err
		}
		r.rec.addEvent(results.Event{Kind: results.EventPreflightFinding, At: r.now(),
			Details: map[string]string{"cause": "", "message": "the preflight guard could not check the images: " + err.Error()}})
		return nil
	}
	if len(findings) == 0 {
		return nil
	}
	if strict {
		return &PreflightError{Findings: findings}
	}
	r.rec.run.Preflight = findings
	for _, f := range findings {
		msg := ""
		if len(f.Evidence) > 0 {
			msg = f.Evidence[0]
		}
		r.rec.addEvent(results.Event{Kind: results.EventPreflightFinding, At: r.now(),
			Details: map[string]string{"cause": f.Cause, "message": msg}})
	}
	return nil
}
