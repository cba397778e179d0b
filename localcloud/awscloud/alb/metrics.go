package alb

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
)

// Namespace is the CloudWatch namespace of the balancer's metrics.
const Namespace = "AWS/ApplicationELB"

// Metric names, as ALB publishes them.
const (
	mRequestCount       = "RequestCount"
	mELB5XX             = "HTTPCode_ELB_5XX_Count"
	mTargetResponseTime = "TargetResponseTime"
	mHealthyHosts       = "HealthyHostCount"
	mUnhealthyHosts     = "UnHealthyHostCount"
)

// lbDims is the {LoadBalancer} dimension set.
func (lb *LoadBalancer) lbDims() []cw.Dimension {
	return []cw.Dimension{{Name: "LoadBalancer", Value: lb.lbDim}}
}

// tgDims is the {TargetGroup, LoadBalancer} dimension set.
func (lb *LoadBalancer) tgDims() []cw.Dimension {
	return []cw.Dimension{{Name: "TargetGroup", Value: lb.tgDim}, {Name: "LoadBalancer", Value: lb.lbDim}}
}

// count adds one to a Count metric.
func (lb *LoadBalancer) count(metric string, dims []cw.Dimension) {
	lb.sink.Put(Namespace, metric, dims, lb.clk.Now(), 1, "Count")
}

// countELB counts one of the balancer's own answers: HTTPCode_ELB_5XX_Count
// and HTTPCode_ELB_<code>_Count.
func (lb *LoadBalancer) countELB(code int) {
	if code >= http.StatusInternalServerError {
		lb.count(mELB5XX, lb.lbDims())
	}
	lb.count("HTTPCode_ELB_"+strconv.Itoa(code)+"_Count", lb.lbDims())
}

// countTarget counts one target answer (HTTPCode_Target_nXX_Count) and
// its TargetResponseTime in simulated seconds.
func (lb *LoadBalancer) countTarget(code int, took time.Duration) {
	metric := "HTTPCode_Target_" + strconv.Itoa(code/100) + "XX_Count"
	now := lb.clk.Now()
	for _, dims := range [][]cw.Dimension{lb.lbDims(), lb.tgDims()} {
		lb.sink.Put(Namespace, metric, dims, now, 1, "Count")
		lb.sink.Put(Namespace, mTargetResponseTime, dims, now, took.Seconds(), "Seconds")
	}
}

// putHostCounts puts the HealthyHostCount and UnHealthyHostCount gauges.
func (lb *LoadBalancer) putHostCounts() {
	healthy, unhealthy := lb.hostCounts()
	now := lb.clk.Now()
	lb.sink.Put(Namespace, mHealthyHosts, lb.tgDims(), now, float64(healthy), "Count")
	lb.sink.Put(Namespace, mUnhealthyHosts, lb.tgDims(), now, float64(unhealthy), "Count")
}
