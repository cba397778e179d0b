package load

import (
	"fmt"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/scenarios"
)

// RampPacer paces the open model through piecewise linear ramps: the rate
// starts at the start rate and moves linearly to each stage's rate over that
// stage's length; after the last stage it holds the last rate.
//
// Hit k (counting from 1) is due at the time t where the integral of the
// rate from 0 to t reaches k, so over [0, t] the attack sends
// floor(Hits(t)) hits when it keeps up. A RampPacer is immutable and safe
// for concurrent use.
type RampPacer struct {
	segs []rampSegment
	// after the last segment: from time end, hits at end, constant rate.
	end, endHits, endRate float64
}

// rampSegment is one linear piece: from t0 (seconds) for dur seconds, the
// rate goes from r0 with slope (hits/s²); h0 hits are due before t0.
type rampSegment struct {
	t0, dur, r0, slope, h0 float64
}

// RampPacer satisfies vegeta.Pacer.
var _ vegeta.Pacer = (*RampPacer)(nil)

// NewRampPacer returns the pacer for a start rate and stages. Stages of zero
// length are steps: the rate jumps to their rate.
func NewRampPacer(start scenarios.Rate, stages []scenarios.Stage) *RampPacer {
	p := &RampPacer{}
	t, h, r := 0.0, 0.0, start.PerSecond()
	for _, st := range stages {
		dur := st.For.D().Seconds()
		next := st.Rate.PerSecond()
		if dur <= 0 {
			r = next
			continue
		}
		slope := (next - r) / dur
		p.segs = append(p.segs, rampSegment{t0: t, dur: dur, r0: r, slope: slope, h0: h})
		h += r*dur + slope*dur*dur/2
		t += dur
		r = next
	}
	p.end, p.endHits, p.endRate = t, h, r
	return p
}

// String describes the pacer for logs.
func (p *RampPacer) String() string {
	return fmt.Sprintf("Ramp{%d stages, %.6g hits by %.6gs, then %.6g/s}", len(p.segs), p.endHits, p.end, p.endRate)
}

// Hits returns how many hits are due by elapsed: the integral of the rate.
func (p *RampPacer) Hits(elapsed time.Duration) float64 {
	x := elapsed.Seconds()
	if x <= 0 {
		return 0
	}
	for _, s := range p.segs {
		if x < s.t0+s.dur {
			tau := x - s.t0
			return s.h0 + s.r0*tau + s.slope*tau*tau/2
		}
	}
	return p.endHits + p.endRate*(x-p.end)
}

// Rate returns the instantaneous rate in hits per second at elapsed.
func (p *RampPacer) Rate(elapsed time.Duration) float64 {
	x := elapsed.Seconds()
	for _, s := range p.segs {
		if x < s.t0+s.dur {
			return s.r0 + s.slope*math.Max(x-s.t0, 0)
		}
	}
	return p.endRate
}

// Pace returns how long to wait before the next hit, given the elapsed time
// and the hits sent so far. A pacer that is behind returns 0 (send now);
// when the rate stays zero forever it returns stop.
func (p *RampPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if float64(hits) < math.Floor(p.Hits(elapsed)) {
		return 0, false
	}
	due, ok := p.timeOf(float64(hits + 1))
	if !ok {
		return 0, true
	}
	wait := time.Duration(math.Ceil(due*1e9)) - elapsed
	if wait < 0 {
		wait = 0
	}
	return wait, false
}

// timeOf returns the time in seconds at which hit number k is due, solving
// h0 + r0·τ + slope·τ²/2 = k in the segment that reaches k; ok is false when
// no time ever reaches k.
func (p *RampPacer) timeOf(k float64) (float64, bool) {
	for _, s := range p.segs {
		segHits := s.r0*s.dur + s.slope*s.dur*s.dur/2
		if k > s.h0+segHits {
			continue
		}
		d := k - s.h0
		if d <= 0 {
			return s.t0, true
		}
		// τ = (−r0 + √(r0² + 2·slope·d)) / slope, written without the
		// cancellation and valid for slope = 0 and slope < 0.
		disc := math.Max(s.r0*s.r0+2*s.slope*d, 0)
		den := s.r0 + math.Sqrt(disc)
		if den <= 0 {
			continue
		}
		return s.t0 + math.Min(2*d/den, s.dur), true
	}
	if p.endRate <= 0 {
		return 0, false
	}
	return p.end + math.Max(k-p.endHits, 0)/p.endRate, true
}

// limitPacer stops an attack after a fixed number of hits; tests and
// benchmarks use it to send an exact count.
type limitPacer struct {
	vegeta.Pacer
	limit uint64
}

// Pace stops once limit hits were sent and defers to the wrapped pacer
// before that.
func (p limitPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits >= p.limit {
		return 0, true
	}
	return p.Pacer.Pace(elapsed, hits)
}
