package results

import (
	"strconv"
	"strings"
)

// The record's words: the classes results are sorted into, the names of the
// metric queries, and the kinds of timeline event. Each is a named string
// type, so that a misspelt name does not compile where a constant is meant;
// JSON encodes them as the plain strings they are. Every other package
// (scenarios' thresholds, the load engine's classifier, the drivers, the
// diagnosis, the reporters) refers to these constants and declares none of
// its own.

// Class names what a result counted as: one of the Class* constants, or one
// of the Derived counters. Both key the ByClass maps of totals, windows and
// buckets; a result counts in exactly one class and at most one derived
// counter.
type Class string

// Result classes: every request result is sorted into exactly one. They
// are declared here only; scenarios' threshold metrics and runner/load's
// classifier refer to them.
const (
	ClassOK          Class = "ok"
	ClassStatus429   Class = "status_429"
	ClassStatus500   Class = "status_500"
	ClassStatus502   Class = "status_502"
	ClassStatus503   Class = "status_503"
	ClassStatus504   Class = "status_504"
	ClassStatusOther Class = "status_other"

	ClassConnectTimeout  Class = "connect_timeout"
	ClassConnectRefused  Class = "connect_refused"
	ClassConnReset       Class = "conn_reset"
	ClassEOF             Class = "eof"
	ClassResponseTimeout Class = "response_timeout"
	ClassTLS             Class = "tls"
	ClassDNS             Class = "dns"
	ClassTransportOther  Class = "transport_other"
)

// Derived counters that are not classes of their own.
const (
	// FetchFailed is the sum of the transport classes: what Node reports as
	// "TypeError: fetch failed".
	FetchFailed Class = "fetch_failed"
	// UpstreamTimeout counts 504s whose body says "upstream request timeout".
	UpstreamTimeout Class = "upstream_timeout"
	// AppFetchFailed counts 5xx responses whose body says "fetch failed":
	// the service's own outbound call failed (Node's TypeError: fetch failed),
	// as the app in incident 000 reported NAT drops.
	AppFetchFailed Class = "app_fetch_failed"
)

// Derived lists the derived counters, which are not classes: a result
// counts in exactly one class and in at most one derived counter.
var Derived = []Class{FetchFailed, UpstreamTimeout, AppFetchFailed}

// IsDerived reports whether name is one of Derived.
func IsDerived(name Class) bool {
	for _, d := range Derived {
		if d == name {
			return true
		}
	}
	return false
}

// Classes lists every class in report order.
var Classes = []Class{
	ClassOK, ClassStatus429, ClassStatus500, ClassStatus502, ClassStatus503, ClassStatus504, ClassStatusOther,
	ClassConnectTimeout, ClassConnectRefused, ClassConnReset, ClassEOF, ClassResponseTimeout, ClassTLS, ClassDNS, ClassTransportOther,
}

// TransportClasses lists the classes that make up FetchFailed.
var TransportClasses = []Class{
	ClassConnectTimeout, ClassConnectRefused, ClassConnReset, ClassEOF, ClassResponseTimeout, ClassTLS, ClassDNS, ClassTransportOther,
}

// IsTransport reports whether class is one of TransportClasses.
func IsTransport(class Class) bool {
	for _, c := range TransportClasses {
		if c == class {
			return true
		}
	}
	return false
}

// StatusOther is the ByStatus key of responses whose status code is outside
// 100–599.
const StatusOther = "other"

// StatusClass returns the class of a response with the ByStatus key code:
// the class the load engine sorts such a response into. A key that is not
// a number in 100–599 (StatusOther) is ClassStatusOther.
func StatusClass(code string) Class {
	n, err := strconv.Atoi(code)
	switch {
	case err != nil || n < 100 || n > 599:
		return ClassStatusOther
	case n >= 200 && n < 400:
		return ClassOK
	case n == 429:
		return ClassStatus429
	case n == 500:
		return ClassStatus500
	case n == 502:
		return ClassStatus502
	case n == 503:
		return ClassStatus503
	case n == 504:
		return ClassStatus504
	}
	return ClassStatusOther
}

// Query names a metric query and the series it fetched (Series.Query). A
// scenario may add queries of its own names; the default queries are named
// by the Query* constants, which the diagnosis keys on.
type Query string

// Names of the default metric queries.
const (
	QueryNATDroppedSent      Query = "nat_dropped_sent"
	QueryNATAllocationFailed Query = "nat_allocation_failed"
	QueryNATAllocatedPorts   Query = "nat_allocated_ports"
	QueryNATPortUsage        Query = "nat_port_usage"
	QueryNATOpenConnections  Query = "nat_open_connections"
	QueryNATNewConnections   Query = "nat_new_connections"
	QueryRunRequestCount     Query = "run_request_count"
	QueryRunInstanceCount    Query = "run_instance_count"

	// CloudWatch, for an ecs target: the load balancer's (AWS/ApplicationELB,
	// Sum per period for counts, Average for hosts and response time) and
	// the service's running tasks (ECS/ContainerInsights, Average).
	QueryALB5XX            Query = "alb_elb_5xx"
	QueryALB503            Query = "alb_elb_503"
	QueryALB504            Query = "alb_elb_504"
	QueryALBRequestCount   Query = "alb_request_count"
	QueryALBHealthyHosts   Query = "alb_healthy_hosts"
	QueryALBUnhealthyHosts Query = "alb_unhealthy_hosts"
	QueryALBResponseTime   Query = "alb_target_response_time"
	QueryECSRunningTasks   Query = "ecs_running_tasks"
)

// NAT drop reasons: the "reason" label of QueryNATDroppedSent's series.
const (
	DropOutOfResources   = "OUT_OF_RESOURCES"
	DropEndpointConflict = "ENDPOINT_INDEPENDENCE_CONFLICT"
)

// IsNAT reports whether q reads a Cloud NAT metric: its name starts with
// "nat_", as every default NAT query's does.
func (q Query) IsNAT() bool { return strings.HasPrefix(string(q), "nat_") }

// NATObserved reports whether any Cloud NAT series came back with points: a
// flat NAT signal then means "nothing happened", not "not measured".
func NATObserved(series []Series) bool {
	for _, s := range series {
		if s.Query.IsNAT() && len(s.Points) > 0 {
			return true
		}
	}
	return false
}

// EventKind names what an Event is: one of the Event* constants.
type EventKind string

// Event kinds on a run's timeline.
const (
	EventDeployStart     EventKind = "deploy-start"
	EventRevisionCreated EventKind = "revision-created"
	EventRevisionReady   EventKind = "revision-ready"
	EventTrafficApplied  EventKind = "traffic-applied"
	EventActionFailed    EventKind = "action-failed"
	EventRollbackStart   EventKind = "rollback-start"
	EventRollbackDone    EventKind = "rollback-done"
	EventRollbackFailed  EventKind = "rollback-failed"
	// EventAbortTriggered: a brake (an abort threshold, an interrupt)
	// stopped the run.
	EventAbortTriggered EventKind = "abort-triggered"
	// EventClaimReleaseFailed: the run could not release its claim on a
	// service.
	EventClaimReleaseFailed EventKind = "claim-release-failed"

	// EventPreflightFinding: the preflight guard found a problem before
	// the load (details: cause, image, message).
	EventPreflightFinding EventKind = "preflight-finding"
	// EventChaos: a chaos action was carried out (details: action, tasks,
	// desired).
	EventChaos EventKind = "chaos"
	// EventTaskStopped: an ECS task stopped, as DescribeTasks reports it
	// (details: task, task_definition, stop_code, stopped_reason,
	// container_reason, last_status_before); At is its stoppedAt.
	EventTaskStopped EventKind = "task-stopped"
	// EventServiceEvent: a service event ECS wrote (details: message, id);
	// At is its createdAt.
	EventServiceEvent EventKind = "service-event"
	// EventDeployment: an ECS deployment changed its rollout state
	// (details: deployment, task_definition, rollout_state, reason).
	EventDeployment EventKind = "deployment"
)
