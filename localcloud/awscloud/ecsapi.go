package awscloud

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ecsOps are the ECS operations the endpoint serves.
func (c *Cloud) ecsOps() map[string]jsonOp {
	return map[string]jsonOp{
		"ListClusters":           c.listClusters,
		"DescribeClusters":       c.describeClusters,
		"ListServices":           c.listServices,
		"DescribeServices":       c.describeServices,
		"UpdateService":          c.updateService,
		"RegisterTaskDefinition": c.registerTaskDefinition,
		"DescribeTaskDefinition": c.describeTaskDefinition,
		"ListTasks":              c.listTasks,
		"DescribeTasks":          c.describeTasks,
		"StopTask":               c.stopTaskOp,
		"TagResource":            c.tagResource,
		"UntagResource":          c.untagResource,
		"ListTagsForResource":    c.listTagsForResource,
	}
}

// lastPart is the part of a name or ARN after its last slash.
func lastPart(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// implicitCluster is the cluster the ECS API means when a request names
// none (the API's, not the scenario's, default).
const implicitCluster = "default"

// checkCluster accepts the cluster's name or ARN; empty means the
// implicit cluster, which is this one only when it is called so.
func (c *Cloud) checkCluster(cluster string) error {
	if cluster == "" {
		cluster = implicitCluster
	}
	if cluster != c.aws.Cluster && cluster != c.clusterARN() {
		return errorf("ClusterNotFoundException", "Cluster not found.")
	}
	return nil
}

// serviceNamed finds a service by name or ARN. c.mu held.
func (c *Cloud) serviceNamed(cluster, name string) (*service, error) {
	if err := c.checkCluster(cluster); err != nil {
		return nil, err
	}
	s, ok := c.services[lastPart(name)]
	if !ok || (strings.HasPrefix(name, "arn:") && name != s.arn) {
		return nil, errorf("ServiceNotFoundException", "Service not found.")
	}
	return s, nil
}

func (c *Cloud) listClusters([]byte) (any, error) {
	return map[string]any{"clusterArns": []string{c.clusterARN()}}, nil
}

func (c *Cloud) describeClusters(body []byte) (any, error) {
	var in struct {
		Clusters []string `json:"clusters"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Clusters) == 0 {
		in.Clusters = []string{"default"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clusters, failures := []map[string]any{}, []ecsFailure{}
	for _, name := range in.Clusters {
		if c.checkCluster(name) != nil {
			failures = append(failures, ecsFailure{ARN: c.arn("cluster/" + lastPart(name)), Reason: "MISSING"})
			continue
		}
		var running, pending int
		for _, s := range c.services {
			n := c.count(s, nil)
			running, pending = running+n.running, pending+n.pending
		}
		clusters = append(clusters, map[string]any{
			"clusterArn": c.clusterARN(), "clusterName": c.aws.Cluster, "status": "ACTIVE",
			"runningTasksCount": running, "pendingTasksCount": pending, "activeServicesCount": len(c.services),
			"registeredContainerInstancesCount": 0,
		})
	}
	return map[string]any{"clusters": clusters, "failures": failures}, nil
}

func (c *Cloud) listServices(body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := c.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	arns := []string{}
	for _, name := range c.order {
		arns = append(arns, c.services[name].arn)
	}
	return map[string]any{"serviceArns": arns}, nil
}

func (c *Cloud) describeServices(body []byte) (any, error) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
		Include  []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Services) == 0 {
		return nil, errorf("InvalidParameterException", "Services cannot be empty.")
	}
	if err := c.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	services, failures := []ecsService{}, []ecsFailure{}
	for _, name := range in.Services {
		s, err := c.serviceNamed(in.Cluster, name)
		if err != nil {
			arn := name
			if !strings.HasPrefix(name, "arn:") {
				arn = c.arn("service/" + c.aws.Cluster + "/" + name)
			}
			failures = append(failures, ecsFailure{ARN: arn, Reason: "MISSING"})
			continue
		}
		services = append(services, s.toJSON(c, slices.Contains(in.Include, "TAGS")))
	}
	return map[string]any{"services": services, "failures": failures}, nil
}

// updateServiceInput is UpdateService's input, the parts the model uses.
type updateServiceInput struct {
	Cluster                 string               `json:"cluster"`
	Service                 string               `json:"service"`
	DesiredCount            *int                 `json:"desiredCount"`
	TaskDefinition          string               `json:"taskDefinition"`
	ForceNewDeployment      bool                 `json:"forceNewDeployment"`
	DeploymentConfiguration *ecsDeploymentConfig `json:"deploymentConfiguration"`
}

// updateService changes the desired count, the deployment configuration,
// and with a new task definition (or forceNewDeployment) starts a new
// deployment.
func (c *Cloud) updateService(body []byte) (any, error) {
	var in updateServiceInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.serviceNamed(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	var td *taskDef
	if in.TaskDefinition != "" {
		if td, err = c.taskDefNamed(in.TaskDefinition); err != nil {
			return nil, err
		}
	}
	if in.DesiredCount != nil {
		if *in.DesiredCount < 0 {
			return nil, errorf("InvalidParameterException", "Desired count must be at least 0.")
		}
		s.desired = *in.DesiredCount
		s.primary().desired = s.desired
		s.steady = false
		c.logf("ecs: %s: desired count %d", s.name, s.desired)
	}
	if err := applyDeploymentConfig(s, in.DeploymentConfiguration); err != nil {
		return nil, err
	}
	switch {
	case td != nil && td != s.primary().td:
		c.newDeployment(s, td, nil)
	case in.ForceNewDeployment:
		c.newDeployment(s, s.primary().td, nil)
	}
	return map[string]any{"service": s.toJSON(c, false)}, nil
}

// applyDeploymentConfig sets the parts of a deployment configuration an
// UpdateService gives.
func applyDeploymentConfig(s *service, dc *ecsDeploymentConfig) error {
	if dc == nil {
		return nil
	}
	if dc.MaximumPercent != nil {
		if *dc.MaximumPercent < 100 {
			return errorf("InvalidParameterException", "maximumPercent must be at least 100.")
		}
		s.maxPercent = *dc.MaximumPercent
	}
	if dc.MinimumHealthyPercent != nil {
		if *dc.MinimumHealthyPercent < 0 || *dc.MinimumHealthyPercent > 100 {
			return errorf("InvalidParameterException", "minimumHealthyPercent must be between 0 and 100.")
		}
		s.minHealthy = *dc.MinimumHealthyPercent
	}
	if cb := dc.DeploymentCircuitBreaker; cb != nil {
		s.breaker.Enable, s.breaker.Rollback = cb.Enable, cb.Rollback
	}
	return nil
}

// taskDefNamed finds a task definition by FAMILY (its latest revision),
// FAMILY:REVISION or ARN. c.mu held.
func (c *Cloud) taskDefNamed(name string) (*taskDef, error) {
	family, rev, hasRev := strings.Cut(lastPart(name), ":")
	revs := c.taskDefs[family]
	if len(revs) == 0 {
		return nil, errorf("ClientException", "Unable to describe task definition.")
	}
	if !hasRev {
		return revs[len(revs)-1], nil
	}
	n, err := strconv.Atoi(rev)
	if err != nil || n < 1 || n > len(revs) {
		return nil, errorf("ClientException", "Unable to describe task definition.")
	}
	return revs[n-1], nil
}

// familyName is what ECS accepts as a family.
var familyName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func (c *Cloud) registerTaskDefinition(body []byte) (any, error) {
	var in struct {
		Family                  string         `json:"family"`
		ContainerDefinitions    []containerDef `json:"containerDefinitions"`
		CPU                     string         `json:"cpu"`
		Memory                  string         `json:"memory"`
		NetworkMode             string         `json:"networkMode"`
		RequiresCompatibilities []string       `json:"requiresCompatibilities"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case !familyName.MatchString(in.Family):
		return nil, errorf("ClientException", "Family contains invalid characters or is too long: up to 255 letters, numbers, hyphens and underscores are allowed.")
	case len(in.ContainerDefinitions) == 0:
		return nil, errorf("ClientException", "Container list cannot be empty.")
	}
	for _, cd := range in.ContainerDefinitions {
		if cd.Name == "" {
			return nil, errorf("ClientException", "Container.name should not be null or empty.")
		}
		if cd.Image == "" {
			return nil, errorf("ClientException", "Container.image should not be null or empty.")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	td := c.registerTaskDef(&taskDef{
		family: in.Family, containers: in.ContainerDefinitions, cpu: in.CPU, memory: in.Memory,
		networkMode: in.NetworkMode, requires: in.RequiresCompatibilities,
	})
	c.logf("ecs: registered task definition %s (%s)", td.name(), td.containers[0].Image)
	return map[string]any{"taskDefinition": td.toJSON()}, nil
}

func (c *Cloud) describeTaskDefinition(body []byte) (any, error) {
	var in struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	td, err := c.taskDefNamed(in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	return map[string]any{"taskDefinition": td.toJSON()}, nil
}

func (c *Cloud) listTasks(body []byte) (any, error) {
	var in struct {
		Cluster       string `json:"cluster"`
		ServiceName   string `json:"serviceName"`
		Family        string `json:"family"`
		DesiredStatus string `json:"desiredStatus"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := c.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	switch in.DesiredStatus {
	case "":
		in.DesiredStatus = taskRunning
	case taskRunning, taskStopped, taskPending:
	default:
		return nil, errorf("InvalidParameterException", "desiredStatus must be RUNNING, PENDING or STOPPED.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	arns := []string{}
	for _, name := range c.order {
		s := c.services[name]
		if in.ServiceName != "" && lastPart(in.ServiceName) != name {
			continue
		}
		for _, t := range s.tasks {
			if t.desired == in.DesiredStatus && (in.Family == "" || in.Family == t.dep.td.family) {
				arns = append(arns, t.arn)
			}
		}
	}
	if in.ServiceName != "" && c.services[lastPart(in.ServiceName)] == nil {
		return nil, errorf("ServiceNotFoundException", "Service not found.")
	}
	return map[string]any{"taskArns": arns}, nil
}

// taskNamed finds a task by id or ARN. c.mu held.
func (c *Cloud) taskNamed(name string) *task {
	id := lastPart(name)
	for _, s := range c.services {
		for _, t := range s.tasks {
			if t.id == id {
				return t
			}
		}
	}
	return nil
}

func (c *Cloud) describeTasks(body []byte) (any, error) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 {
		return nil, errorf("InvalidParameterException", "Tasks cannot be empty.")
	}
	if err := c.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tasks, failures := []ecsTask{}, []ecsFailure{}
	for _, name := range in.Tasks {
		if t := c.taskNamed(name); t != nil {
			tasks = append(tasks, t.toJSON(c))
			continue
		}
		arn := name
		if !strings.HasPrefix(arn, "arn:") {
			arn = c.arn("task/" + c.aws.Cluster + "/" + name)
		}
		failures = append(failures, ecsFailure{ARN: arn, Reason: "MISSING"})
	}
	return map[string]any{"tasks": tasks, "failures": failures}, nil
}

func (c *Cloud) stopTaskOp(body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := c.checkCluster(in.Cluster); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.taskNamed(in.Task)
	if t == nil {
		return nil, errorf("InvalidParameterException", "The referenced task was not found.")
	}
	if in.Reason == "" {
		in.Reason = "Task stopped by user"
	}
	c.stopTask(t, stopUser, in.Reason)
	return map[string]any{"task": t.toJSON(c)}, nil
}

// taggable finds the tags of a resource ARN: a service's. c.mu held.
func (c *Cloud) taggable(arn string) (*[]tag, error) {
	for _, s := range c.services {
		if s.arn == arn {
			return &s.tags, nil
		}
	}
	return nil, errorf("InvalidParameterException", "The specified resource is not valid: %s", arn)
}

func (c *Cloud) tagResource(body []byte) (any, error) {
	var in struct {
		ResourceARN string `json:"resourceArn"`
		Tags        []tag  `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tags, err := c.taggable(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if t.Key == "" {
			return nil, errorf("InvalidParameterException", "Tag keys must not be empty.")
		}
		*tags = slices.DeleteFunc(*tags, func(old tag) bool { return old.Key == t.Key })
		*tags = append(*tags, t)
	}
	return map[string]any{}, nil
}

func (c *Cloud) untagResource(body []byte) (any, error) {
	var in struct {
		ResourceARN string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tags, err := c.taggable(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	*tags = slices.DeleteFunc(*tags, func(old tag) bool { return slices.Contains(in.TagKeys, old.Key) })
	return map[string]any{}, nil
}

func (c *Cloud) listTagsForResource(body []byte) (any, error) {
	var in struct {
		ResourceARN string `json:"resourceArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tags, err := c.taggable(in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tags": append([]tag{}, *tags...)}, nil
}

// localOps are the local cloud's own operations (CutoverLocalCloud.*).
func (c *Cloud) localOps() map[string]jsonOp {
	return map[string]jsonOp{"FailHealthCheck": c.failHealthCheck}
}

// failHealthCheck makes count RUNNING tasks of a service answer their
// health check with 500, for durationSeconds (simulated; 0: until the
// cloud stops).
func (c *Cloud) failHealthCheck(body []byte) (any, error) {
	var in struct {
		Cluster         string  `json:"cluster"`
		Service         string  `json:"service"`
		Count           int     `json:"count"`
		DurationSeconds float64 `json:"durationSeconds"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Count < 1 || in.DurationSeconds < 0 {
		return nil, errorf("InvalidParameterException", "count must be at least 1 and durationSeconds at least 0.")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.serviceNamed(in.Cluster, in.Service)
	if err != nil {
		return nil, err
	}
	arns := []string{}
	var servers []*taskServer
	for _, t := range s.tasks {
		if len(arns) < in.Count && t.live() && t.last == taskRunning && !t.server.failing.Load() {
			t.server.failing.Store(true)
			servers = append(servers, t.server)
			arns = append(arns, t.arn)
		}
	}
	if in.DurationSeconds > 0 {
		c.after(time.Duration(in.DurationSeconds*float64(time.Second)), func() {
			for _, ts := range servers {
				ts.failing.Store(false)
			}
		})
	}
	c.logf("ecs: %s: health checks of %d tasks fail", s.name, len(arns))
	return map[string]any{"tasks": arns}, nil
}
