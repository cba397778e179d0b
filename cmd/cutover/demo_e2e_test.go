package main

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// firstKinds returns the first occurrence order of the cutover's event kinds.
func cutoverOrder(run *results.Run) []string {
	var order []string
	for _, k := range eventKinds(run) {
		if !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	return order
}

// The README's main command replays incident 000 and fails with the
// errors that follow the deploy; its fix passes with the same events.
func TestDemoIncidentAndItsFix(t *testing.T) {
	if testing.Short() {
		t.Skip("two one-minute replays")
	}
	want := []string{"deploy-start", "revision-created", "revision-ready", "traffic-applied"}
	for _, tt := range []struct {
		scenario string
		code     int
	}{
		{"nat-exhaustion", ExitFail},
		{"nat-exhaustion-fixed", ExitPass},
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			inv := runBinary(t, t.TempDir(), "run", tt.scenario, "--out", "out", "--format", "json")
			if inv.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr:\n%s", inv.code, tt.code, inv.stderr)
			}
			var run results.Run
			if err := json.Unmarshal([]byte(inv.stdout), &run); err != nil {
				t.Fatal(err)
			}
			if got := cutoverOrder(&run); len(got) < 4 || !slices.Equal(got[:4], want) {
				t.Errorf("event order %v, want %v first", got, want)
			}
			if tt.code == ExitPass {
				if run.Totals.Errors != 0 {
					t.Errorf("the fix left %d errors: %v", run.Totals.Errors, run.Totals.ByClass)
				}
				return
			}
			by := run.Totals.ByClass
			if by[results.AppFetchFailed] == 0 || by[results.UpstreamTimeout] == 0 {
				t.Errorf("want both fetch failed (502) and upstream timeout (504) errors, got %v", by)
			}
			// The errors follow the deploy: the error rate in the 10 s after
			// it is far above the rate before it (the old revision's own
			// scale-out during the ramp may cost a few).
			deploy := run.Events[0].At
			var before, beforeN, after, afterN int64
			for _, w := range run.Timeline {
				switch {
				case w.Start.Before(deploy.Add(-time.Second)):
					before, beforeN = before+w.Errors, beforeN+w.Requests
				case w.Start.Before(deploy.Add(10 * time.Second)):
					after, afterN = after+w.Errors, afterN+w.Requests
				}
			}
			rateBefore := float64(before) / float64(max(beforeN, 1))
			rateAfter := float64(after) / float64(max(afterN, 1))
			if rateAfter < 0.01 || rateAfter < 5*rateBefore {
				t.Errorf("error rate %.2f%% in the 10 s after the deploy vs %.2f%% before it; want a burst that follows the deploy",
					100*rateAfter, 100*rateBefore)
			}
		})
	}
}
