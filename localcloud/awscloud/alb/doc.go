// Package alb is the local cloud's Application Load Balancer: one load
// balancer with one HTTP listener and one target group (target type ip),
// built from real loopback servers, and the ELBv2 API (awsQuery,
// Version 2015-12-01) that describes it.
//
// # Data plane
//
// Start opens the front end on 127.0.0.1:0. Each request is proxied over a
// real connection to one target, round robin over the healthy ones. When no
// registered target is healthy but some are registered (initial or
// unhealthy) the balancer fails open and routes to all of them, as ALB
// does; a draining target gets no new requests. The balancer's own answers
// are ALB's, with its HTML bodies and Server: awselb/2.0:
//
//   - 503 Service Temporarily Unavailable: no registered target (or only
//     draining ones);
//   - 504 Gateway Time-out: the target did not answer within the idle
//     timeout, counted from the forwarding (the request to the target is
//     then abandoned and its connection closed), or the connect did not
//     complete within the connect timeout;
//   - 502 Bad Gateway: the target reset or closed the connection, or its
//     deregistration delay ended with the request in flight.
//
// Forwarded requests carry X-Amzn-Trace-Id and X-Forwarded-For/-Proto/-Port.
//
// # Health checks
//
// Every registered target is checked with GET HealthPath every Interval,
// each check bounded by Timeout; 200 passes. A target is initial
// (Elb.RegistrationInProgress, then Elb.InitialHealthChecking) until its
// first check: one pass makes it healthy, UnhealthyThreshold failures in a
// row unhealthy. A healthy target turns unhealthy after UnhealthyThreshold
// consecutive failures (Target.ResponseCodeMismatch, Target.Timeout or
// Target.FailedHealthChecks), an unhealthy one healthy after
// HealthyThreshold consecutive passes. Deregister drains a target
// (draining, Target.DeregistrationInProgress) for the deregistration delay;
// then it is gone (unused, Target.NotRegistered).
//
// # Metrics
//
// The balancer puts AWS/ApplicationELB metrics into a cw.Store at
// clock.Now(): RequestCount, HTTPCode_ELB_5XX_Count and the 502/503/504
// counts, HTTPCode_Target_nXX_Count, TargetResponseTime (simulated
// seconds), and the HealthyHostCount and UnHealthyHostCount gauges as
// samples every 10 simulated seconds (not on changes, which would weigh a
// period's average by how often the count changed in it).
//
// # ELBv2 API
//
// API serves DescribeLoadBalancers, DescribeTargetGroups and
// DescribeTargetHealth for a set of balancers, as the aws-sdk-go-v2
// elasticloadbalancingv2 client calls them, with awsQuery's errors. The
// local cloud's router (localcloud/awscloud) sends it the form requests
// with Version=2015-12-01.
//
// Every duration of a Config is simulated time; the Clock converts it. The
// package does not know ECS: the world (localcloud/awscloud) registers and
// deregisters its tasks' addresses. A LoadBalancer is safe for concurrent
// use.
package alb
