package ecs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/cutover-dev/cutover/scenarios"
)

// DefaultStopReason is stop-task's reason when the action gives none.
const DefaultStopReason = "cutover chaos: stop-task"

// failHealthCheckTarget is the local cloud's own operation that makes
// tasks fail their health check; no AWS API can.
const failHealthCheckTarget = "CutoverLocalCloud.FailHealthCheck"

// Chaos carries out a chaos action and reports a chaos event naming what
// it did: stop-task stops the first a.Count running tasks of the service
// (StopTask, with a.Reason), scale sets its desired count (UpdateService),
// and fail-health-check asks the local cloud to make a.Count tasks fail
// their load balancer health check for a.For; against AWS it is refused.
func (d *Driver) Chaos(ctx context.Context, a scenarios.ChaosAction, report func(runner.Event)) error {
	var (
		details map[string]string
		err     error
	)
	switch a.Action {
	case scenarios.ChaosStopTask:
		details, err = d.stopTasks(ctx, a)
	case scenarios.ChaosScale:
		details, err = d.scale(ctx, a)
	case scenarios.ChaosFailHealthCheck:
		details, err = d.failHealthCheck(ctx, a)
	default:
		err = fmt.Errorf("unknown action: want %s, %s or %s", scenarios.ChaosStopTask, scenarios.ChaosScale, scenarios.ChaosFailHealthCheck)
	}
	if details != nil {
		details["action"] = a.Action
		emit(report, d.event(results.EventChaos, details))
	}
	if err != nil {
		return fmt.Errorf("chaos %s on service %s: %w", a.Action, d.Name(), err)
	}
	return nil
}

// stopTasks stops the first a.Count running tasks.
func (d *Driver) stopTasks(ctx context.Context, a scenarios.ChaosAction) (map[string]string, error) {
	arns, err := d.listTasks(ctx, types.DesiredStatusRunning)
	if err != nil {
		return nil, err
	}
	if len(arns) == 0 {
		return nil, errors.New("the service has no running task to stop")
	}
	arns = arns[:min(max(a.Count, 1), len(arns))]
	reason := a.Reason
	if reason == "" {
		reason = DefaultStopReason
	}
	var stopped []string
	for _, arn := range arns {
		_, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.StopTaskOutput, error) {
			return d.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: &d.cluster, Task: aws.String(arn), Reason: aws.String(reason)})
		})
		if err != nil {
			err = fmt.Errorf("stop task %s (after stopping %d): %w", lastSegment(arn), len(stopped), err)
			if len(stopped) == 0 {
				return nil, err
			}
			// The tasks stopped so far are on the service: they go on the
			// timeline with the error.
			return map[string]string{"tasks": strings.Join(stopped, ",")}, err
		}
		stopped = append(stopped, lastSegment(arn))
	}
	return map[string]string{"tasks": strings.Join(stopped, ",")}, nil
}

// scale sets the desired count.
func (d *Driver) scale(ctx context.Context, a scenarios.ChaosAction) (map[string]string, error) {
	if a.Desired < 0 || a.Desired > math.MaxInt32 {
		return nil, fmt.Errorf("desired count %d: want 0 to %d", a.Desired, math.MaxInt32)
	}
	if _, err := d.update(ctx, &ecs.UpdateServiceInput{DesiredCount: aws.Int32(int32(a.Desired))}); err != nil {
		return nil, err
	}
	return map[string]string{"desired": strconv.Itoa(a.Desired)}, nil
}

// failHealthCheck calls the local cloud's FailHealthCheck.
func (d *Driver) failHealthCheck(ctx context.Context, a scenarios.ChaosAction) (map[string]string, error) {
	if d.endpoint == "" {
		return nil, errors.New("fail-health-check needs the local cloud; on AWS use FIS aws:ecs:task-network-blackhole-port or stop-task")
	}
	body, err := json.Marshal(map[string]any{
		"cluster": d.cluster, "service": d.service, "count": max(a.Count, 1), "durationSeconds": int(math.Ceil(a.For.D().Seconds())),
	})
	if err != nil {
		return nil, err
	}
	var out struct {
		Tasks []string `json:"tasks"`
	}
	if err := d.localCall(ctx, failHealthCheckTarget, body, &out); err != nil {
		return nil, err
	}
	ids := make([]string, len(out.Tasks))
	for i, arn := range out.Tasks {
		ids[i] = lastSegment(arn)
	}
	return map[string]string{"tasks": strings.Join(ids, ",")}, nil
}

// localCall posts one awsJson 1.1 request of the local cloud's own to the
// endpoint and decodes its answer into out; an error answer is an error
// with its type and message.
func (d *Driver) localCall(ctx context.Context, target string, body []byte, out any) error {
	_, err := call(ctx, d, api{"the local cloud", d.ecsAPI.host}, func(ctx context.Context) (struct{}, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(d.endpoint, "/")+"/", bytes.NewReader(body))
		if err != nil {
			return struct{}{}, err
		}
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := d.httpClient.Do(req)
		if err != nil {
			return struct{}{}, &smithyhttp.RequestSendError{Err: err}
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return struct{}{}, &smithyhttp.RequestSendError{Err: err}
		}
		if resp.StatusCode != http.StatusOK {
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(data, &e)
			return struct{}{}, fmt.Errorf("%s: %s %s: %s", target, resp.Status, e.Type, e.Message)
		}
		return struct{}{}, json.Unmarshal(data, out)
	})
	return err
}
