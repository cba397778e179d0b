package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
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
	if !strings.Contains(inv.stdout, "VERDICT: FAIL") || !strings.Contains(flatText(inv.stdout), "too few requests") {
		t.Errorf("the report should fail and still say the requests were too few:\n%s", inv.stdout)
	}
}

// A cutover aimed at a URL where nothing listens stops before it touches
// the service: exit 4, the target named, the service as it was.
func TestADeadTargetStopsBeforeTheCutover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	p := writeScenario(t, dir, "dead.yaml", `version: 1
name: dead
target: {url: "`+dead+`"}
load: {requests: [{path: /}], rate: 20/s, duration: 30s}
actions:
  - {at: 0s, deploy: {env: {MODE: v2}}}
`+cloudSection)
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitHarness || !strings.Contains(inv.stderr, dead+" failed every one of its first") ||
		!strings.Contains(inv.stderr, "connect_refused") {
		t.Fatalf("exit %d, want %d naming the dead target\nstderr:\n%s", inv.code, ExitHarness, inv.stderr)
	}
	rec, err := results.Read(onlyRunDir(t, filepath.Join(dir, "out")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Cutover.DeployedRevisions) != 0 || rec.Cutover.Left != results.LeftUnchanged || rec.State != results.StateFailed {
		t.Errorf("record: state %s, left %s, deployed %v; want nothing touched", rec.State, rec.Cutover.Left, rec.Cutover.DeployedRevisions)
	}
}
