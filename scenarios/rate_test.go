package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantErr string // a substring of the error; "" for none
		str     string // String of the result
	}{
		{in: "500/s", want: Rate{500, time.Second}, str: "500/s"},
		{in: "30/m", want: Rate{30, time.Minute}, str: "30/m"},
		{in: "2/h", want: Rate{2, time.Hour}, str: "2/h"},
		{in: "10/500ms", want: Rate{10, 500 * time.Millisecond}, str: "10/500ms"},
		{in: "1/ms", want: Rate{1, time.Millisecond}, str: "1/1ms"},
		{in: "60/1m", want: Rate{60, time.Minute}, str: "60/m"},
		{in: "5/90s", want: Rate{5, 90 * time.Second}, str: "5/1m30s"},
		{in: " 7 / s ", want: Rate{7, time.Second}, str: "7/s"},
		{in: "0/s", want: Rate{0, time.Second}, str: "0/s"},
		{in: "-5/s", wantErr: `"-5/s": rate must be positive`},
		{in: "500", wantErr: `"500": not a rate; write N/s`},
		{in: "fast", wantErr: "not a rate"},
		{in: "/s", wantErr: "not a rate"},
		{in: "5/", wantErr: "not a rate"},
		{in: "5/parsec", wantErr: "not a rate"},
		{in: "1.5/s", wantErr: "whole number"},
		{in: "99999999999999999999/s", wantErr: "too large"},
		{in: "10/0s", wantErr: "the time after / must be positive"},
		{in: "10/-1s", wantErr: "not a rate"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRate(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			again, err := ParseRate(got.String())
			if err != nil || again != got {
				t.Errorf("ParseRate(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestRatePerSecond(t *testing.T) {
	tests := []struct {
		r    Rate
		want float64
	}{
		{Rate{500, time.Second}, 500},
		{Rate{30, time.Minute}, 0.5},
		{Rate{10, 500 * time.Millisecond}, 20},
		{Rate{}, 0},
	}
	for _, tt := range tests {
		if got := tt.r.PerSecond(); got != tt.want {
			t.Errorf("%v.PerSecond() = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	tests := map[time.Duration]string{
		0:                                 "0s",
		500 * time.Millisecond:            "500ms",
		30 * time.Second:                  "30s",
		90 * time.Second:                  "1m30s",
		15 * time.Minute:                  "15m",
		time.Hour:                         "1h",
		time.Hour + 30*time.Minute:        "1h30m",
		time.Hour + time.Second:           "1h0m1s",
		-2 * time.Minute:                  "-2m",
		time.Hour + 1500*time.Millisecond: "1h0m1.5s",
	}
	for d, want := range tests {
		got := Duration(d).String()
		if got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		back, err := time.ParseDuration(got)
		if err != nil || back != d {
			t.Errorf("time.ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}

func TestLeafJSON(t *testing.T) {
	type leaves struct {
		R Rate
		D Duration
		T Threshold
		Z Rate `json:",omitzero"`
	}
	in := leaves{R: Rate{10, 500 * time.Millisecond}, D: Duration(15 * time.Minute),
		T: Threshold{Expr: "error_rate < 0.1%", Metric: "error_rate", Op: "<", Value: 0.001}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"R":"10/500ms","D":"15m","T":"error_rate \u003c 0.1%"}`; string(data) != want {
		t.Errorf("json.Marshal = %s, want %s", data, want)
	}
	var out leaves
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	for _, bad := range []string{`{"R":"fast"}`, `{"D":"soon"}`, `{"T":"p999 < 1s"}`, `{"R":5}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("json.Unmarshal(%s) succeeded, want an error", bad)
		}
	}
}
