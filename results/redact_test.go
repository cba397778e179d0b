package results

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSensitiveKey(t *testing.T) {
	for _, k := range []string{
		// Headers.
		"Authorization", "Proxy-Authorization", "COOKIE", "Set-Cookie", "X-Api-Key", "x-auth-user", "X-Amz-Security-Token",
		"X-Goog-Iap-Jwt-Assertion", "Private-Token",
		// Environment variables.
		"DB_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SESSION_SECRET", "SMTP_PASS", "db_passwd",
		// Query, form and JSON keys.
		"api_key", "apiKey", "key", "access_token", "client_secret", "X-Amz-Signature", "sig", "sid", "credentials",
		"session_id", "refreshToken", "otp", "monkey",
	} {
		if !SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = false", k)
		}
	}
	for _, k := range []string{"Content-Type", "Accept", "User-Agent", "X-Tenant", "name", "keepalive", "revision_header",
		"X-Revision", "max_workers", "LOG_LEVEL", "service", "revision", "traffic", "signal", "side", "passenger", "reason", ""} {
		if SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = true", k)
		}
	}
}

func TestRedactURL(t *testing.T) {
	const R = Redacted
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://api.example.com/v1/items", "https://api.example.com/v1/items"},
		{"https://api.example.com/v1?token=s3cr3t&page=2", "https://api.example.com/v1?token=" + R + "&page=2"},
		{"http://127.0.0.1:8080/?api_key=K1&token=T2", "http://127.0.0.1:8080/?api_key=" + R + "&token=" + R},
		{"http://u:pa:ss@127.0.0.1:8080/x?q=1", "http://u:" + R + "@127.0.0.1:8080/x?q=1"},
		{"http://u:***@h/", "http://u:" + R + "@h/"}, // net/http's stripped form
		{"https://user@h/", "https://user@h/"},
		{"postgres://app:hunter2@10.0.0.5:5432/db", "postgres://app:" + R + "@10.0.0.5:5432/db"},
		{"//u:p@h/x", "//u:" + R + "@h/x"},
		{"/search?q=shoes&access%5Ftoken=x", "/search?q=shoes&access%5Ftoken=" + R},
		{"/login?next=https%3A%2F%2Fh%2F%3Ftoken%3Dz", "/login?next=https%3A%2F%2Fh%2F%3Ftoken%3D%5BREDACTED%5D"},
		{"https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=" + R + "&state=1"},
		{"https://h/page#section-2", "https://h/page#section-2"},
		{"https://h/?token=&x", "https://h/?token=&x"},
		{"https://h/?flag&design=blue", "https://h/?flag&design=blue"},
		{"https://token-api-00001-abc.run.app/?revision=token-api-00001-abc", "https://token-api-00001-abc.run.app/?revision=token-api-00001-abc"},
		{"not a url: key=v", "not a url: key=v"},
	}
	for _, tt := range tests {
		got := RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("RedactURL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := RedactURL(got); again != got {
			t.Errorf("RedactURL is not idempotent on %q: %q", got, again)
		}
	}
}

// Free text is searched for URLs, and for nothing else: no word makes a
// secret.
func TestRedactText(t *testing.T) {
	const R = Redacted
	tests := []struct{ in, want string }{
		{"", ""},
		{"connection refused", "connection refused"},
		{`Get "http://127.0.0.1:1/?api_key=K&page=2": dial tcp 127.0.0.1:1: connect: connection refused`,
			`Get "http://127.0.0.1:1/?api_key=` + R + `&page=2": dial tcp 127.0.0.1:1: connect: connection refused`},
		{"callback https://h/?sig=abc failed", "callback https://h/?sig=" + R + " failed"},
		{"see (https://h/?token=abc).", "see (https://h/?token=" + R + ")."},
		{"two: https://a/?token=1, <http://u:pw@b/>", "two: https://a/?token=" + R + ", <http://u:" + R + "@b/>"},
		{"db postgres://app:hunter2@10.0.0.5/db down", "db postgres://app:" + R + "@10.0.0.5/db down"},
		// What the old word-based redaction broke.
		{"token-api-00001-bwo=100%", "token-api-00001-bwo=100%"},
		{"service token-api: revision token-api-00002-xyz ready", "service token-api: revision token-api-00002-xyz ready"},
		{"scenario secrets: password reset flow", "scenario secrets: password reset flow"},
		{"Authorization: Bearer abc", "Authorization: Bearer abc"},
		{"status_504 == 0", "status_504 == 0"},
		{"://nothing", "://nothing"},
		{"1://x?token=y", "1://x?token=y"},
	}
	for _, tt := range tests {
		got := RedactText(tt.in)
		if got != tt.want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if again := RedactText(got); again != got {
			t.Errorf("RedactText is not idempotent on %q: %q", got, again)
		}
	}
}

func TestRedactBody(t *testing.T) {
	const R = Redacted
	tests := []struct{ name, body, contentType, want string }{
		{"json", `{"user":"a","password":"PW6","nested":{"api_token":"TOK7"}}`, "application/json",
			`{"user":"a","password":"` + R + `","nested":{"api_token":"` + R + `"}}`},
		{"json sniffed, layout kept", "{\n  \"b\": 1,\n  \"Secret\" : \"x\",\n  \"a\": [ {\"pin\": 1, \"otp\": 123456} ]\n}\n", "",
			"{\n  \"b\": 1,\n  \"Secret\" : \"" + R + "\",\n  \"a\": [ {\"pin\": 1, \"otp\": \"" + R + "\"} ]\n}\n"},
		{"json secret object", `{"credentials":{"user":"u","key":"k"},"keep":true}`, "application/vnd.api+json",
			`{"credentials":"` + R + `","keep":true}`},
		{"json secret array", `[{"tokens":["a","b"]},{"id":2}]`, "", `[{"tokens":"` + R + `"},{"id":2}]`},
		{"json null and bool", `{"password":null,"remember_token":true,"session":""}`, "", `{"password":null,"remember_token":true,"session":""}`},
		{"json url value", `{"callback":"https://h/?token=z"}`, "", `{"callback":"https://h/?token=` + R + `"}`},
		{"json keys are not values", `{"token":"x","note":"token"}`, "", `{"token":"` + R + `","note":"token"}`},
		{"form", "user=a&password=PW8&keep=1", "application/x-www-form-urlencoded; charset=utf-8", "user=a&password=" + R + "&keep=1"},
		{"form sniffed", "grant_type=client_credentials&client_secret=s", "", "grant_type=client_credentials&client_secret=" + R},
		{"form escaped name", "pass%77ord=x", "", "pass%77ord=" + R},
		{"text", "hello token=x world", "text/plain", "hello token=x world"},
		{"text with url", "see https://h/?key=x", "text/plain", "see https://h/?key=" + R},
		{"invalid json claimed", `{"password":`, "application/json", `{"password":`},
	}
	for _, tt := range tests {
		got := RedactBody(tt.body, tt.contentType)
		if got != tt.want {
			t.Errorf("%s: RedactBody(%q)\n got %q\nwant %q", tt.name, tt.body, got, tt.want)
		}
		if json.Valid([]byte(tt.body)) && !json.Valid([]byte(got)) {
			t.Errorf("%s: redacted JSON is not JSON: %s", tt.name, got)
		}
	}
}

// secretRun is a record with a secret in every place one can be, next to
// names that only look like secrets.
func secretRun() *Run {
	run := testRun(StateComplete, 1)
	run.RunID = "20261123-233658-secrets-3f9a"
	run.Scenario = scenarioJSON(map[string]any{
		"name":   "secrets",
		"target": map[string]any{"url": "https://user:pw1234@api.example.com/?token=tok999", "service": "token-api"},
		"load": map[string]any{
			"requests": []any{
				map[string]any{
					"method": "GET",
					"path":   "/items?api_key=opaque-query-1&page=2",
					"headers": map[string]any{
						"Authorization": "Bearer opaque-value-1",
						"Cookie":        "sid=opaque-cookie",
						"X-Tenant":      "tenant-7",
						"Content-Type":  "application/json",
					},
				},
				map[string]any{
					"method":  "POST",
					"path":    "/login",
					"headers": map[string]any{"content-type": "application/json"},
					"body":    `{"user":"a","password":"opaque-pw","nested":{"api_token":"opaque-tok"}}`,
				},
				map[string]any{"method": "POST", "url": "http://u:opaque-pass@h/", "body": "user=a&password=opaque-form"},
			},
			"sessions": map[string]any{"count": 10, "cookies": true},
		},
		"actions": []any{map[string]any{"deploy": map[string]any{
			"service": "token-api",
			"env":     map[string]any{"DB_PASSWORD": "hunter2-3", "LOG_LEVEL": "debug", "DB_URL": "postgres://app:opaque-db@db/x"},
		}}},
	})
	run.Events = []Event{
		{Kind: "revision-ready", At: t0, Details: map[string]string{"revision": "token-api-00001-bwo", "traffic": "token-api-00001-bwo=100%"}},
		{Kind: "note", At: t0, Details: map[string]string{"api_token": "opaque-value-5", "error": `Get "https://h/?token=opaque-value-4": EOF`}},
	}
	run.Verdict.Reasons = append(run.Verdict.Reasons, "callback https://h/?sig=opaque-value-6 failed")
	run.Load.SaturationReason = "probe https://h/?key=opaque-value-7 failed"
	run.Cutover = &Cutover{Service: "projects/p/locations/r/services/token-api", BaselineRevision: "token-api-00001-bwo",
		FailedAction: "deploy: fetch https://h/?token=opaque-value-13: refused", RestoreTo: "token-api: token-api-00001-bwo=100%"}
	run.Findings = []Finding{{Cause: "upstream-timeout", Confidence: "low",
		Evidence: []string{"GET https://h/?access_token=opaque-value-8 timed out"}, Remedy: []string{"raise the secrets service's timeout"}}}
	run.Preflight = []Finding{{Cause: "image-missing", Confidence: "high",
		Evidence: []string{"pull https://registry/?token=opaque-value-16 found no image"}, Remedy: []string{"Redeploy with an image that exists in ECR"}}}
	run.Diagnosis = &Diagnosis{Metrics: MetricsMissing, Note: "fetch https://m/?access_token=opaque-value-10 failed",
		Signals: []string{"q{token=opaque-value-12}"},
		Buckets: []Bucket{{Phase: "during", Signals: map[string]float64{"q{token=opaque-value-12}": 3, "nat_dropped_sent{reason=OUT_OF_RESOURCES}": 5}}},
		RuledOut: []Finding{{Cause: "affinity-broken", Evidence: []string{"GET https://h/?access_token=opaque-value-14 re-pinned"},
			RuledOut: "it explains no client error; see https://h/?token=opaque-value-15"}}}
	run.Series = []Series{{Query: "q", Labels: map[string]string{"reason": "OUT_OF_RESOURCES", "api_key": "opaque-value-11"}}}
	return run
}

func TestRedactRun(t *testing.T) {
	run := secretRun()
	scenarioBefore := string(run.Scenario)
	red, err := RedactRun(run)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, red); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"pw1234", "tok999", "opaque", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted record still holds %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{
		"application/json", `"LOG_LEVEL": "debug"`, `"cookies": true`, `"count": 10`, `"X-Tenant": "tenant-7"`,
		`"name": "secrets"`, `"run_id": "20261123-233658-secrets-3f9a"`, "OUT_OF_RESOURCES", "upstream-timeout",
		`"service": "token-api"`, `"revision": "token-api-00001-bwo"`, `"traffic": "token-api-00001-bwo=100%"`,
		`"restore_to": "token-api: token-api-00001-bwo=100%"`, "raise the secrets service's timeout",
		`/items?api_key=[REDACTED]&page=2`, `\"user\":\"a\",\"password\":\"[REDACTED]\"`, `user=a&password=[REDACTED]`,
		`http://u:[REDACTED]@h/`, `postgres://app:[REDACTED]@db/x`, `"q{token=[REDACTED]}"`,
		`"cause": "affinity-broken"`, "it explains no client error", `"cause": "image-missing"`, "Redeploy with an image that exists in ECR",
	} {
		if !strings.Contains(out, kept) {
			t.Errorf("redacted record lost %q:\n%s", kept, out)
		}
	}
	// The input is untouched.
	if run.Events[1].Details["api_token"] != "opaque-value-5" ||
		string(run.Scenario) != scenarioBefore ||
		!strings.Contains(run.Cutover.FailedAction, "opaque") {
		t.Error("RedactRun modified its argument")
	}
}
