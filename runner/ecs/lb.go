package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// url returns "http://" and the DNS name of the load balancer in front of
// the service's first target group, or "" when the service has none.
func (d *Driver) url(ctx context.Context, svc types.Service) (string, error) {
	if len(svc.LoadBalancers) == 0 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) == "" {
		return "", nil
	}
	_, lb, err := d.loadBalancer(ctx, aws.ToString(svc.LoadBalancers[0].TargetGroupArn))
	if err != nil {
		return "", err
	}
	return "http://" + aws.ToString(lb.DNSName), nil
}

// loadBalancer reads a target group and the first load balancer it
// belongs to.
func (d *Driver) loadBalancer(ctx context.Context, targetGroupARN string) (elbtypes.TargetGroup, elbtypes.LoadBalancer, error) {
	tgs, err := call(ctx, d, d.elbAPI, func(ctx context.Context) (*elb.DescribeTargetGroupsOutput, error) {
		return d.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{targetGroupARN}})
	})
	if err != nil {
		return elbtypes.TargetGroup{}, elbtypes.LoadBalancer{}, fmt.Errorf("target group %s: %w", targetGroupARN, err)
	}
	if len(tgs.TargetGroups) == 0 || len(tgs.TargetGroups[0].LoadBalancerArns) == 0 {
		return elbtypes.TargetGroup{}, elbtypes.LoadBalancer{}, fmt.Errorf("target group %s: no load balancer in front of it", targetGroupARN)
	}
	tg := tgs.TargetGroups[0]
	lbARN := tg.LoadBalancerArns[0]
	lbs, err := call(ctx, d, d.elbAPI, func(ctx context.Context) (*elb.DescribeLoadBalancersOutput, error) {
		return d.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
	})
	if err != nil {
		return tg, elbtypes.LoadBalancer{}, fmt.Errorf("load balancer %s: %w", lbARN, err)
	}
	if len(lbs.LoadBalancers) == 0 {
		return tg, elbtypes.LoadBalancer{}, fmt.Errorf("load balancer %s: not found", lbARN)
	}
	return tg, lbs.LoadBalancers[0], nil
}

// LoadBalancerDimensions returns the CloudWatch dimensions of the
// service's load balancer and target group, "app/NAME/ID" and
// "targetgroup/NAME/ID", cut from their ARNs.
func (d *Driver) LoadBalancerDimensions(ctx context.Context) (loadBalancer, targetGroup string, err error) {
	svc, err := d.describe(ctx)
	if err != nil {
		return "", "", fmt.Errorf("load balancer of service %s: %w", d.Name(), err)
	}
	if len(svc.LoadBalancers) == 0 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) == "" {
		return "", "", fmt.Errorf("load balancer of service %s: the service has none", d.Name())
	}
	tgARN := aws.ToString(svc.LoadBalancers[0].TargetGroupArn)
	tg, _, err := d.loadBalancer(ctx, tgARN)
	if err != nil {
		return "", "", fmt.Errorf("load balancer of service %s: %w", d.Name(), err)
	}
	lb, err1 := dimension(tg.LoadBalancerArns[0], ":loadbalancer/")
	tgd, err2 := dimension(tgARN, ":")
	if err := errors.Join(err1, err2); err != nil {
		return "", "", fmt.Errorf("load balancer of service %s: %w", d.Name(), err)
	}
	return lb, tgd, nil
}

// dimension returns what follows the last sep in an ELBv2 ARN.
func dimension(arn, sep string) (string, error) {
	i := strings.LastIndex(arn, sep)
	if i < 0 || i+len(sep) == len(arn) {
		return "", fmt.Errorf("ARN %q: not an Elastic Load Balancing ARN", arn)
	}
	return arn[i+len(sep):], nil
}
