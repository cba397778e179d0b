package cw

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// post sends one awsJson1.0 request and returns the status, the
// X-Amzn-Query-Error header and the decoded body.
func post(t *testing.T, url, op, body string) (int, string, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", TargetPrefix+op)
	req.Header.Set("Content-Type", contentJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != contentJSON {
		t.Errorf("%s: Content-Type %q, want %q", op, ct, contentJSON)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: decode the answer: %v", op, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Query-Error"), out
}

// jsonStore returns a test server over a store with two periods of
// RequestCount (3 in [0, 6s), 1 in [12s, 18s)), everything readable.
func jsonStore(t *testing.T) *httptest.Server {
	s, clk := newTestStore()
	for _, at := range []time.Duration{0, sec, 2 * sec, 13 * sec} {
		s.Put(ns, "RequestCount", lbDims, epoch.Add(at), 1, "Count")
	}
	s.Put(ns, "HealthyHostCount", []Dimension{{"TargetGroup", "targetgroup/web/1"}, {"LoadBalancer", "app/web/0123456789abcdef"}}, epoch, 2, "Count")
	clk.Advance(time.Hour)
	srv := httptest.NewServer(Handler(s))
	t.Cleanup(srv.Close)
	return srv
}

func gmdBody(period int, extra string) string {
	return `{"StartTime": ` + epochJSON(epoch) + `, "EndTime": ` + epochJSON(epoch.Add(24*sec)) + extra + `,
		"MetricDataQueries": [{"Id": "rc", "MetricStat": {"Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount",
			"Dimensions": [{"Name": "LoadBalancer", "Value": "app/web/0123456789abcdef"}]}, "Period": ` + itoa(period) + `, "Stat": "Sum"}}]}`
}

func epochJSON(t time.Time) string { return itoa(int(t.Unix())) }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestGetMetricDataOverJSON(t *testing.T) {
	srv := jsonStore(t)
	status, _, out := post(t, srv.URL, "GetMetricData", gmdBody(6, `, "ScanBy": "TimestampAscending"`))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, out)
	}
	res := out["MetricDataResults"].([]any)
	if len(res) != 1 {
		t.Fatalf("MetricDataResults = %v, want one", res)
	}
	r := res[0].(map[string]any)
	want := map[string]any{
		"Id": "rc", "Label": "RequestCount", "StatusCode": "Complete", "Messages": []any{},
		"Timestamps": []any{float64(epoch.Unix()), float64(epoch.Unix() + 12)},
		"Values":     []any{3.0, 1.0},
	}
	if got, _ := json.Marshal(r); string(got) != mustJSON(want) {
		t.Errorf("result = %s\nwant     %s", got, mustJSON(want))
	}
	// Newest first by default.
	_, _, out = post(t, srv.URL, "GetMetricData", gmdBody(6, ""))
	ts := out["MetricDataResults"].([]any)[0].(map[string]any)["Timestamps"].([]any)
	if len(ts) != 2 || ts[0].(float64) < ts[1].(float64) {
		t.Errorf("default ScanBy: timestamps %v, want newest first", ts)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestGetMetricDataRejectsWhatItCannotAnswer(t *testing.T) {
	srv := jsonStore(t)
	expression := `{"StartTime": 1, "EndTime": 2, "MetricDataQueries": [{"Id": "e", "Expression": "SUM(METRICS())"}]}`
	tests := []struct {
		name, op, body   string
		code, queryError string
		message          string
	}{
		{"period not a multiple", "GetMetricData", gmdBody(7, ""), ErrInvalidParameterValue, "InvalidParameterValue;Sender", "not a positive multiple"},
		{"period zero", "GetMetricData", gmdBody(0, ""), ErrInvalidParameterValue, "InvalidParameterValue;Sender", "not a positive multiple"},
		{"expression", "GetMetricData", expression, ErrInvalidParameterValue, "InvalidParameterValue;Sender", "expressions are not supported by the local cloud"},
		{"bad scan", "GetMetricData", gmdBody(6, `, "ScanBy": "Sideways"`), ErrInvalidParameterValue, "InvalidParameterValue;Sender", "ScanBy"},
		{"bad token", "GetMetricData", gmdBody(6, `, "NextToken": "nope"`), ErrInvalidNextToken, "InvalidNextToken;Sender", "NextToken"},
		{"no queries", "GetMetricData", `{"StartTime": 1, "EndTime": 2}`, ErrMissingParameter, "MissingParameter;Sender", "MetricDataQueries"},
		{"empty window", "GetMetricData", strings.Replace(gmdBody(6, ""), epochJSON(epoch.Add(24*sec)), epochJSON(epoch), 1),
			ErrInvalidParameterValue, "InvalidParameterValue;Sender", "StartTime must be less"},
		{"not JSON", "GetMetricData", `{`, ErrSerialization, "", "decode"},
		{"unknown op", "PutMetricAlarm", `{}`, ErrUnknownOperation, "", "not an operation"},
	}
	for _, tt := range tests {
		status, qe, out := post(t, srv.URL, tt.op, tt.body)
		if status != http.StatusBadRequest || out["__type"] != tt.code || qe != tt.queryError ||
			!strings.Contains(out["message"].(string), tt.message) {
			t.Errorf("%s: %d %q %v; want 400 __type %s, X-Amzn-Query-Error %q, a message with %q",
				tt.name, status, qe, out, tt.code, tt.queryError, tt.message)
		}
	}
}

func TestListMetricsOverJSON(t *testing.T) {
	srv := jsonStore(t)
	tests := []struct {
		body string
		want []string
	}{
		{`{}`, []string{"HealthyHostCount", "RequestCount"}},
		{`{"MetricName": "RequestCount"}`, []string{"RequestCount"}},
		{`{"Namespace": "ECS/ContainerInsights"}`, nil},
		{`{"Dimensions": [{"Name": "TargetGroup"}]}`, []string{"HealthyHostCount"}},
		{`{"Dimensions": [{"Name": "LoadBalancer", "Value": "app/web/0123456789abcdef"}]}`, []string{"HealthyHostCount", "RequestCount"}},
		{`{"Dimensions": [{"Name": "LoadBalancer", "Value": "app/other/1"}]}`, nil},
	}
	for _, tt := range tests {
		status, _, out := post(t, srv.URL, "ListMetrics", tt.body)
		var got []string
		for _, m := range out["Metrics"].([]any) {
			got = append(got, m.(map[string]any)["MetricName"].(string))
		}
		if status != http.StatusOK || strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("ListMetrics %s = %d %v, want 200 %v", tt.body, status, got, tt.want)
		}
	}
}

// TestCBORErrorShape checks the RPC v2 CBOR error answer byte by byte
// where the SDK reads it (the SDK's own decoding is tested in
// runner/cloudwatch, through the real client).
func TestCBORErrorShape(t *testing.T) {
	srv := jsonStore(t)
	tests := []struct {
		path, typ, queryError string
	}{
		{"/service/GraniteServiceVersion20100801/operation/GetMetricData", "com.amazonaws.cloudwatch#InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"/any/prefix/operation/GetMetricData", "com.amazonaws.cloudwatch#InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"/service/GraniteServiceVersion20100801/operation/DeleteAlarms", "com.amazonaws.cloudwatch#UnknownOperationException", ""},
	}
	body := cbor.Encode(cbor.Map{
		"StartTime":         &cbor.Tag{ID: 1, Value: cbor.Float64(epoch.Unix())},
		"EndTime":           &cbor.Tag{ID: 1, Value: cbor.Uint(epoch.Unix() + 60)},
		"MetricDataQueries": cbor.List{cbor.Map{"Id": cbor.String("e"), "Expression": cbor.String("SUM(METRICS())")}},
	})
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, bytes.NewReader(body))
		req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
		req.Header.Set("Content-Type", contentCBOR)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := cbor.Decode(raw)
		if err != nil {
			t.Fatalf("%s: decode: %v", tt.path, err)
		}
		m, _ := v.(cbor.Map)
		if resp.StatusCode != http.StatusBadRequest || m["__type"] != cbor.String(tt.typ) ||
			resp.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || resp.Header.Get("Content-Type") != contentCBOR ||
			resp.Header.Get("X-Amzn-Query-Error") != tt.queryError {
			t.Errorf("%s: %d %v %v; want 400 __type %s, X-Amzn-Query-Error %q", tt.path, resp.StatusCode, resp.Header, m, tt.typ, tt.queryError)
		}
	}
}

func TestRequestTimestamps(t *testing.T) {
	want := time.Date(2026, 3, 1, 12, 0, 1, 500_000_000, time.UTC)
	for _, in := range []string{`1772366401.5`, `"1772366401.5"`, `"2026-03-01T12:00:01.5Z"`, `"2026-03-01T21:00:01.5+09:00"`} {
		var got epochTime
		if err := json.Unmarshal([]byte(in), &got); err != nil || !got.Equal(want) {
			t.Errorf("%s = %v, %v; want %v", in, got.Time, err, want)
		}
	}
	for _, in := range []string{`"yesterday"`, `true`, `"NaN"`} {
		var got epochTime
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("%s = %v, want an error", in, got.Time)
		}
	}
}
