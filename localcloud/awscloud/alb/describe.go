package alb

import (
	"encoding/xml"
	"net"
	"strconv"
)

// TargetPort is the port targets are registered with and the target
// group's port: the container port. The loopback address a target really
// listens on stands in for the task's ENI address and this port.
const TargetPort = 8080

// hostedZones are the canonical hosted zones of ALBs by region (Route 53
// alias targets); other regions get ap-northeast-1's.
var hostedZones = map[string]string{
	"ap-northeast-1": "Z14GRHDCWA56QT",
	"us-east-1":      "Z35SXDOTRQ7X7K",
	"us-west-2":      "Z1H1FL5HABSF5",
	"eu-west-1":      "Z32O12XQLNTSW2",
}

type describeLoadBalancersResult struct {
	XMLName       xml.Name          `xml:"DescribeLoadBalancersResult"`
	LoadBalancers []xmlLoadBalancer `xml:"LoadBalancers>member"`
}

type xmlLoadBalancer struct {
	LoadBalancerArn       string
	DNSName               string
	CanonicalHostedZoneId string
	CreatedTime           string
	LoadBalancerName      string
	Scheme                string
	VpcId                 string
	State                 struct{ Code string }
	Type                  string
	AvailabilityZones     []xmlAZ `xml:"AvailabilityZones>member"`
	IpAddressType         string
}

type xmlAZ struct {
	ZoneName string
	SubnetId string
}

type describeTargetGroupsResult struct {
	XMLName      xml.Name         `xml:"DescribeTargetGroupsResult"`
	TargetGroups []xmlTargetGroup `xml:"TargetGroups>member"`
}

type xmlTargetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	Port                       int
	VpcId                      string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckPath            string
	Matcher                    struct{ HttpCode string }
	LoadBalancerArns           []string `xml:"LoadBalancerArns>member"`
	TargetType                 string
	ProtocolVersion            string
	IpAddressType              string
}

type describeTargetHealthResult struct {
	XMLName                  xml.Name                     `xml:"DescribeTargetHealthResult"`
	TargetHealthDescriptions []xmlTargetHealthDescription `xml:"TargetHealthDescriptions>member"`
}

type xmlTargetHealthDescription struct {
	Target struct {
		Id   string
		Port int
	}
	HealthCheckPort string
	TargetHealth    struct {
		State       string
		Reason      string `xml:",omitempty"`
		Description string `xml:",omitempty"`
	}
}

// vpcID is the balancer's VPC, derived from its name like its IDs.
func (lb *LoadBalancer) vpcID() string { return "vpc-0" + resourceID("vpc", lb.cfg.Name) }

// describe is the balancer as DescribeLoadBalancers shows it.
func (lb *LoadBalancer) describe() xmlLoadBalancer {
	x := xmlLoadBalancer{
		LoadBalancerArn:       lb.ARN(),
		DNSName:               lb.ln.Addr().String(),
		CanonicalHostedZoneId: hostedZones["ap-northeast-1"],
		CreatedTime:           lb.created.UTC().Format("2006-01-02T15:04:05.000Z"),
		LoadBalancerName:      lb.cfg.Name,
		Scheme:                "internet-facing",
		VpcId:                 lb.vpcID(),
		Type:                  "application",
		IpAddressType:         "ipv4",
	}
	if z, ok := hostedZones[lb.cfg.Region]; ok {
		x.CanonicalHostedZoneId = z
	}
	x.State.Code = "active"
	for _, suffix := range []string{"a", "c"} {
		x.AvailabilityZones = append(x.AvailabilityZones, xmlAZ{
			ZoneName: lb.cfg.Region + suffix,
			SubnetId: "subnet-0" + resourceID("subnet", lb.cfg.Name+suffix),
		})
	}
	return x
}

// describeTargetGroup is the target group as DescribeTargetGroups shows it
// (durations in simulated seconds).
func (lb *LoadBalancer) describeTargetGroup() xmlTargetGroup {
	hc := lb.cfg.LB.HealthCheck
	x := xmlTargetGroup{
		TargetGroupArn:             lb.TargetGroupARN(),
		TargetGroupName:            lb.cfg.Name,
		Protocol:                   "HTTP",
		Port:                       TargetPort,
		VpcId:                      lb.vpcID(),
		HealthCheckProtocol:        "HTTP",
		HealthCheckPort:            "traffic-port",
		HealthCheckEnabled:         true,
		HealthCheckIntervalSeconds: int(hc.Interval.D().Seconds()),
		HealthCheckTimeoutSeconds:  int(hc.Timeout.D().Seconds()),
		HealthyThresholdCount:      hc.HealthyThreshold,
		UnhealthyThresholdCount:    hc.UnhealthyThreshold,
		HealthCheckPath:            lb.cfg.HealthPath,
		LoadBalancerArns:           []string{lb.ARN()},
		TargetType:                 "ip",
		ProtocolVersion:            "HTTP1",
		IpAddressType:              "ipv4",
	}
	x.Matcher.HttpCode = "200"
	return x
}

// describeHealth is DescribeTargetHealth's answer for the ids asked for,
// or for every target in the group (draining ones too) when ids is empty.
func (lb *LoadBalancer) describeHealth(ids []string) []xmlTargetHealthDescription {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var out []xmlTargetHealthDescription
	add := func(id, state, reason, description string) {
		var d xmlTargetHealthDescription
		d.Target.Id, d.Target.Port = id, TargetPort
		d.HealthCheckPort = strconv.Itoa(TargetPort)
		d.TargetHealth.State, d.TargetHealth.Reason, d.TargetHealth.Description = state, reason, description
		out = append(out, d)
	}
	if len(ids) == 0 {
		for _, t := range lb.targets {
			add(t.id, t.state, t.reason, t.description())
		}
		return out
	}
	for _, id := range ids {
		if t := lb.findLocked(id); t != nil {
			add(t.id, t.state, t.reason, t.description())
			continue
		}
		add(id, StateUnused, ReasonNotRegistered, describe(ReasonNotRegistered, 0))
	}
	return out
}

// port returns the front end's port.
func (lb *LoadBalancer) port() string {
	_, port, _ := net.SplitHostPort(lb.ln.Addr().String())
	return port
}
