// Calls the CloudWatch endpoint given as the first argument with the AWS
// SDK for JavaScript v3 and prints what it answered as one JSON line:
// GetMetricData of the query in the second argument (JSON: start, end,
// namespace, metric, dimensions, period, stat), ListMetrics, and a
// GetMetricData with an expression, which must fail.
import {
  CloudWatchClient,
  GetMetricDataCommand,
  ListMetricsCommand,
} from "@aws-sdk/client-cloudwatch";

const [endpoint, queryJSON] = process.argv.slice(2);
const q = JSON.parse(queryJSON);
const client = new CloudWatchClient({
  region: "us-east-1",
  endpoint,
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
  maxAttempts: 1,
});

const data = await client.send(new GetMetricDataCommand({
  StartTime: new Date(q.start * 1000),
  EndTime: new Date(q.end * 1000),
  ScanBy: "TimestampAscending",
  MetricDataQueries: [{
    Id: "m",
    MetricStat: {
      Metric: { Namespace: q.namespace, MetricName: q.metric, Dimensions: q.dimensions },
      Period: q.period,
      Stat: q.stat,
    },
  }],
}));
const list = await client.send(new ListMetricsCommand({ Namespace: q.namespace }));
let error = null;
try {
  await client.send(new GetMetricDataCommand({
    StartTime: new Date(q.start * 1000),
    EndTime: new Date(q.end * 1000),
    MetricDataQueries: [{ Id: "e", Expression: "SUM(METRICS())" }],
  }));
} catch (e) {
  error = { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
}
const r = data.MetricDataResults[0];
console.log(JSON.stringify({
  timestamps: r.Timestamps.map((t) => t.getTime() / 1000),
  values: r.Values,
  status: r.StatusCode,
  metrics: list.Metrics.map((m) => m.MetricName),
  error,
}));
