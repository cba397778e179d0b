package cloudrun

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/runner"
)

// The service annotations that hold a run's claim (runner.Claim). They are
// annotations of the service, not of its template: writing them makes a
// new generation of the service, never a revision.
const (
	// AnnotationRun is the id of the run that holds the service.
	AnnotationRun = claimPrefix + "run"
	// AnnotationSince and AnnotationExpires are RFC 3339 times, UTC.
	AnnotationSince   = claimPrefix + "since"
	AnnotationExpires = claimPrefix + "expires"
	// AnnotationTraffic is the split the holder's last write left, as
	// canonicalSplit renders it.
	AnnotationTraffic = claimPrefix + "traffic"

	// claimPrefix starts every annotation of a claim; a release removes
	// them all.
	claimPrefix = "cutover.dev/"
)

var _ runner.Claimer = (*Client)(nil)

// errUnchanged stops a read-modify-write that has nothing to write.
var errUnchanged = errors.New("nothing to change")

// Claim marks the service as held by runID until ttl from now, in one
// etag-guarded write that also records the split the service has. A live
// claim of another run is a *runner.ClaimedError unless force; an expired
// one is taken over; runID's own claim is renewed. From then on the
// client's Deploy and SetTraffic are made for runID only (see guarded).
func (c *Client) Claim(ctx context.Context, runID string, ttl time.Duration, force bool) error {
	if runID == "" || ttl <= 0 {
		return fmt.Errorf("claim service %q: need a run id and a positive ttl (got %q, %v)", c.name, runID, ttl)
	}
	now := c.now()
	err := c.write(ctx, func(svc *runpb.Service) error {
		held, _ := claimOf(svc)
		if held.RunID != runID && held.Live(now) && !force {
			return &runner.ClaimedError{Service: c.service, Holder: held}
		}
		since := now
		if held.RunID == runID && !held.Since.IsZero() {
			since = held.Since
		}
		setClaim(svc, runner.Claim{RunID: runID, Since: since, Expires: now.Add(ttl), Traffic: canonicalSplit(trafficOf(svc))})
		return nil
	})
	if err != nil {
		return fmt.Errorf("claim service %q for cutover run %s: %w", c.name, runID, err)
	}
	c.mu.Lock()
	c.runID = runID
	c.mu.Unlock()
	return nil
}

// Release removes runID's claim. A service that carries no claim is left
// alone; one that carries another run's is a *runner.ClaimedError, and is
// left alone too.
func (c *Client) Release(ctx context.Context, runID string) error {
	err := c.write(ctx, func(svc *runpb.Service) error {
		held, _ := claimOf(svc)
		switch {
		case held.RunID == "":
			return errUnchanged
		case held.RunID != runID:
			return &runner.ClaimedError{Service: c.service, Holder: held}
		}
		clearClaim(svc)
		return nil
	})
	if err != nil {
		return fmt.Errorf("release service %q from cutover run %s: %w", c.name, runID, err)
	}
	return nil
}

// Restore puts spec.Split back and removes the claim, in one etag-guarded
// write, and returns once the split is served. Unless spec.Force, the
// service must carry spec.RunID's claim (live or expired: a run killed
// with -9 is restored by a new process) and have the split that claim
// recorded; else it is a *runner.ConflictError and nothing is written. A
// service that has spec.Split already only loses the claim. It needs no
// Claim before it.
func (c *Client) Restore(ctx context.Context, spec runner.RestoreSpec) error {
	if spec.RunID == "" && !spec.Force {
		return fmt.Errorf("restore service %q to [%s]: no run id to check the claim against", c.name, formatSplit(spec.Split))
	}
	want := canonicalSplit(spec.Split)
	err := c.write(ctx, func(svc *runpb.Service) error {
		held, _ := claimOf(svc)
		cur := canonicalSplit(trafficOf(svc))
		if !spec.Force {
			if reason := runner.RestoreConflict(held, spec.RunID, cur, want); reason != "" {
				return &runner.ConflictError{Service: c.service, Reason: reason}
			}
		}
		if cur == want && !hasClaim(svc) {
			return errUnchanged
		}
		clearClaim(svc)
		if cur != want {
			svc.Traffic = trafficProto(spec.Split)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore service %q to [%s] for cutover run %s: %w", c.name, formatSplit(spec.Split), spec.RunID, err)
	}
	return nil
}

// claimed returns the run this client claimed the service for, or "".
func (c *Client) claimed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runID
}

// guarded wraps a change this client makes for its run. Without a claim
// it is the change itself. After Claim, the change is made only while the
// service still carries the claim (else a *runner.ClaimedError naming the
// run that took it over, or an error saying it is gone), and it records
// the split it leaves in the claim: both in the one write, so the claim
// and the split cannot disagree.
func (c *Client) guarded(mutate func(*runpb.Service) error) func(*runpb.Service) error {
	runID := c.claimed()
	if runID == "" {
		return mutate
	}
	return func(svc *runpb.Service) error {
		if err := c.checkHeld(svc, runID); err != nil {
			return err
		}
		if err := mutate(svc); err != nil {
			return err
		}
		setAnnotation(svc, AnnotationTraffic, canonicalSplit(trafficOf(svc)))
		return nil
	}
}

// checkHeld returns nil when svc carries runID's claim.
func (c *Client) checkHeld(svc *runpb.Service, runID string) error {
	held, _ := claimOf(svc)
	switch held.RunID {
	case runID:
		return nil
	case "":
		return fmt.Errorf("the claim of cutover run %s on service %s is gone (released, or removed by hand): not changing the service", runID, c.service)
	}
	return &runner.ClaimedError{Service: c.service, Holder: held}
}

// resync follows the failure err of a guarded change's operation. The
// platform may have put the traffic back as it was when the change failed
// (the local cloud does), and the claim must then record the split the
// service is left with, or a restore would see a change that nobody made.
// It returns err, saying so when the claim could not be updated.
func (c *Client) resync(ctx context.Context, err error) error {
	runID := c.claimed()
	if runID == "" {
		return err
	}
	op, rerr := c.update(ctx, func(svc *runpb.Service) error {
		if err := c.checkHeld(svc, runID); err != nil {
			return err
		}
		split := canonicalSplit(trafficOf(svc))
		if svc.GetAnnotations()[AnnotationTraffic] == split {
			return errUnchanged
		}
		setAnnotation(svc, AnnotationTraffic, split)
		return nil
	})
	if errors.Is(rerr, errUnchanged) {
		return err
	}
	if rerr == nil {
		_, rerr = c.follow(ctx, op, nil)
	}
	if rerr != nil {
		return fmt.Errorf("%w (and the claim could not record the split the failure left: %v)", err, rerr)
	}
	return err
}

// claimOf reads the claim in a service's annotations. ok is false when
// there is none, or when its times cannot be read; the claim then has its
// run id only (a claim that never expires is no claim, and one that cannot
// be read is expired).
func claimOf(svc *runpb.Service) (claim runner.Claim, ok bool) {
	ann := svc.GetAnnotations()
	claim.RunID, claim.Traffic = ann[AnnotationRun], ann[AnnotationTraffic]
	if claim.RunID == "" {
		return runner.Claim{}, false
	}
	since, err1 := time.Parse(time.RFC3339, ann[AnnotationSince])
	expires, err2 := time.Parse(time.RFC3339, ann[AnnotationExpires])
	if err1 != nil || err2 != nil {
		return claim, false
	}
	claim.Since, claim.Expires = since, expires
	return claim, true
}

// setClaim writes a claim into the service's annotations.
func setClaim(svc *runpb.Service, c runner.Claim) {
	setAnnotation(svc, AnnotationRun, c.RunID)
	setAnnotation(svc, AnnotationSince, c.Since.UTC().Format(time.RFC3339))
	setAnnotation(svc, AnnotationExpires, c.Expires.UTC().Format(time.RFC3339))
	setAnnotation(svc, AnnotationTraffic, c.Traffic)
}

// hasClaim reports whether the service carries any claim annotation.
func hasClaim(svc *runpb.Service) bool {
	for k := range svc.GetAnnotations() {
		if strings.HasPrefix(k, claimPrefix) {
			return true
		}
	}
	return false
}

// clearClaim removes every claim annotation.
func clearClaim(svc *runpb.Service) {
	maps.DeleteFunc(svc.Annotations, func(k, _ string) bool { return strings.HasPrefix(k, claimPrefix) })
}

func setAnnotation(svc *runpb.Service, key, value string) {
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[key] = value
}

// canonicalSplit renders a split so that two splits that route the same
// way render the same: targets in a fixed order (LATEST first, then by
// revision, tag and percent) and untagged 0% targets, which route nothing,
// left out. LATEST stays LATEST: it is not the revision it resolves to
// now, which changes with the next ready revision.
func canonicalSplit(split []runner.TrafficTarget) string {
	out := slices.DeleteFunc(slices.Clone(split), func(t runner.TrafficTarget) bool { return t.Percent == 0 && t.Tag == "" })
	for i := range out {
		out[i].Revision = shortName(out[i].Revision)
		if out[i].Latest {
			out[i].Revision = ""
		}
	}
	slices.SortStableFunc(out, func(a, b runner.TrafficTarget) int {
		if a.Latest != b.Latest {
			if a.Latest {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Revision, b.Revision), cmp.Compare(a.Tag, b.Tag), cmp.Compare(a.Percent, b.Percent))
	})
	return runner.FormatSplit(out)
}

// write applies edit to the service in one etag-guarded update and waits
// for the operation to finish. An edit that returns errUnchanged writes
// nothing, and write returns nil.
func (c *Client) write(ctx context.Context, edit func(*runpb.Service) error) error {
	op, err := c.update(ctx, edit)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err == nil {
		_, err = c.follow(ctx, op, nil)
	}
	return err
}
