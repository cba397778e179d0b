package gcp

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud"
	"github.com/cutover-dev/cutover/scenarios"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// apiMaxTimeout is the longest request timeout Cloud Run accepts.
const apiMaxTimeout = 3600 * time.Second

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
	if errors.Is(err, localcloud.ErrNotFound) && req.GetAllowMissing() {
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

	u := serviceUpdate{name: name, st: st, want: want, tmpl: tmpl, tmplPB: tmplPB, suffix: suffix, traffic: traffic,
		newRevision: newRevision, trafficChanged: trafficChanged, metaChanged: metaChanged}
	return p.applyUpdate(ctx, u)
}

// serviceUpdate is a checked UpdateService request: the service as it is
// (st), as asked (want), and what changes.
type serviceUpdate struct {
	name                        string
	st                          localcloud.ServiceState
	want                        *runpb.Service
	tmpl                        localcloud.Template
	tmplPB                      *runpb.RevisionTemplate
	suffix                      string
	traffic                     []localcloud.TrafficTarget
	newRevision                 bool
	trafficChanged, metaChanged bool
}

// applyUpdate makes the change in the world (a new revision, a new split,
// or a new generation with the same split), keeps the API's metadata and
// starts the operation that waits for what it changed.
func (p *ControlPlane) applyUpdate(ctx context.Context, u serviceUpdate) (*longrunningpb.Operation, error) {
	var rev string
	var err error
	switch {
	case u.newRevision:
		spec := localcloud.RevisionSpec{
			Image:           u.tmpl.Image,
			Env:             u.tmpl.Env,
			Suffix:          u.suffix,
			Scaling:         &u.tmpl.Scaling,
			Concurrency:     u.tmpl.Concurrency,
			RequestTimeout:  u.tmpl.RequestTimeout,
			Egress:          u.tmpl.Egress,
			SessionAffinity: &u.tmpl.SessionAffinity,
		}
		if u.trafficChanged {
			spec.Traffic = u.traffic
		}
		rev, err = p.c.Deploy(ctx, u.name, spec)
	case u.trafficChanged:
		err = p.c.SetTraffic(u.name, u.traffic)
	case u.metaChanged:
		// A new generation with the same split.
		err = p.c.SetTraffic(u.name, u.st.Traffic)
	}
	if err != nil {
		return nil, statusOf(err)
	}
	p.mu.Lock()
	m := p.metaOf(u.name)
	m.labels, m.annotations, m.description = maps.Clone(u.want.GetLabels()), maps.Clone(u.want.GetAnnotations()), u.want.GetDescription()
	if rev != "" {
		m.templates[rev] = u.tmplPB
	}
	p.mu.Unlock()

	wait := []string{}
	if rev != "" {
		wait = append(wait, rev)
	}
	if u.trafficChanged {
		wait = append(wait, p.pendingIn(u.name, u.traffic)...)
	}
	return p.startOperation(u.name, wait)
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
	rev, err := p.c.CreateService(ctx, sc, localcloud.RevisionSpec{Env: tmpl.Env, Suffix: suffix, Traffic: traffic})
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
