package clock

import (
	"context"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/scenarios"
)

// Fake is a Clock for unit tests: its time moves only when the test calls
// Advance, and the timers that fall due fire then, in order of their due
// time (ties in order of creation). AfterFunc functions run in the
// goroutine that calls Advance, before Advance moves past their time, so a
// test sees their effects as soon as Advance returns; timer and ticker
// channels receive without blocking, like time's. A Fake is safe for
// concurrent use.
type Fake struct {
	scale int

	mu       sync.Mutex
	now      time.Time
	seq      uint64
	pending  []*fakeTimer // active timers, unordered
	watchers []fakeWatcher
}

var _ Clock = (*Fake)(nil)

type fakeWatcher struct {
	cond func() bool // called with mu held
	done chan struct{}
}

// NewFake returns a fake clock at start whose durations convert at time
// scale scale (scale < 1 is treated as 1): Advance takes wall-clock time.
func NewFake(start time.Time, scale int) *Fake {
	return &Fake{scale: max(scale, 1), now: start}
}

// Now returns the fake wall-clock time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Wall converts a simulated duration to wall-clock time at the fake's scale.
func (f *Fake) Wall(simulated time.Duration) time.Duration {
	return scenarios.WallDuration(simulated, f.scale)
}

// Simulated converts a wall-clock duration to simulated time.
func (f *Fake) Simulated(wall time.Duration) time.Duration {
	return scenarios.SimulatedDuration(wall, f.scale)
}

// Sleep waits until the fake time has advanced by the simulated duration,
// or ctx is done.
func (f *Fake) Sleep(ctx context.Context, simulated time.Duration) error {
	t := f.NewTimer(simulated)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// WithTimeout returns a copy of ctx that ends with context.DeadlineExceeded
// once the fake time has advanced by the simulated duration. It reports no
// Deadline, so a real dial under it is not bounded by fake time.
func (f *Fake) WithTimeout(ctx context.Context, simulated time.Duration) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancelCause(ctx)
	t := f.AfterFunc(simulated, func() { cancel(context.DeadlineExceeded) })
	return fakeDeadlineCtx{cctx}, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// fakeDeadlineCtx reports its fake deadline as context.DeadlineExceeded.
type fakeDeadlineCtx struct{ context.Context }

func (c fakeDeadlineCtx) Err() error {
	if err := c.Context.Err(); err == nil || context.Cause(c.Context) != context.DeadlineExceeded {
		return err
	}
	return context.DeadlineExceeded
}

// AfterFunc calls f during the Advance that reaches the simulated duration
// (a duration ≤ 0 calls it at once, in its own goroutine).
func (f *Fake) AfterFunc(simulated time.Duration, fn func()) Timer {
	return f.add(simulated, 0, fn)
}

// NewTimer fires once the fake time has advanced by the simulated duration
// (at once for a duration ≤ 0).
func (f *Fake) NewTimer(simulated time.Duration) Timer {
	return f.add(simulated, 0, nil)
}

// NewTicker ticks every simulated period of fake time.
func (f *Fake) NewTicker(simulated time.Duration) Ticker {
	if simulated <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return fakeTicker{f.add(simulated, simulated, nil)}
}

// fakeTicker is a periodic fakeTimer.
type fakeTicker struct{ t *fakeTimer }

func (k fakeTicker) C() <-chan time.Time { return k.t.ch }
func (k fakeTicker) Stop()               { k.t.Stop() }

// Waiters returns how many timers, tickers, sleeps and timeouts are pending.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending)
}

// WhenWaiters returns a channel closed once at least n timers are pending:
// a test waits on it (with whatever else may happen instead) to know that
// the code under test has parked before it calls Advance.
func (f *Fake) WhenWaiters(n int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watchLocked(func() bool { return len(f.pending) >= n })
}

// WhenDue returns a channel closed once a timer due exactly at wall-clock
// time at is pending: a test waits on it to know that the code under test
// has parked until then.
func (f *Fake) WhenDue(at time.Time) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watchLocked(func() bool {
		for _, t := range f.pending {
			if t.when.Equal(at) {
				return true
			}
		}
		return false
	})
}

func (f *Fake) watchLocked(cond func() bool) <-chan struct{} {
	w := fakeWatcher{cond: cond, done: make(chan struct{})}
	f.watchers = append(f.watchers, w)
	f.notifyLocked()
	return w.done
}

// Advance moves the fake time forward by wall, firing every timer that
// falls due on the way, in order.
func (f *Fake) Advance(wall time.Duration) {
	f.mu.Lock()
	target := f.now.Add(wall)
	f.mu.Unlock()
	for f.fireNext(target) {
	}
}

// AdvanceToNext moves the fake time to the earliest pending timer and fires
// every timer due then. It reports false, and does nothing, when no timer
// is pending.
func (f *Fake) AdvanceToNext() bool {
	f.mu.Lock()
	next := f.earliestLocked()
	f.mu.Unlock()
	if next == nil {
		return false
	}
	for f.fireNext(next.when) {
	}
	return true
}

// fireNext fires the earliest timer due by target and reports true, or
// moves the time to target and reports false when none is due.
func (f *Fake) fireNext(target time.Time) bool {
	f.mu.Lock()
	t := f.earliestLocked()
	if t == nil || t.when.After(target) {
		if target.After(f.now) {
			f.now = target
		}
		f.mu.Unlock()
		return false
	}
	f.now = t.when
	if t.period > 0 {
		t.when = t.when.Add(f.Wall(t.period))
	} else {
		f.removeLocked(t)
	}
	now := f.now
	f.mu.Unlock()
	t.fire(now)
	return true
}

func (f *Fake) earliestLocked() *fakeTimer {
	var first *fakeTimer
	for _, t := range f.pending {
		if first == nil || t.when.Before(first.when) || t.when.Equal(first.when) && t.seq < first.seq {
			first = t
		}
	}
	return first
}

func (f *Fake) add(simulated, period time.Duration, fn func()) *fakeTimer {
	t := &fakeTimer{f: f, fn: fn, period: period}
	if fn == nil {
		t.ch = make(chan time.Time, 1)
	}
	t.Reset(simulated)
	return t
}

// removeLocked takes t off the pending list and reports whether it was on it.
func (f *Fake) removeLocked(t *fakeTimer) bool {
	for i, p := range f.pending {
		if p == t {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			return true
		}
	}
	return false
}

// notifyLocked closes the watchers whose condition holds.
func (f *Fake) notifyLocked() {
	kept := f.watchers[:0]
	for _, w := range f.watchers {
		if w.cond() {
			close(w.done)
			continue
		}
		kept = append(kept, w)
	}
	f.watchers = kept
}

// fakeTimer is a Timer and a Ticker of a Fake.
type fakeTimer struct {
	f      *Fake
	fn     func()
	ch     chan time.Time
	period time.Duration // > 0 for a ticker
	when   time.Time
	seq    uint64
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.f.removeLocked(t)
}

func (t *fakeTimer) Reset(simulated time.Duration) bool {
	f := t.f
	f.mu.Lock()
	active := f.removeLocked(t)
	if simulated <= 0 && t.period == 0 {
		now := f.now
		f.mu.Unlock()
		if t.fn != nil {
			go t.fn()
		} else {
			t.fire(now)
		}
		return active
	}
	f.seq++
	t.seq = f.seq
	t.when = f.now.Add(f.Wall(simulated))
	f.pending = append(f.pending, t)
	f.notifyLocked()
	f.mu.Unlock()
	return active
}

func (t *fakeTimer) fire(now time.Time) {
	if t.fn != nil {
		t.fn()
		return
	}
	select {
	case t.ch <- now:
	default:
	}
}
