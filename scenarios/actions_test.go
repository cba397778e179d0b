package scenarios

import (
	"errors"
	"strings"
	"testing"
)

const actionsBase = `version: 1
name: cutover
target: {platform: cloudrun, project: p, region: r, service: api}
load:
  requests: [{path: /}]
  rate: 10/s
  duration: 2m
`

func TestActionsParse(t *testing.T) {
	sc, err := Parse("ok.yaml", []byte(actionsBase+`actions:
  - at: 20s
    deploy: {image: gcr.io/p/api:v2, env: {MODE: new}, traffic: "0", tag: canary, revision_suffix: v2}
  - at: 30s
    traffic: {revision: "@deployed", steps: [10, 50, 100], every: 10s}
  - at: 1m
    traffic:
      split: [{revision: "@baseline", percent: 100}]
rollback: always
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Actions) != 3 || sc.Rollback != RollbackAlways {
		t.Fatalf("actions %d, rollback %q", len(sc.Actions), sc.Rollback)
	}
	d := sc.Actions[0].Deploy
	if d == nil || d.Traffic != DeployTrafficNone || !d.Wait || d.Tag != "canary" || d.Env["MODE"] != "new" {
		t.Errorf("deploy = %+v; want no-traffic, tagged, waiting (default)", d)
	}
	if tr := sc.Actions[1].Traffic; tr == nil || len(tr.Steps) != 3 || tr.Every.D().Seconds() != 10 {
		t.Errorf("stepwise traffic = %+v", tr)
	}
}

func TestDeployDefaults(t *testing.T) {
	sc, err := Parse("ok.yaml", []byte(actionsBase+"actions: [{at: 10s, deploy: {}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := sc.Actions[0].Deploy; d.Traffic != DeployTrafficLatest || !d.Wait {
		t.Errorf("deploy defaults = %+v, want traffic latest and wait", d)
	}
	if sc.Rollback != RollbackOnFailure {
		t.Errorf("rollback default = %q", sc.Rollback)
	}
}

func TestActionsInvalid(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"two kinds", "actions: [{at: 10s, deploy: {}, wait: revision-ready}]\n",
			[]string{"actions[0]: an action is exactly one of deploy, traffic, wait or chaos (this one has 2)"}},
		{"out of order and past the end", "actions: [{at: 30s, deploy: {}}, {at: 10s, wait: revision-ready}, {at: 3m, traffic: {split: [{revision: LATEST, percent: 100}]}}]\n",
			[]string{"actions[1].at: 10s is before the previous action's 30s", "actions[2].at: 3m is not before the end of the load (2m)"}},
		{"split must sum to 100", "actions: [{at: 10s, traffic: {split: [{revision: a, percent: 60}, {revision: b, percent: 30}]}}]\n",
			[]string{"actions[0].traffic.split: percents sum to 90"}},
		{"@deployed needs a deploy", "actions: [{at: 10s, traffic: {revision: '@deployed', steps: [50, 100], every: 5s}}]\n",
			[]string{"actions[0].traffic.revision: @deployed names the revision of an earlier deploy action"}},
		{"steps rise and need every", "actions: [{at: 1s, deploy: {}}, {at: 10s, traffic: {revision: '@deployed', steps: [50, 10]}}]\n",
			[]string{"actions[1].traffic.steps[1]: steps rise from 1 to 100; got 10 after 50", "actions[1].traffic.every: required"}},
		{"bad deploy traffic and rollback", "actions: [{at: 1s, deploy: {traffic: half}}]\nrollback: sometimes\n",
			[]string{"actions[0].deploy.traffic: \"half\"", "rollback: \"sometimes\""}},
		{"unknown key in deploy", "actions: [{at: 1s, deploy: {imag: x}}]\n",
			[]string{`actions[0].deploy.imag: unknown key (did you mean "image"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(actionsBase+tt.body))
			var p *Problems
			if !errors.As(err, &p) {
				t.Fatalf("err = %v, want *Problems", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems lack %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestActionsNeedAPlatform(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(`version: 1
name: x
target: {url: "http://127.0.0.1:1"}
load: {requests: [{path: /}], rate: 1/s, duration: 1m}
actions: [{at: 1s, deploy: {}}]
`))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:3:") || !strings.Contains(err.Error(), "target.platform: actions need a platform") {
		t.Errorf("err = %v", err)
	}
}
