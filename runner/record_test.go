package runner

import (
	"maps"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// The recorder sums each window's ByStatus into the totals, and the copies
// it hands out (totals, snapshot) do not share the map it keeps adding to.
func TestRecorderSumsByStatus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		windows []map[string]int64
		want    map[string]int64
	}{
		{"none", []map[string]int64{nil, nil}, nil},
		{"summed", []map[string]int64{{"200": 5, "501": 2}, nil, {"501": 8, "418": 2, "other": 1}},
			map[string]int64{"200": 5, "501": 10, "418": 2, "other": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(&results.Run{Totals: results.Totals{ByClass: map[results.Class]int64{}}})
			for _, bs := range tc.windows {
				var n int64
				for _, c := range bs {
					n += c
				}
				rec.add(results.Window{Requests: n, ByClass: map[results.Class]int64{}, ByStatus: bs})
			}
			tot, snap := rec.totals(), rec.snapshot()
			if !maps.Equal(tot.ByStatus, tc.want) || (tot.ByStatus == nil) != (tc.want == nil) {
				t.Errorf("totals by_status = %v, want %v", tot.ByStatus, tc.want)
			}
			if !maps.Equal(snap.Totals.ByStatus, tc.want) {
				t.Errorf("snapshot by_status = %v, want %v", snap.Totals.ByStatus, tc.want)
			}
			rec.add(results.Window{Requests: 1, ByClass: map[results.Class]int64{}, ByStatus: map[string]int64{"200": 1}})
			if !maps.Equal(tot.ByStatus, tc.want) || !maps.Equal(snap.Totals.ByStatus, tc.want) {
				t.Errorf("a later window changed the copies: totals %v, snapshot %v", tot.ByStatus, snap.Totals.ByStatus)
			}
		})
	}
}
