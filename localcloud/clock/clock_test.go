package clock

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScaledConverts(t *testing.T) {
	c := NewScaled(20, func() time.Time { return epoch })
	if got := c.Wall(15 * time.Minute); got != 45*time.Second {
		t.Errorf("Wall(15m) = %v, want 45s", got)
	}
	if got := c.Simulated(3 * time.Second); got != time.Minute {
		t.Errorf("Simulated(3s) = %v, want 1m", got)
	}
	if got := NewScaled(0, nil).Wall(time.Second); got != time.Second {
		t.Errorf("scale 0: Wall(1s) = %v, want 1s", got)
	}
	if !c.Now().Equal(epoch) {
		t.Errorf("Now() = %v, want the now func's", c.Now())
	}
}

func TestFakeFiresInOrder(t *testing.T) {
	f := NewFake(epoch, 10)
	var order []string
	f.AfterFunc(30*time.Second, func() { order = append(order, "30s") })
	f.AfterFunc(10*time.Second, func() { order = append(order, "10s") })
	stopped := f.AfterFunc(20*time.Second, func() { order = append(order, "20s") })
	timer := f.NewTimer(20 * time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	if got := f.Waiters(); got != 3 {
		t.Fatalf("Waiters() = %d, want 3", got)
	}
	f.Advance(2 * time.Second) // 20 s simulated at scale 10
	if !slices.Equal(order, []string{"10s"}) {
		t.Errorf("after 2 s: fired %v, want [10s]", order)
	}
	select {
	case at := <-timer.C():
		if !at.Equal(epoch.Add(2 * time.Second)) {
			t.Errorf("timer fired at %v, want epoch+2s", at)
		}
	default:
		t.Error("timer due at 2 s has not fired")
	}
	if !f.AdvanceToNext() || !slices.Equal(order, []string{"10s", "30s"}) {
		t.Errorf("after AdvanceToNext: fired %v, want [10s 30s]", order)
	}
	if f.AdvanceToNext() {
		t.Error("AdvanceToNext with nothing pending = true")
	}
	if got := f.Now(); !got.Equal(epoch.Add(3 * time.Second)) {
		t.Errorf("Now() = %v, want epoch+3s", got)
	}
}

func TestFakeTickerAndReset(t *testing.T) {
	f := NewFake(epoch, 1)
	tk := f.NewTicker(time.Second)
	defer tk.Stop()
	ticks := 0
	for range 3 {
		f.Advance(time.Second)
		select {
		case <-tk.C():
			ticks++
		default:
		}
	}
	if ticks != 3 {
		t.Errorf("ticks = %d, want 3", ticks)
	}
	tm := f.NewTimer(time.Second)
	if !tm.Reset(5 * time.Second) {
		t.Error("Reset of an active timer = false")
	}
	f.Advance(4 * time.Second)
	select {
	case <-tm.C():
		t.Error("reset timer fired early")
	default:
	}
	f.Advance(time.Second)
	select {
	case <-tm.C():
	default:
		t.Error("reset timer did not fire at 5 s")
	}
}

func TestFakeSleepAndTimeout(t *testing.T) {
	f := NewFake(epoch, 1)
	ctx, cancel := f.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok := ctx.Deadline(); ok {
		t.Error("a fake timeout reports a real deadline")
	}
	slept := make(chan error, 1)
	go func() { slept <- f.Sleep(ctx, time.Minute) }()
	<-f.WhenWaiters(2) // the timeout and the sleep
	f.Advance(10 * time.Second)
	if err := <-slept; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep past the timeout = %v, want DeadlineExceeded", err)
	}
	if err := ctx.Err(); err != context.DeadlineExceeded {
		t.Errorf("ctx.Err() = %v, want DeadlineExceeded", err)
	}

	ctx2, cancel2 := f.WithTimeout(context.Background(), time.Second)
	cancel2()
	if err := ctx2.Err(); err != context.Canceled {
		t.Errorf("cancelled ctx.Err() = %v, want Canceled", err)
	}
	if got := f.Waiters(); got != 0 {
		t.Errorf("Waiters() after cancel = %d, want 0", got)
	}
}
