package reporters

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// diagTable is the DIAGNOSIS table of a text report: rows of cells, by
// column header. A period whose cells wrap onto more lines is one row, and
// a diagnosis split into the client's and the platform's tables is merged
// back into one, row by row.
type diagTable struct {
	header []string
	rows   []map[string]string
}

func diagnosisTable(t *testing.T, text string) diagTable {
	t.Helper()
	_, sec, ok := strings.Cut(text, "\nDIAGNOSIS")
	if !ok {
		t.Fatalf("no DIAGNOSIS section in:\n%s", text)
	}
	sec, _, _ = strings.Cut(sec, "\nTIMELINE")
	var tab diagTable
	for i, part := range textTables(sec) {
		if i > 0 && len(part.rows) != len(tab.rows) {
			t.Fatalf("the diagnosis' tables have %d and %d rows:\n%s", len(tab.rows), len(part.rows), sec)
		}
		for _, h := range part.header {
			if !slices.Contains(tab.header, h) {
				tab.header = append(tab.header, h)
			}
		}
		for j, r := range part.rows {
			if i == 0 {
				tab.rows = append(tab.rows, r)
				continue
			}
			if r["at"] != tab.rows[j]["at"] {
				t.Fatalf("row %d is at %q in one table, %q in the other", j, tab.rows[j]["at"], r["at"])
			}
			maps.Copy(tab.rows[j], r)
		}
	}
	return tab
}

// textTables parses the tables drawn in s: the header's lines and a row's
// lines (those that follow with an empty first cell) joined by spaces.
func textTables(s string) []diagTable {
	var tabs []diagTable
	var header [][]string
	inHeader := false
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "┌"):
			tabs, header, inHeader = append(tabs, diagTable{}), nil, true
			continue
		case strings.HasPrefix(line, "├"):
			tab := &tabs[len(tabs)-1]
			for col := range header[0] {
				var parts []string
				for _, h := range header {
					if h[col] != "" {
						parts = append(parts, h[col])
					}
				}
				tab.header = append(tab.header, strings.Join(parts, " "))
			}
			inHeader = false
			continue
		case !strings.HasPrefix(line, "│"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "│"), "│")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if inHeader {
			header = append(header, cells)
			continue
		}
		tab := &tabs[len(tabs)-1]
		if cells[0] == "" && len(tab.rows) > 0 { // a cell wrapped onto another line
			last := tab.rows[len(tab.rows)-1]
			for i, c := range cells {
				if c != "" {
					last[tab.header[i]] = strings.TrimSpace(last[tab.header[i]] + " " + c)
				}
			}
			continue
		}
		row := map[string]string{}
		for i, c := range cells {
			row[tab.header[i]] = c
		}
		tab.rows = append(tab.rows, row)
	}
	return tabs
}

func (tab diagTable) row(t *testing.T, at string) map[string]string {
	t.Helper()
	for _, r := range tab.rows {
		if r["at"] == at {
			return r
		}
	}
	t.Fatalf("no diagnosis row at %s in %v", at, tab.rows)
	return nil
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(strings.ReplaceAll(s, ",", ""), &n); err != nil {
		t.Fatalf("cell %q is not a number: %v", s, err)
	}
	return n
}

func TestTextFindings(t *testing.T) {
	text := render(t, func(w *bytes.Buffer) error { return Text(w, failRun()) })

	// The findings come right after the verdict and its reasons.
	verdict, findings, summary := strings.Index(text, "VERDICT: FAIL"), strings.Index(text, "\nFINDINGS\n"), strings.Index(text, "\nSUMMARY\n")
	if verdict < 0 || findings < verdict || summary < findings {
		t.Fatalf("want VERDICT, FINDINGS, SUMMARY in that order (at %d, %d, %d):\n%s", verdict, findings, summary, text)
	}
	if reason := "  - cause: upstream-timeout (medium confidence, primary cause of 16 of 90 errors)\n\nFINDINGS"; !strings.Contains(text, reason) {
		t.Errorf("the verdict reasons do not end with the runner's cause followed by FINDINGS:\n%s", text[:summary])
	}
	section := text[findings:summary]
	for _, want := range []string{
		"  1. nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors\n     also consistent with upstream-timeout\n",
		"  2. upstream-timeout (medium confidence) — primary cause of 16 of 90 errors\n",
		"  Ruled out (considered, not a cause):\n  - affinity-broken (medium confidence): it explains no client error\n",
		"     - Cloud NAT dropped 2,530 packets with reason OUT_OF_RESOURCES",
		"     Remedies:\n     - Connect to Cloud SQL",
		"on 127.0.0.1",
	} {
		if !strings.Contains(section, want) && !strings.Contains(strings.Join(strings.Fields(section), " "), want) {
			t.Errorf("findings lack %q:\n%s", want, section)
		}
	}
	if strings.Index(section, "nat-port-exhaustion") > strings.Index(section, "upstream-timeout") {
		t.Error("findings are not in the record's order (strongest first)")
	}
	// Prose is wrapped for a terminal.
	for _, line := range strings.Split(section, "\n") {
		if n := displayWidth(line); n > DefaultTextWidth {
			t.Errorf("findings line of %d columns: %q", n, line)
		}
	}
	// A terminal is read from the bottom: the report ends with the top
	// finding, its first evidence and its remedies, after the timeline.
	concl := strings.LastIndex(text, "\nCONCLUSION: FAIL · nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors\n")
	if concl < strings.LastIndex(text, "\nTIMELINE") || concl < 0 {
		t.Fatalf("no conclusion after the timeline:\n%s", text)
	}
	tail := text[concl:]
	for _, want := range []string{"  - Cloud NAT dropped 2,530 packets", "  Remedies:\n  - Connect to Cloud SQL", "on 127.0.0.1", "(1 more finding above, under FINDINGS)\n"} {
		if !strings.Contains(tail, want) {
			t.Errorf("conclusion lacks %q:\n%s", want, tail)
		}
	}
	if pass := render(t, func(w *bytes.Buffer) error { return Text(w, passRun()) }); !strings.Contains(pass, "\nCONCLUSION: PASS · 0 errors in 6,000 requests") {
		t.Errorf("a run without findings does not conclude with its verdict's reason:\n%s", pass)
	}
}

func TestTextDiagnosisTable(t *testing.T) {
	text := render(t, func(w *bytes.Buffer) error { return Text(w, failRun()) })
	if !strings.Contains(text, "\nDIAGNOSIS (metric period 6s (60s simulated, time scale 10×), 10 periods, offsets from the start)\n") {
		t.Errorf("no diagnosis heading with the period and the time scale:\n%s", text)
	}
	if !strings.Contains(text, "  metrics: covered · settle 18s · waited 24s\n") {
		t.Error("no metrics line")
	}
	// At 100 columns the table does not fit: the client's side with the
	// events, then the platform's side.
	tab := diagnosisTable(t, text)
	wantHeader := "at sim phase requests errors top errors (requests) events NAT drops ports new conns inst"
	if got := strings.Join(tab.header, " "); got != wantHeader {
		// No allocation-failure column: the run fetched no such series.
		t.Errorf("header %q, want %q", got, wantHeader)
	}
	// On a wide terminal it is one table, with the same rows.
	wide := diagnosisTable(t, render(t, func(w *bytes.Buffer) error { return TextWidth(200)(w, failRun()) }))
	if got, want := strings.Join(wide.header, " "), "at sim phase requests errors top errors (requests) NAT drops ports new conns inst events"; got != want {
		t.Errorf("header at 200 columns %q, want %q", got, want)
	}
	if !reflect.DeepEqual(wide.rows, tab.rows) {
		t.Errorf("the rows at 200 columns differ from those at 100:\n%v\n%v", wide.rows, tab.rows)
	}
	if len(tab.rows) != 10 {
		t.Fatalf("%d rows, want one per period (10)", len(tab.rows))
	}
	var requests, errs, drops int
	for i, r := range tab.rows {
		if want := fmt.Sprintf("+%ds", i*failPeriod); r["at"] != want {
			t.Errorf("row %d at %q, want %q", i, r["at"], want)
		}
		if want := fmt.Sprintf("+%dm", i); r["sim"] != want {
			t.Errorf("row %d simulated %q, want %q (a period is a simulated minute)", i, r["sim"], want)
		}
		requests += atoi(t, r["requests"])
		errs += atoi(t, r["errors"])
		d := atoi(t, r["NAT drops"])
		drops += d
		// Drops are in periods 5–8 (+24s..+42s) and nowhere else.
		if inNAT := i >= 4 && i <= 7; (d > 0) != inNAT {
			t.Errorf("row %s: NAT drops %d", r["at"], d)
		}
	}
	if requests != failWindows*failRate || errs != failErrors || drops != 2530 {
		t.Errorf("rows sum to %d requests, %d errors, %d drops; want %d, %d, 2530", requests, errs, drops, failWindows*failRate, failErrors)
	}

	checkDiagnosisCells(t, tab)
	// The table fits the default width.
	_, sec, _ := strings.Cut(text, "\nDIAGNOSIS")
	sec, _, _ = strings.Cut(sec, "\nTIMELINE")
	for _, line := range strings.Split(sec, "\n") {
		if n := displayWidth(line); n > DefaultTextWidth {
			t.Errorf("diagnosis line of %d columns: %q", n, line)
		}
	}
}

// checkDiagnosisCells checks the cells of failRun's diagnosis table: the
// peak period, the phases and where the events sit.
func checkDiagnosisCells(t *testing.T, tab diagTable) {
	t.Helper()
	peak := tab.row(t, "+30s")
	for col, want := range map[string]string{
		"phase": "during", "errors": "28", "top errors (requests)": "502×20 504×8", "NAT drops": "1,240", "ports": "1,024",
		"new conns": "6,200", "inst": "6", // 0 of the old revision + 6 of the new
	} {
		if peak[col] != want {
			t.Errorf("row +30s %s = %q, want %q", col, peak[col], want)
		}
	}
	for at, want := range map[string]string{"+0s": "before", "+12s": "during", "+54s": "after"} {
		if got := tab.row(t, at)["phase"]; got != want {
			t.Errorf("row %s phase %q, want %q", at, got, want)
		}
	}
	// Events sit in the period they happened in; one after the last period
	// (rollback-done at +61s) is in none.
	for at, want := range map[string]string{"+12s": "deploy-start", "+18s": "revision-ready", "+24s": "traffic-applied", "+36s": "note"} {
		if got := tab.row(t, at)["events"]; got != want {
			t.Errorf("row %s events %q, want %q", at, got, want)
		}
	}
	if strings.Contains(strings.Join(tableColumn(tab, "events"), " "), "rollback-done") {
		t.Error("an event after the last period is marked in the table")
	}
	if last := tab.row(t, "+54s"); last["top errors (requests)"] != "504×16" || last["NAT drops"] != "0" {
		t.Errorf("last row = %v, want 16 504s and no drops", last)
	}
}

func tableColumn(tab diagTable, col string) []string {
	var out []string
	for _, r := range tab.rows {
		out = append(out, r[col])
	}
	return out
}

func TestMetricsMissing(t *testing.T) {
	text := render(t, func(w *bytes.Buffer) error { return Text(w, missingRun()) })
	findings, summary := strings.Index(text, "\nFINDINGS\n"), strings.Index(text, "\nSUMMARY\n")
	if findings < 0 || summary < findings {
		t.Fatalf("no FINDINGS before SUMMARY:\n%s", text)
	}
	section := text[findings:summary]
	for _, want := range []string{
		"  metrics: missing — not covered after 4m10s: the newest nat_port_usage point ends 23:38:58 UTC",
		"  none: no cause found for the 37 errors without the platform's metrics",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("findings lack %q:\n%s", want, section)
		}
	}
	if !strings.Contains(text, "DIAGNOSIS (metric period 60s, 5 periods, offsets from the start)") {
		t.Error("no diagnosis heading for a real cloud's 60 s period")
	}
	tab := diagnosisTable(t, text)
	if got := strings.Join(tab.header, " "); got != "at phase requests errors top errors (requests) events ports new conns inst" {
		// No sim column on a real cloud, no NAT drops column: not fetched.
		t.Errorf("header %q", got)
	}
	// NAT points end with period 2, Cloud Run's with period 3: later
	// periods say "no data", not 0.
	wantPorts := []string{"120", "340", noData, noData, noData}
	wantInst := []string{"3", "5", "5", noData, noData}
	if got := tableColumn(tab, "ports"); strings.Join(got, " ") != strings.Join(wantPorts, " ") {
		t.Errorf("ports column %q, want %q", got, wantPorts)
	}
	if got := tableColumn(tab, "inst"); strings.Join(got, " ") != strings.Join(wantInst, " ") {
		t.Errorf("instances column %q, want %q", got, wantInst)
	}
	burst := tab.row(t, "+1m00s")
	if burst["errors"] != "37" || burst["top errors (requests)"] != "503×33 conn_reset×4" ||
		burst["events"] != "deploy-start, revision-ready, traffic-applied" {
		t.Errorf("row +1m00s = %v", burst)
	}
	if !strings.Contains(text, noData+": no data (the metrics did not reach the period)") {
		t.Error("the legend does not explain the no-data mark")
	}

	md := render(t, func(w *bytes.Buffer) error { return Markdown(w, missingRun()) })
	if !strings.Contains(md, "\n> **Metrics missing:** not covered after 4m10s") {
		t.Errorf("markdown does not say the metrics are missing:\n%s", md)
	}
	checkMarkdownTables(t, md)

	out := render(t, func(w *bytes.Buffer) error { return JUnit(w, missingRun()) })
	if !regexp.MustCompile(`<testcase name="metrics" classname="cutover/egress-check.diagnosis" time="0">\s*<skipped message="metrics missing — not covered after 4m10s`).MatchString(out) {
		t.Errorf("junit has no skipped metrics case:\n%s", out)
	}
}

// A run that read no metrics renders as before: no findings, no diagnosis.
func TestNoDiagnosis(t *testing.T) {
	for _, run := range []func() *results.Run{passRun, inconclusiveRun} {
		for _, f := range []string{"text", "markdown", "junit"} {
			r, _ := ByName(f)
			out := render(t, func(w *bytes.Buffer) error { return r(w, run()) })
			for _, not := range []string{"FINDINGS", "DIAGNOSIS", "### Findings", "### Diagnosis", ".diagnosis", `name="metrics"`} {
				if strings.Contains(out, not) {
					t.Errorf("%s report of an undiagnosed run shows %q", f, not)
				}
			}
		}
	}
}

func TestMarkdownFindings(t *testing.T) {
	md := render(t, func(w *bytes.Buffer) error { return Markdown(w, failRun()) })
	verdict, findings, summary := strings.Index(md, "**FAIL** ·"), strings.Index(md, "\n### Findings\n"), strings.Index(md, "\n| Run |")
	if verdict < 0 || findings < verdict || summary < findings {
		t.Fatalf("want the verdict, the findings, the summary in that order (at %d, %d, %d)", verdict, findings, summary)
	}
	for _, want := range []string{
		"\n#### 1. nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors\n\nAlso consistent with upstream-timeout.\n\n- Cloud NAT dropped 2,530 packets",
		"\n**Remedies:**\n\n- Connect to Cloud SQL",
		"\n#### 2. upstream-timeout (medium confidence) — primary cause of 16 of 90 errors\n",
		"\n#### Ruled out (considered, not a cause)\n\n- affinity-broken (medium confidence): it explains no client error\n",
		"\n### Diagnosis\n\nMetric period 6s (60s simulated, time scale 10×), 10 periods, offsets from the start.",
		"| At | Sim | Phase | Requests | Errors | Top errors | NAT drops | Ports | New conns | Inst | Events |",
		"| +30s | +5m | during | 1,200 | **28** | 502×20 504×8 | 1,240 | 1,024 | 6,200 | 6 |  |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Index(md, "### Diagnosis") > strings.Index(md, "### Timeline") {
		t.Error("the diagnosis does not come before the timeline")
	}
	checkMarkdownTables(t, md)
}

// checkMarkdownTables checks that every table row has as many cells as its
// header.
func checkMarkdownTables(t *testing.T, md string) {
	t.Helper()
	cols := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1)) - 1
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row has %d cells, header %d: %q", n, cols, line)
		}
	}
}

type junitFindingDoc struct {
	Properties []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	} `xml:"testsuite>properties>property"`
	Cases []struct {
		Name      string `xml:"name,attr"`
		Classname string `xml:"classname,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Type    string `xml:"type,attr"`
			Text    string `xml:",chardata"`
		} `xml:"failure"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	} `xml:"testsuite>testcase"`
}

func TestJUnitFindings(t *testing.T) {
	withStatus := func(status string) func() *results.Run {
		return func() *results.Run {
			r := failRun()
			r.Verdict.Status = status
			return r
		}
	}
	tests := []struct {
		name            string
		run             func() *results.Run
		failed, skipped bool
	}{
		{"fail", failRun, true, false},
		{"inconclusive", withStatus(results.StatusInconclusive), false, true},
		{"pass", withStatus(results.StatusPass), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, func(w *bytes.Buffer) error { return JUnit(w, tt.run()) })
			var doc junitFindingDoc
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("invalid XML: %v\n%s", err, out)
			}
			var names []string
			for _, c := range doc.Cases {
				names = append(names, c.Name)
			}
			want := "p99 < 800ms,status_504 == 0,fetch_failed == 0,p50 < 100ms,metrics,nat-port-exhaustion,upstream-timeout,verdict"
			if strings.Join(names, ",") != want {
				t.Fatalf("cases %v, want %s", names, want)
			}
			nat := doc.Cases[5]
			if nat.Classname != "cutover/nat-exhaustion.diagnosis" {
				t.Errorf("finding classname %q", nat.Classname)
			}
			if (nat.Failure != nil) != tt.failed || (nat.Skipped != nil) != tt.skipped {
				t.Fatalf("finding case: failure %v, skipped %v; want %v, %v", nat.Failure != nil, nat.Skipped != nil, tt.failed, tt.skipped)
			}
			detail := nat.SystemOut
			if nat.Failure != nil {
				detail = nat.Failure.Text
				if nat.Failure.Type != "finding" || nat.Failure.Message != "nat-port-exhaustion (high confidence) — primary cause of 74 of 90 errors" {
					t.Errorf("failure type %q message %q", nat.Failure.Type, nat.Failure.Message)
				}
			}
			for _, want := range []string{"- Cloud NAT dropped 2,530 packets", "\nRemedies:\n- Connect to Cloud SQL"} {
				if !strings.Contains(detail, want) {
					t.Errorf("finding detail lacks %q:\n%s", want, detail)
				}
			}
			props := map[string]string{}
			for _, p := range doc.Properties {
				props[p.Name] = p.Value
			}
			if props["cause"] != "nat-port-exhaustion" || props["metrics"] != results.MetricsCovered {
				t.Errorf("properties %v, want cause and metrics", props)
			}
		})
	}
}

func TestSignalCells(t *testing.T) {
	b0 := at(0)
	bucket := func(k int, signals map[string]float64) results.Bucket {
		return results.Bucket{Start: b0.Add(time.Duration(k) * time.Minute), End: b0.Add(time.Duration(k+1) * time.Minute),
			Phase: "during", Requests: 100, Signals: signals}
	}
	d := &results.Diagnosis{
		Metrics: results.MetricsCovered, Period: 60,
		Signals: []string{"nat_dropped_sent{reason=OUT_OF_RESOURCES}", "nat_dropped_sent{reason=ENDPOINT_INDEPENDENCE_CONFLICT}",
			"nat_allocation_failed", "nat_port_usage", "run_instance_count{revision_name=a,state=active}", "run_instance_count{revision_name=b,state=idle}"},
		Buckets: []results.Bucket{
			bucket(0, nil),
			bucket(1, map[string]float64{
				"nat_dropped_sent{reason=OUT_OF_RESOURCES}":               1240,
				"nat_dropped_sent{reason=ENDPOINT_INDEPENDENCE_CONFLICT}": 30,
				"nat_allocation_failed":                                   0.4,
				"nat_port_usage":                                          1008,
				"run_instance_count{revision_name=a,state=active}":        2,
				"run_instance_count{revision_name=b,state=idle}":          3,
			}),
			bucket(2, map[string]float64{"nat_dropped_sent": 7, "nat_allocation_failed": 1, "nat_port_usage": 64.5}),
		},
	}
	events := []eventRow{{kind: "at-start", offset: 0}, {kind: "at-end", offset: time.Minute}, {kind: "twice", offset: 150 * time.Second}, {kind: "twice", offset: 170 * time.Second}}
	got := newDiagnosis(d, nil, b0, b0, events)
	if h := strings.Join(got.headers, ","); h != "NAT drops,alloc fail,ports,inst" {
		t.Errorf("headers %q: want the fetched queries only", h)
	}
	want := [][]string{
		{"0", "no", "0", "0"},
		{"1,270 (ENDPOINT_INDEPENDENCE_CONFLICT 30)", "yes 40%", "1,008", "5"},
		{"7", "yes", "65", "0"}, // counts are whole: an aligned mean of 64.5 ports is 65
	}
	for i, r := range got.rows {
		if strings.Join(r.signals, "|") != strings.Join(want[i], "|") {
			t.Errorf("period %d cells %q, want %q", i, r.signals, want[i])
		}
	}
	// An event at a period's end belongs to the next period.
	wantEvents := []string{"at-start", "at-end", "twice ×2"}
	for i, r := range got.rows {
		if e := strings.Join(countedKinds(r.events), ","); e != wantEvents[i] {
			t.Errorf("period %d events %q, want %q", i, e, wantEvents[i])
		}
	}
	if got.heading() != "metric period 60s, 3 periods" {
		t.Errorf("heading %q", got.heading())
	}
}

// A long run folds its quiet stretches and keeps every period that has
// errors, events or NAT trouble.
func TestDiagnosisFoldsQuietPeriods(t *testing.T) {
	var buckets []results.Bucket
	for k := range 200 {
		b := results.Bucket{Start: at(time.Duration(k) * 6 * time.Second), End: at(time.Duration(k+1) * 6 * time.Second), Phase: "before", Requests: 10}
		if k >= 100 {
			b.Phase = "during"
		}
		switch k {
		case 120:
			b.Errors, b.ByClass = 3, map[results.Class]int64{results.ClassStatus503: 3}
		case 150:
			b.Signals = map[string]float64{"nat_dropped_sent{reason=OUT_OF_RESOURCES}": 12}
		}
		buckets = append(buckets, b)
	}
	d := newDiagnosis(&results.Diagnosis{Metrics: results.MetricsCovered, Period: 6, TimeScale: 10, Buckets: buckets},
		nil, at(0), at(0), []eventRow{{kind: "deploy-start", offset: 600 * time.Second}})
	if len(d.rows) > maxDiagnosisRows {
		t.Errorf("%d rows, want at most %d", len(d.rows), maxDiagnosisRows)
	}
	var requests int64
	kept := map[time.Duration]bool{}
	for _, r := range d.rows {
		requests += r.requests
		if r.folded == 0 {
			kept[r.offset] = true
		} else if r.classes != fmt.Sprintf("(%d quiet periods)", r.folded) {
			t.Errorf("fold says %q for %d periods", r.classes, r.folded)
		}
	}
	if requests != 2000 {
		t.Errorf("rows hold %d requests, want 2000", requests)
	}
	for _, k := range []int{0, 100, 120, 150, 199} {
		if !kept[time.Duration(k)*6*time.Second] {
			t.Errorf("period %d (+%ds) was folded", k, k*6)
		}
	}
	text := render(t, func(w *bytes.Buffer) error {
		r := passRun()
		r.Diagnosis = &results.Diagnosis{Metrics: results.MetricsCovered, Period: 6, TimeScale: 10, Buckets: buckets}
		return Text(w, r)
	})
	if !regexp.MustCompile(`│\s+… │.*│ \(\d+ quiet periods\)`).MatchString(text) {
		t.Errorf("no fold row in the text report:\n%s", text)
	}
}

// Findings and the metrics note are free text: the URLs in them are
// redacted like everything else the reports print, and nothing else is.
func TestDiagnosisRedacted(t *testing.T) {
	run := missingRun()
	run.Diagnosis.Note = "fetch https://monitoring.example.test/v3?access_token=sekrit-note failed"
	run.Findings = []results.Finding{{
		Cause: "egress-not-ready", Confidence: "low",
		Evidence: []string{"the app logged GET https://u:sekrit-password@db.example.test/ refused"},
		Remedy:   []string{"retry https://h/?api_key=sekrit-remedy with the token-api service up"},
	}}
	for _, f := range []string{"text", "markdown", "junit"} {
		r, _ := ByName(f)
		out := render(t, func(w *bytes.Buffer) error { return r(w, run) })
		if strings.Contains(out, "sekrit") {
			t.Errorf("%s report shows a secret:\n%s", f, out)
		}
		if !strings.Contains(out, "egress-not-ready") || !strings.Contains(out, "token-api service up") {
			t.Errorf("%s report lost the finding:\n%s", f, out)
		}
	}
}

func TestWrap(t *testing.T) {
	got := wrap("aaa bbb ccc dddddddddddd e", 10, "- ", "  ")
	// A word too long for a line is broken across lines.
	want := []string{"- aaa bbb", "  ccc", "  dddddddd", "  dddd e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}

// A record saved while the run waits for the metrics says so, without a
// made-up grid.
func TestDiagnosisPending(t *testing.T) {
	run := passRun()
	run.State = results.StateRunning
	run.Diagnosis = &results.Diagnosis{Metrics: results.MetricsPending, Signals: []string{}, Buckets: []results.Bucket{}}
	var buf bytes.Buffer
	if err := Text(&buf, run); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "DIAGNOSIS (waiting for the platform's metrics") || !strings.Contains(out, "metrics: pending") ||
		strings.Contains(out, "metric period 0s") {
		t.Errorf("pending diagnosis:\n%s", out)
	}
}
