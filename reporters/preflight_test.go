package reporters

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// renderFormat writes run in format.
func renderFormat(t *testing.T, format string, run *results.Run) string {
	t.Helper()
	r, err := ByName(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r(&buf, run); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// What the preflight guard found shows in every format, before the
// findings, each with its cause, confidence, evidence and remedies.
func TestPreflightSection(t *testing.T) {
	tests := []struct {
		format string
		before string   // the section's heading, before the findings'
		after  string   // the findings' heading
		want   []string // in the section, in order
	}{
		{"text", "\nPREFLIGHT (what the preflight guard found before the load)\n", "\nFINDINGS\n", []string{
			"  1. image-missing (high confidence)\n", "     - Task definition web:7, which the service runs", "     Remedies:\n",
			"     - Redeploy with an image that exists in ECR", "  2. image-at-risk (medium confidence)\n", "expires it after 2 more pushes",
		}},
		{"markdown", "\n### Preflight\n", "\n### Findings\n", []string{
			"#### 1. image-missing (high confidence)\n", "- Task definition web:7, which the service runs", "**Remedies:**",
			"#### 2. image-at-risk (medium confidence)\n", "raise the lifecycle policy's countNumber",
		}},
		{"html", "<h3>Preflight</h3>", "<h3>Findings</h3>", []string{
			`<li class="finding" data-cause="image-missing">`, "<strong>image-missing</strong> · confidence high",
			`<ul class="evidence"><li>Task definition web:7, which the service runs`, `<ul class="remedy"><li>Redeploy with an image`,
			`data-cause="image-at-risk"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := renderFormat(t, tt.format, ecsImageExpiredRun())
			i, j := strings.Index(out, tt.before), strings.Index(out, tt.after)
			if i < 0 || j < i {
				t.Fatalf("%q not found before %q:\n%s", tt.before, tt.after, out)
			}
			section := out[i:j]
			for _, w := range tt.want {
				k := strings.Index(section, w)
				if k < 0 {
					t.Fatalf("the section lacks %q (or has it out of order):\n%s", w, section)
				}
				section = section[k+len(w):]
			}
		})
	}
}

// A run whose preflight found nothing has no preflight section.
func TestPreflightSectionAbsent(t *testing.T) {
	for format, heading := range map[string]string{"text": "PREFLIGHT", "markdown": "### Preflight", "html": "<h3>Preflight</h3>", "junit": `name="preflight"`} {
		if out := renderFormat(t, format, failRun()); strings.Contains(out, heading) {
			t.Errorf("%s: %q in a run without preflight findings", format, heading)
		}
	}
}

// The JUnit testcase "preflight" fails for a missing image and only notes
// one at risk.
func TestJUnitPreflight(t *testing.T) {
	atRisk := ecsImageExpiredRun()
	atRisk.Preflight = atRisk.Preflight[1:]
	tests := []struct {
		name    string
		run     *results.Run
		failure string   // the failure's message starts so; "" for none
		text    []string // the failure's text or the output, in order
	}{
		{"image missing: a failure", ecsImageExpiredRun(), "image-missing: Task definition web:7, which the service runs, names ",
			[]string{"1. image-missing (high confidence)\n- Task definition web:7", "\nRemedies:\n- Redeploy", "\n\n2. image-at-risk (medium confidence)\n- Task definition web:6"}},
		{"image at risk: a note", atRisk, "", []string{"1. image-at-risk (medium confidence)\n- Task definition web:6", "after 2 more pushes", "\nRemedies:\n- Keep more images"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc junitSuites
			if err := xml.Unmarshal([]byte(renderFormat(t, "junit", tt.run)), &doc); err != nil {
				t.Fatal(err)
			}
			var tc *junitCase
			for i, c := range doc.Suites[0].Cases {
				if c.Name == "preflight" {
					tc = &doc.Suites[0].Cases[i]
				}
			}
			if tc == nil || tc.Classname != "cutover/ecr-image-expired.preflight" {
				t.Fatalf("no preflight testcase of class cutover/ecr-image-expired.preflight: %+v", doc.Suites[0].Cases)
			}
			text := tc.SystemOut
			switch {
			case tt.failure == "" && tc.Failure != nil:
				t.Errorf("a failure for an image at risk: %+v", tc.Failure)
			case tt.failure != "" && (tc.Failure == nil || tc.Failure.Type != "preflight" || !strings.HasPrefix(tc.Failure.Message, tt.failure)):
				t.Fatalf("failure %+v, want type preflight, message %q…", tc.Failure, tt.failure)
			case tt.failure != "":
				text = tc.Failure.Text
			}
			for _, w := range tt.text {
				k := strings.Index(text, w)
				if k < 0 {
					t.Fatalf("the testcase lacks %q (or has it out of order):\n%s", w, text)
				}
				text = text[k+len(w):]
			}
		})
	}
}

// The ECS side's events read in a short human form; the others keep
// their k=v details.
func TestEventDetails(t *testing.T) {
	task := ecsTaskARN + "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
	tests := []struct {
		kind    results.EventKind
		details map[string]string
		want    string
	}{
		{results.EventTaskStopped, map[string]string{"task": task, "task_definition": "arn:aws:ecs:r:1:task-definition/web:7",
			"stop_code": "TaskFailedToStart", "stopped_reason": "CannotPullContainerError: x: not found"},
			"task 5e6f7a8b… (web:7) TaskFailedToStart: CannotPullContainerError: x: not found"},
		{results.EventTaskStopped, map[string]string{"task": "abc", "stop_code": "EssentialContainerExited",
			"stopped_reason": "Essential container in task exited", "container_reason": "OutOfMemoryError"},
			"task abc EssentialContainerExited: Essential container in task exited; OutOfMemoryError"},
		{results.EventServiceEvent, map[string]string{"id": "1", "message": "(service web) has reached a steady state."},
			"(service web) has reached a steady state."},
		{results.EventDeployment, map[string]string{"deployment": "ecs-svc/1", "rollout_state": "FAILED",
			"task_definition": "arn:aws:ecs:r:1:task-definition/web:8", "reason": "ECS deployment circuit breaker: tasks failed to start."},
			"ecs-svc/1 FAILED (web:8): ECS deployment circuit breaker: tasks failed to start."},
		{results.EventChaos, map[string]string{"action": "stop-task", "tasks": "1"}, "stop-task: 1 task"},
		{results.EventChaos, map[string]string{"action": "scale", "desired": "0"}, "scale, desired 0"},
		{results.EventChaos, map[string]string{"action": "fail-health-check", "tasks": task + "," + ecsTaskARN + "abc"},
			"fail-health-check: 2 tasks (5e6f7a8b…, abc)"},
		{results.EventPreflightFinding, map[string]string{"cause": "image-at-risk", "image": "repo:v1", "message": "expires after 2 more pushes"},
			"image-at-risk: expires after 2 more pushes"},
		{results.EventDeployStart, map[string]string{"image": "api:v2", "service": "api"}, "image=api:v2 service=api"},
		{results.EventServiceEvent, map[string]string{"id": "7"}, "id=7"},
	}
	for _, tt := range tests {
		if got := eventDetails(results.Event{Kind: tt.kind, Details: tt.details}); got != tt.want {
			t.Errorf("%s %v:\n got %q\nwant %q", tt.kind, tt.details, got, tt.want)
		}
	}
}

// In the text report each event of the ECS side takes one line of the
// events table, its reason cut to fit (about two in a narrow report), and
// its stop code shows at every width.
func TestTextECSEventsCut(t *testing.T) {
	continuation := regexp.MustCompile(`(?m)^│\s+│\s+│`)
	for _, width := range []int{60, 80, 100, 132} {
		var buf bytes.Buffer
		if err := TextWidth(width)(&buf, ecsImageExpiredRun()); err != nil {
			t.Fatal(err)
		}
		text := buf.String()
		events := text[strings.Index(text, "\nEVENTS\n"):strings.Index(text, "\nDIAGNOSIS")]
		if n := strings.Count(events, "TaskFailedToStart"); n != 2 {
			t.Errorf("width %d: the stop code TaskFailedToStart shows %d times, want 2:\n%s", width, n, events)
		}
		if width >= 80 && continuation.MatchString(events) {
			t.Errorf("width %d: an event takes more than one line:\n%s", width, events)
		}
		if !strings.Contains(events, "…") {
			t.Errorf("width %d: no reason cut:\n%s", width, events)
		}
	}
}
