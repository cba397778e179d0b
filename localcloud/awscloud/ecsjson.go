package awscloud

// The ECS API's output shapes, as awsJson1_1 writes them (the SDK's
// types package, in JSON).

type ecsFailure struct {
	ARN    string `json:"arn"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

type ecsLoadBalancer struct {
	TargetGroupARN string `json:"targetGroupArn"`
	ContainerName  string `json:"containerName"`
	ContainerPort  int    `json:"containerPort"`
}

type ecsCircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type ecsDeploymentConfig struct {
	DeploymentCircuitBreaker *ecsCircuitBreaker `json:"deploymentCircuitBreaker,omitempty"`
	MaximumPercent           *int               `json:"maximumPercent,omitempty"`
	MinimumHealthyPercent    *int               `json:"minimumHealthyPercent,omitempty"`
}

type ecsDeployment struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	TaskDefinition     string `json:"taskDefinition"`
	DesiredCount       int    `json:"desiredCount"`
	PendingCount       int    `json:"pendingCount"`
	RunningCount       int    `json:"runningCount"`
	FailedTasks        int    `json:"failedTasks"`
	RolloutState       string `json:"rolloutState"`
	RolloutStateReason string `json:"rolloutStateReason,omitempty"`
	CreatedAt          epoch  `json:"createdAt"`
	UpdatedAt          epoch  `json:"updatedAt"`
	LaunchType         string `json:"launchType"`
}

type ecsEvent struct {
	ID        string `json:"id"`
	CreatedAt epoch  `json:"createdAt"`
	Message   string `json:"message"`
}

type ecsService struct {
	ServiceARN              string              `json:"serviceArn"`
	ServiceName             string              `json:"serviceName"`
	ClusterARN              string              `json:"clusterArn"`
	Status                  string              `json:"status"`
	DesiredCount            int                 `json:"desiredCount"`
	RunningCount            int                 `json:"runningCount"`
	PendingCount            int                 `json:"pendingCount"`
	LaunchType              string              `json:"launchType"`
	TaskDefinition          string              `json:"taskDefinition"`
	DeploymentConfiguration ecsDeploymentConfig `json:"deploymentConfiguration"`
	DeploymentController    map[string]string   `json:"deploymentController"`
	LoadBalancers           []ecsLoadBalancer   `json:"loadBalancers"`
	Deployments             []ecsDeployment     `json:"deployments"`
	Events                  []ecsEvent          `json:"events"`
	CreatedAt               epoch               `json:"createdAt"`
	SchedulingStrategy      string              `json:"schedulingStrategy"`
	Tags                    []tag               `json:"tags,omitempty"`
}

type ecsContainer struct {
	ContainerARN string `json:"containerArn"`
	TaskARN      string `json:"taskArn"`
	Name         string `json:"name"`
	Image        string `json:"image"`
	ImageDigest  string `json:"imageDigest,omitempty"`
	LastStatus   string `json:"lastStatus"`
	Reason       string `json:"reason,omitempty"`
	HealthStatus string `json:"healthStatus"`
}

type ecsTask struct {
	TaskARN           string         `json:"taskArn"`
	ClusterARN        string         `json:"clusterArn"`
	TaskDefinitionARN string         `json:"taskDefinitionArn"`
	Group             string         `json:"group"`
	StartedBy         string         `json:"startedBy"`
	LastStatus        string         `json:"lastStatus"`
	DesiredStatus     string         `json:"desiredStatus"`
	LaunchType        string         `json:"launchType"`
	CPU               string         `json:"cpu,omitempty"`
	Memory            string         `json:"memory,omitempty"`
	HealthStatus      string         `json:"healthStatus"`
	CreatedAt         epoch          `json:"createdAt,omitzero"`
	PullStartedAt     epoch          `json:"pullStartedAt,omitzero"`
	PullStoppedAt     epoch          `json:"pullStoppedAt,omitzero"`
	StartedAt         epoch          `json:"startedAt,omitzero"`
	StoppingAt        epoch          `json:"stoppingAt,omitzero"`
	StoppedAt         epoch          `json:"stoppedAt,omitzero"`
	StopCode          string         `json:"stopCode,omitempty"`
	StoppedReason     string         `json:"stoppedReason,omitempty"`
	Containers        []ecsContainer `json:"containers"`
	Version           int            `json:"version"`
}

type ecsTaskDef struct {
	TaskDefinitionARN       string         `json:"taskDefinitionArn"`
	Family                  string         `json:"family"`
	Revision                int            `json:"revision"`
	Status                  string         `json:"status"`
	ContainerDefinitions    []containerDef `json:"containerDefinitions"`
	CPU                     string         `json:"cpu,omitempty"`
	Memory                  string         `json:"memory,omitempty"`
	NetworkMode             string         `json:"networkMode,omitempty"`
	RequiresCompatibilities []string       `json:"requiresCompatibilities,omitempty"`
	Compatibilities         []string       `json:"compatibilities"`
	RegisteredAt            epoch          `json:"registeredAt"`
}

// toJSON is the task definition's API shape.
func (td *taskDef) toJSON() ecsTaskDef {
	return ecsTaskDef{
		TaskDefinitionARN: td.arn, Family: td.family, Revision: td.revision, Status: "ACTIVE",
		ContainerDefinitions: td.containers, CPU: td.cpu, Memory: td.memory, NetworkMode: td.networkMode,
		RequiresCompatibilities: td.requires, Compatibilities: []string{"EC2", "FARGATE"},
		RegisteredAt: epoch(td.registeredAt),
	}
}

// toJSON is the task's API shape. c.mu held.
func (t *task) toJSON(c *Cloud) ecsTask {
	ct := t.dep.td.containers[0]
	digest := t.dep.image.Digest
	if t.last == taskProvisioning || (t.stopCode == stopFailedToStart) {
		digest = "" // known once the image is pulled
	}
	return ecsTask{
		TaskARN: t.arn, ClusterARN: c.clusterARN(), TaskDefinitionARN: t.dep.td.arn,
		Group: "service:" + t.svc.name, StartedBy: t.dep.id, LastStatus: t.last, DesiredStatus: t.desired,
		LaunchType: "FARGATE", CPU: t.dep.td.cpu, Memory: t.dep.td.memory, HealthStatus: "UNKNOWN",
		CreatedAt: epoch(t.createdAt), PullStartedAt: epoch(t.pullStartedAt), PullStoppedAt: epoch(t.pullStoppedAt),
		StartedAt: epoch(t.startedAt), StoppingAt: epoch(t.stoppingAt), StoppedAt: epoch(t.stoppedAt),
		StopCode: t.stopCode, StoppedReason: t.stoppedReason, Version: 1,
		Containers: []ecsContainer{{
			ContainerARN: c.arn("container/" + c.aws.Cluster + "/" + t.id + "/" + ct.Name), TaskARN: t.arn,
			Name: ct.Name, Image: ct.Image, ImageDigest: digest, LastStatus: t.container,
			Reason: t.containerReason, HealthStatus: "UNKNOWN",
		}},
	}
}

// toJSON is the service's API shape; withTags adds its tags. c.mu held.
func (s *service) toJSON(c *Cloud, withTags bool) ecsService {
	all := c.count(s, nil)
	out := ecsService{
		ServiceARN: s.arn, ServiceName: s.name, ClusterARN: c.clusterARN(), Status: "ACTIVE",
		DesiredCount: s.desired, RunningCount: all.running, PendingCount: all.pending, LaunchType: "FARGATE",
		TaskDefinition: s.primary().td.arn,
		DeploymentConfiguration: ecsDeploymentConfig{
			DeploymentCircuitBreaker: &ecsCircuitBreaker{Enable: s.breaker.Enable, Rollback: s.breaker.Rollback},
			MaximumPercent:           &s.maxPercent, MinimumHealthyPercent: &s.minHealthy,
		},
		DeploymentController: map[string]string{"type": "ECS"},
		LoadBalancers:        []ecsLoadBalancer{{TargetGroupARN: s.lb.TargetGroupARN(), ContainerName: s.name, ContainerPort: containerPort}},
		Deployments:          []ecsDeployment{}, Events: []ecsEvent{},
		CreatedAt: epoch(s.createdAt), SchedulingStrategy: "REPLICA",
	}
	for _, d := range s.deployments {
		n := c.count(s, d)
		desired := d.desired
		if d.status != statusPrimary {
			desired = n.live // an older deployment's count falls as its tasks stop
		}
		out.Deployments = append(out.Deployments, ecsDeployment{
			ID: d.id, Status: d.status, TaskDefinition: d.td.arn, DesiredCount: desired,
			PendingCount: n.pending, RunningCount: n.running, FailedTasks: d.failed,
			RolloutState: d.rollout, RolloutStateReason: d.reason,
			CreatedAt: epoch(d.createdAt), UpdatedAt: epoch(d.updatedAt), LaunchType: "FARGATE",
		})
	}
	for _, e := range s.events {
		out.Events = append(out.Events, ecsEvent{ID: e.id, CreatedAt: epoch(e.at), Message: e.msg})
	}
	if withTags {
		out.Tags = append([]tag{}, s.tags...)
	}
	return out
}
