package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// Platform is the service a cutover changes: the runner reads it before the
// run, deploys to it and shifts its traffic during the run, and puts its
// traffic back afterwards. Implementations live in their own packages
// (runner/cloudrun) and are chosen by cmd.
type Platform interface {
	// Service reads the service as it is now.
	Service(ctx context.Context) (Service, error)
	// Deploy creates a new revision and returns once it is ready (or, with
	// spec.NoWait, once it is created). It reports revision-created and
	// revision-ready through report as they happen; a revision that cannot
	// become ready is an error that says why.
	Deploy(ctx context.Context, spec DeploySpec, report func(Event)) (revision string, err error)
	// SetTraffic replaces the service's traffic split and returns once it is
	// served.
	SetTraffic(ctx context.Context, split []TrafficTarget) error
	// Claimer keeps one cutover per service at a time.
	Claimer
}

// Waiter is the optional behaviour of a Platform that can wait for a
// revision created with DeploySpec.NoWait.
type Waiter interface {
	WaitReady(ctx context.Context, revision string, report func(Event)) error
}

// Service is what the runner needs to know of the service.
type Service struct {
	// Name is the full resource name.
	Name string
	// URL is where the service is reached.
	URL string
	// LatestReadyRevision and LatestCreatedRevision are short revision names.
	LatestReadyRevision   string
	LatestCreatedRevision string
	// Traffic is the split as configured.
	Traffic []TrafficTarget
	// Claim is the cutover run that holds the service, if any (see
	// Claimer); its RunID is empty when none does.
	Claim Claim
}

// TrafficTarget is one entry of a traffic split: Latest routes to the
// latest ready revision (Revision is then empty). The record stores the
// same type.
type TrafficTarget = results.TrafficTarget

// DeploySpec is the change a deploy makes to the service's template.
type DeploySpec struct {
	// Image replaces the container image ("" keeps it).
	Image string
	// Env is merged into the container's environment.
	Env map[string]string
	// DeployID is set as CUTOVER_DEPLOY_ID so every deploy makes a revision.
	DeployID string
	// RevisionSuffix names the revision SERVICE-SUFFIX ("" lets the
	// platform name it).
	RevisionSuffix string
	// NoTraffic keeps the current split (pinning LATEST to the current
	// revision); the new revision gets no traffic but its Tag.
	NoTraffic bool
	Tag       string
	// NoWait returns once the revision is created.
	NoWait bool
}

// Event is something the platform did, at a time; Kind is one of the
// results.Event* kinds.
type Event struct {
	Kind    results.EventKind
	At      time.Time
	Details map[string]string
}

func (e Event) record() results.Event {
	return results.Event{Kind: e.Kind, At: e.At, Details: e.Details}
}

// Claims: one cutover per service at a time. A run claims every service it
// changes before its first change and releases them at the end; the claim
// lives on the service itself (on Cloud Run, annotations written with the
// etag), so every process that reads the service sees it.

// Claim is a run's hold on a service.
type Claim struct {
	// RunID is the run that holds the service.
	RunID string
	// Since is when it took the claim; Expires when the claim lapses
	// without a release (a run killed with -9 never releases).
	Since, Expires time.Time
	// Traffic is the split the holder's last write left, as FormatSplit
	// renders it: a restore puts traffic back only over this.
	Traffic string
}

// Live reports whether the claim still holds at now.
func (c Claim) Live(now time.Time) bool { return c.RunID != "" && now.Before(c.Expires) }

// ClaimedError is returned when a service is held by another run: by Claim
// when another run's claim is live, by a write when the claim this
// platform took was taken over.
type ClaimedError struct {
	// Service is the service's name; Holder the claim found on it.
	Service string
	Holder  Claim
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("service %s is held by cutover run %s since %s (until %s); another cutover is in progress — wait for it, or take over with --force",
		e.Service, e.Holder.RunID, e.Holder.Since.UTC().Format(time.RFC3339), e.Holder.Expires.UTC().Format(time.RFC3339))
}

// ConflictError is returned by Restore when the service no longer serves
// what the run left: someone else changed it since, and putting the run's
// split back would clobber their change.
type ConflictError struct {
	Service string
	// Reason says what changed and who changed it.
	Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("refusing to restore service %s: %s; use --force to restore anyway", e.Service, e.Reason)
}

// ErrUnreachable is matched (errors.Is) by errors that mean the platform's
// API could not be reached at all; such calls are worth retrying.
var ErrUnreachable = errors.New("platform API unreachable")

// UnreachableError says which API could not be reached.
type UnreachableError struct {
	// API names it for people ("the Cloud Run API"); Host is where.
	API, Host string
	Err       error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s at %s is unreachable: %v", e.API, e.Host, e.Err)
}
func (e *UnreachableError) Unwrap() error        { return e.Err }
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// RestoreSpec is a guarded write of a split a run recorded.
type RestoreSpec struct {
	// RunID is the run whose split is put back: the service must still
	// carry its claim, and serve the split that claim says it left.
	RunID string
	// Split is what to put back.
	Split []TrafficTarget
	// Force skips both checks.
	Force bool
}

// Claimer is the part of a Platform that keeps one cutover per service.
type Claimer interface {
	// Claim marks the service as held by runID until ttl from now, in one
	// write that also fails when the service changed since it was read. A
	// live claim of another run is a *ClaimedError unless force; an
	// expired one is taken over. After it, every write this platform makes
	// (Deploy, SetTraffic) first checks that the claim still holds, fails
	// with a *ClaimedError when it was taken over, and records the split it
	// leaves in the claim.
	Claim(ctx context.Context, runID string, ttl time.Duration, force bool) error
	// Release removes runID's claim; a claim of another run is left alone
	// and reported as a *ClaimedError.
	Release(ctx context.Context, runID string) error
	// Restore puts spec.Split back, in one guarded write, and releases
	// spec.RunID's claim in the same write. Unless spec.Force, a service that
	// carries no claim of spec.RunID, or whose split is not the one that
	// claim recorded, is a *ConflictError that names who holds it or how the
	// split differs.
	Restore(ctx context.Context, spec RestoreSpec) error
}

// RevisionLister is the optional behaviour of a Platform that can list the
// service's revisions, so that preflight can check the revision names a
// scenario gives.
type RevisionLister interface {
	// Revisions returns the short names of the service's revisions.
	Revisions(ctx context.Context) ([]string, error)
}

// Watcher is the optional behaviour of a Platform whose own events belong
// on a run's timeline: ECS's stopped tasks, service events and deployment
// states. The runner watches from the start of the load to the end of the
// observation.
type Watcher interface {
	// Watch reports every platform event from since on, oldest first and
	// each once, as it appears, until ctx ends (it returns nil then). A
	// read that fails is retried on the next poll; only an error that
	// ends the watch for good is returned.
	Watch(ctx context.Context, since time.Time, report func(Event)) error
}

// Chaoser is the optional behaviour of a Platform that can carry out a
// scenario's chaos actions (stop-task, fail-health-check, scale).
type Chaoser interface {
	// Chaos carries out a and reports an EventChaos naming what it did
	// (the tasks stopped, the desired count set).
	Chaos(ctx context.Context, a scenarios.ChaosAction, report func(Event)) error
}

// ImageGuard is the optional behaviour of a Platform that can check,
// before a run, that the images its service needs still exist and will
// not be expired: the preflight guard of incident 001.
type ImageGuard interface {
	// CheckImages checks the images of the service's running task
	// definitions, of the one a rollback would return to, and newImages
	// (the images the run's deploys will use). It returns one finding per
	// image at fault (Cause image-missing or image-at-risk, with evidence
	// and remedies), none when every image is safe; an error only when the
	// check could not be made.
	CheckImages(ctx context.Context, newImages []string) ([]results.Finding, error)
}

// RestoreConflict says why a restore of runID's split would clobber
// someone else's change, or "" when it would not: held is the claim on
// the service, cur its split and want the split to put back, both as
// the claim records splits. The drivers put it in a *ConflictError.
func RestoreConflict(held Claim, runID, cur, want string) string {
	switch {
	case held.RunID == "":
		reason := fmt.Sprintf("no cutover claim of run %s: it was released or removed by hand", runID)
		if cur == want {
			reason += fmt.Sprintf(" (its traffic is [%s] already)", cur)
		}
		return reason
	case held.RunID != runID:
		return fmt.Sprintf("it is held by cutover run %s since %s, not by run %s",
			held.RunID, held.Since.UTC().Format(time.RFC3339), runID)
	case held.Traffic != cur:
		return fmt.Sprintf("its traffic is now [%s], not the [%s] run %s left: someone changed it", cur, held.Traffic, runID)
	}
	return ""
}
