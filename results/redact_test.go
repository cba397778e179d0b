package results

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"connection refused", "connection refused"},
		{"Authorization: Bearer abc.def.ghi", "Authorization: " + Redacted},
		{"sent authorization:Basic dXNlcjpwYXNz", "sent authorization:" + Redacted},
		{"Cookie: session=abc; theme=dark", "Cookie: " + Redacted},
		{"Set-Cookie: GCLB=xyz; Path=/", "Set-Cookie: " + Redacted},
		{"X-Api-Key: 12345", "X-Api-Key: " + Redacted},
		{"x-goog-api-key: AIzaSomething", "x-goog-api-key: " + Redacted},
		{"got header Bearer eyJhbGciOiJI", "got header Bearer " + Redacted},
		{"Basic authentication failed", "Basic authentication failed"},
		{"token expired for user", "token expired for user"},
		{"using token abcd1234efgh", "using token " + Redacted},
		{"https://api.example.com/v1?token=s3cr3t&page=2", "https://api.example.com/v1?token=" + Redacted + "&page=2"},
		{"url ?key=AIzaXYZ&access_token=ya", "url ?key=" + Redacted + "&access_token=" + Redacted},
		{"X-Amz-Signature=abcdef0123 sig=ff", "X-Amz-Signature=" + Redacted + " sig=" + Redacted},
		{"design=blue monkey=banana", "design=blue monkey=banana"},
		{"password=hunter2, user=bob", "password=" + Redacted + ", user=bob"},
		{"postgres://app:hunter2@10.0.0.5:5432/db", "postgres://app:" + Redacted + "@10.0.0.5:5432/db"},
		{"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_nature-x here", "jwt " + Redacted + " here"},
		{"google ya29.a0AfH6SMBxxxxxxxxxxxxxxxxxxxx ok", "google " + Redacted + " ok"},
		{"aws AKIAIOSFODNN7EXAMPLE id", "aws " + Redacted + " id"},
		{"gh ghp_abcdefghijklmnopqrstuvwxyz0123 pushed", "gh " + Redacted + " pushed"},
		{"status_504 == 0", "status_504 == 0"},
		{"p99 < 800ms", "p99 < 800ms"},
		{"revision api-00042 ready", "revision api-00042 ready"},
		{"line1\nAuthorization: Bearer x\nline3", "line1\nAuthorization: " + Redacted + "\nline3"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		if got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := Redact(got); again != got {
			t.Errorf("Redact is not idempotent on %q: %q", got, again)
		}
	}
}

func TestSensitiveKey(t *testing.T) {
	for _, k := range []string{"Authorization", "COOKIE", "Set-Cookie", "X-Api-Key", "x-auth-user", "api_key",
		"DB_PASSWORD", "access_token", "GITHUB_TOKEN", "client_secret", "key", "X-Amz-Signature", "credentials"} {
		if !SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = false", k)
		}
	}
	for _, k := range []string{"Content-Type", "name", "cookies", "keepalive", "revision_header", "X-Revision", "max_workers", "monkey"} {
		if SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = true", k)
		}
	}
}

func TestRedactRun(t *testing.T) {
	run := testRun(StateComplete, 1)
	run.Scenario = map[string]any{
		"name":   "smoke",
		"target": map[string]any{"url": "https://user:pw1234@api.example.com/?token=tok999"},
		"load": map[string]any{
			"requests": []any{map[string]any{
				"method": "GET",
				"headers": map[string]any{
					"Authorization": "Bearer opaque-value-1",
					"X-Tenant":      "tenant-secretish-2",
					"Content-Type":  "application/json",
				},
			}},
			"sessions": map[string]any{"count": 10, "cookies": true},
		},
		"actions": []any{map[string]any{"deploy": map[string]any{"env": map[string]any{"DB_PASSWORD": "hunter2-3", "LOG_LEVEL": "debug"}}}},
	}
	run.Events[0].Details["note"] = "retried with Authorization: Bearer opaque-value-4"
	run.Events[0].Details["api_token"] = "opaque-value-5"
	run.Verdict.Reasons = append(run.Verdict.Reasons, "callback https://h/?sig=opaque-value-6 failed")
	run.Load.SaturationReason = "Cookie: opaque-value-7"
	run.Findings = []Finding{{Cause: "upstream-timeout", Confidence: "low",
		Evidence: []string{"GET https://h/?access_token=opaque-value-8 timed out"}, Remedy: []string{"Authorization: Bearer opaque-value-9"}}}
	run.Diagnosis = &Diagnosis{Metrics: MetricsMissing, Note: "fetch failed: Authorization: Bearer opaque-value-10",
		Signals: []string{"q{token=opaque-value-12}"},
		Buckets: []Bucket{{Phase: "during", Signals: map[string]float64{"q{token=opaque-value-12}": 3, "nat_dropped_sent{reason=OUT_OF_RESOURCES}": 5}}}}
	run.Series = []Series{{Query: "q", Labels: map[string]string{"reason": "OUT_OF_RESOURCES", "api_key": "opaque-value-11"}}}

	red, err := RedactRun(run)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, red); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"pw1234", "tok999", "opaque-value", "secretish", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted record still holds %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"application/json", `"LOG_LEVEL": "debug"`, `"cookies": true`, `"count": 10`, "api-00042", `"name": "smoke"`, "OUT_OF_RESOURCES", "upstream-timeout"} {
		if !strings.Contains(out, kept) {
			t.Errorf("redacted record lost %q:\n%s", kept, out)
		}
	}
	// The input is untouched.
	if run.Events[0].Details["api_token"] != "opaque-value-5" ||
		run.Scenario.(map[string]any)["load"].(map[string]any)["requests"].([]any)[0].(map[string]any)["headers"].(map[string]any)["Authorization"] != "Bearer opaque-value-1" {
		t.Error("RedactRun modified its argument")
	}
}
