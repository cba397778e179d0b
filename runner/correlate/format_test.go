package correlate

import (
	"strings"
	"testing"
	"time"
)

func TestNum(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		// Counts are whole: a metric's fractional mean is rounded.
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {9340, "9,340"}, {1234567, "1,234,567"}, {-12345, "-12,345"}, {0.4, "0"}, {72.7, "73"}, {2.345678, "2"},
	}
	for _, tt := range tests {
		if got := num(tt.v); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPlural(t *testing.T) {
	tests := []struct {
		n      int64
		things string
		want   string
	}{
		{0, "errors", "0 errors"}, {1, "errors", "1 error"}, {2, "periods", "2 periods"}, {1, "periods", "1 period"},
		{1200, "requests", "1,200 requests"}, {1, "4xx responses", "1 4xx response"},
	}
	for _, tt := range tests {
		if got := plural(tt.n, tt.things); got != tt.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tt.n, tt.things, got, tt.want)
		}
	}
}

func TestPct(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0%"}, {1, "100%"}, {0.8, "80%"}, {0.0833, "8.3%"}, {0.999, "100%"},
	}
	for _, tt := range tests {
		if got := pct(tt.v); got != tt.want {
			t.Errorf("pct(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestPeriodText(t *testing.T) {
	tests := []struct {
		p    time.Duration
		want string
	}{
		{time.Minute, "60 s"}, {2 * time.Second, "2 s"}, {500 * time.Millisecond, "500ms"}, {1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := periodText(tt.p); got != tt.want {
			t.Errorf("periodText(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestGrade(t *testing.T) {
	tests := []struct {
		name    string
		co, r   float64
		lag     int
		want    string
		because string
	}{
		{"all met", 0.9, 0.8, 0, ConfidenceHigh, "≥ 80%"},
		{"all met at lag -1", 0.8, 0.6, -1, ConfidenceHigh, "lag -1"},
		{"lag 2 is too far", 0.9, 0.9, 2, ConfidenceMedium, "best lag +2 is beyond ±1"},
		{"weak correlation", 0.9, 0.4, 0, ConfidenceMedium, "correlation 0.40 < 0.60"},
		{"low co-occurrence", 0.6, 0.9, 0, ConfidenceMedium, "co-occurrence 60% < 80%"},
		{"neither", 0.3, 0.1, 0, ConfidenceLow, "co-occurrence 30% < 80%, correlation 0.10 < 0.60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			level, why := grade(tt.co, tt.r, tt.lag)
			if level != tt.want || !strings.Contains(why, tt.because) {
				t.Errorf("grade = %s, %q; want %s, saying %q", level, why, tt.want, tt.because)
			}
		})
	}
}

func TestRevisionRemedy(t *testing.T) {
	tests := []struct {
		msg   string
		about bool
		want  string
	}{
		{`revision "api-00002" failed: Image 'r/api@sha256:abc' not found`, true, "image that exists"},
		{`CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref r@sha256:x: not found`, true, "Keep more images"},
		{`revision "api-00002" failed: the user-provided container failed the configured startup probe checks`, true, "startup probe"},
		{`deploy to service "api": quota exceeded for cpu`, true, "quota"},
		{`revision "x" failed: something odd`, true, "conditions and logs"},
		{`set traffic on service "api": permission denied`, false, ""},
	}
	for _, tt := range tests {
		if got := aboutRevision(tt.msg); got != tt.about {
			t.Errorf("aboutRevision(%q) = %v, want %v", tt.msg, got, tt.about)
		}
		if !tt.about {
			continue
		}
		if got := strings.Join(revisionRemedy(tt.msg), " "); !strings.Contains(got, tt.want) {
			t.Errorf("revisionRemedy(%q) = %q, want it to say %q", tt.msg, got, tt.want)
		}
	}
}
