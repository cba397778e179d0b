package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"google.golang.org/grpc/status"
)

// DeployIDEnv is the environment variable that carries DeploySpec.DeployID
// into the template, so that every deploy changes it and makes a revision.
const DeployIDEnv = "CUTOVER_DEPLOY_ID"

// Traffic allocation types, shorter.
const (
	typeLatest   = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
	typeRevision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION
)

// Deploy changes the service's template (image, env, CUTOVER_DEPLOY_ID,
// revision name) and its traffic, and follows the operation: it reports
// revision-created as soon as the operation's metadata names a new
// revision and revision-ready when the operation is done. Without
// spec.NoTraffic the traffic becomes 100% LATEST (the default cutover);
// with it the current split is kept, LATEST pinned to the current ready
// revision, and the new revision is added at 0% with spec.Tag; it is then
// named SERVICE-SUFFIX, the suffix made from spec.DeployID when
// spec.RevisionSuffix is empty. A revision that cannot become ready is an
// error naming it and saying why, and no revision-ready is reported.
// After Claim, the deploy is made only while the claim holds, and the claim
// records the split the deploy leaves, in the same write; the new
// revision comes from the template alone, not from the claim.
func (c *Client) Deploy(ctx context.Context, spec runner.DeploySpec, report func(runner.Event)) (string, error) {
	var named string
	if spec.RevisionSuffix != "" {
		named = c.service + "-" + spec.RevisionSuffix
	}
	var before string // the latest created revision before this deploy
	op, err := c.update(ctx, c.guarded(func(svc *runpb.Service) error {
		before = shortName(svc.GetLatestCreatedRevision())
		if spec.RevisionSuffix == "" && spec.NoTraffic {
			named = c.service + "-" + nextSuffix(c.service, before, svc.GetGeneration(), spec.DeployID)
		}
		return deployTo(svc, spec, named)
	}))
	if err != nil {
		return "", fmt.Errorf("deploy to service %q: %w", c.name, err)
	}

	var created string
	noteCreated := func(md *runpb.Service) {
		if r := shortName(md.GetLatestCreatedRevision()); created == "" && r != "" && r != before {
			created = r
			emit(report, runner.Event{Kind: results.EventRevisionCreated, At: c.now(),
				Details: map[string]string{"revision": r}})
		}
	}
	resp, err := c.follow(ctx, op, func(md *runpb.Service) bool {
		noteCreated(md)
		return created != "" && spec.NoWait
	})
	if oe := (*operationError)(nil); errors.As(err, &oe) {
		rev, reason := failure(oe.err)
		if created != "" {
			rev = created
		} else if rev == "" {
			rev = named
		}
		failed := c.resync(ctx, &revisionFailedError{revision: rev, reason: reason, err: oe.err})
		return "", fmt.Errorf("deploy to service %q: %w", c.name, failed)
	}
	if err != nil {
		return "", fmt.Errorf("deploy to service %q: %w", c.name, err)
	}
	if resp == nil { // NoWait: stopped once created
		return created, nil
	}
	noteCreated(resp)
	if created == "" {
		return "", fmt.Errorf("deploy to service %q: no new revision was created (latest is still %q)", c.name, before)
	}
	if spec.NoWait {
		return created, nil
	}
	emit(report, runner.Event{Kind: results.EventRevisionReady, At: c.now(),
		Details: map[string]string{"revision": created, "traffic": servedSplit(resp)}})
	return created, nil
}

// deployTo changes a service read from the API into the deploy's desired
// state. named is the new revision's name, or "" to let the platform name
// it.
func deployTo(svc *runpb.Service, spec runner.DeploySpec, named string) error {
	t := svc.GetTemplate()
	if t == nil || len(t.GetContainers()) == 0 {
		return errors.New("the service's template has no container")
	}
	ctr := t.Containers[0]
	if spec.Image != "" {
		ctr.Image = spec.Image
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		ctr.Env = setEnv(ctr.Env, k, spec.Env[k])
	}
	if spec.DeployID != "" {
		ctr.Env = setEnv(ctr.Env, DeployIDEnv, spec.DeployID)
	}
	// The template read back names the revision it made, when it was
	// named; keeping that name would ask for a revision that exists.
	t.Revision = named
	if !spec.NoTraffic {
		svc.Traffic = []*runpb.TrafficTarget{{Type: typeLatest, Percent: 100}}
		return nil
	}
	if named == "" {
		return errors.New("a no-traffic deploy needs a revision name (a suffix or a deploy id)")
	}
	traffic, err := pinnedTraffic(svc, spec.Tag)
	if err != nil {
		return err
	}
	svc.Traffic = append(traffic, &runpb.TrafficTarget{Type: typeRevision, Revision: named, Percent: 0, Tag: spec.Tag})
	return nil
}

// pinnedTraffic returns the service's split with LATEST pinned to the
// latest ready revision by name, so that a new revision takes none of it.
// A tag that moves to the new revision is taken off its old target, and a
// 0% target left without a tag is dropped; untagged targets of the same
// revision are merged.
func pinnedTraffic(svc *runpb.Service, moveTag string) ([]*runpb.TrafficTarget, error) {
	cur := svc.GetTraffic()
	if len(cur) == 0 {
		cur = []*runpb.TrafficTarget{{Type: typeLatest, Percent: 100}}
	}
	ready := shortName(svc.GetLatestReadyRevision())
	var out []*runpb.TrafficTarget
	for _, in := range cur {
		t := &runpb.TrafficTarget{Type: typeRevision, Revision: shortName(in.GetRevision()), Percent: in.GetPercent(), Tag: in.GetTag()}
		if in.GetType() == typeLatest {
			if ready == "" {
				return nil, errors.New("no ready revision to keep the traffic on")
			}
			t.Revision = ready
		}
		if moveTag != "" && t.Tag == moveTag {
			t.Tag = ""
			if t.Percent == 0 {
				continue
			}
		}
		if t.Tag == "" {
			if i := slices.IndexFunc(out, func(o *runpb.TrafficTarget) bool {
				return o.Tag == "" && o.Revision == t.Revision
			}); i >= 0 {
				out[i].Percent += t.Percent
				continue
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// setEnv sets name to value in env, replacing a value or a secret
// reference of the same name.
func setEnv(env []*runpb.EnvVar, name, value string) []*runpb.EnvVar {
	v := &runpb.EnvVar_Value{Value: value}
	for _, e := range env {
		if e.GetName() == name {
			e.Values = v
			return env
		}
	}
	return append(env, &runpb.EnvVar{Name: name, Values: v})
}

// nextSuffix names a revision the way Cloud Run names its own,
// SERVICE-NNNNN-xyz: the number after the latest created revision's (or
// after the service's generation when that has no number), and three
// letters from the deploy id, so that two deploys of one number differ.
func nextSuffix(service, latest string, generation int64, deployID string) string {
	n := generation + 1
	if m := revisionNumber.FindStringSubmatch(strings.TrimPrefix(latest, service+"-")); m != nil {
		if v, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			n = max(n, v+1)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(deployID))
	x := h.Sum32()
	letters := []byte{byte('a' + x%26), byte('a' + x/26%26), byte('a' + x/676%26)}
	return fmt.Sprintf("%05d-%s", n%100000, letters)
}

// revisionNumber is the number in a Cloud Run revision suffix: 00002-abc.
var revisionNumber = regexp.MustCompile(`^(\d{5})-[a-z0-9]+$`)

// notReadyRE matches the revision and the reason in the message of a
// failed deploy operation.
var notReadyRE = regexp.MustCompile(`^Revision '([^']*)' is not ready and cannot serve traffic\.\s*(.*)$`)

// failure returns the revision (when the message names it) and the reason
// of a failed operation.
func failure(err error) (revision, reason string) {
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Message()
	}
	msg = strings.TrimSpace(msg)
	if m := notReadyRE.FindStringSubmatch(msg); m != nil {
		revision = m[1]
		if r := strings.TrimSpace(m[2]); r != "" {
			msg = r
		}
	}
	return revision, strings.TrimSuffix(msg, ".")
}

// Conversions.

func shortName(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// serviceOf maps the API's service to the runner's. A claim whose
// annotations cannot be read is no claim.
func serviceOf(svc *runpb.Service) runner.Service {
	out := runner.Service{
		Name:                  svc.GetName(),
		URL:                   svc.GetUri(),
		LatestReadyRevision:   shortName(svc.GetLatestReadyRevision()),
		LatestCreatedRevision: shortName(svc.GetLatestCreatedRevision()),
		Traffic:               trafficOf(svc),
	}
	if out.URL == "" && len(svc.GetUrls()) > 0 {
		out.URL = svc.GetUrls()[0]
	}
	if claim, ok := claimOf(svc); ok {
		out.Claim = claim
	}
	return out
}

// trafficOf returns the service's split as configured, revisions by their
// short names.
func trafficOf(svc *runpb.Service) []runner.TrafficTarget {
	var out []runner.TrafficTarget
	for _, t := range svc.GetTraffic() {
		tt := runner.TrafficTarget{Percent: int(t.GetPercent()), Tag: t.GetTag()}
		if t.GetType() == typeLatest {
			tt.Latest = true
		} else {
			tt.Revision = shortName(t.GetRevision())
		}
		out = append(out, tt)
	}
	if len(out) == 0 { // the API's default
		out = []runner.TrafficTarget{{Latest: true, Percent: 100}}
	}
	return out
}

// trafficProto maps the runner's split to the API's.
func trafficProto(split []runner.TrafficTarget) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(split))
	for _, t := range split {
		pb := &runpb.TrafficTarget{Type: typeRevision, Revision: shortName(t.Revision), Percent: int32(t.Percent), Tag: t.Tag}
		if t.Latest {
			pb.Type, pb.Revision = typeLatest, ""
		}
		out = append(out, pb)
	}
	return out
}

// servedSplit renders the split a service serves, LATEST resolved to its
// revision: "api-00001-abc=90%, api-00002-xyz=10% (tag canary)".
func servedSplit(svc *runpb.Service) string {
	var parts []string
	if st := svc.GetTrafficStatuses(); len(st) > 0 {
		for _, t := range st {
			rev := shortName(t.GetRevision())
			if rev == "" && t.GetType() == typeLatest {
				rev = "LATEST"
			}
			parts = append(parts, target(rev, int(t.GetPercent()), t.GetTag()))
		}
		return strings.Join(parts, ", ")
	}
	return formatSplit(serviceOf(svc).Traffic)
}

// formatSplit renders a split as configured.
func formatSplit(split []runner.TrafficTarget) string {
	parts := make([]string, 0, len(split))
	for _, t := range split {
		rev := t.Revision
		if t.Latest {
			rev = "LATEST"
		}
		parts = append(parts, target(rev, t.Percent, t.Tag))
	}
	return strings.Join(parts, ", ")
}

func target(rev string, percent int, tag string) string {
	s := fmt.Sprintf("%s=%d%%", rev, percent)
	if tag != "" {
		s += " (tag " + tag + ")"
	}
	return s
}
