// Package awscloud is the local cloud's AWS side: an account with ECR
// repositories, one ECS cluster whose services run real tasks behind their
// own Application Load Balancer (localcloud/awscloud/alb), and the
// CloudWatch metric store (localcloud/awscloud/cw), all served on one
// loopback endpoint, so the runner's ECS driver reaches it with the
// unmodified aws-sdk-go-v2 clients. One Clock (localcloud/clock) drives
// every simulated duration; every timestamp is the clock's Now.
//
// It owns the world of incident 001 (seeds/README.md): ECR and ECS. The
// load balancer and the metric store are rooms of their own, which this
// package starts and routes to; it never imports runner.
//
// # ECR
//
// A repository's images are pushed when the cloud starts, in order, then
// its builds: those due before the start are history (pushed at their past
// times), later ones are pushed on the clock. A digest is sha256 of
// "REPO#N" for the repository's N-th push, so a scenario's digests are the
// same on every run. A tag moves on push, and the lifecycle policy
// (internal/ecrlifecycle) runs after every push: the images it expires are
// gone, whatever ECS runs (real ECR evaluates within 24 hours; here at
// once). The API (awsJson1_1) serves DescribeRepositories, DescribeImages,
// BatchGetImage, GetLifecyclePolicy, StartLifecyclePolicyPreview and
// GetLifecyclePolicyPreview (COMPLETE as soon as it is asked for).
//
// # ECS
//
// A task definition's family is its service's name. ECS resolves a tag to
// its digest when a deployment starts, and every task of the deployment
// pulls REPO@DIGEST: a digest gone from ECR at pull time stops the task
// with TaskFailedToStart and the seed's CannotPullContainerError. A
// service's first deployment resolves its image after the repositories'
// images and before their history builds (it started before them), and
// its first tasks stand for tasks that have run for long: they run from
// the start, registered healthy with the load balancer, even if their
// digest has since expired, as in the incident. A task goes
// PROVISIONING (1 s) → PENDING (PullTime) → RUNNING (after StartTime, a
// real HTTP server on 127.0.0.1 running the service's ECSApp, registered
// with the load balancer) → STOPPING (deregistered: the deregistration
// delay, then StopTimeout for in-flight requests) → STOPPED, kept an hour.
//
// Each service has a scheduler that looks at it every simulated second:
// it replaces tasks the load balancer reports unhealthy, starts the
// PRIMARY deployment's tasks within maximumPercent, stops older ones while
// minimumHealthyPercent of the desired count stay healthy (RUNNING and
// healthy in the load balancer), marks a drained deployment INACTIVE and
// the PRIMARY COMPLETED ("has reached a steady state."). Tasks that fail
// to start are throttled (10 s, doubling, up to RestartDelayMax; one task
// at a time; reset by a new deployment or a task that runs). The
// deployment circuit breaker, when enabled, fails an IN_PROGRESS
// deployment whose failed tasks reach the threshold while none of its
// tasks runs, and with rollback deploys the last COMPLETED deployment's
// task definition and digest again. Service events use ECS's wording.
// INACTIVE deployments stay in deployments[] for an hour, so a verifier
// still sees a FAILED one after the rollback.
//
// The ECS API (awsJson1_1) serves ListClusters, DescribeClusters,
// ListServices, DescribeServices, UpdateService, RegisterTaskDefinition,
// DescribeTaskDefinition, ListTasks, DescribeTasks, StopTask, TagResource,
// UntagResource and ListTagsForResource; the local cloud's own
// CutoverLocalCloud.FailHealthCheck makes tasks fail their health check.
// Requests may be signed (SigV4): the signature is not checked.
//
// # Metrics
//
// Every service's ECS/ContainerInsights RunningTaskCount {ClusterName,
// ServiceName} is put every 10 s (simulated), a sample as Container Insights takes; the load
// balancers put their own.
//
// # Concurrency
//
// One mutex guards the world; the load balancers and task servers have
// locks of their own, always taken after it. Cloud's methods are safe for
// concurrent use; Close stops every server and goroutine the cloud
// started.
package awscloud
