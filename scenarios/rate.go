package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const rateHelp = "write N/s, N/m, N/h or N/<duration>, e.g. 500/s or 10/500ms"

// ParseRate parses a rate written "N/s", "N/m", "N/h" or "N/<duration>"
// ("10/500ms"). N must be a whole number and not negative; "0/s" is a valid
// rate (a ramp may end at it), which Validate refuses where zero makes no
// sense. The per-duration must be positive.
func ParseRate(s string) (Rate, error) {
	num, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	num, per = strings.TrimSpace(num), strings.TrimSpace(per)
	if !ok || num == "" || per == "" {
		return Rate{}, fmt.Errorf("%q: not a rate; %s", s, rateHelp)
	}
	freq, err := strconv.Atoi(num)
	if err != nil {
		switch {
		case errors.Is(err, strconv.ErrRange):
			return Rate{}, fmt.Errorf("%q: rate is too large", s)
		case strings.ContainsAny(num, ".eE"):
			return Rate{}, fmt.Errorf("%q: the count must be a whole number (write 3/2s, not 1.5/s)", s)
		default:
			return Rate{}, fmt.Errorf("%q: not a rate; %s", s, rateHelp)
		}
	}
	if freq < 0 {
		return Rate{}, fmt.Errorf("%q: rate must be positive", s)
	}
	if per[0] < '0' || per[0] > '9' {
		per = "1" + per // "s" → "1s", "ms" → "1ms"
	}
	d, err := time.ParseDuration(per)
	if err != nil {
		return Rate{}, fmt.Errorf("%q: not a rate; %s", s, rateHelp)
	}
	if d <= 0 {
		return Rate{}, fmt.Errorf("%q: the time after / must be positive", s)
	}
	return Rate{Freq: freq, Per: d}, nil
}

// String returns r as written in a scenario ("500/s", "30/m", "10/500ms"),
// or "" for the zero Rate.
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	switch r.Per {
	case time.Second:
		return strconv.Itoa(r.Freq) + "/s"
	case time.Minute:
		return strconv.Itoa(r.Freq) + "/m"
	case time.Hour:
		return strconv.Itoa(r.Freq) + "/h"
	}
	return strconv.Itoa(r.Freq) + "/" + Duration(r.Per).String()
}

// UnmarshalYAML parses a rate from a YAML scalar.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a rate such as 500/s, got %s", describe(n))
	}
	v, err := ParseRate(n.Value)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes r as its String.
func (r Rate) MarshalJSON() ([]byte, error) { return jsonString(r.String()) }

// UnmarshalJSON reads a rate written as by MarshalJSON.
func (r *Rate) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode rate: %w", err)
	}
	if s == "" {
		*r = Rate{}
		return nil
	}
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// String returns d as a Go duration without trailing zero units ("15m",
// not "15m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// UnmarshalYAML parses a Go duration ("30s", "1m30s") from a YAML scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 30s, got %s", describe(n))
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q: not a duration; write a Go duration such as 30s, 1m30s or 500ms", s)
	}
	return Duration(v), nil
}

// MarshalJSON writes d as its String.
func (d Duration) MarshalJSON() ([]byte, error) { return jsonString(d.String()) }

// UnmarshalJSON reads a duration written as by MarshalJSON.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode duration: %w", err)
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// jsonString encodes s as a JSON string without HTML escaping, so that
// "p99 < 800ms" stays readable; an outer json.Marshal still escapes it.
func jsonString(s string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode %q: %w", s, err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
