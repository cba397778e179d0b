package localcloud

import (
	"errors"
	"time"
)

// Errors the Go API returns, wrapped with the details; the control plane
// maps them to the status codes Google uses.
var (
	// ErrNotFound: no such service or revision.
	ErrNotFound = errors.New("not found")
	// ErrInvalidArgument: a traffic list or revision spec that cannot be applied.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrAlreadyExists: a revision name (from its suffix) is taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrRevisionFailed: the revision cannot become ready.
	ErrRevisionFailed = errors.New("revision failed")
	// ErrClosed: the local cloud is closed.
	ErrClosed = errors.New("local cloud closed")
)

// Egress settings of a revision (Direct VPC egress).
const (
	EgressAllTraffic        = "all-traffic"         // every public destination through Cloud NAT
	EgressPrivateRangesOnly = "private-ranges-only" // public destinations bypass the VPC and NAT
)

// ConditionState is the state of a condition, named as in the Cloud Run
// Admin API v2.
type ConditionState string

// Condition states.
const (
	ConditionPending   ConditionState = "CONDITION_PENDING"
	ConditionSucceeded ConditionState = "CONDITION_SUCCEEDED"
	ConditionFailed    ConditionState = "CONDITION_FAILED"
)

// Condition reasons, named as in the Cloud Run Admin API v2.
const (
	// ReasonContainerMissing: the image cannot be pulled.
	ReasonContainerMissing = "CONTAINER_MISSING"
	// ReasonMinInstancesWarming: the revision waits for its instances.
	ReasonMinInstancesWarming = "MIN_INSTANCES_WARMING"
	// ReasonRevisionFailed: the service's latest revision failed.
	ReasonRevisionFailed = "REVISION_FAILED"
)

// Condition is the Ready condition of a service or revision.
type Condition struct {
	Type               string // "Ready"
	State              ConditionState
	Reason             string
	Message            string
	LastTransitionTime time.Time
}

// Scaling bounds a revision's instances.
type Scaling struct {
	MinInstances, MaxInstances int
}

// Template is what a revision runs, with every field resolved.
type Template struct {
	Image           string
	Env             map[string]string
	Scaling         Scaling
	Concurrency     int
	RequestTimeout  time.Duration // simulated
	Egress          string        // EgressAllTraffic or EgressPrivateRangesOnly
	SessionAffinity bool
}

// RevisionSpec asks Deploy for a new revision. Zero fields keep the value of
// the service's latest created revision.
type RevisionSpec struct {
	Image string
	// Env replaces the environment when not nil.
	Env map[string]string
	// Suffix names the revision SERVICE-SUFFIX; empty gives SERVICE-00002-xyz.
	Suffix string
	// Unpullable marks the image as one that cannot be pulled: the
	// revision's instances fail to start and it never becomes ready.
	Unpullable bool

	Scaling         *Scaling
	Concurrency     int
	RequestTimeout  time.Duration // simulated
	Egress          string
	SessionAffinity *bool

	// Traffic, when not nil, replaces the service's traffic split as part of
	// the same update; it may name the new revision. It is applied once
	// every revision it names is ready.
	Traffic []TrafficTarget
}

// TrafficTarget is one entry of a service's traffic split: the latest ready
// revision (Latest) or a named one, a percent, and an optional tag that
// gets its own URL.
type TrafficTarget struct {
	Latest   bool
	Revision string
	Percent  int
	Tag      string
}

// TrafficStatus is a traffic target as it is served: Latest targets name
// the revision they resolve to, and a tag has its URL.
type TrafficStatus struct {
	Latest   bool
	Revision string
	Percent  int
	Tag      string
	URL      string
}

// Instance states.
const (
	InstanceStarting = "starting"
	InstanceReady    = "ready"
	InstanceDraining = "draining"
	InstanceStopped  = "stopped"
	InstanceFailed   = "failed"
)

// InstanceState is a snapshot of one instance.
type InstanceState struct {
	ID string
	// Addr is the instance's own listener, "127.0.0.1:PORT" once ready.
	Addr       string
	State      string
	InFlight   int
	CreateTime time.Time
	ReadyTime  time.Time // zero until ready
	// NATEndpoint is the instance's NAT endpoint, "" when its revision's
	// egress does not go through NAT.
	NATEndpoint string
	// Reason says why a failed instance failed.
	Reason string
}

// RevisionState is a snapshot of one revision.
type RevisionState struct {
	Name       string
	Service    string
	Generation int64 // always 1: a revision never changes
	CreateTime time.Time
	Template   Template
	Ready      Condition
	// Percent is the share of the service's traffic it serves now.
	Percent int
	// Tags are the traffic tags that route to it now.
	Tags []string
	// Queued counts requests waiting for an instance slot.
	Queued    int
	Instances []InstanceState
}

// ServiceState is a snapshot of one service.
type ServiceState struct {
	Name    string
	Project string
	Region  string
	// URL is the front end, "http://127.0.0.1:PORT".
	URL string
	// Generation counts changes of the service's spec (deploys and traffic
	// updates), starting at 1.
	Generation int64
	CreateTime time.Time
	UpdateTime time.Time
	// Template is the latest created revision's template.
	Template              Template
	LatestCreatedRevision string
	LatestReadyRevision   string
	// Traffic is the split as last asked for; TrafficStatuses is what is
	// served. They differ while Reconciling.
	Traffic         []TrafficTarget
	TrafficStatuses []TrafficStatus
	Reconciling     bool
	// Ready is succeeded when the latest created revision is ready and the
	// traffic asked for is served, failed with the revision's reason when it
	// cannot become ready.
	Ready Condition
	// Revisions are oldest first.
	Revisions []RevisionState
}
