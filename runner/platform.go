package runner

import (
	"context"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// Event kinds on a run's timeline.
const (
	EventDeployStart     = "deploy-start"
	EventRevisionCreated = "revision-created"
	EventRevisionReady   = "revision-ready"
	EventTrafficApplied  = "traffic-applied"
	EventActionFailed    = "action-failed"
	EventRollbackStart   = "rollback-start"
	EventRollbackDone    = "rollback-done"
	EventRollbackFailed  = "rollback-failed"
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
}

// TrafficTarget is one entry of a traffic split.
type TrafficTarget struct {
	// Latest routes to the latest ready revision; Revision is then empty.
	Latest   bool   `json:"latest,omitempty"`
	Revision string `json:"revision,omitempty"`
	Percent  int    `json:"percent"`
	Tag      string `json:"tag,omitempty"`
}

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

// Event is something the platform did, at a time.
type Event struct {
	Kind    string
	At      time.Time
	Details map[string]string
}

func (e Event) record() results.Event {
	return results.Event{Kind: e.Kind, At: e.At, Details: e.Details}
}
