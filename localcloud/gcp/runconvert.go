package gcp

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/scenarios"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// applyMask returns the desired service: the request's whole resource
// without a mask, or the current one with the masked top-level fields
// taken from the request.
func applyMask(cur, in *runpb.Service, paths []string) (*runpb.Service, error) {
	if len(paths) == 0 {
		return in, nil
	}
	out := proto.Clone(cur).(*runpb.Service)
	for _, path := range paths {
		switch path {
		case "*":
			return in, nil
		case "template":
			out.Template = in.GetTemplate()
		case "traffic":
			out.Traffic = in.GetTraffic()
		case "labels":
			out.Labels = in.GetLabels()
		case "annotations":
			out.Annotations = in.GetAnnotations()
		case "description":
			out.Description = in.GetDescription()
		case "scaling":
			out.Scaling = in.GetScaling()
		default:
			return nil, status.Errorf(codes.InvalidArgument,
				"update mask path %q is not supported by the local cloud (template, traffic, labels, annotations, description, scaling, *)", path)
		}
	}
	return out, nil
}

// checkServiceScaling rejects service-level scaling, which the local cloud
// does not simulate (revision-level template.scaling is).
func checkServiceScaling(sc *runpb.ServiceScaling) error {
	if sc.GetMinInstanceCount() != 0 || sc.GetMaxInstanceCount() != 0 || sc.GetManualInstanceCount() != 0 ||
		sc.GetScalingMode() == runpb.ServiceScaling_MANUAL {
		return status.Error(codes.InvalidArgument,
			"service.scaling: service-level scaling is not simulated by the local cloud; use template.scaling")
	}
	return nil
}

// templateFromProto resolves a requested template: unset fields take the
// API's defaults (max instances 100, concurrency 80, timeout 300 s, no VPC
// access, which for the local cloud is private-ranges-only egress). It
// returns the data-plane template, the normalized API template to echo
// back, and the revision suffix when Template.Revision names the revision.
func templateFromProto(service string, t *runpb.RevisionTemplate) (localcloud.Template, *runpb.RevisionTemplate, string, error) {
	var zero localcloud.Template
	if t == nil {
		return zero, nil, "", status.Error(codes.InvalidArgument, "service.template is required")
	}
	var suffix string
	if t.GetRevision() != "" {
		var ok bool
		suffix, ok = strings.CutPrefix(t.GetRevision(), service+"-")
		if !ok || suffix == "" {
			return zero, nil, "", status.Errorf(codes.InvalidArgument,
				"template.revision %q: the revision name must be prefixed by the name of the enclosing Service with a trailing -",
				t.GetRevision())
		}
	}
	switch n := len(t.GetContainers()); {
	case n == 0:
		return zero, nil, "", status.Error(codes.InvalidArgument, "template.containers: a container is required")
	case n > 1:
		return zero, nil, "", status.Errorf(codes.InvalidArgument,
			"template.containers: %d containers; the local cloud runs one container per instance", n)
	}
	out, err := containerFromProto(t.GetContainers()[0])
	if err != nil {
		return zero, nil, "", err
	}
	if err := setLimitsFromProto(&out, t); err != nil {
		return zero, nil, "", err
	}
	switch t.GetVpcAccess().GetEgress() {
	case runpb.VpcAccess_ALL_TRAFFIC:
		out.Egress = localcloud.EgressAllTraffic
	case runpb.VpcAccess_PRIVATE_RANGES_ONLY, runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED:
		out.Egress = localcloud.EgressPrivateRangesOnly
	default:
		return zero, nil, "", status.Errorf(codes.InvalidArgument, "template.vpc_access.egress %v is not valid", t.GetVpcAccess().GetEgress())
	}
	out.SessionAffinity = t.GetSessionAffinity()
	pb := proto.Clone(t).(*runpb.RevisionTemplate)
	setTemplateFields(pb, out)
	return out, pb, suffix, nil
}

// containerFromProto reads a template's one container: its image and env.
func containerFromProto(c *runpb.Container) (localcloud.Template, error) {
	if c.GetImage() == "" {
		return localcloud.Template{}, status.Error(codes.InvalidArgument, "template.containers[0].image is required")
	}
	out := localcloud.Template{Image: c.GetImage(), Env: map[string]string{}}
	for i, e := range c.GetEnv() {
		switch {
		case e.GetName() == "":
			return localcloud.Template{}, status.Errorf(codes.InvalidArgument, "template.containers[0].env[%d]: name is required", i)
		case e.GetValueSource() != nil:
			return localcloud.Template{}, status.Errorf(codes.InvalidArgument,
				"template.containers[0].env[%d] %q: value_source (secrets) is not supported by the local cloud", i, e.GetName())
		}
		if _, dup := out.Env[e.GetName()]; dup {
			return localcloud.Template{}, status.Errorf(codes.InvalidArgument, "template.containers[0].env: %q is set twice", e.GetName())
		}
		out.Env[e.GetName()] = e.GetValue()
	}
	return out, nil
}

// setLimitsFromProto reads a template's scaling, concurrency and timeout;
// an unset one takes Cloud Run's default, which is the scenario's service
// default (scenarios.CloudService.Defaults).
func setLimitsFromProto(out *localcloud.Template, t *runpb.RevisionTemplate) error {
	var defaults scenarios.CloudService
	defaults.Defaults()
	sc := t.GetScaling()
	out.Scaling = localcloud.Scaling{MinInstances: int(sc.GetMinInstanceCount()), MaxInstances: int(sc.GetMaxInstanceCount())}
	if out.Scaling.MaxInstances == 0 {
		out.Scaling.MaxInstances = defaults.MaxInstances
	}
	if out.Scaling.MinInstances < 0 || out.Scaling.MinInstances > out.Scaling.MaxInstances {
		return status.Errorf(codes.InvalidArgument,
			"template.scaling: min_instance_count %d, max_instance_count %d: need 0 ≤ min ≤ max", sc.GetMinInstanceCount(), sc.GetMaxInstanceCount())
	}
	out.Concurrency = int(t.GetMaxInstanceRequestConcurrency())
	if out.Concurrency == 0 {
		out.Concurrency = defaults.Concurrency
	}
	if out.Concurrency < 1 || out.Concurrency > 1000 {
		return status.Errorf(codes.InvalidArgument,
			"template.max_instance_request_concurrency %d: must be between 1 and 1000", out.Concurrency)
	}
	out.RequestTimeout = defaults.RequestTimeout.D()
	if t.GetTimeout() != nil {
		if err := t.GetTimeout().CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "template.timeout: %v", err)
		}
		out.RequestTimeout = t.GetTimeout().AsDuration()
		if out.RequestTimeout <= 0 || out.RequestTimeout > apiMaxTimeout {
			return status.Errorf(codes.InvalidArgument,
				"template.timeout %v: must be positive and at most %v", out.RequestTimeout, apiMaxTimeout)
		}
	}
	return nil
}

// setTemplateFields writes the simulated fields of t into pb, keeping the
// rest (and the order of env vars that are already right).
func setTemplateFields(pb *runpb.RevisionTemplate, t localcloud.Template) {
	pb.Scaling = &runpb.RevisionScaling{MinInstanceCount: int32(t.Scaling.MinInstances), MaxInstanceCount: int32(t.Scaling.MaxInstances)}
	pb.MaxInstanceRequestConcurrency = int32(t.Concurrency)
	pb.Timeout = durationpb.New(t.RequestTimeout)
	pb.SessionAffinity = t.SessionAffinity
	if pb.VpcAccess == nil {
		pb.VpcAccess = &runpb.VpcAccess{}
	}
	pb.VpcAccess.Egress = runpb.VpcAccess_PRIVATE_RANGES_ONLY
	if t.Egress == localcloud.EgressAllTraffic {
		pb.VpcAccess.Egress = runpb.VpcAccess_ALL_TRAFFIC
	}
	if len(pb.Containers) == 0 {
		pb.Containers = []*runpb.Container{{}}
	}
	c := pb.Containers[0]
	c.Image = t.Image
	if !maps.Equal(envMap(c.Env), t.Env) {
		c.Env = nil
		for _, k := range slices.Sorted(maps.Keys(t.Env)) {
			c.Env = append(c.Env, &runpb.EnvVar{Name: k, Values: &runpb.EnvVar_Value{Value: t.Env[k]}})
		}
	}
}

func envMap(env []*runpb.EnvVar) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		m[e.GetName()] = e.GetValue()
	}
	return m
}

// templateExtras is a template without the fields the local cloud
// simulates: what is left is compared to decide whether a template
// changed in a way the data plane does not see (labels, a container
// name, …). Template.Revision stays: naming a new revision is a change.
func templateExtras(t *runpb.RevisionTemplate) *runpb.RevisionTemplate {
	x := proto.Clone(t).(*runpb.RevisionTemplate)
	if x == nil {
		return &runpb.RevisionTemplate{}
	}
	x.Scaling, x.Timeout, x.MaxInstanceRequestConcurrency, x.SessionAffinity = nil, nil, 0, false
	if x.VpcAccess != nil {
		x.VpcAccess.Egress = 0
		if proto.Equal(x.VpcAccess, &runpb.VpcAccess{}) {
			x.VpcAccess = nil
		}
	}
	if len(x.Containers) > 0 {
		x.Containers[0].Image, x.Containers[0].Env = "", nil
	}
	if len(x.Labels) == 0 {
		x.Labels = nil
	}
	if len(x.Annotations) == 0 {
		x.Annotations = nil
	}
	return x
}

// templatesEqual compares two data-plane templates; an empty env equals
// a nil one.
func templatesEqual(a, b localcloud.Template) bool {
	if len(a.Env) == 0 {
		a.Env = nil
	}
	if len(b.Env) == 0 {
		b.Env = nil
	}
	return reflect.DeepEqual(a, b)
}

// trafficFromProto converts a traffic list; empty means 100% to LATEST.
// Revisions may be named short or by full resource name.
func (p *ControlPlane) trafficFromProto(service string, in []*runpb.TrafficTarget) ([]localcloud.TrafficTarget, error) {
	if len(in) == 0 {
		return []localcloud.TrafficTarget{{Latest: true, Percent: 100}}, nil
	}
	out := make([]localcloud.TrafficTarget, 0, len(in))
	for i, t := range in {
		rev := t.GetRevision()
		if strings.Contains(rev, "/") {
			ids, err := p.parseName(fmt.Sprintf("traffic[%d].revision", i), rev, "services", "revisions")
			if err != nil {
				return nil, err
			}
			if ids[0] != service {
				return nil, status.Errorf(codes.InvalidArgument, "traffic[%d]: revision %q belongs to another service", i, rev)
			}
			rev = ids[1]
		}
		tt := localcloud.TrafficTarget{Revision: rev, Percent: int(t.GetPercent()), Tag: t.GetTag()}
		switch t.GetType() {
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST:
			if rev != "" {
				return nil, status.Errorf(codes.InvalidArgument, "traffic[%d]: a LATEST target names no revision, got %q", i, rev)
			}
			tt.Latest = true
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION:
			if rev == "" {
				return nil, status.Errorf(codes.InvalidArgument, "traffic[%d]: a REVISION target needs a revision", i)
			}
		case runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED:
			if rev == "" {
				return nil, status.Errorf(codes.InvalidArgument, "traffic[%d]: type is required (LATEST or REVISION)", i)
			}
		default:
			return nil, status.Errorf(codes.InvalidArgument, "traffic[%d]: type %v is not valid", i, t.GetType())
		}
		out = append(out, tt)
	}
	return out, nil
}

// pendingIn returns the revisions a traffic list names that are not ready
// yet.
func (p *ControlPlane) pendingIn(service string, traffic []localcloud.TrafficTarget) []string {
	st, err := p.c.Service(service)
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range traffic {
		for _, r := range st.Revisions {
			if !t.Latest && r.Name == t.Revision && r.Ready.State == localcloud.ConditionPending && !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// Resources.

// serviceProto renders a service snapshot as the Admin API v2 resource.
func (p *ControlPlane) serviceProto(st localcloud.ServiceState) *runpb.Service {
	p.mu.Lock()
	m := p.metaOf(st.Name)
	if !st.Reconciling && st.Ready.State == localcloud.ConditionSucceeded {
		m.observed = max(m.observed, st.Generation)
	}
	observed := m.observed
	if observed == 0 && st.Generation > 1 {
		observed = st.Generation - 1 // a change made before the API first looked
	}
	tmpl := p.templateLocked(m, st.LatestCreatedRevision, st.Template)
	labels, annotations, description := maps.Clone(m.labels), maps.Clone(m.annotations), m.description
	p.mu.Unlock()

	id := uid(p.c.Project(), p.c.Region(), st.Name, strconv.FormatInt(st.CreateTime.UnixNano(), 10))
	svc := &runpb.Service{
		Name:                  p.serviceName(st.Name),
		Description:           description,
		Uid:                   id,
		Generation:            st.Generation,
		Labels:                labels,
		Annotations:           annotations,
		CreateTime:            timestamppb.New(st.CreateTime),
		UpdateTime:            timestamppb.New(st.UpdateTime),
		Ingress:               runpb.IngressTraffic_INGRESS_TRAFFIC_ALL,
		Template:              tmpl,
		Traffic:               trafficProto(st.Traffic),
		Urls:                  []string{st.URL},
		ObservedGeneration:    observed,
		TerminalCondition:     conditionProto(st.Ready),
		LatestReadyRevision:   p.revisionName(st.Name, st.LatestReadyRevision),
		LatestCreatedRevision: p.revisionName(st.Name, st.LatestCreatedRevision),
		TrafficStatuses:       trafficStatusProto(st.TrafficStatuses),
		Uri:                   st.URL,
		Reconciling:           st.Reconciling,
		Etag:                  etag(id, st.Generation),
	}
	routes := localcloud.Condition{Type: "RoutesReady", State: localcloud.ConditionSucceeded, LastTransitionTime: st.UpdateTime}
	if !trafficServed(st) {
		routes.State = localcloud.ConditionPending
	}
	configs := localcloud.Condition{Type: "ConfigurationsReady", State: localcloud.ConditionPending}
	for _, r := range st.Revisions {
		if r.Name == st.LatestCreatedRevision {
			configs = r.Ready
			configs.Type = "ConfigurationsReady"
		}
	}
	svc.Conditions = []*runpb.Condition{conditionProto(routes), conditionProto(configs)}
	return svc
}

// templateLocked returns the API template of a revision: as the API wrote
// it, or rendered from the data plane's. Callers hold p.mu.
func (p *ControlPlane) templateLocked(m *serviceMeta, revision string, t localcloud.Template) *runpb.RevisionTemplate {
	if pb := m.templates[revision]; pb != nil {
		return proto.Clone(pb).(*runpb.RevisionTemplate)
	}
	pb := &runpb.RevisionTemplate{}
	setTemplateFields(pb, t)
	return pb
}

// trafficServed reports whether the split asked for is the one served.
func trafficServed(st localcloud.ServiceState) bool {
	if len(st.Traffic) != len(st.TrafficStatuses) {
		return false
	}
	for i, t := range st.Traffic {
		s := st.TrafficStatuses[i]
		if t.Latest != s.Latest || t.Percent != s.Percent || t.Tag != s.Tag || !t.Latest && t.Revision != s.Revision {
			return false
		}
	}
	return true
}

func etag(id string, generation int64) string {
	h := sha256.Sum256([]byte(id + "/" + strconv.FormatInt(generation, 10)))
	return `"` + base64.RawURLEncoding.EncodeToString(h[:12]) + `"`
}

func trafficProto(ts []localcloud.TrafficTarget) []*runpb.TrafficTarget {
	out := make([]*runpb.TrafficTarget, 0, len(ts))
	for _, t := range ts {
		pb := &runpb.TrafficTarget{Revision: t.Revision, Percent: int32(t.Percent), Tag: t.Tag,
			Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION}
		if t.Latest {
			pb.Type, pb.Revision = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST, ""
		}
		out = append(out, pb)
	}
	return out
}

// trafficStatusProto renders the served split; a LATEST entry names the
// revision it resolves to.
func trafficStatusProto(ts []localcloud.TrafficStatus) []*runpb.TrafficTargetStatus {
	out := make([]*runpb.TrafficTargetStatus, 0, len(ts))
	for _, t := range ts {
		pb := &runpb.TrafficTargetStatus{Revision: t.Revision, Percent: int32(t.Percent), Tag: t.Tag, Uri: t.URL,
			Type: runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION}
		if t.Latest {
			pb.Type = runpb.TrafficTargetAllocationType_TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
		}
		out = append(out, pb)
	}
	return out
}

// conditionProto renders a condition; its reason goes to the common or the
// revision reason, whichever enum names it.
func conditionProto(c localcloud.Condition) *runpb.Condition {
	pb := &runpb.Condition{Type: c.Type, Message: c.Message}
	switch c.State {
	case localcloud.ConditionSucceeded:
		pb.State = runpb.Condition_CONDITION_SUCCEEDED
	case localcloud.ConditionFailed:
		pb.State = runpb.Condition_CONDITION_FAILED
		pb.Severity = runpb.Condition_ERROR
	default:
		pb.State = runpb.Condition_CONDITION_RECONCILING
	}
	if !c.LastTransitionTime.IsZero() {
		pb.LastTransitionTime = timestamppb.New(c.LastTransitionTime)
	}
	if v := runpb.Condition_CommonReason_value[c.Reason]; v != 0 {
		pb.Reasons = &runpb.Condition_Reason{Reason: runpb.Condition_CommonReason(v)}
	} else if v := runpb.Condition_RevisionReason_value[c.Reason]; v != 0 {
		pb.Reasons = &runpb.Condition_RevisionReason_{RevisionReason: runpb.Condition_RevisionReason(v)}
	}
	return pb
}

// revisionProto renders a revision snapshot as the Admin API v2 resource.
func (p *ControlPlane) revisionProto(service string, r localcloud.RevisionState) *runpb.Revision {
	p.mu.Lock()
	t := p.templateLocked(p.metaOf(service), r.Name, r.Template)
	p.mu.Unlock()
	id := uid(p.c.Project(), p.c.Region(), service, r.Name, strconv.FormatInt(r.CreateTime.UnixNano(), 10))
	desiredMin := 0
	if r.Percent > 0 {
		desiredMin = r.Template.Scaling.MinInstances
	}
	return &runpb.Revision{
		Name:                          p.revisionName(service, r.Name),
		Uid:                           id,
		Generation:                    r.Generation,
		Labels:                        t.Labels,
		Annotations:                   t.Annotations,
		CreateTime:                    timestamppb.New(r.CreateTime),
		UpdateTime:                    timestamppb.New(later(r.CreateTime, r.Ready.LastTransitionTime)),
		Service:                       p.serviceName(service),
		Scaling:                       t.Scaling,
		VpcAccess:                     t.VpcAccess,
		MaxInstanceRequestConcurrency: t.MaxInstanceRequestConcurrency,
		Timeout:                       t.Timeout,
		ServiceAccount:                t.ServiceAccount,
		Containers:                    t.Containers,
		Volumes:                       t.Volumes,
		ExecutionEnvironment:          t.ExecutionEnvironment,
		EncryptionKey:                 t.EncryptionKey,
		Reconciling:                   r.Ready.State == localcloud.ConditionPending,
		Conditions:                    []*runpb.Condition{conditionProto(r.Ready)},
		ObservedGeneration:            r.Generation,
		SessionAffinity:               t.SessionAffinity,
		ScalingStatus:                 &runpb.RevisionScalingStatus{DesiredMinInstanceCount: int32(desiredMin)},
		Etag:                          etag(id, r.Generation),
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
