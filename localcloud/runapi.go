package localcloud

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/scenarios"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Cloud Run API defaults for template fields a request leaves unset.
const (
	apiDefaultMaxInstances = 100
	apiDefaultConcurrency  = 80
	apiDefaultTimeout      = 300 * time.Second
	apiMaxTimeout          = 3600 * time.Second
)

var serviceIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)

// runServices serves google.cloud.run.v2.Services.
type runServices struct {
	runpb.UnimplementedServicesServer
	p *ControlPlane
}

// runRevisions serves google.cloud.run.v2.Revisions.
type runRevisions struct {
	runpb.UnimplementedRevisionsServer
	p *ControlPlane
}

// lroOperations serves google.longrunning.Operations for the operations
// UpdateService and CreateService start.
type lroOperations struct {
	longrunningpb.UnimplementedOperationsServer
	p *ControlPlane
}

var (
	_ runpb.ServicesServer           = (*runServices)(nil)
	_ runpb.RevisionsServer          = (*runRevisions)(nil)
	_ longrunningpb.OperationsServer = (*lroOperations)(nil)
)

// GetService returns a service as the Admin API v2 shows it.
func (s *runServices) GetService(ctx context.Context, req *runpb.GetServiceRequest) (*runpb.Service, error) {
	ids, err := s.p.parseName("name", req.GetName(), "services")
	if err != nil {
		return nil, err
	}
	s.p.updateMu.RLock()
	defer s.p.updateMu.RUnlock()
	st, err := s.p.c.Service(ids[0])
	if err != nil {
		return nil, statusOf(err)
	}
	return s.p.serviceProto(st), nil
}

// ListServices lists the services of the cloud's location in
// configuration order.
func (s *runServices) ListServices(ctx context.Context, req *runpb.ListServicesRequest) (*runpb.ListServicesResponse, error) {
	if _, err := s.p.parseName("parent", req.GetParent()); err != nil {
		return nil, err
	}
	names := s.p.c.ServiceNames()
	from, to, next, err := page("services", len(names), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListServicesResponse{NextPageToken: next}
	s.p.updateMu.RLock()
	defer s.p.updateMu.RUnlock()
	for _, name := range names[from:to] {
		st, err := s.p.c.Service(name)
		if err != nil {
			return nil, statusOf(err)
		}
		resp.Services = append(resp.Services, s.p.serviceProto(st))
	}
	return resp, nil
}

// CreateService creates a service (with the default application model:
// no outbound calls) and its first revision; the operation is done when
// the revision is ready, or failed with its reason.
func (s *runServices) CreateService(ctx context.Context, req *runpb.CreateServiceRequest) (*longrunningpb.Operation, error) {
	if _, err := s.p.parseName("parent", req.GetParent()); err != nil {
		return nil, err
	}
	s.p.updateMu.Lock()
	defer s.p.updateMu.Unlock()
	return s.p.createService(ctx, req.GetServiceId(), req.GetService(), req.GetValidateOnly())
}

// UpdateService applies a new desired state. A changed template creates a
// revision; a changed traffic list is applied once the revisions it names
// are ready. The operation's metadata is the Service; it is done when the
// new revision is ready and the traffic is served, or fails with the
// revision's reason (and the traffic stays where it was). A change of
// labels, annotations or description alone is a new generation without a
// revision. ValidateOnly checks the request and returns a done operation
// with the service unchanged.
func (s *runServices) UpdateService(ctx context.Context, req *runpb.UpdateServiceRequest) (*longrunningpb.Operation, error) {
	p := s.p
	in := req.GetService()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "service is required")
	}
	ids, err := p.parseName("service.name", in.GetName(), "services")
	if err != nil {
		return nil, err
	}
	name := ids[0]
	p.updateMu.Lock()
	defer p.updateMu.Unlock()
	st, err := p.c.Service(name)
	if errors.Is(err, ErrNotFound) && req.GetAllowMissing() {
		return p.createService(ctx, name, in, req.GetValidateOnly())
	}
	if err != nil {
		return nil, statusOf(err)
	}
	cur := p.serviceProto(st)
	if in.GetEtag() != "" && in.GetEtag() != cur.GetEtag() {
		return nil, status.Errorf(codes.FailedPrecondition,
			"etag %s does not match the service's current etag %s: the service changed since it was read",
			in.GetEtag(), cur.GetEtag())
	}
	want, err := applyMask(cur, in, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	if err := checkServiceScaling(want.GetScaling()); err != nil {
		return nil, err
	}
	tmpl, tmplPB, suffix, err := templateFromProto(name, want.GetTemplate())
	if err != nil {
		return nil, err
	}
	traffic, err := p.trafficFromProto(name, want.GetTraffic())
	if err != nil {
		return nil, err
	}
	newRevision := !templatesEqual(tmpl, st.Template) ||
		!proto.Equal(templateExtras(tmplPB), templateExtras(cur.GetTemplate()))
	trafficChanged := !slices.Equal(traffic, st.Traffic)
	metaChanged := !maps.Equal(want.GetLabels(), cur.GetLabels()) ||
		!maps.Equal(want.GetAnnotations(), cur.GetAnnotations()) ||
		want.GetDescription() != cur.GetDescription()
	if req.GetValidateOnly() {
		return p.doneOperation(cur)
	}

	var rev string
	switch {
	case newRevision:
		spec := RevisionSpec{
			Image:           tmpl.Image,
			Env:             tmpl.Env,
			Suffix:          suffix,
			Scaling:         &tmpl.Scaling,
			Concurrency:     tmpl.Concurrency,
			RequestTimeout:  tmpl.RequestTimeout,
			Egress:          tmpl.Egress,
			SessionAffinity: &tmpl.SessionAffinity,
		}
		if trafficChanged {
			spec.Traffic = traffic
		}
		rev, err = p.c.Deploy(ctx, name, spec)
	case trafficChanged:
		err = p.c.SetTraffic(name, traffic)
	case metaChanged:
		// A new generation with the same split.
		err = p.c.SetTraffic(name, st.Traffic)
	}
	if err != nil {
		return nil, statusOf(err)
	}
	p.mu.Lock()
	m := p.metaOf(name)
	m.labels, m.annotations, m.description = maps.Clone(want.GetLabels()), maps.Clone(want.GetAnnotations()), want.GetDescription()
	if rev != "" {
		m.templates[rev] = tmplPB
	}
	p.mu.Unlock()

	wait := []string{}
	if rev != "" {
		wait = append(wait, rev)
	}
	if trafficChanged {
		wait = append(wait, p.pendingIn(name, traffic)...)
	}
	return p.startOperation(name, wait)
}

// createService creates a service from an API resource; callers hold
// updateMu.
func (p *ControlPlane) createService(ctx context.Context, id string, in *runpb.Service, validateOnly bool) (*longrunningpb.Operation, error) {
	if !serviceIDRE.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument,
			"service id %q: lower-case letters, digits and hyphens, starting with a letter, at most 49 characters", id)
	}
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "service is required")
	}
	if _, err := p.c.Service(id); err == nil {
		return nil, status.Errorf(codes.AlreadyExists, "service %q already exists", p.serviceName(id))
	}
	if err := checkServiceScaling(in.GetScaling()); err != nil {
		return nil, err
	}
	tmpl, tmplPB, suffix, err := templateFromProto(id, in.GetTemplate())
	if err != nil {
		return nil, err
	}
	traffic, err := p.trafficFromProto(id, in.GetTraffic())
	if err != nil {
		return nil, err
	}
	if validateOnly {
		out := proto.Clone(in).(*runpb.Service)
		out.Name, out.Template = p.serviceName(id), tmplPB
		return p.doneOperation(out)
	}
	var sc scenarios.CloudService
	sc.Defaults()
	sc.Name = id
	sc.Image = tmpl.Image
	sc.MinInstances, sc.MaxInstances = tmpl.Scaling.MinInstances, tmpl.Scaling.MaxInstances
	sc.Concurrency = tmpl.Concurrency
	sc.RequestTimeout = scenarios.Duration(tmpl.RequestTimeout)
	sc.Egress = tmpl.Egress
	sc.SessionAffinity = tmpl.SessionAffinity
	rev, err := p.c.CreateService(ctx, sc, RevisionSpec{Env: tmpl.Env, Suffix: suffix, Traffic: traffic})
	if err != nil {
		return nil, statusOf(err)
	}
	p.mu.Lock()
	m := p.metaOf(id)
	m.labels, m.annotations, m.description = maps.Clone(in.GetLabels()), maps.Clone(in.GetAnnotations()), in.GetDescription()
	m.templates[rev] = tmplPB
	p.mu.Unlock()
	return p.startOperation(id, append([]string{rev}, p.pendingIn(id, traffic)...))
}

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
func templateFromProto(service string, t *runpb.RevisionTemplate) (Template, *runpb.RevisionTemplate, string, error) {
	var zero Template
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
	c := t.GetContainers()[0]
	if c.GetImage() == "" {
		return zero, nil, "", status.Error(codes.InvalidArgument, "template.containers[0].image is required")
	}
	out := Template{Image: c.GetImage(), Env: map[string]string{}}
	for i, e := range c.GetEnv() {
		switch {
		case e.GetName() == "":
			return zero, nil, "", status.Errorf(codes.InvalidArgument, "template.containers[0].env[%d]: name is required", i)
		case e.GetValueSource() != nil:
			return zero, nil, "", status.Errorf(codes.InvalidArgument,
				"template.containers[0].env[%d] %q: value_source (secrets) is not supported by the local cloud", i, e.GetName())
		}
		if _, dup := out.Env[e.GetName()]; dup {
			return zero, nil, "", status.Errorf(codes.InvalidArgument, "template.containers[0].env: %q is set twice", e.GetName())
		}
		out.Env[e.GetName()] = e.GetValue()
	}
	sc := t.GetScaling()
	out.Scaling = Scaling{MinInstances: int(sc.GetMinInstanceCount()), MaxInstances: int(sc.GetMaxInstanceCount())}
	if out.Scaling.MaxInstances == 0 {
		out.Scaling.MaxInstances = apiDefaultMaxInstances
	}
	if out.Scaling.MinInstances < 0 || out.Scaling.MinInstances > out.Scaling.MaxInstances {
		return zero, nil, "", status.Errorf(codes.InvalidArgument,
			"template.scaling: min_instance_count %d, max_instance_count %d: need 0 ≤ min ≤ max", sc.GetMinInstanceCount(), sc.GetMaxInstanceCount())
	}
	out.Concurrency = int(t.GetMaxInstanceRequestConcurrency())
	if out.Concurrency == 0 {
		out.Concurrency = apiDefaultConcurrency
	}
	if out.Concurrency < 1 || out.Concurrency > 1000 {
		return zero, nil, "", status.Errorf(codes.InvalidArgument,
			"template.max_instance_request_concurrency %d: must be between 1 and 1000", out.Concurrency)
	}
	out.RequestTimeout = apiDefaultTimeout
	if t.GetTimeout() != nil {
		if err := t.GetTimeout().CheckValid(); err != nil {
			return zero, nil, "", status.Errorf(codes.InvalidArgument, "template.timeout: %v", err)
		}
		out.RequestTimeout = t.GetTimeout().AsDuration()
		if out.RequestTimeout <= 0 || out.RequestTimeout > apiMaxTimeout {
			return zero, nil, "", status.Errorf(codes.InvalidArgument,
				"template.timeout %v: must be positive and at most %v", out.RequestTimeout, apiMaxTimeout)
		}
	}
	switch t.GetVpcAccess().GetEgress() {
	case runpb.VpcAccess_ALL_TRAFFIC:
		out.Egress = EgressAllTraffic
	case runpb.VpcAccess_PRIVATE_RANGES_ONLY, runpb.VpcAccess_VPC_EGRESS_UNSPECIFIED:
		out.Egress = EgressPrivateRangesOnly
	default:
		return zero, nil, "", status.Errorf(codes.InvalidArgument, "template.vpc_access.egress %v is not valid", t.GetVpcAccess().GetEgress())
	}
	out.SessionAffinity = t.GetSessionAffinity()
	pb := proto.Clone(t).(*runpb.RevisionTemplate)
	setTemplateFields(pb, out)
	return out, pb, suffix, nil
}

// setTemplateFields writes the simulated fields of t into pb, keeping the
// rest (and the order of env vars that are already right).
func setTemplateFields(pb *runpb.RevisionTemplate, t Template) {
	pb.Scaling = &runpb.RevisionScaling{MinInstanceCount: int32(t.Scaling.MinInstances), MaxInstanceCount: int32(t.Scaling.MaxInstances)}
	pb.MaxInstanceRequestConcurrency = int32(t.Concurrency)
	pb.Timeout = durationpb.New(t.RequestTimeout)
	pb.SessionAffinity = t.SessionAffinity
	if pb.VpcAccess == nil {
		pb.VpcAccess = &runpb.VpcAccess{}
	}
	pb.VpcAccess.Egress = runpb.VpcAccess_PRIVATE_RANGES_ONLY
	if t.Egress == EgressAllTraffic {
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
func templatesEqual(a, b Template) bool {
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
func (p *ControlPlane) trafficFromProto(service string, in []*runpb.TrafficTarget) ([]TrafficTarget, error) {
	if len(in) == 0 {
		return []TrafficTarget{{Latest: true, Percent: 100}}, nil
	}
	out := make([]TrafficTarget, 0, len(in))
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
		tt := TrafficTarget{Revision: rev, Percent: int(t.GetPercent()), Tag: t.GetTag()}
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
func (p *ControlPlane) pendingIn(service string, traffic []TrafficTarget) []string {
	st, err := p.c.Service(service)
	if err != nil {
		return nil
	}
	var out []string
	for _, t := range traffic {
		for _, r := range st.Revisions {
			if !t.Latest && r.Name == t.Revision && r.Ready.State == ConditionPending && !slices.Contains(out, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// Resources.

// serviceProto renders a service snapshot as the Admin API v2 resource.
func (p *ControlPlane) serviceProto(st ServiceState) *runpb.Service {
	p.mu.Lock()
	m := p.metaOf(st.Name)
	if !st.Reconciling && st.Ready.State == ConditionSucceeded {
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
	routes := Condition{Type: "RoutesReady", State: ConditionSucceeded, LastTransitionTime: st.UpdateTime}
	if !trafficServed(st) {
		routes.State = ConditionPending
	}
	configs := Condition{Type: "ConfigurationsReady", State: ConditionPending}
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
func (p *ControlPlane) templateLocked(m *serviceMeta, revision string, t Template) *runpb.RevisionTemplate {
	if pb := m.templates[revision]; pb != nil {
		return proto.Clone(pb).(*runpb.RevisionTemplate)
	}
	pb := &runpb.RevisionTemplate{}
	setTemplateFields(pb, t)
	return pb
}

// trafficServed reports whether the split asked for is the one served.
func trafficServed(st ServiceState) bool {
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

func trafficProto(ts []TrafficTarget) []*runpb.TrafficTarget {
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
func trafficStatusProto(ts []TrafficStatus) []*runpb.TrafficTargetStatus {
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
func conditionProto(c Condition) *runpb.Condition {
	pb := &runpb.Condition{Type: c.Type, Message: c.Message}
	switch c.State {
	case ConditionSucceeded:
		pb.State = runpb.Condition_CONDITION_SUCCEEDED
	case ConditionFailed:
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
func (p *ControlPlane) revisionProto(service string, r RevisionState) *runpb.Revision {
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
		Reconciling:                   r.Ready.State == ConditionPending,
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

// GetRevision returns a revision.
func (s *runRevisions) GetRevision(ctx context.Context, req *runpb.GetRevisionRequest) (*runpb.Revision, error) {
	ids, err := s.p.parseName("name", req.GetName(), "services", "revisions")
	if err != nil {
		return nil, err
	}
	st, err := s.p.c.Service(ids[0])
	if err != nil {
		return nil, statusOf(err)
	}
	for _, r := range st.Revisions {
		if r.Name == ids[1] {
			return s.p.revisionProto(st.Name, r), nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "revision %q not found", req.GetName())
}

// ListRevisions lists a service's revisions, newest first.
func (s *runRevisions) ListRevisions(ctx context.Context, req *runpb.ListRevisionsRequest) (*runpb.ListRevisionsResponse, error) {
	ids, err := s.p.parseName("parent", req.GetParent(), "services")
	if err != nil {
		return nil, err
	}
	st, err := s.p.c.Service(ids[0])
	if err != nil {
		return nil, statusOf(err)
	}
	revs := slices.Clone(st.Revisions)
	slices.Reverse(revs)
	from, to, next, err := page("revisions/"+st.Name, len(revs), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &runpb.ListRevisionsResponse{NextPageToken: next}
	for _, r := range revs[from:to] {
		resp.Revisions = append(resp.Revisions, s.p.revisionProto(st.Name, r))
	}
	return resp, nil
}

// Operations.

// operation is one long-running operation; done closes when its pb is
// final.
type operation struct {
	done chan struct{}
	pb   *longrunningpb.Operation // guarded by ControlPlane.mu
}

// newOperation registers an operation whose metadata is svc.
func (p *ControlPlane) newOperation(svc *runpb.Service) (*operation, error) {
	md, err := anypb.New(svc)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "operation metadata: %v", err)
	}
	op := &operation{done: make(chan struct{}), pb: &longrunningpb.Operation{
		Name:     p.locationName() + "/operations/" + randomUUID(),
		Metadata: md,
	}}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops[op.pb.Name] = op
	p.opOrder = append(p.opOrder, op.pb.Name)
	for i := 0; len(p.opOrder) > maxOperations && i < len(p.opOrder); {
		if o := p.ops[p.opOrder[i]]; o.pb.Done {
			delete(p.ops, p.opOrder[i])
			p.opOrder = slices.Delete(p.opOrder, i, i+1)
			continue
		}
		i++
	}
	return op, nil
}

// doneOperation returns an operation that is done at once with svc.
func (p *ControlPlane) doneOperation(svc *runpb.Service) (*longrunningpb.Operation, error) {
	op, err := p.newOperation(svc)
	if err != nil {
		return nil, err
	}
	p.complete(op, svc, nil)
	return p.snapshot(op), nil
}

// startOperation starts the operation of a change to service: done when
// every revision in wait is ready (at once when there is none), failed
// when one of them fails.
func (p *ControlPlane) startOperation(service string, wait []string) (*longrunningpb.Operation, error) {
	st, err := p.c.Service(service)
	if err != nil {
		return nil, statusOf(err)
	}
	op, err := p.newOperation(p.serviceProto(st))
	if err != nil {
		return nil, err
	}
	if len(wait) == 0 {
		p.finish(op, service, nil)
	} else {
		p.goWatch(func() { p.watch(op, service, wait) })
	}
	return p.snapshot(op), nil
}

// watch waits for the revisions of an operation and completes it; it
// leaves it not done when the control plane or the cloud closes.
func (p *ControlPlane) watch(op *operation, service string, wait []string) {
	var failure *rpcstatus.Status
	for _, rev := range wait {
		rs, err := p.c.WaitRevision(p.ctx, service, rev)
		if errors.Is(err, ErrRevisionFailed) {
			failure = &rpcstatus.Status{
				Code:    int32(codes.FailedPrecondition),
				Message: fmt.Sprintf("Revision '%s' is not ready and cannot serve traffic. %s", rev, rs.Ready.Message),
			}
			break
		}
		if err != nil {
			return
		}
	}
	p.finish(op, service, failure)
}

// finish completes op with the service's current state.
func (p *ControlPlane) finish(op *operation, service string, failure *rpcstatus.Status) {
	st, err := p.c.Service(service)
	if err != nil {
		return
	}
	p.complete(op, p.serviceProto(st), failure)
}

func (p *ControlPlane) complete(op *operation, svc *runpb.Service, failure *rpcstatus.Status) {
	md, err := anypb.New(svc)
	if err != nil {
		failure = &rpcstatus.Status{Code: int32(codes.Internal), Message: err.Error()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pb := &longrunningpb.Operation{Name: op.pb.Name, Metadata: md, Done: true}
	if failure != nil {
		pb.Result = &longrunningpb.Operation_Error{Error: failure}
	} else {
		pb.Result = &longrunningpb.Operation_Response{Response: md}
	}
	op.pb = pb
	close(op.done)
}

func (p *ControlPlane) snapshot(op *operation) *longrunningpb.Operation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return proto.Clone(op.pb).(*longrunningpb.Operation)
}

func (p *ControlPlane) operation(name string) (*operation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	op, ok := p.ops[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "operation %q not found", name)
	}
	return op, nil
}

// GetOperation returns an operation's latest state.
func (o *lroOperations) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	op, err := o.p.operation(req.GetName())
	if err != nil {
		return nil, err
	}
	return o.p.snapshot(op), nil
}

// WaitOperation waits until an operation is done, its timeout passes
// (wall-clock), the call ends or the control plane closes, and returns its
// latest state.
func (o *lroOperations) WaitOperation(ctx context.Context, req *longrunningpb.WaitOperationRequest) (*longrunningpb.Operation, error) {
	op, err := o.p.operation(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetTimeout() != nil {
		if err := req.GetTimeout().CheckValid(); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "timeout: %v", err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.GetTimeout().AsDuration())
		defer cancel()
	}
	select {
	case <-op.done:
	case <-ctx.Done():
	case <-o.p.ctx.Done():
	}
	return o.p.snapshot(op), nil
}

// ListOperations lists the operations of the cloud's location, oldest
// first. Filters are not supported.
func (o *lroOperations) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	if _, err := o.p.parseName("name", req.GetName()); err != nil {
		return nil, err
	}
	if req.GetFilter() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "filter %q: operation filters are not supported by the local cloud", req.GetFilter())
	}
	o.p.mu.Lock()
	names := slices.Clone(o.p.opOrder)
	o.p.mu.Unlock()
	from, to, next, err := page("operations", len(names), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &longrunningpb.ListOperationsResponse{NextPageToken: next}
	for _, name := range names[from:to] {
		if op, err := o.p.operation(name); err == nil {
			resp.Operations = append(resp.Operations, o.p.snapshot(op))
		}
	}
	return resp, nil
}
