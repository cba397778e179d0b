package compare

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

// cutoverSpan returns the run's cutover window, in seconds from the start
// of the load: from its first deploy-start, traffic-applied or chaos event to its
// last revision-ready, traffic-applied or rollback-done, plus settle,
// clipped to the load's windows; nil when the run has no such event.
// Events after the load (the restore of a failed run) changed nothing the
// load saw and do not count.
func cutoverSpan(r *results.Run, settle time.Duration) *Span {
	var from, to time.Time
	start := loadStart(r)
	var loadEnd time.Time
	if n := len(r.Timeline); n > 0 {
		loadEnd = r.Timeline[n-1].Start.Add(windowWidth(r))
	}
	for _, e := range r.Events {
		if !loadEnd.IsZero() && !e.At.Before(loadEnd) {
			continue
		}
		switch e.Kind {
		case results.EventDeployStart, results.EventTrafficApplied, results.EventRollbackStart, results.EventChaos:
			if from.IsZero() || e.At.Before(from) {
				from = e.At
			}
		}
		switch e.Kind {
		case results.EventRevisionReady, results.EventTrafficApplied, results.EventRollbackDone:
			if e.At.After(to) {
				to = e.At
			}
		}
	}
	if from.IsZero() {
		return nil
	}
	if to.Before(from) {
		to = from
	}
	s := &Span{From: from.Sub(start).Seconds(), To: to.Add(settle).Sub(start).Seconds()}
	if !loadEnd.IsZero() {
		end := loadEnd.Sub(start).Seconds()
		s.To = min(s.To, end)
		s.From = max(0, s.From)
	}
	return s
}

// windowsIn returns the indexes of the windows of r that overlap span.
func windowsIn(r *results.Run, span *Span) []int {
	if span == nil {
		return nil
	}
	start, width := loadStart(r), windowWidth(r).Seconds()
	idx := []int{}
	for i, w := range r.Timeline {
		off := w.Start.Sub(start).Seconds()
		if off < span.To && off+width > span.From {
			idx = append(idx, i)
		}
	}
	return idx
}

// ServiceCutover compares one service's cutover in both runs.
type ServiceCutover struct {
	Service string        `json:"service"`
	Base    CutoverTiming `json:"base"`
	Head    CutoverTiming `json:"head"`
}

// CutoverTiming is how long one service's cutover took, in seconds (wall
// clock, as the record's events are stamped); nil where a step did not
// happen.
type CutoverTiming struct {
	// DeployToReady is deploy-start → revision-ready.
	DeployToReady *float64 `json:"deploy_to_ready_s,omitempty"`
	// ReadyToTraffic is revision-ready → the next traffic-applied.
	ReadyToTraffic *float64 `json:"ready_to_traffic_s,omitempty"`
	// DeployToTraffic is deploy-start → the first traffic-applied after it.
	DeployToTraffic *float64 `json:"deploy_to_traffic_s,omitempty"`
}

// timing returns each service's first deploy's timing, and the services
// in the order their first event appears.
func timing(r *results.Run) (map[string]CutoverTiming, []string) {
	type marks struct{ deploy, ready, traffic time.Time }
	by := map[string]*marks{}
	var order []string
	for _, e := range r.Events {
		svc := e.Details["service"]
		if svc == "" {
			continue
		}
		m := by[svc]
		if m == nil {
			m = &marks{}
			by[svc] = m
			order = append(order, svc)
		}
		switch e.Kind {
		case results.EventDeployStart:
			if m.deploy.IsZero() {
				m.deploy = e.At
			}
		case results.EventRevisionReady:
			if !m.deploy.IsZero() && m.ready.IsZero() {
				m.ready = e.At
			}
		case results.EventTrafficApplied:
			if !m.deploy.IsZero() && m.traffic.IsZero() {
				m.traffic = e.At
			}
		}
	}
	secs := func(a, b time.Time) *float64 {
		if a.IsZero() || b.IsZero() {
			return nil
		}
		s := b.Sub(a).Seconds()
		return &s
	}
	out := map[string]CutoverTiming{}
	for svc, m := range by {
		out[svc] = CutoverTiming{
			DeployToReady:   secs(m.deploy, m.ready),
			ReadyToTraffic:  secs(m.ready, m.traffic),
			DeployToTraffic: secs(m.deploy, m.traffic),
		}
	}
	return out, order
}

// compareCutover pairs the services of both runs' cutovers, in the
// order they first appear (base's first).
func compareCutover(base, head *results.Run) []ServiceCutover {
	bt, border := timing(base)
	ht, horder := timing(head)
	var out []ServiceCutover
	seen := map[string]bool{}
	for _, svc := range append(border, horder...) {
		if seen[svc] {
			continue
		}
		seen[svc] = true
		out = append(out, ServiceCutover{Service: svc, Base: bt[svc], Head: ht[svc]})
	}
	return out
}

// Timeline holds errors per window of both runs on one axis: window i
// starts at i × WindowSeconds from the start of each run's load.
type Timeline struct {
	WindowSeconds float64 `json:"window_s"`
	Base          []int64 `json:"base_errors"`
	Head          []int64 `json:"head_errors"`
	// BaseCutover and HeadCutover are the runs' cutover windows.
	BaseCutover *Span `json:"base_cutover,omitempty"`
	HeadCutover *Span `json:"head_cutover,omitempty"`
}

// timeline aligns the errors per window of both runs by offset from the
// start of their load, on the wider of their window widths.
func timeline(base, head *results.Run, bcut, hcut *Span) Timeline {
	width := max(windowWidth(base), windowWidth(head))
	t := Timeline{WindowSeconds: width.Seconds(), BaseCutover: bcut, HeadCutover: hcut}
	bin := func(r *results.Run) []int64 {
		start := loadStart(r)
		var out []int64
		for _, w := range r.Timeline {
			i := int(w.Start.Sub(start) / width)
			for len(out) <= i {
				out = append(out, 0)
			}
			out[i] += w.Errors
		}
		return out
	}
	t.Base, t.Head = bin(base), bin(head)
	n := max(len(t.Base), len(t.Head))
	for len(t.Base) < n {
		t.Base = append(t.Base, 0)
	}
	for len(t.Head) < n {
		t.Head = append(t.Head, 0)
	}
	return t
}
