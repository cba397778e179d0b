package clock

import (
	"context"
	"time"

	"github.com/cutover-dev/cutover/scenarios"
)

// Clock is the local cloud's single time base. Timestamps (Now) are
// wall-clock; every duration a Clock takes is simulated (cold start,
// TIME_WAIT, SYN retries, metric period and lag, drain) and is divided by
// the time scale before it is waited for, so a 15-minute incident replays
// in 45 s at scale 20.
//
// Nothing in the local cloud calls time.Now, time.Sleep, time.After,
// time.NewTimer or context.WithTimeout directly: it asks its Clock. A Clock
// is safe for concurrent use.
type Clock interface {
	// Now returns the wall-clock time.
	Now() time.Time
	// Wall converts a simulated duration to the wall-clock duration it takes.
	Wall(simulated time.Duration) time.Duration
	// Simulated converts a wall-clock duration to simulated time.
	Simulated(wall time.Duration) time.Duration
	// Sleep waits for a simulated duration or until ctx is done.
	Sleep(ctx context.Context, simulated time.Duration) error
	// WithTimeout returns a copy of ctx that ends with
	// context.DeadlineExceeded after a simulated duration.
	WithTimeout(ctx context.Context, simulated time.Duration) (context.Context, context.CancelFunc)
	// AfterFunc calls f in its own goroutine after a simulated duration.
	AfterFunc(simulated time.Duration, f func()) Timer
	// NewTimer fires once after a simulated duration.
	NewTimer(simulated time.Duration) Timer
	// NewTicker ticks every simulated period.
	NewTicker(simulated time.Duration) Ticker
}

// Timer is a one-shot timer of a Clock, like *time.Timer.
type Timer interface {
	// C delivers the time when the timer fires (nil for AfterFunc timers).
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
	// Reset makes the timer fire after a simulated duration; it reports
	// whether the timer had been active.
	Reset(simulated time.Duration) bool
}

// Ticker is a periodic ticker of a Clock, like *time.Ticker.
type Ticker interface {
	// C delivers the ticks.
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
}

// Scaled is the production Clock: the wall clock, with simulated durations
// divided by the time scale.
type Scaled struct {
	scale int
	now   func() time.Time
}

var _ Clock = (*Scaled)(nil)

// NewScaled returns a clock that runs simulated durations scale times
// faster than real time (scale < 1 is treated as 1). now nil means
// time.Now; a test may pass a wall clock of its own that jumps.
func NewScaled(scale int, now func() time.Time) *Scaled {
	if now == nil {
		now = time.Now
	}
	return &Scaled{scale: max(scale, 1), now: now}
}

// Now returns the wall-clock time.
func (c *Scaled) Now() time.Time { return c.now() }

// Wall converts a simulated duration to the wall-clock duration it takes.
func (c *Scaled) Wall(simulated time.Duration) time.Duration {
	return scenarios.WallDuration(simulated, c.scale)
}

// Simulated converts a wall-clock duration to simulated time.
func (c *Scaled) Simulated(wall time.Duration) time.Duration {
	return scenarios.SimulatedDuration(wall, c.scale)
}

// Sleep waits for a simulated duration or until ctx is done.
func (c *Scaled) Sleep(ctx context.Context, simulated time.Duration) error {
	t := time.NewTimer(c.Wall(simulated))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WithTimeout is context.WithTimeout with a simulated timeout.
func (c *Scaled) WithTimeout(ctx context.Context, simulated time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.Wall(simulated))
}

// AfterFunc calls f in its own goroutine after a simulated duration.
func (c *Scaled) AfterFunc(simulated time.Duration, f func()) Timer {
	return wallTimer{t: time.AfterFunc(c.Wall(simulated), f), c: c}
}

// NewTimer fires once after a simulated duration.
func (c *Scaled) NewTimer(simulated time.Duration) Timer {
	return wallTimer{t: time.NewTimer(c.Wall(simulated)), c: c}
}

// NewTicker ticks every simulated period.
func (c *Scaled) NewTicker(simulated time.Duration) Ticker {
	return wallTicker{time.NewTicker(c.Wall(simulated))}
}

// wallTimer is a *time.Timer whose Reset takes a simulated duration.
type wallTimer struct {
	t *time.Timer
	c *Scaled
}

func (w wallTimer) C() <-chan time.Time                { return w.t.C }
func (w wallTimer) Stop() bool                         { return w.t.Stop() }
func (w wallTimer) Reset(simulated time.Duration) bool { return w.t.Reset(w.c.Wall(simulated)) }

type wallTicker struct{ t *time.Ticker }

func (w wallTicker) C() <-chan time.Time { return w.t.C }
func (w wallTicker) Stop()               { w.t.Stop() }
