package scenarios

import (
	"encoding/json"
	"fmt"
	"time"
)

// Compare holds the regression limits `cutover compare` judges a head run
// against its base by: the scenario's compare section. A difference is a
// regression only when it is statistically significant and beyond its
// limit; package compare says how each is tested.
type Compare struct {
	// As is the name runs of this scenario are compared under: compare
	// refuses runs of different scenarios, and a variant of a scenario
	// (its fix, a change made in a pull request) says the name of the
	// scenario it varies to be compared with its runs. Default: the
	// scenario's name.
	As string `yaml:"as" json:"as,omitempty"`
	// MaxP50Increase, MaxP90Increase and MaxP99Increase are the largest
	// relative increases of the head's latency quantiles over the base's
	// that are not a regression (0.1 for 10%), overall and in the cutover
	// window. Default 10% each.
	MaxP50Increase float64 `yaml:"max_p50_increase,fraction" json:"max_p50_increase"`
	MaxP90Increase float64 `yaml:"max_p90_increase,fraction" json:"max_p90_increase"`
	MaxP99Increase float64 `yaml:"max_p99_increase,fraction" json:"max_p99_increase"`
	// MaxErrorIncrease is how many errors inside the cutover window the
	// head may have beyond the errors expected at the base's error rate
	// there (base rate × head's requests in its window). Default 0.
	MaxErrorIncrease int64 `yaml:"max_error_increase" json:"max_error_increase"`
	// MaxErrorRateIncrease is the largest increase of the whole run's error
	// rate, in absolute terms (0.001 for 0.1 percentage points), that is
	// not a regression. Default 0.
	MaxErrorRateIncrease float64 `yaml:"max_error_rate_increase,fraction" json:"max_error_rate_increase"`
	// MinRequests is the fewest requests each run must have for a
	// comparison to conclude; fewer make it inconclusive. Default: the
	// larger of DefaultCompareMinRequests and verdict.min_requests.
	MinRequests int64 `yaml:"min_requests" json:"min_requests"`
	// Settle extends the cutover window past its last event (the last
	// revision-ready or traffic-applied): errors of a cutover often follow
	// it. Wall-clock time. Default 30s.
	Settle Duration `yaml:"settle" json:"settle"`
}

// Defaults of the compare section.
const (
	// DefaultCompareMaxLatencyIncrease is the default of each
	// max_pNN_increase.
	DefaultCompareMaxLatencyIncrease = 0.10
	// DefaultCompareMinRequests is the fewest requests a comparison rests
	// on when neither the compare nor the verdict section asks for more:
	// below it a two-proportion test cannot see even a 3% error rate
	// against zero errors (Fisher's exact p ≥ 0.05 for 0 of 100 vs 3 of 100).
	DefaultCompareMinRequests = 100
	// DefaultCompareSettle is the default of compare.settle.
	DefaultCompareSettle = 30 * time.Second
	// maxCompareAs bounds compare.as.
	maxCompareAs = 256
	// maxCompareSettle bounds compare.settle.
	maxCompareSettle = time.Hour
)

// DefaultCompare returns the compare section a scenario with none gets,
// under a verdict section asking for minRequests.
func DefaultCompare(minRequests int64) Compare {
	c := compareDefaults()
	resolveCompare(&c, "", minRequests)
	return c
}

// compareDefaults returns the compare section's defaults that do not
// depend on the rest of the scenario.
func compareDefaults() Compare {
	return Compare{
		MaxP50Increase: DefaultCompareMaxLatencyIncrease,
		MaxP90Increase: DefaultCompareMaxLatencyIncrease,
		MaxP99Increase: DefaultCompareMaxLatencyIncrease,
		Settle:         Duration(DefaultCompareSettle),
	}
}

// resolveCompare gives the compare section's unset keys that depend on
// the rest of the scenario their defaults: as is the scenario's name,
// min_requests the larger of DefaultCompareMinRequests and the verdict's.
func resolveCompare(c *Compare, name string, verdictMin int64) {
	if c.As == "" {
		c.As = name
	}
	if c.MinRequests == 0 {
		c.MinRequests = max(DefaultCompareMinRequests, verdictMin)
	}
}

// CompareOf returns the compare section of a scenario as a run record
// holds it (the resolved scenario, as JSON): the section it recorded, or
// for a record written before compare sections existed, DefaultCompare
// under its verdict's min_requests, compared as the scenario's name.
func CompareOf(scenarioJSON []byte) (Compare, error) {
	var rec struct {
		Name    string `json:"name"`
		Verdict struct {
			MinRequests int64 `json:"min_requests"`
		} `json:"verdict"`
		Compare *Compare `json:"compare"`
	}
	if len(scenarioJSON) > 0 {
		if err := json.Unmarshal(scenarioJSON, &rec); err != nil {
			return Compare{}, fmt.Errorf("read the compare section of the recorded scenario: %w", err)
		}
	}
	if rec.Compare == nil {
		rec.Compare = &Compare{}
		*rec.Compare = compareDefaults()
	}
	resolveCompare(rec.Compare, rec.Name, rec.Verdict.MinRequests)
	return *rec.Compare, nil
}

// ParsePercent parses a limit written as a percentage (10%) or a fraction
// (0.1), from 0% to 100%, as the compare section's keys are: for flags
// that override them.
func ParsePercent(s string) (float64, error) { return parseFraction(s) }

// Validate returns every problem of c as a *Problems (paths under
// compare), or nil: for limits changed after parsing (by flags).
func (c Compare) Validate() error {
	v := &validator{}
	v.compare(&c)
	return problemsError(v.problems)
}

func (v *validator) compare(c *Compare) {
	for _, f := range []struct {
		path string
		val  float64
	}{
		{"compare.max_p50_increase", c.MaxP50Increase},
		{"compare.max_p90_increase", c.MaxP90Increase},
		{"compare.max_p99_increase", c.MaxP99Increase},
		{"compare.max_error_rate_increase", c.MaxErrorRateIncrease},
	} {
		if f.val < 0 || f.val > 1 {
			v.addf(f.path, "must be from 0%% to 100%%, got %s", formatPercent(f.val))
		}
	}
	v.intIn("compare.max_error_increase", c.MaxErrorIncrease, 0, maxCount, "")
	v.intIn("compare.min_requests", c.MinRequests, 0, maxCount, "")
	v.durationIn("compare.settle", c.Settle, 0, maxCompareSettle)
	if len(c.As) > maxCompareAs || Printable(c.As) != c.As {
		v.addf("compare.as", "%q: not a scenario name (printable text of at most %d bytes)", Printable(c.As), maxCompareAs)
	}
}
