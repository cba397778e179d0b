package load

import (
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/scenarios"
)

// simulate runs vegeta's pacing loop (lib/attack.go) on a virtual clock
// that advances by exactly the waits the pacer asks for, and returns the
// send time of every hit.
func simulate(p vegeta.Pacer, du time.Duration) []time.Duration {
	var sent []time.Duration
	var elapsed time.Duration
	for {
		if du > 0 && elapsed > du {
			return sent
		}
		wait, stop := p.Pace(elapsed, uint64(len(sent)))
		if stop {
			return sent
		}
		elapsed += wait
		sent = append(sent, elapsed)
	}
}

func stage(d time.Duration, rate int) scenarios.Stage {
	return scenarios.Stage{For: scenarios.Duration(d), Rate: perSecond(rate)}
}

func TestRampPacerHitCounts(t *testing.T) {
	tests := []struct {
		name       string
		start      scenarios.Rate
		stages     []scenarios.Stage
		du         time.Duration
		want       float64 // hits due by du: the integral of the rate
		stopsEarly bool
	}{
		{"ramp 100 to 500 over 10s", perSecond(100), []scenarios.Stage{stage(10*time.Second, 500)}, 10 * time.Second, 3000, false},
		{"constant 500 for 10s", perSecond(500), []scenarios.Stage{stage(10*time.Second, 500)}, 10 * time.Second, 5000, false},
		{"from zero", scenarios.Rate{}, []scenarios.Stage{stage(10*time.Second, 100)}, 10 * time.Second, 500, false},
		{"per minute", scenarios.Rate{Freq: 60, Per: time.Minute}, []scenarios.Stage{stage(10*time.Second, 3)}, 10 * time.Second, 20, false},
		{"up, hold, down to zero", scenarios.Rate{}, []scenarios.Stage{
			stage(5*time.Second, 200), stage(5*time.Second, 200), stage(5*time.Second, 0),
		}, 30 * time.Second, 2000, true},
		{"holds last rate after the stages", perSecond(100), []scenarios.Stage{stage(time.Second, 100)}, 3 * time.Second, 300, false},
		{"zero-length stage is a step", perSecond(100), []scenarios.Stage{stage(0, 300), stage(2*time.Second, 300)}, 2 * time.Second, 600, false},
		{"cut short by duration", perSecond(0), []scenarios.Stage{stage(10*time.Second, 1000)}, 5 * time.Second, 1250, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewRampPacer(tt.start, tt.stages)
			if got := p.Hits(tt.du); math.Abs(got-tt.want) > 1e-6 {
				t.Fatalf("Hits(%v) = %v, want %v", tt.du, got, tt.want)
			}
			sent := simulate(p, tt.du)
			// vegeta checks the duration before sleeping, so the hit due
			// exactly at du is sent too: floor(want) or floor(want)+1.
			n := float64(len(sent))
			if n < math.Floor(tt.want) || n > math.Floor(tt.want)+1 {
				t.Errorf("sent %d hits in %v, want %v (+1)", len(sent), tt.du, tt.want)
			}
			if tt.stopsEarly && sent[len(sent)-1] > tt.du {
				t.Errorf("last hit at %v, after the duration", sent[len(sent)-1])
			}
			for i, at := range sent {
				// hit i+1 is sent when i+1 hits are due, to the nanosecond.
				if due := p.Hits(at); due < float64(i+1)-1e-6 || p.Hits(at-time.Nanosecond) > float64(i+1)+1e-6 {
					t.Fatalf("hit %d sent at %v with %v hits due", i+1, at, due)
				}
				if i > 0 && at < sent[i-1] {
					t.Fatalf("hit %d at %v before hit %d at %v", i+1, at, i, sent[i-1])
				}
			}
		})
	}
}

func TestRampPacerFirstHitFromZero(t *testing.T) {
	// rate 10t/s: hits(t) = 5t², so the first hit is due at √(1/5) s.
	p := NewRampPacer(scenarios.Rate{}, []scenarios.Stage{stage(10*time.Second, 100)})
	wait, stop := p.Pace(0, 0)
	want := time.Duration(math.Sqrt(0.2) * 1e9)
	if stop || wait < want-time.Microsecond || wait > want+time.Microsecond {
		t.Errorf("Pace(0, 0) = %v, %v; want %v, false", wait, stop, want)
	}
}

func TestRampPacerCatchesUp(t *testing.T) {
	p := NewRampPacer(perSecond(100), []scenarios.Stage{stage(10*time.Second, 500)})
	// At 5s, 1000 hits are due; a pacer 100 hits behind sends at once.
	if wait, stop := p.Pace(5*time.Second, 900); wait != 0 || stop {
		t.Errorf("Pace behind = %v, %v; want 0, false", wait, stop)
	}
	// Just ahead: the next hit waits for its due time.
	if wait, _ := p.Pace(5*time.Second, 1000); wait <= 0 || wait > 4*time.Millisecond {
		t.Errorf("Pace on schedule = %v; want one interval at 300/s (3.3ms)", wait)
	}
}

func TestRampPacerRate(t *testing.T) {
	p := NewRampPacer(perSecond(100), []scenarios.Stage{stage(10*time.Second, 500), stage(10*time.Second, 100)})
	for _, tt := range []struct {
		at   time.Duration
		want float64
	}{{0, 100}, {5 * time.Second, 300}, {10 * time.Second, 500}, {15 * time.Second, 300}, {25 * time.Second, 100}} {
		if got := p.Rate(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Rate(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestLimitPacerStops(t *testing.T) {
	sent := simulate(limitPacer{Pacer: vegeta.ConstantPacer{Freq: 1000, Per: time.Second}, limit: 7}, time.Minute)
	if len(sent) != 7 {
		t.Errorf("sent %d hits, want 7", len(sent))
	}
}
