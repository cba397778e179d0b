package reporters

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/results"
)

// TestStatusOtherNamesItsCodes checks that the class row of status_other
// names the codes it is made of, commonest first, in the text and Markdown
// reports, and that a record without ByStatus (written before it existed)
// renders the row bare.
func TestStatusOtherNamesItsCodes(t *testing.T) {
	withCodes := func() *results.Run {
		run := passRun()
		run.Totals = results.Totals{
			Requests: 6000, Errors: 12,
			ByClass:  map[results.Class]int64{results.ClassOK: 5988, results.ClassStatusOther: 12},
			ByStatus: map[string]int64{"200": 5988, "501": 10, "418": 2},
		}
		return run
	}
	withoutCodes := func() *results.Run {
		run := withCodes()
		run.Totals.ByStatus = nil
		return run
	}
	for _, tc := range []struct {
		name, format string
		run          func() *results.Run
		want, not    []string
	}{
		{"text", "text", withCodes, []string{"status_other (501×10, 418×2)"}, []string{"200×"}},
		{"markdown", "markdown", withCodes, []string{"| `status_other` (501×10, 418×2) | 12 |"}, []string{"200×"}},
		{"text/old record", "text", withoutCodes, []string{"status_other "}, []string{"×10", "501"}},
		{"markdown/old record", "markdown", withoutCodes, []string{"| `status_other` | 12 |"}, []string{"×10", "501"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			render, err := ByName(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := render(&buf, tc.run()); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, s := range tc.want {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestClassCodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		byStatus map[string]int64
		class    results.Class
		want     string
	}{
		{"status_other only", map[string]int64{"200": 9, "501": 10, "418": 2, "503": 4}, results.ClassStatusOther, "501×10, 418×2"},
		{"ties by code", map[string]int64{"418": 3, "409": 3}, results.ClassStatusOther, "409×3, 418×3"},
		{"out of range", map[string]int64{results.StatusOther: 1, "101": 2}, results.ClassStatusOther, "101×2, other×1"},
		{"single-code class", map[string]int64{"503": 4}, results.ClassStatus503, ""},
		{"none", nil, results.ClassStatusOther, ""},
		{"more than five", map[string]int64{"401": 7, "403": 6, "404": 5, "405": 4, "409": 3, "410": 2, "418": 1}, results.ClassStatusOther,
			"401×7, 403×6, 404×5, 405×4, 409×3, +2 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classCodes(tc.byStatus, tc.class); got != tc.want {
				t.Errorf("classCodes = %q, want %q", got, tc.want)
			}
		})
	}
}
