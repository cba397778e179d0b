package localcloud

import (
	"context"
	"time"
)

// Clock is the local cloud's single time base. Timestamps are wall-clock;
// every simulated duration (cold start, TIME_WAIT, SYN retries, metric
// period and lag, drain) is divided by the time scale before it is waited
// for, so a 15-minute incident replays in 45 s at scale 20.
//
// Nothing else in localcloud calls time.Now, time.Sleep, time.After or
// time.NewTimer directly. A Clock is safe for concurrent use.
type Clock struct {
	scale float64
	now   func() time.Time
}

// NewClock returns a clock that runs simulated durations scale times faster
// than real time (scale < 1 is treated as 1). now nil means time.Now.
func NewClock(scale float64, now func() time.Time) *Clock {
	if scale < 1 {
		scale = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Clock{scale: scale, now: now}
}

// Scale returns the time scale.
func (c *Clock) Scale() float64 { return c.scale }

// Now returns the wall-clock time.
func (c *Clock) Now() time.Time { return c.now() }

// Wall converts a simulated duration to the wall-clock duration it takes.
func (c *Clock) Wall(simulated time.Duration) time.Duration {
	return time.Duration(float64(simulated) / c.scale)
}

// Simulated converts a wall-clock duration to simulated time.
func (c *Clock) Simulated(wall time.Duration) time.Duration {
	return time.Duration(float64(wall) * c.scale)
}

// Sleep waits for a simulated duration or until ctx is done.
func (c *Clock) Sleep(ctx context.Context, simulated time.Duration) error {
	t := time.NewTimer(c.Wall(simulated))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// AfterFunc calls f in its own goroutine after a simulated duration.
func (c *Clock) AfterFunc(simulated time.Duration, f func()) *time.Timer {
	return time.AfterFunc(c.Wall(simulated), f)
}

// NewTicker ticks every simulated period.
func (c *Clock) NewTicker(simulated time.Duration) *time.Ticker {
	return time.NewTicker(c.Wall(simulated))
}

// NewTimer fires once after a simulated duration.
func (c *Clock) NewTimer(simulated time.Duration) *time.Timer {
	return time.NewTimer(c.Wall(simulated))
}
