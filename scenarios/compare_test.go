package scenarios

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCompareSectionDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		want        Compare
	}{
		{"absent", "", Compare{As: "c", MaxP50Increase: 0.1, MaxP90Increase: 0.1, MaxP99Increase: 0.1, MinRequests: 100, Settle: Duration(30 * time.Second)}},
		{"verdict min_requests raises the minimum", "verdict: {min_requests: 5000}\n",
			Compare{As: "c", MaxP50Increase: 0.1, MaxP90Increase: 0.1, MaxP99Increase: 0.1, MinRequests: 5000, Settle: Duration(30 * time.Second)}},
		{"written", "compare: {max_p99_increase: 25%, max_p50_increase: 0.05, max_error_increase: 3, max_error_rate_increase: 0.1%, min_requests: 50, settle: 5s}\n",
			Compare{As: "c", MaxP50Increase: 0.05, MaxP90Increase: 0.1, MaxP99Increase: 0.25, MaxErrorIncrease: 3, MaxErrorRateIncrease: 0.001, MinRequests: 50, Settle: Duration(5 * time.Second)}},
		{"a variant compares as the scenario it varies", "compare: {as: checkout}\n",
			Compare{As: "checkout", MaxP50Increase: 0.1, MaxP90Increase: 0.1, MaxP99Increase: 0.1, MinRequests: 100, Settle: Duration(30 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse("s.yaml", []byte(minimalScenario+tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			if s.Compare != tc.want {
				t.Errorf("compare = %+v, want %+v", s.Compare, tc.want)
			}
		})
	}
}

const minimalScenario = `version: 1
name: c
target: {url: "http://127.0.0.1:9"}
load: {requests: [{path: /}], rate: 10/s, duration: 10s}
`

func TestCompareSectionProblems(t *testing.T) {
	for _, tc := range []struct{ extra, want string }{
		{"compare: {max_p99_increase: 150%}\n", "s.yaml:5:29: compare.max_p99_increase: error rate 150% is out of range"},
		{"compare: {max_error_increase: -1}\n", "s.yaml:5:11: compare.max_error_increase: must not be negative, got -1"},
		{"compare: {settle: 2h}\n", "s.yaml:5:11: compare.settle: must be at most 1h, got 2h"},
		{"compare: {max_p99_incrase: 10%}\n", `s.yaml:5:11: compare.max_p99_incrase: unknown key (did you mean "max_p99_increase"?)`},
		{"compare: {min_requests: many}\n", `s.yaml:5:25: compare.min_requests: expected an integer, got "many"`},
		{"compare: {as: \"a\\u0007b\"}\n", `s.yaml:5:11: compare.as: "a\\ab": not a scenario name`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(minimalScenario+tc.extra))
			var problems *Problems
			if !errors.As(err, &problems) {
				t.Fatalf("err = %v, want *Problems", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

func withAs(as string, c Compare) Compare {
	c.As = as
	return c
}

func TestCompareOfARecordedScenario(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       Compare
	}{
		{"older record without a compare section", `{"name":"x","verdict":{"min_requests":1000}}`, withAs("x", DefaultCompare(1000))},
		{"recorded section", `{"verdict":{"min_requests":0},"compare":{"max_p50_increase":0.2,"max_p90_increase":0.1,"max_p99_increase":0.3,"max_error_increase":2,"max_error_rate_increase":0,"min_requests":10,"settle":"1s"}}`,
			Compare{MaxP50Increase: 0.2, MaxP90Increase: 0.1, MaxP99Increase: 0.3, MaxErrorIncrease: 2, MinRequests: 10, Settle: Duration(time.Second)}},
		{"nothing recorded", ``, DefaultCompare(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CompareOf([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("CompareOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCompareValidateForFlags(t *testing.T) {
	c := DefaultCompare(0)
	c.MaxP99Increase = -0.5
	c.MaxErrorIncrease = -2
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "compare.max_p99_increase: must be from 0% to 100%, got -50%") ||
		!strings.Contains(err.Error(), "compare.max_error_increase: must not be negative") {
		t.Errorf("Validate = %v", err)
	}
	if err := DefaultCompare(0).Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}
