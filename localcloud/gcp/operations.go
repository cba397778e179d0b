package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// lroOperations serves google.longrunning.Operations for the operations
// UpdateService and CreateService start.
type lroOperations struct {
	longrunningpb.UnimplementedOperationsServer
	p *ControlPlane
}

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
		if errors.Is(err, localcloud.ErrRevisionFailed) {
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
