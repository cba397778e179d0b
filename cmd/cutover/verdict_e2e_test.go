package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeScenario returns the README's minimal scenario, the one a new user
// copies first.
func readmeScenario(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)A minimal scenario against a service of your own:\n\n```yaml\n(.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md has no minimal scenario block")
	}
	return string(m[1])
}

// A service that fails three requests in four is a failed cutover however
// few requests were sent: errors the server answered are proof, and
// min_requests only keeps a pass from resting on too little.
func TestServerErrorsFailTheRunWhateverMinRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	defer srv.Close()
	sc := readmeScenario(t)
	sc = strings.Replace(sc, "http://127.0.0.1:8080", srv.URL, 1)
	sc = strings.Replace(sc, "duration: 2m", "duration: 2s", 1)
	if !strings.Contains(sc, srv.URL) || !strings.Contains(sc, "duration: 2s") || !strings.Contains(sc, "min_requests: 10000") {
		t.Fatalf("the README's scenario changed shape; adapt the test:\n%s", sc)
	}
	dir := t.TempDir()
	inv := runBinary(t, dir, "run", writeScenario(t, dir, "readme.yaml", sc), "--out", "out")
	if inv.code != ExitFail {
		t.Fatalf("exit %d, want %d (fail)\nstdout:\n%s\nstderr:\n%s", inv.code, ExitFail, inv.stdout, inv.stderr)
	}
	if !strings.Contains(inv.stdout, "VERDICT: FAIL") || !strings.Contains(inv.stdout, "too few requests") {
		t.Errorf("the report should fail and still say the requests were too few:\n%s", inv.stdout)
	}
}
