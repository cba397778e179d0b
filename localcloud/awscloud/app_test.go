package awscloud

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

var epochStart = time.Date(2026, 4, 7, 19, 0, 0, 0, time.UTC)

// TestTaskServerQueue runs one slot on a fake clock: a health check waits
// behind a request in the queue, then answers; a failing health check
// answers 500.
func TestTaskServerQueue(t *testing.T) {
	f := clock.NewFake(epochStart, 1)
	app := scenarios.ECSApp{ServerTime: scenarios.Duration(time.Second), Concurrency: 1, HealthPath: "/health", HealthInQueue: true}
	ts, err := startTaskServer(context.Background(), f, app, "0123", "web:7")
	if err != nil {
		t.Fatal(err)
	}
	defer ts.shutdown(0)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	get := func(path string) <-chan *http.Response {
		ch := make(chan *http.Response, 1)
		go func() {
			resp, err := (&http.Client{Transport: tr}).Get("http://" + ts.addr() + path)
			if err != nil {
				t.Error(err)
				close(ch)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ch <- resp
		}()
		return ch
	}
	first := get("/")
	<-f.WhenWaiters(1) // the request holds the slot and sleeps its server time
	health := get("/health")
	eventually(t, "the health check to queue", func() bool {
		ts.slots.mu.Lock()
		defer ts.slots.mu.Unlock()
		return len(ts.slots.waiters) == 1
	})
	f.Advance(time.Second)
	r := <-first
	if r.StatusCode != 200 || r.Header.Get("X-Task") != "0123" || r.Header.Get("X-Revision") != "web:7" {
		t.Errorf("request: %d %v, want 200 with X-Task and X-Revision", r.StatusCode, r.Header)
	}
	if h := <-health; h.StatusCode != 200 {
		t.Errorf("health check after the queue: %d, want 200", h.StatusCode)
	}
	ts.failing.Store(true)
	if h := <-get("/health"); h.StatusCode != 500 {
		t.Errorf("failing health check: %d, want 500", h.StatusCode)
	}
}

// TestThrottleDelays fails tasks to start one after another: the delay
// before the next start doubles from 10 s up to RestartDelayMax, the
// throttle event comes from the second failure, and a new deployment
// resets it.
func TestThrottleDelays(t *testing.T) {
	f := clock.NewFake(epochStart, 1)
	svc := webService("app:v1")
	svc.RestartDelayMax = scenarios.Duration(time.Minute)
	lc := scenarios.LocalCloud{TimeScale: 1}
	lc.AWS = scenarios.CloudAWS{Services: []scenarios.ECSService{svc}}
	lc.AWS.Defaults()
	c := newCloud(lc, Options{Clock: f})
	defer c.cancel()
	s := &service{cfg: svc, name: "web", desired: 1}
	td := c.registerTaskDef(&taskDef{family: "web", containers: []containerDef{{Name: "web", Image: "app:v1"}}})
	d := c.newDeployment(s, td, nil)
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		tk := &task{id: "t", svc: s, dep: d, desired: taskRunning, last: taskPending}
		c.failStart(tk, "CannotPullContainerError: …")
		if got := s.nextStart.Sub(f.Now()); got != want {
			t.Errorf("failure %d: next start in %v, want %v", i+1, got, want)
		}
		if tk.stopCode != stopFailedToStart || tk.last != taskStopped || tk.containerReason == "" {
			t.Errorf("failure %d: task %+v", i+1, tk)
		}
	}
	if d.failed != 5 || !hasEventText(s, "is unable to consistently start tasks successfully") {
		t.Errorf("failed %d, events %v; want 5 and the throttle event", d.failed, s.events)
	}
	c.newDeployment(s, td, nil)
	if s.startFailures != 0 || !s.nextStart.IsZero() {
		t.Errorf("after a new deployment: %d failures, next start %v; want reset", s.startFailures, s.nextStart)
	}
}

func hasEventText(s *service, text string) bool {
	for _, e := range s.events {
		if strings.Contains(e.msg, text) {
			return true
		}
	}
	return false
}
