package scenarios_test

import (
	"slices"
	"testing"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// scenarios cannot import results (both are leaves), so it keeps its own
// copy of the class names; this test-only import checks the copy.
func TestResultClassesMatchResults(t *testing.T) {
	if !slices.Equal(scenarios.ResultClasses, results.Classes) {
		t.Errorf("scenarios.ResultClasses = %v\nresults.Classes = %v", scenarios.ResultClasses, results.Classes)
	}
	for _, name := range []string{results.FetchFailed, results.UpstreamTimeout} {
		if !slices.ContainsFunc(scenarios.ThresholdMetrics, func(m scenarios.ThresholdMetric) bool { return m.Name == name }) {
			t.Errorf("derived counter %q is not a threshold metric", name)
		}
	}
}
