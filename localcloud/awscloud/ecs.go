package awscloud

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/alb"
	"github.com/cutover-dev/cutover/scenarios"
)

// ECS values the model writes.
const (
	statusPrimary  = "PRIMARY"
	statusActive   = "ACTIVE"
	statusInactive = "INACTIVE"

	rolloutInProgress = "IN_PROGRESS"
	rolloutCompleted  = "COMPLETED"
	rolloutFailed     = "FAILED"

	taskProvisioning = "PROVISIONING"
	taskPending      = "PENDING"
	taskRunning      = "RUNNING"
	taskStopping     = "STOPPING"
	taskStopped      = "STOPPED"

	stopFailedToStart   = "TaskFailedToStart"
	stopScheduler       = "ServiceSchedulerInitiated"
	stopUser            = "UserInitiated"
	stopContainerExited = "EssentialContainerExited"

	// containerPort is the port every task definition's container
	// listens on, and the service's loadBalancers[] names.
	containerPort = 8080

	// circuitBreakerReason is rolloutStateReason of a deployment the
	// circuit breaker failed (aws/containers-roadmap#1488).
	circuitBreakerReason = "ECS deployment circuit breaker: tasks failed to start."
)

// Simulated durations of the model that the scenario does not set.
const (
	// provisionTime is how long a task is PROVISIONING.
	provisionTime = time.Second
	// schedulerTick is how often a service's scheduler looks at it.
	schedulerTick = time.Second
	// metricEvery is how often RunningTaskCount is put.
	metricEvery = 10 * time.Second
	// stoppedRetention is how long a stopped task stays visible
	// (ListTasks STOPPED), and an INACTIVE deployment in deployments[].
	stoppedRetention = time.Hour
	// throttleFirst is the first delay after a task failed to start; it
	// doubles with each failure, up to the service's RestartDelayMax.
	throttleFirst = 10 * time.Second
	// throttleEventEvery bounds how often the throttle event repeats.
	throttleEventEvery = 5 * time.Minute
)

// tag is an ECS resource tag.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// keyValue is a container environment variable.
type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// portMapping is a container port mapping.
type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
}

// containerDef is a container definition of a task definition.
type containerDef struct {
	Name         string        `json:"name"`
	Image        string        `json:"image"`
	Essential    *bool         `json:"essential,omitempty"`
	Environment  []keyValue    `json:"environment,omitempty"`
	PortMappings []portMapping `json:"portMappings,omitempty"`
	CPU          int           `json:"cpu,omitempty"`
	Memory       int           `json:"memory,omitempty"`
}

// taskDef is one revision of a task definition family. Immutable once
// registered.
type taskDef struct {
	family       string
	revision     int
	arn          string
	containers   []containerDef
	cpu, memory  string
	networkMode  string
	requires     []string
	registeredAt time.Time
}

// name is FAMILY:REVISION.
func (td *taskDef) name() string { return fmt.Sprintf("%s:%d", td.family, td.revision) }

// deployment is one deployment of a service. Guarded by Cloud.mu.
type deployment struct {
	id        string
	status    string
	td        *taskDef
	image     imageRef // resolved at creation: Digest set when the tag resolved
	desired   int
	failed    int
	rollout   string
	reason    string
	createdAt time.Time
	updatedAt time.Time
}

// pullRef is what every task of the deployment pulls: REPO@DIGEST once
// resolved, else the tag.
func (d *deployment) pullRef() imageRef {
	if d.image.Digest != "" {
		return imageRef{Repo: d.image.Repo, Digest: d.image.Digest}
	}
	return d.image
}

// event is a service event.
type event struct {
	id  string
	at  time.Time
	msg string
}

// service is one ECS service: its deployments (newest first, the PRIMARY
// at [0]), events (newest first), tasks (stopped ones too, for an hour)
// and load balancer. Guarded by Cloud.mu.
type service struct {
	cfg         scenarios.ECSService
	name, arn   string
	lb          *alb.LoadBalancer
	desired     int
	minHealthy  int
	maxPercent  int
	breaker     scenarios.ECSCircuitBreaker
	createdAt   time.Time
	deployments []*deployment
	events      []event
	tags        []tag
	tasks       []*task

	// Throttle of tasks that fail to start.
	startFailures int
	nextStart     time.Time
	throttleEvent time.Time

	steady bool
}

// primary is the service's PRIMARY deployment.
func (s *service) primary() *deployment { return s.deployments[0] }

// ids makes the model's identifiers: deterministic, from a sequence.
func (c *Cloud) nextID(kind string) [32]byte {
	c.seq++
	return sha256.Sum256(fmt.Appendf(nil, "%s/%s#%d", c.aws.Cluster, kind, c.seq))
}

// newTaskID returns a task id: 32 hex characters.
func (c *Cloud) newTaskID() string {
	sum := c.nextID("task")
	return hex.EncodeToString(sum[:16])
}

// newDeploymentID returns ecs-svc/ and 19 digits.
func (c *Cloud) newDeploymentID() string {
	sum := c.nextID("deployment")
	return fmt.Sprintf("ecs-svc/%019d", binary.BigEndian.Uint64(sum[:8])%10_000_000_000_000_000_000)
}

// newEventID returns a UUID-shaped event id.
func (c *Cloud) newEventID() string {
	s := hex.EncodeToString(func() []byte { b := c.nextID("event"); return b[:16] }())
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// ARNs.
func (c *Cloud) arn(resource string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:%s", c.aws.Region, c.aws.Account, resource)
}
func (c *Cloud) clusterARN() string { return c.arn("cluster/" + c.aws.Cluster) }

// addEvent records a service event (newest first). c.mu held.
func (c *Cloud) addEvent(s *service, format string, args ...any) {
	msg := fmt.Sprintf("(service %s) ", s.name) + fmt.Sprintf(format, args...)
	s.events = slices.Insert(s.events, 0, event{id: c.newEventID(), at: c.clock.Now(), msg: msg})
	if len(s.events) > 100 {
		s.events = s.events[:100]
	}
	c.logf("ecs: %s", msg)
}

// registerTaskDef adds the next revision of family. c.mu held.
func (c *Cloud) registerTaskDef(td *taskDef) *taskDef {
	revs := c.taskDefs[td.family]
	td.revision = len(revs) + 1
	td.arn = c.arn("task-definition/" + td.name())
	td.registeredAt = c.clock.Now()
	c.taskDefs[td.family] = append(revs, td)
	return td
}

// newDeployment makes a new PRIMARY deployment of td; the old PRIMARY
// becomes ACTIVE. image nil resolves the task definition's image now (a
// tag to its digest, as ECS does when a deployment starts); a rollback
// passes the digest of the deployment it returns to. c.mu held.
func (c *Cloud) newDeployment(s *service, td *taskDef, image *imageRef) *deployment {
	now := c.clock.Now()
	ref := parseImage(td.containers[0].Image)
	if image != nil {
		ref = *image
	} else if ref.Digest == "" {
		if im, ok := c.lookup(ref); ok {
			ref.Digest = im.Digest
		}
	}
	d := &deployment{
		id: c.newDeploymentID(), status: statusPrimary, td: td, image: ref, desired: s.desired,
		rollout: rolloutInProgress, createdAt: now, updatedAt: now,
	}
	d.reason = fmt.Sprintf("ECS deployment %s in progress.", d.id)
	for _, old := range s.deployments {
		if old.status == statusPrimary {
			old.status = statusActive
			old.updatedAt = now
		}
	}
	s.deployments = slices.Insert(s.deployments, 0, d)
	s.startFailures, s.nextStart, s.steady = 0, time.Time{}, false
	c.logf("ecs: %s: deployment %s of %s (%s) started", s.name, d.id, td.name(), c.imageURI(d.pullRef()))
	return d
}

// breakerThreshold is the circuit breaker's failure threshold: half the
// desired count, at least 3 and at most 200, as the current ECS
// documentation gives it (older documentation, and sim-model.md, say at
// least 10).
func breakerThreshold(desired int) int {
	return min(200, max(3, int(math.Ceil(0.5*float64(desired)))))
}

// resolveInitial resolves the image of every service's first deployment
// that has no digest yet; final makes an image still missing an error.
// c.mu held.
func (c *Cloud) resolveInitial(final bool) error {
	for _, name := range c.order {
		d := c.services[name].primary()
		if d.image.Digest != "" {
			continue
		}
		if im, ok := c.lookup(d.image); ok {
			d.image.Digest = im.Digest
		} else if final {
			return fmt.Errorf("service %q: image %q is not in ECR", name, c.services[name].cfg.Image)
		}
	}
	return nil
}
