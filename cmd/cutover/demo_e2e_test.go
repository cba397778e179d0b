package main

import (
	"encoding/json"
	"slices"
	"testing"

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
			deploy := run.Events[0].At
			var after int64
			for _, w := range run.Timeline {
				if !w.Start.Add(run.Timeline[1].Start.Sub(run.Timeline[0].Start)).Before(deploy) {
					after += w.Errors
				}
			}
			if after*10 < run.Totals.Errors*9 {
				t.Errorf("%d of %d errors follow the deploy; want nearly all", after, run.Totals.Errors)
			}
		})
	}
}
