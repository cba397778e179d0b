package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/load"
)

// errBrakeObserved stops the load once the abort brake has tripped and the
// recovery was watched for verdict.observe_after_abort: the run goes on to
// judge, it did not fail.
var errBrakeObserved = errors.New("abort brake tripped; recovery observed")

// drive is the step that sends the load and, beside it on the same clock,
// carries out the actions: an action at 20s starts 20 s after the load
// did. The actions stop when the load stops, for whatever reason, and
// before drive returns; nothing changes a service after the load.
func (r *run) drive(ctx context.Context) {
	dctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	actx, stopActions := context.WithCancel(dctx)
	defer stopActions()

	// stopWith ends the drive early, the first cause winning; once the
	// drive is over it does nothing (a late timer, a late save).
	var (
		mu   sync.Mutex
		over bool
	)
	stopWith := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if over || r.stopped != nil {
			return
		}
		r.stopped = err
		stop(err)
	}
	saver := r.startSaver(dctx, stopWith)
	defer saver.stop()

	g := newGate()
	w := &watch{r: r, gate: g, brake: newBrake(r.sc), stopActions: stopActions, stopWith: stopWith}
	var acting sync.WaitGroup
	w.acting = &acting
	if r.cut != nil {
		acting.Add(1)
		go func() {
			defer acting.Done()
			defer func() {
				if p := recover(); p != nil {
					stopWith(panicked(p))
				}
			}()
			r.runActions(actx, g)
		}()
	} else {
		g.open()
	}

	r.loadStart = r.now()
	w.start = r.loadStart
	var grid time.Duration
	if r.opts.Metrics != nil && r.sc.Metrics.Enabled {
		grid = r.sc.Wall(r.sc.Metrics.Period)
	}
	r.sum, r.loadErr = load.Run(dctx, load.Options{
		Load:       r.sc.Load,
		BaseURL:    r.sc.Target.URL,
		Results:    recordSink{r.w},
		OnWindow:   w.window,
		Now:        r.now,
		GridPeriod: grid,
	})
	r.loadEnd = r.now()
	r.ctxDone = ctx.Err() != nil
	stopActions()
	acting.Wait()
	w.wait()
	mu.Lock()
	over = true
	mu.Unlock()
}

// runActions waits for the gate (the target answered), then carries out
// the actions; a failed action is restored at once when the policy says
// so, while the load still runs, so the clients' recovery is measured.
func (r *run) runActions(ctx context.Context, g *gate) {
	if !g.wait(ctx) {
		return
	}
	if err := r.cut.run(ctx, r.loadStart); err != nil && ctx.Err() == nil {
		if ok, why := shouldRestore(r.sc.Rollback, false, true); ok {
			r.cut.restore(ctx, why, r.restoreOptions())
		}
	}
}

// saver saves the partial record periodically, so a crash leaves
// everything up to the last save readable. A save that fails stops the
// run: a cutover whose record cannot be kept is not carried on.
type saver struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (r *run) startSaver(ctx context.Context, stopWith func(error)) *saver {
	every := r.opts.SaveEvery
	if every <= 0 {
		every = DefaultSaveEvery
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &saver{cancel: cancel}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer func() {
			if p := recover(); p != nil {
				stopWith(panicked(p))
			}
		}()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.w.Save(r.rec.snapshot()); err != nil {
					stopWith(fmt.Errorf("%w: %w", ErrRecord, err))
					return
				}
			}
		}
	}()
	return s
}

func (s *saver) stop() {
	s.cancel()
	s.done.Wait()
}

// watch sees every window as it closes: it keeps the record and the
// progress current, opens the gate the actions wait for, and applies the
// abort brake.
type watch struct {
	r           *run
	gate        *gate
	brake       *brake
	start       time.Time
	stopActions context.CancelFunc
	stopWith    func(error)
	acting      *sync.WaitGroup
	// seen counts the results before the gate decided.
	seen, transport int64
	// restoring is the restore the brake started; observed ends the load
	// once the recovery was watched.
	restoring sync.WaitGroup
	observed  *time.Timer
}

// deadAfter is how long the gate waits for a first result before it lets
// the actions go without knowing whether the target answers.
const deadAfter = 10 * time.Second

// gateRequests is how many results the gate wants to see before it
// decides that a target that failed them all is dead.
const gateRequests = 5

func (w *watch) window(win results.Window) {
	r := w.r
	p := r.rec.add(win)
	width := r.sc.Load.Window.D()
	if r.opts.Progress != nil {
		p.Phase = PhaseLoad
		p.Elapsed = win.Start.Add(width).Sub(r.rec.started())
		p.Total = r.sc.Load.Duration.D()
		if width > 0 {
			p.Rate = float64(win.Requests) / width.Seconds()
		}
		r.opts.Progress(p)
	}
	w.decideGate(win)
	if w.brake != nil && r.cut != nil && r.cut.started() && r.tripped == nil {
		if t := w.brake.observe(win); t != nil {
			w.trip(t)
		}
	}
}

// decideGate opens the gate once the target has answered anything but a
// transport failure, and stops the run when it has answered nothing.
func (w *watch) decideGate(win results.Window) {
	if w.gate.decided() {
		return
	}
	w.seen += win.Requests
	for c, n := range win.ByClass {
		if results.IsTransport(c) {
			w.transport += n
		}
	}
	elapsed := win.Start.Add(w.r.sc.Load.Window.D()).Sub(w.start)
	switch {
	case w.seen > w.transport:
		w.gate.open()
	case w.seen >= gateRequests:
		w.gate.fail()
		w.stopWith(fmt.Errorf("%w: %s failed every one of its first %d requests at the transport level (%s) before any action; nothing was changed",
			ErrTargetDead, w.r.sc.Target.URL, w.seen, classSummary(w.r.rec.totals().ByClass)))
	case elapsed >= deadAfter:
		w.gate.open()
	}
}

// trip is the abort brake tripping: no further action runs, the restore
// starts at once, and the load goes on for observe_after_abort to show
// the recovery.
func (w *watch) trip(t *trip) {
	r := w.r
	r.tripped = t
	r.rec.addEvent(results.Event{Kind: results.EventAbortTriggered, At: r.now(), Details: map[string]string{"reason": t.why}})
	w.stopActions()
	w.restoring.Add(1)
	go func() {
		defer w.restoring.Done()
		defer func() {
			if p := recover(); p != nil {
				w.stopWith(panicked(p))
			}
		}()
		w.acting.Wait()
		r.cut.restore(context.Background(), "abort brake: "+t.why, r.restoreOptions())
	}()
	observe := r.sc.Verdict.ObserveAfterAbort.D()
	w.observed = time.AfterFunc(observe, func() { w.stopWith(errBrakeObserved) })
}

// wait returns once the restore the brake started has ended.
func (w *watch) wait() {
	if w.observed != nil {
		w.observed.Stop()
	}
	w.restoring.Wait()
}

// gate holds the actions until the target has shown it answers: a run
// against a dead target stops before it changes anything.
type gate struct {
	once  sync.Once
	ch    chan struct{}
	mu    sync.Mutex
	state int // 0 undecided, 1 open, 2 failed
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) set(state int) {
	g.once.Do(func() {
		g.mu.Lock()
		g.state = state
		g.mu.Unlock()
		close(g.ch)
	})
}

func (g *gate) open() { g.set(1) }
func (g *gate) fail() { g.set(2) }

func (g *gate) decided() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state != 0
}

// wait blocks until the gate is decided or ctx is done; it reports
// whether the actions may go.
func (g *gate) wait(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-g.ch:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state == 1 && ctx.Err() == nil
}

// recordSink is the run record's results.bin as the load engine's
// ResultSink: each result is one Write to results.Writer's buffer (which
// keeps the file whole on a full disk), flushed by results.Writer.Flush.
type recordSink struct{ w *results.Writer }

var _ load.ResultSink = recordSink{}

func (s recordSink) Write(result []byte) (int, error) { return s.w.Results().Write(result) }
func (s recordSink) Flush() error                     { return s.w.Flush() }
