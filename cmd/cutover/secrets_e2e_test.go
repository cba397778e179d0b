package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// plantedSecrets are the secrets the scenario of TestRunStoresNoSecret
// plants, one of each kind the record could carry.
var plantedSecrets = []string{
	"PLANTEDKEY1",    // query api_key
	"PLANTEDTOK2",    // query token
	"PLANTEDPASS3",   // URL user info password
	"PLANTEDAUTH4",   // Authorization header
	"PLANTEDCOOKIE5", // Cookie header
	"PLANTEDPW6",     // JSON body "password"
	"PLANTEDTOK7",    // JSON body nested "api_token"
	"PLANTEDFORM8",   // form body password
	"PLANTEDXKEY9",   // X-Api-Key header
}

// A run whose scenario carries a secret of every kind leaves none of them
// in any byte of its run directory (results.bin raw and decoded included),
// on stdout or on stderr, while names that merely look secret — a scenario
// called "secrets", a service called token-api — stay as they are.
// (Deploy env vars need a platform; results' TestRedactRun covers them.)
func TestRunStoresNoSecret(t *testing.T) {
	var basic, bodies atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The secrets do reach the service: only the record hides them.
		if _, p, ok := r.BasicAuth(); ok && p == "PLANTEDPASS3" {
			basic.Add(1)
		}
		if b, _ := io.ReadAll(r.Body); bytes.Contains(b, []byte("PLANTEDPW6")) || bytes.Contains(b, []byte("PLANTEDFORM8")) {
			bodies.Add(1)
		}
		w.Header().Set("X-Revision", "token-api-00001-bwo")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://u:PLANTEDPASS3@", 1)

	dir := t.TempDir()
	p := writeScenario(t, dir, "secrets.yaml", fmt.Sprintf(secretsScenario, srv.URL, withUser))
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", inv.code, ExitPass, inv.stdout, inv.stderr)
	}
	if basic.Load() == 0 || bodies.Load() == 0 {
		t.Fatalf("the server saw %d requests with the URL's password and %d with a secret body: the scenario did not send them", basic.Load(), bodies.Load())
	}
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))

	// No planted secret in any byte the run left or printed.
	files := runOutputs(t, runDir, inv)
	decoded := decodeResults(t, filepath.Join(runDir, results.ResultsFile))
	files["results.bin decoded"] = decoded.dump
	for name, data := range files {
		for _, s := range plantedSecrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds the planted %s", name, s)
			}
		}
	}
	for _, f := range []string{results.RecordFile, results.ResultsFile, "report.txt", "report.md", "junit.xml", "report.html"} {
		if _, ok := files[filepath.Join(runDir, f)]; !ok {
			t.Errorf("the run left no %s", f)
		}
	}
	run, err := results.Read(runDir)
	if err != nil {
		t.Fatal(err)
	}
	checkRedactedResults(t, decoded, run, srv.URL)
	checkKeptNames(t, string(files[filepath.Join(runDir, results.RecordFile)]), run, inv)
}

// secretsScenario is a scenario with a secret of every kind, in fmt form:
// the target's URL, then the same with a user and password in it.
const secretsScenario = `version: 1
name: secrets
description: load on the token-api service with a secret of every kind
target: {url: %s, service: token-api}
load:
  requests:
    - path: /search?api_key=PLANTEDKEY1&token=PLANTEDTOK2&q=shoes
    - url: %s/basic
    - path: /me
      headers: {Authorization: Bearer PLANTEDAUTH4, Cookie: sid=PLANTEDCOOKIE5, X-Api-Key: PLANTEDXKEY9, X-Tenant: tenant-7}
    - method: POST
      path: /login
      headers: {Content-Type: application/json}
      body: '{"user":"a","password":"PLANTEDPW6","nested":{"api_token":"PLANTEDTOK7"}}'
    - method: POST
      path: /form
      headers: {Content-Type: application/x-www-form-urlencoded}
      body: user=a&password=PLANTEDFORM8
  rate: 20/s
  duration: 2s
verdict:
  min_requests: 20
`

// runOutputs is every byte a run printed or left: stdout, stderr and each
// file of its run directory, by path.
func runOutputs(t *testing.T, runDir string, inv invocation) map[string][]byte {
	t.Helper()
	files := map[string][]byte{"stdout": []byte(inv.stdout), "stderr": []byte(inv.stderr)}
	err := filepath.WalkDir(runDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkRedactedResults checks that results.bin reads back with vegeta's
// decoder, one result per request the record counts, every request's URL
// (on the target srvURL) with its secrets replaced and everything else kept.
func checkRedactedResults(t *testing.T, decoded decodedResults, run *results.Run, srvURL string) {
	t.Helper()
	if int64(len(decoded.results)) != run.Totals.Requests || run.Totals.Requests < 20 {
		t.Errorf("vegeta decoded %d results, the record counts %d", len(decoded.results), run.Totals.Requests)
	}
	wantURLs := map[string]bool{
		srvURL + "/search?api_key=[REDACTED]&token=[REDACTED]&q=shoes":           false,
		strings.Replace(srvURL, "http://", "http://u:[REDACTED]@", 1) + "/basic": false,
		srvURL + "/me":    false,
		srvURL + "/login": false,
		srvURL + "/form":  false,
	}
	for _, r := range decoded.results {
		if _, ok := wantURLs[r.URL]; !ok {
			t.Errorf("results.bin has URL %q", r.URL)
		}
		wantURLs[r.URL] = true
		if r.Code != http.StatusOK || r.Headers.Get("X-Revision") != "token-api-00001-bwo" {
			t.Errorf("result %d: %d, X-Revision %q", r.Seq, r.Code, r.Headers.Get("X-Revision"))
		}
	}
	for u, seen := range wantURLs {
		if !seen {
			t.Errorf("no result for %s", u)
		}
	}
}

// checkKeptNames checks that the record (run.json's text) keeps its names
// and the shape of what was sent, and the text report its names.
func checkKeptNames(t *testing.T, record string, run *results.Run, inv invocation) {
	t.Helper()
	for _, kept := range []string{
		`"name": "secrets"`, `"service": "token-api"`, "load on the token-api service with a secret of every kind",
		`"Authorization": "[REDACTED]"`, `"Cookie": "[REDACTED]"`, `"X-Api-Key": "[REDACTED]"`, `"X-Tenant": "tenant-7"`,
		`"path": "/search?api_key=[REDACTED]&token=[REDACTED]&q=shoes"`,
		`{\"user\":\"a\",\"password\":\"[REDACTED]\",\"nested\":{\"api_token\":\"[REDACTED]\"}}`,
		`"body": "user=a&password=[REDACTED]"`, `"token-api-00001-bwo"`,
	} {
		if !strings.Contains(record, kept) {
			t.Errorf("run.json lacks %s", kept)
		}
	}
	if !strings.Contains(run.RunID, "secrets") || run.ScenarioName != "secrets" {
		t.Errorf("run id %q, scenario %q: the names were redacted", run.RunID, run.ScenarioName)
	}
	if !strings.Contains(inv.stdout, "secrets") || strings.Contains(inv.stdout, "token-api-00001-bwo=[REDACTED]") {
		t.Errorf("the text report lost a name:\n%s", inv.stdout)
	}
}

// decodedResults are the results of results.bin as vegeta's decoder reads
// them, and all their fields printed, for a search.
type decodedResults struct {
	results []vegeta.Result
	dump    []byte
}

func decodeResults(t *testing.T, path string) decodedResults {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out decodedResults
	var dump bytes.Buffer
	dec := vegeta.NewDecoder(f)
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("vegeta decoder on results.bin after %d results: %v", len(out.results), err)
		}
		out.results = append(out.results, r)
		line, _ := json.Marshal(r)
		dump.Write(line)
		fmt.Fprintf(&dump, "\n%s %s %s %s\n", r.URL, r.Error, r.Body, r.Headers)
	}
	out.dump = dump.Bytes()
	return out
}

// A cutover of a service whose name looks secret, with a secret in the
// deploy's env: the env value reaches no byte of the run directory or the
// output, while the traffic details name token-api's revisions readably.
func TestCutoverOfTokenAPIKeepsItsNamesAndHidesTheEnv(t *testing.T) {
	dir := t.TempDir()
	p := writeScenario(t, dir, "token.yaml", `version: 1
name: secrets
load: {requests: [{path: /}], rate: 20/s, duration: 4s}
actions:
  - at: 1s
    deploy: {env: {DB_PASSWORD: PLANTEDENV10, MODE: v2}}
rollback: always
metrics: {settle: 30s}
localcloud:
  time_scale: 20
  metrics: {lag_nat: 20s, lag_run: 20s}
  project: demo
  region: asia-northeast1
  services:
    - name: token-api
      image: gcr.io/demo/token-api:v1
      min_instances: 1
      cold_start: 4s
      app: {server_time: 20ms}
`)
	inv := runBinary(t, dir, "run", p, "--out", "out")
	if inv.code != ExitPass {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", inv.code, inv.stdout, inv.stderr)
	}
	runDir := onlyRunDir(t, filepath.Join(dir, "out"))
	all := inv.stdout + inv.stderr
	err := filepath.WalkDir(runDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		all += string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(all, "PLANTEDENV10") {
		t.Errorf("the deploy's DB_PASSWORD reached the run directory or the output")
	}
	run, err := results.Read(runDir)
	if err != nil {
		t.Fatal(err)
	}
	readable := 0
	for _, e := range run.Events {
		if tr := e.Details["traffic"]; strings.Contains(tr, "token-api-") && strings.Contains(tr, "%") && !strings.Contains(tr, "REDACTED") {
			readable++
		}
	}
	if readable == 0 || strings.Contains(run.Cutover.RestoreTo, "REDACTED") || !strings.HasPrefix(run.Cutover.RestoreTo, "token-api: token-api-") {
		t.Errorf("traffic details not readable: restore_to %q, events %+v", run.Cutover.RestoreTo, run.Events)
	}
}
