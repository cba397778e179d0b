package reporters

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		for _, format := range Formats {
			t.Run(fx.name+"/"+format, func(t *testing.T) {
				render, err := ByName(format)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := render(&buf, fx.run()); err != nil {
					t.Fatal(err)
				}
				got := buf.Bytes()
				if format == "html" {
					got = withoutAssets(got)
				}
				path := filepath.Join("testdata", fx.name+"."+format+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", path, got)
				}
				// Rendering is deterministic: a second pass is identical.
				var again bytes.Buffer
				if err := render(&again, fx.run()); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), again.Bytes()) {
					t.Error("two renderings of the same run differ")
				}
			})
		}
	}
}

func TestByName(t *testing.T) {
	for _, f := range Formats {
		if r, err := ByName(f); err != nil || r == nil {
			t.Errorf("ByName(%q): nil reporter or error %v", f, err)
		}
	}
	_, err := ByName("pdf")
	if err == nil {
		t.Fatal(`ByName("pdf") succeeded`)
	}
	for _, f := range Formats {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list %q", err, f)
		}
	}
}

// No format shows a credential from the scenario's headers or an event.
func TestReportsHideSecrets(t *testing.T) {
	run := failRun()
	for _, f := range Formats {
		render, _ := ByName(f)
		var buf bytes.Buffer
		if err := render(&buf, run); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "sekrit") {
			t.Errorf("%s report shows a secret:\n%s", f, buf.String())
		}
	}
	// The run itself is untouched.
	if run.Events[3].Details["api_token"] != "sekrit-token" {
		t.Error("rendering modified the run")
	}
}

// Names that merely look like secrets are names: a scenario called
// "secrets" deploying the service token-api shows its revisions, traffic
// and events as they are in every format.
func TestReportsKeepSecretLookingNames(t *testing.T) {
	run := failRun()
	var sc map[string]any
	if err := json.Unmarshal(run.Scenario, &sc); err != nil {
		t.Fatal(err)
	}
	sc["name"] = "secrets"
	run.Scenario, run.ScenarioName = scenarioJSON(sc), "secrets"
	run.Cutover.Service = "projects/demo/locations/asia-northeast1/services/token-api"
	run.Cutover.BaselineRevision = "token-api-00001-bwo"
	run.Cutover.RestoreTo = "token-api: token-api-00001-bwo=100%"
	run.Events = append(run.Events, results.Event{Kind: "traffic-applied", At: at(50 * time.Second),
		Details: map[string]string{"service": "token-api", "traffic": "token-api-00001-bwo=100%"}})
	for _, f := range Formats {
		render, _ := ByName(f)
		var buf bytes.Buffer
		if err := render(&buf, run); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "token-api-00001-bwo=[REDACTED]") || strings.Contains(out, "token-api-00001-bwo=\\[REDACTED") {
			t.Errorf("%s report redacted a revision name:\n%s", f, out)
		}
		if f == "junit" {
			continue // no events or scenario name in JUnit
		}
		if !strings.Contains(out, "token-api-00001-bwo=100%") || !strings.Contains(out, "secrets") {
			t.Errorf("%s report lost the traffic split or the scenario name:\n%s", f, out)
		}
	}
}

// The JSON report is exactly what results.Writer saves as run.json.
func TestJSONIsRunJSON(t *testing.T) {
	dir := t.TempDir()
	w, err := results.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := failRun()
	if err := w.Save(run); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(filepath.Join(dir, results.RecordFile))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := JSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved, buf.Bytes()) {
		t.Error("JSON report differs from run.json")
	}
	// And a record read back renders like the original.
	back, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Text(&a, run); err != nil {
		t.Fatal(err)
	}
	if err := Text(&b, back); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("text of the read-back record differs:\n%s\n---\n%s", a.String(), b.String())
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteErrorsAreReturned(t *testing.T) {
	for _, f := range Formats {
		render, _ := ByName(f)
		for _, after := range []int{0, 100, 1000} {
			err := render(&failingWriter{after: after}, failRun())
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("%s with a writer failing after %d bytes: err = %v", f, after, err)
			}
		}
		if err := render(&bytes.Buffer{}, nil); err == nil {
			t.Errorf("%s of a nil run succeeded", f)
		}
	}
}
