package cloudwatch

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/cutover-dev/cutover/results"
)

// Namespaces, metric names and dimension names of the queries, as
// CloudWatch names them.
const (
	NamespaceALB = "AWS/ApplicationELB"
	NamespaceECS = "ECS/ContainerInsights"

	MetricELB5XX           = "HTTPCode_ELB_5XX_Count"
	MetricELB503           = "HTTPCode_ELB_503_Count"
	MetricELB504           = "HTTPCode_ELB_504_Count"
	MetricRequestCount     = "RequestCount"
	MetricHealthyHosts     = "HealthyHostCount"
	MetricUnhealthyHosts   = "UnHealthyHostCount"
	MetricResponseTime     = "TargetResponseTime"
	MetricRunningTaskCount = "RunningTaskCount"

	DimLoadBalancer = "LoadBalancer"
	DimTargetGroup  = "TargetGroup"
	DimCluster      = "ClusterName"
	DimService      = "ServiceName"
)

// query is one MetricStat of the GetMetricData call.
type query struct {
	name              results.Query
	namespace, metric string
	stat              types.Statistic
	dims              []types.Dimension
	// sparse marks a metric the load balancer publishes only in periods
	// with requests (its counts, the response time), so that it cannot
	// show that a period's data has arrived.
	sparse bool
	// count marks a sparse count: a period without a point is zero.
	count bool
}

// metricType is the Series.MetricType of q: namespace/metric.
func (q query) metricType() string { return q.namespace + "/" + q.metric }

// labels returns q's dimensions as Series labels.
func (q query) labels() map[string]string {
	m := make(map[string]string, len(q.dims))
	for _, d := range q.dims {
		m[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	return m
}

// queries returns the queries cfg's names allow: the load balancer's counts
// and response time need LoadBalancer, its host counts TargetGroup too, the
// running tasks Cluster and Service. Counts are summed per period, the rest
// averaged. The host and task counts are published every period; the
// request counts and the response time only in periods with requests.
func queries(cfg Config) []query {
	var out []query
	if cfg.LoadBalancer != "" {
		lb := []types.Dimension{dim(DimLoadBalancer, cfg.LoadBalancer)}
		out = append(out,
			query{name: results.QueryALB5XX, namespace: NamespaceALB, metric: MetricELB5XX, stat: types.StatisticSum, dims: lb, sparse: true, count: true},
			query{name: results.QueryALB503, namespace: NamespaceALB, metric: MetricELB503, stat: types.StatisticSum, dims: lb, sparse: true, count: true},
			query{name: results.QueryALB504, namespace: NamespaceALB, metric: MetricELB504, stat: types.StatisticSum, dims: lb, sparse: true, count: true},
			query{name: results.QueryALBRequestCount, namespace: NamespaceALB, metric: MetricRequestCount, stat: types.StatisticSum, dims: lb, sparse: true, count: true},
		)
		if cfg.TargetGroup != "" {
			tg := []types.Dimension{dim(DimTargetGroup, cfg.TargetGroup), dim(DimLoadBalancer, cfg.LoadBalancer)}
			out = append(out,
				query{name: results.QueryALBHealthyHosts, namespace: NamespaceALB, metric: MetricHealthyHosts, stat: types.StatisticAverage, dims: tg},
				query{name: results.QueryALBUnhealthyHosts, namespace: NamespaceALB, metric: MetricUnhealthyHosts, stat: types.StatisticAverage, dims: tg},
			)
		}
		out = append(out, query{name: results.QueryALBResponseTime, namespace: NamespaceALB, metric: MetricResponseTime,
			stat: types.StatisticAverage, dims: lb, sparse: true})
	}
	if cfg.Cluster != "" && cfg.Service != "" {
		out = append(out, query{name: results.QueryECSRunningTasks, namespace: NamespaceECS, metric: MetricRunningTaskCount,
			stat: types.StatisticAverage, dims: []types.Dimension{dim(DimCluster, cfg.Cluster), dim(DimService, cfg.Service)}})
	}
	return out
}

func dim(name, value string) types.Dimension {
	return types.Dimension{Name: aws.String(name), Value: aws.String(value)}
}
