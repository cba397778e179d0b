package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 23, 36, 58, 0, time.UTC)

// testRun returns a record with nwin one-second windows.
func testRun(state string, nwin int) *Run {
	run := &Run{
		SchemaVersion: SchemaVersion,
		RunID:         "20261123-233658-smoke-3f9a",
		Scenario: scenarioJSON(map[string]any{
			"name": "smoke",
			"load": map[string]any{"rate": "200/s", "duration": "2m"},
		}),
		ScenarioName: "smoke",
		ToolVersion:  "v0.1.0-test",
		State:        state,
		StartedAt:    t0,
		Load:         LoadInfo{Model: "open", AskedRate: 200, AchievedRate: 199.5, Duration: 120},
		Totals:       Totals{Requests: 24000, Errors: 3, ByClass: map[Class]int64{ClassOK: 23997, ClassStatus504: 3}},
		Latency:      Latency{P50: 12.5, P90: 30, P99: 80.25, Max: 950, Mean: 15.125},
		Events:       []Event{{Kind: "deploy-start", At: t0.Add(30 * time.Second), Details: map[string]string{"revision": "api-00042"}}},
		Verdict:      Verdict{Status: StatusFail, Reasons: []string{"3 errors"}, ErrorRateUpper95: 0.0003},
	}
	for i := range nwin {
		run.Timeline = append(run.Timeline, Window{
			Start:    t0.Add(time.Duration(i) * time.Second),
			Requests: 200,
			ByClass:  map[Class]int64{ClassOK: 200},
			P50:      12, P99: 80,
		})
	}
	if state != StateRunning {
		run.EndedAt = t0.Add(2 * time.Minute)
	}
	return run
}

func TestNewRunID(t *testing.T) {
	format := regexp.MustCompile(`^20261123-233658-[a-z0-9-]+-[0-9a-f]{4}$`)
	tests := []struct{ name, slug string }{
		{"smoke", "smoke"},
		{"NAT Exhaustion!", "nat-exhaustion"},
		{"  --weird__name--  ", "weird-name"},
		{"", "run"},
		{"日本語", "run"},
		{strings.Repeat("abc ", 30), "abc-abc-abc-abc-abc-abc-abc-abc-abc-abc"},
	}
	for _, tt := range tests {
		// A time in another zone: the id uses UTC.
		id := NewRunID(t0.In(time.FixedZone("JST", 9*3600)), tt.name)
		if !format.MatchString(id) {
			t.Errorf("NewRunID(%q) = %q, does not match %s", tt.name, id, format)
		}
		if got := id[len("20261123-233658-") : len(id)-5]; got != tt.slug {
			t.Errorf("NewRunID(%q) slug = %q, want %q", tt.name, got, tt.slug)
		}
	}

	earlier := NewRunID(t0, "zzz")
	later := NewRunID(t0.Add(time.Second), "aaa")
	if earlier >= later {
		t.Errorf("ids do not sort by time: %q >= %q", earlier, later)
	}
	suffixes := map[string]bool{}
	for range 20 {
		id := NewRunID(t0, "smoke")
		suffixes[id[len(id)-4:]] = true
	}
	if len(suffixes) < 2 {
		t.Errorf("20 ids at the same second share one random suffix: %v", suffixes)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "r1")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprint(w.Results(), "result-bytes"); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, ResultsFile)); string(got) != "result-bytes" {
		t.Errorf("results.bin after Flush = %q", got)
	}

	if err := w.Save(testRun(StateRunning, 3)); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateRunning || len(got.Timeline) != 3 {
		t.Errorf("intermediate record: state %q, %d windows", got.State, len(got.Timeline))
	}

	want := testRun(StateComplete, 5)
	if err := w.Save(want); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprint(w.Results(), "+more"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, ResultsFile)); string(got) != "result-bytes+more" {
		t.Errorf("results.bin after Close = %q", got)
	}

	got, err = Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, want)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{ResultsFile, RecordFile}) {
		t.Errorf("run directory holds %v, want only results.bin and run.json", names)
	}
}

func TestSaveDoesNotModifyRun(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	run := testRun(StateRunning, 1)
	run.SchemaVersion = 0
	run.Scenario = json.RawMessage(`{"name": "s", "headers": {"Authorization": "Bearer abcdefghijkl"}}`)
	if err := w.Save(run); err != nil {
		t.Fatal(err)
	}
	if run.SchemaVersion != 0 || string(run.Scenario) != `{"name": "s", "headers": {"Authorization": "Bearer abcdefghijkl"}}` {
		t.Errorf("Save modified its argument: %+v", run)
	}
	got, err := Read(w.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != SchemaVersion {
		t.Errorf("saved schema_version = %d, want %d", got.SchemaVersion, SchemaVersion)
	}
	data, _ := os.ReadFile(filepath.Join(w.Dir(), RecordFile))
	if bytes.Contains(data, []byte("abcdefghijkl")) {
		t.Errorf("run.json holds the Authorization header value:\n%s", data)
	}
}

func TestCreateRefusesExistingResults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ResultsFile), []byte("old run"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing results.bin: err = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, ResultsFile)); string(got) != "old run" {
		t.Errorf("existing results.bin was changed to %q", got)
	}
}

// A save that fails before its rename (here: the disk refuses to sync) must
// leave the previous run.json in place and no temporary file behind.
func TestFailedSaveKeepsPreviousRecord(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	good := testRun(StateRunning, 2)
	if err := w.Save(good); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(w.Dir(), RecordFile))

	diskFull := errors.New("no space left on device")
	w.sync = func(*os.File) error { return diskFull }
	err = w.Save(testRun(StateComplete, 50))
	if !errors.Is(err, diskFull) {
		t.Fatalf("Save with failing sync: err = %v, want it to wrap %v", err, diskFull)
	}
	after, _ := os.ReadFile(filepath.Join(w.Dir(), RecordFile))
	if !bytes.Equal(before, after) {
		t.Errorf("failed Save changed run.json")
	}
	assertNoTemp(t, w.Dir())

	// An unencodable record fails before touching the disk.
	w.sync = (*os.File).Sync
	bad := testRun(StateComplete, 1)
	bad.Scenario = json.RawMessage(`{"c": `)
	if err := w.Save(bad); err == nil {
		t.Fatal("Save of an unencodable record succeeded")
	}
	after, _ = os.ReadFile(filepath.Join(w.Dir(), RecordFile))
	if !bytes.Equal(before, after) {
		t.Errorf("unencodable record changed run.json")
	}
	assertNoTemp(t, w.Dir())
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// A torn temporary file, as a crash mid-write leaves it, is never read and
// does not stop the next save.
func TestTornTempFileIsIgnored(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Save(testRun(StateRunning, 4)); err != nil {
		t.Fatal(err)
	}
	var full bytes.Buffer
	if err := Encode(&full, testRun(StateComplete, 4)); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(w.Dir(), "."+RecordFile+".tmp-123456")
	if err := os.WriteFile(torn, full.Bytes()[:full.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Read(w.Dir())
	if err != nil {
		t.Fatalf("Read beside a torn temporary file: %v", err)
	}
	if got.State != StateRunning {
		t.Errorf("Read returned state %q, want the saved %q", got.State, StateRunning)
	}
	if err := w.Save(testRun(StateComplete, 4)); err != nil {
		t.Fatalf("Save beside a torn temporary file: %v", err)
	}
	if got, err := Read(w.Dir()); err != nil || got.State != StateComplete {
		t.Fatalf("after Save: state %v, err %v", got, err)
	}
}

// envCrashDir makes the test binary act as a process that saves records until
// it is killed.
const envCrashDir = "CUTOVER_RESULTS_CRASH_DIR"

func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process for TestKilledMidSaveLeavesReadableRecord")
	}
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	deadline := time.Now().Add(20 * time.Second) // in case the parent dies
	for i := 1; time.Now().Before(deadline); i++ {
		if err := w.Save(testRun(StateRunning, 300+i%50)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "saved %d\n", i)
		out.Flush()
	}
}

// A process killed (SIGKILL) at an arbitrary moment while saving leaves a
// readable run.json, and a reader never sees a partial record while the
// process saves.
func TestKilledMidSaveLeavesReadableRecord(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL semantics on windows")
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for round := range 2 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(round))
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		saves := make(chan struct{}, 1000)
		go func() {
			defer close(saves)
			lines := bufio.NewScanner(stdout)
			for lines.Scan() {
				if strings.HasPrefix(lines.Text(), "saved ") {
					saves <- struct{}{}
				}
			}
		}()
		if _, ok := <-saves; !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: helper saved nothing", round)
		}
		// Read while the helper keeps saving: every read sees a whole
		// record. (json.Valid: a full Read is slow under the race detector.)
		for i := 0; i < 100 || len(saves) < 1; i++ {
			data, err := os.ReadFile(filepath.Join(dir, RecordFile))
			if err != nil || !json.Valid(data) {
				t.Fatalf("round %d: read %d during saves: %d bytes of invalid JSON, err %v", round, i, len(data), err)
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		got, err := Read(dir)
		if err != nil {
			t.Fatalf("round %d: after kill: %v", round, err)
		}
		if got.State != StateRunning || len(got.Timeline) < 300 {
			t.Errorf("round %d: read state %q with %d windows", round, got.State, len(got.Timeline))
		}
	}
}

func TestConcurrentSaveAndResults(t *testing.T) {
	w, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 5 {
				if err := w.Save(testRun(StateRunning, i*10+j)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 1000 {
			fmt.Fprint(w.Results(), "0123456789")
		}
		if err := w.Flush(); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(w.Dir()); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(w.Dir(), ResultsFile)); fi.Size() != 10000 {
		t.Errorf("results.bin has %d bytes, want 10000", fi.Size())
	}
	assertNoTemp(t, w.Dir())
}

func TestReadErrors(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if content != "" {
			if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name   string
		dir    string
		want   string
		wantIs error
	}{
		{"missing directory", filepath.Join(root, "nope"), "does not exist", fs.ErrNotExist},
		{"no run.json", write("empty", ""), "has no run.json", fs.ErrNotExist},
		{"newer schema", write("newer", `{"schema_version": 2, "state": "complete"}`), "schema version 2, this cutover reads up to 1; upgrade cutover", ErrNewerSchema},
		{"no schema", write("noschema", `{"state": "complete"}`), "no valid schema_version", nil},
		{"not json", write("garbage", `{"schema_version": 1, "sta`), "read run record", nil},
		{"wrong type", write("wrongtype", `{"schema_version": 1, "totals": {"requests": "many"}}`), "read run record", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := Read(tt.dir)
			if err == nil {
				t.Fatalf("Read succeeded: %+v", run)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

// scenarioJSON is v as a record's Scenario.
func scenarioJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return data
}

// A record written before scenario_name was still gets its name, from the
// scenario's JSON; a record with one keeps it.
func TestReadScenarioName(t *testing.T) {
	tests := []struct {
		name, record, want string
	}{
		{"old record", `{"schema_version": 1, "scenario": {"name": "smoke", "rate": 1}}`, "smoke"},
		{"recorded name", `{"schema_version": 1, "scenario": {"name": "raw"}, "scenario_name": "kept"}`, "kept"},
		{"scenario without name", `{"schema_version": 1, "scenario": {"rate": 1}}`, ""},
		{"null scenario", `{"schema_version": 1, "scenario": null}`, ""},
		{"no scenario", `{"schema_version": 1}`, ""},
		{"string scenario", `{"schema_version": 1, "scenario": "just a string"}`, ""},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(tt.record), 0o600); err != nil {
			t.Fatal(err)
		}
		run, err := Read(dir)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if run.ScenarioName != tt.want {
			t.Errorf("%s: ScenarioName = %q, want %q", tt.name, run.ScenarioName, tt.want)
		}
	}
}

// BenchmarkSave measures one periodic save of a 20-minute run with 1 s windows.
func BenchmarkSave(b *testing.B) {
	w, err := Create(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	run := testRun(StateRunning, 1200)
	for i := range run.Timeline {
		run.Timeline[i].Histogram = strings.Repeat("HISTFAAAAEx4nJNpmSzMwMDAxQABzFCaEUzbT4DQAB1jAvs", 4)
	}
	for b.Loop() {
		if err := w.Save(run); err != nil {
			b.Fatal(err)
		}
	}
}

// A record written before by_status reads with nil ByStatus maps; one with
// it reads its per-code counts back, in the totals and in each window.
func TestReadByStatus(t *testing.T) {
	tests := []struct {
		name, record string
		totals       map[string]int64
		window       map[string]int64
	}{
		{"old record",
			`{"schema_version": 1, "totals": {"requests": 3, "errors": 1, "by_class": {"ok": 2, "status_other": 1}},
			  "timeline": [{"start": "2026-11-23T23:36:58Z", "requests": 3, "errors": 1, "by_class": {"ok": 2, "status_other": 1}}]}`,
			nil, nil},
		{"with by_status",
			`{"schema_version": 1, "totals": {"requests": 3, "errors": 1, "by_class": {"ok": 2, "status_other": 1}, "by_status": {"200": 2, "501": 1}},
			  "timeline": [{"start": "2026-11-23T23:36:58Z", "requests": 3, "errors": 1, "by_class": {"ok": 2, "status_other": 1}, "by_status": {"200": 2, "501": 1}}]}`,
			map[string]int64{"200": 2, "501": 1}, map[string]int64{"200": 2, "501": 1}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, RecordFile), []byte(tt.record), 0o600); err != nil {
			t.Fatal(err)
		}
		run, err := Read(dir)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !maps.Equal(run.Totals.ByStatus, tt.totals) || (run.Totals.ByStatus == nil) != (tt.totals == nil) {
			t.Errorf("%s: totals by_status = %v, want %v", tt.name, run.Totals.ByStatus, tt.totals)
		}
		if len(run.Timeline) != 1 || !maps.Equal(run.Timeline[0].ByStatus, tt.window) {
			t.Errorf("%s: timeline = %+v, want one window with by_status %v", tt.name, run.Timeline, tt.window)
		}
		if run.Totals.ByClass[ClassStatusOther] != 1 {
			t.Errorf("%s: status_other = %d, want 1", tt.name, run.Totals.ByClass[ClassStatusOther])
		}
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[string]Class{
		"200": ClassOK, "204": ClassOK, "301": ClassOK, "399": ClassOK,
		"429": ClassStatus429, "500": ClassStatus500, "502": ClassStatus502, "503": ClassStatus503, "504": ClassStatus504,
		"501": ClassStatusOther, "418": ClassStatusOther, "101": ClassStatusOther, "599": ClassStatusOther,
		StatusOther: ClassStatusOther, "": ClassStatusOther, "abc": ClassStatusOther,
	} {
		if got := StatusClass(code); got != want {
			t.Errorf("StatusClass(%q) = %s, want %s", code, got, want)
		}
	}
}
