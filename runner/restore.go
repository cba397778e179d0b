package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover/results"
)

// Backoff of a restore whose platform API is unreachable.
const (
	restoreBackoff    = 500 * time.Millisecond
	restoreBackoffMax = 8 * time.Second
)

// restoreState is how the restore went: attempted once, by whoever asked
// first.
type restoreState struct {
	attempted bool
	ok        bool
	abandoned bool
	err       error
}

// restoreOptions bound a restore and say where it reports.
type restoreOptions struct {
	runID    string
	timeout  time.Duration
	abandon  <-chan struct{}
	progress func(Progress)
}

// restore puts back what every service the run changed served at
// preflight, once: a second call waits for the first and keeps its
// outcome. It runs under a context of its own, bounded by o.timeout, so
// that it also happens after the run's context is cancelled; o.abandon
// gives it up. Each service is written through Platform.Restore, which
// refuses to write over a change someone else made. An unreachable API is
// retried with backoff until the timeout, with a progress line per try.
func (c *cutover) restore(ctx context.Context, why string, o restoreOptions) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rs.attempted {
		return
	}
	c.rs.attempted = true
	changed := c.rec.changedServices()
	if len(changed) == 0 {
		c.rs.ok = true
		return
	}
	if closed(o.abandon) {
		c.rs.abandoned = true
		c.rs.err = errors.New("the restore was given up: interrupted again before it started")
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.timeout)
	defer cancel()
	stop := watchAbandon(rctx, cancel, o.abandon)
	defer stop()

	c.event(results.EventRollbackStart, map[string]string{"reason": why, "traffic": c.restoreSplits()})
	var errs []error
	for _, name := range changed {
		if err := c.restoreOne(rctx, name, o); err != nil {
			errs = append(errs, err)
		}
	}
	c.rs.err = errors.Join(errs...)
	c.rs.ok = c.rs.err == nil
	if !c.rs.ok && closed(o.abandon) {
		c.rs.abandoned = true
		c.rs.err = fmt.Errorf("the restore was given up: interrupted again while it ran: %w", c.rs.err)
	}
}

// restoreOne puts one service back, retrying while its API is unreachable.
func (c *cutover) restoreOne(ctx context.Context, name string, o restoreOptions) error {
	split := pinned(c.before[name])
	started := c.now()
	wait := restoreBackoff
	for attempt := 1; ; attempt++ {
		report(o.progress, Progress{Phase: PhaseRestore, Elapsed: c.now().Sub(started), Total: o.timeout,
			Note: fmt.Sprintf("putting back %s: %s (attempt %d)", name, FormatSplit(split), attempt)})
		err := c.platforms[name].Restore(ctx, RestoreSpec{RunID: o.runID, Split: split})
		if err == nil {
			c.event(results.EventRollbackDone, map[string]string{"service": name, "traffic": FormatSplit(split)})
			report(o.progress, Progress{Phase: PhaseRestore, Elapsed: c.now().Sub(started), Total: o.timeout,
				Note: fmt.Sprintf("put back %s: %s", name, FormatSplit(split))})
			return nil
		}
		if errors.Is(err, ErrUnreachable) && ctx.Err() == nil {
			report(o.progress, Progress{Phase: PhaseRestore, Elapsed: c.now().Sub(started), Total: o.timeout,
				Note: fmt.Sprintf("%s; retrying in %s", firstLine(err.Error()), wait)})
			if sleepUntil(ctx, c.now, c.now().Add(wait)) == nil {
				wait = min(2*wait, restoreBackoffMax)
				continue
			}
		}
		c.event(results.EventRollbackFailed, map[string]string{"service": name, "error": err.Error(), "traffic": FormatSplit(split)})
		return fmt.Errorf("restore %s to %s: %w", c.before[name].Name, FormatSplit(split), err)
	}
}

// note writes how the services were left into the cutover record.
func (c *cutover) note(rc *results.Cutover) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	rc.Restored = c.rs.attempted && c.rs.ok && len(c.rec.changedServices()) > 0
	rc.RestoreError = ""
	if c.rs.err != nil {
		rc.RestoreError = firstLine(c.rs.err.Error())
	}
	switch {
	case len(c.rec.changedServices()) == 0:
		rc.Left = results.LeftUnchanged
	case rc.Restored:
		rc.Left = results.LeftRestored
	case c.rs.attempted:
		rc.Left = results.LeftNotRestored
	default:
		rc.Left = results.LeftAsSet
	}
}

// releaseClaims gives up the run's claims at the end, unless the services
// were left NOT restored: the claim then stays until it expires, so that
// `cutover restore` can prove the split is still the one this run left,
// and no other run starts over it.
func (c *cutover) releaseClaims(ctx context.Context, left string, timeout time.Duration) {
	if left == results.LeftNotRestored {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	for _, name := range c.claimed {
		if err := c.platforms[name].Release(rctx, c.rec.runID()); err != nil {
			c.event(results.EventClaimReleaseFailed, map[string]string{"service": name, "error": err.Error()})
		}
	}
}

// watchAbandon cancels ctx when abandon closes; stop ends the watch.
func watchAbandon(ctx context.Context, cancel context.CancelFunc, abandon <-chan struct{}) (stop func()) {
	if abandon == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-abandon:
			cancel()
		case <-ctx.Done():
		case <-done:
		}
	}()
	return func() { close(done) }
}

func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func report(progress func(Progress), p Progress) {
	if progress != nil {
		progress(p)
	}
}
