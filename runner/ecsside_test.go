package runner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

// ecsLike is a fakePlatform with the ECS side's optional behaviours: a
// preflight guard that finds what it is given, chaos actions it records,
// and a watch that reports one platform event per poll of the test.
type ecsLike struct {
	*fakePlatform
	findings []results.Finding
	guardErr error
	checked  [][]string

	cmu    sync.Mutex
	chaos  []scenarios.ChaosAction
	events chan Event
}

func (e *ecsLike) CheckImages(ctx context.Context, newImages []string) ([]results.Finding, error) {
	e.checked = append(e.checked, newImages)
	return e.findings, e.guardErr
}

func (e *ecsLike) Chaos(ctx context.Context, a scenarios.ChaosAction, report func(Event)) error {
	e.cmu.Lock()
	e.chaos = append(e.chaos, a)
	e.cmu.Unlock()
	report(Event{Kind: results.EventChaos, Details: map[string]string{"action": a.Action, "tasks": "t1,t2"}})
	return nil
}

func (e *ecsLike) Watch(ctx context.Context, since time.Time, report func(Event)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-e.events:
			report(ev)
		}
	}
}

func missingImage() results.Finding {
	return results.Finding{Cause: "image-missing", Confidence: "high",
		Evidence: []string{"Task definition app:1 (running) names app@sha256:aa; ECR has no such image."}, Remedy: []string{"Redeploy with an image that exists."}}
}

func TestPreflightGuardWarnsOrStops(t *testing.T) {
	url := okServer(t)
	tests := []struct {
		name, preflight string
		findings        []results.Finding
		guardErr        error
		wantStop        bool
		wantEvents      int
	}{
		{"nothing found", "warn", nil, nil, false, 0},
		{"warn records and runs", "warn", []results.Finding{missingImage()}, nil, false, 1},
		{"strict stops before any load", "strict", []results.Finding{missingImage()}, nil, true, 0},
		{"a guard that cannot check is noted", "warn", nil, errors.New("ECR unreachable"), false, 1},
		{"and stops a strict run", "strict", nil, errors.New("ECR unreachable"), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scenarioWith(t, url, "preflight: "+tt.preflight+"\nactions: [{at: 0s, deploy: {image: app:v2}}]\n")
			p := &ecsLike{fakePlatform: &fakePlatform{svc: baseline(), deploy: okDeploy("api-00002-new")}, findings: tt.findings, guardErr: tt.guardErr}
			out, err := runWith(t, context.Background(), sc, p)
			if tt.wantStop {
				if err == nil || out != nil || len(p.deployed) != 0 || p.claims != 0 {
					t.Fatalf("run: %v, outcome %v, deploys %d, claims %d; want a stop before anything", err, out, len(p.deployed), p.claims)
				}
				if tt.guardErr == nil && !errors.Is(err, ErrPreflight) {
					t.Errorf("error %v is not ErrPreflight", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Concat(p.checked...); !slices.Equal(got, []string{"app:v2"}) {
				t.Errorf("checked new images %v, want the deploy's", got)
			}
			var evs []results.Event
			for _, e := range out.Run.Events {
				if e.Kind == results.EventPreflightFinding {
					evs = append(evs, e)
				}
			}
			if len(evs) != tt.wantEvents || len(out.Run.Preflight) != len(tt.findings) {
				t.Fatalf("preflight events %v, record %v", evs, out.Run.Preflight)
			}
			if len(tt.findings) > 0 && (evs[0].Details["cause"] != "image-missing" || evs[0].Details["message"] != tt.findings[0].Evidence[0]) {
				t.Errorf("event %v", evs[0])
			}
			if out.Run.Totals.Requests == 0 {
				t.Error("a warning run sent no load")
			}
		})
	}
}

func TestChaosAndWatchGoOnTheTimeline(t *testing.T) {
	sc, err := scenarios.Parse("t.yaml", []byte(`version: 1
name: t
target: {url: "`+okServer(t)+`", platform: ecs, region: ap-northeast-1, cluster: prod, service: api}
load: {requests: [{path: /}], rate: 50/s, duration: 2s}
metrics: {enabled: false}
actions: [{at: 0s, chaos: {action: stop-task, count: 2}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &ecsLike{fakePlatform: &fakePlatform{svc: baseline()}, events: make(chan Event, 1)}
	stopped := time.Now()
	p.events <- Event{Kind: results.EventTaskStopped, At: stopped, Details: map[string]string{"task": "t1", "stop_code": "TaskFailedToStart"}}
	out, err := runWith(t, context.Background(), sc, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.chaos) != 1 || p.chaos[0].Action != scenarios.ChaosStopTask || p.chaos[0].Count != 2 {
		t.Errorf("chaos carried out: %+v", p.chaos)
	}
	var kinds []results.EventKind
	for _, e := range out.Run.Events {
		kinds = append(kinds, e.Kind)
		if e.Kind == results.EventChaos && e.Details["service"] != "api" {
			t.Errorf("chaos event without its service: %v", e)
		}
	}
	if !slices.Contains(kinds, results.EventChaos) || !slices.Contains(kinds, results.EventTaskStopped) {
		t.Errorf("events %v: want the chaos action and the watched task stop", kinds)
	}
	if out.Run.Cutover.Services[0].Changed != true {
		t.Error("a chaos action did not mark the service changed")
	}
}
