// Package cloudrun is the runner's Platform over a Cloud Run service,
// through the Cloud Run Admin API v2 (cloud.google.com/go/run/apiv2): it
// reads the service, deploys revisions by changing the service's template,
// follows the long-running operations to report when a revision is created
// and ready, and replaces the traffic split. Every change is a
// read-modify-write guarded by the service's etag, retried when another
// writer got there first. A run claims the service (runner.Claimer) in
// annotations on the service itself, so that a second run, in any process,
// sees it; once claimed, every change checks the claim in the same write.
//
// Every call gets an answer within Config.CallTimeout or fails; a call the
// API does not answer (UNAVAILABLE, or no answer in time) is a
// *runner.UnreachableError naming the API's host. The client makes each
// call once (only the polls of an operation already started are tried
// again, a few times): retrying with a backoff, and saying so, is the
// caller's.
//
// It does not decide what to deploy or when, and it does not roll back:
// the runner does, through runner.Platform. The same client talks to
// Google (Application Default Credentials) or to the local cloud's control
// plane (plain gRPC on loopback): which one is in the client options New
// takes, built by the caller (cmd/cutover builds them once for every driver).
package cloudrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	run "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of the client's waits.
const (
	// DefaultPollInterval is how often a long-running operation or a
	// revision is polled: events land on the timeline at most this late.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultUpdateAttempts bounds the read-modify-write attempts of one
	// change when the service keeps changing under it (etag conflicts).
	DefaultUpdateAttempts = 5
	// DefaultConflictBackoff is the wait before the first retry after an
	// etag conflict; it doubles with each further retry.
	DefaultConflictBackoff = 100 * time.Millisecond
	// DefaultCallTimeout bounds each call to the API: against an API that
	// does not answer, a call fails this late at the latest.
	DefaultCallTimeout = 10 * time.Second
	// maxPollErrors is how many polls in a row may fail with UNAVAILABLE
	// before following an operation gives up.
	maxPollErrors = 5
)

// The API's name and Google's endpoint, for errors that say which API could
// not be reached.
const (
	apiName        = "the Cloud Run API"
	googleEndpoint = "run.googleapis.com:443"
)

// Config names the service a Client works on and how to reach its API.
type Config struct {
	// Project, Region and Service name the service
	// (projects/PROJECT/locations/REGION/services/SERVICE).
	Project, Region, Service string
	// Host is the API's "host:port" as named in the errors that say it could
	// not be reached; empty: Google's endpoint. Where the client connects is
	// given by the options New takes (option.WithEndpoint), not by Host.
	Host string
	// Now stamps the events and the claims; nil means time.Now.
	Now func() time.Time
	// CallTimeout bounds each call to the API (0: DefaultCallTimeout).
	CallTimeout time.Duration
}

// Client is a runner.Platform (and runner.Waiter) over one Cloud Run
// service, for one run: after Claim it makes its changes on behalf of that
// run only. Its methods are safe for concurrent use; concurrent changes are
// serialized by the service's etag, not by the client.
type Client struct {
	name     string // projects/P/locations/R/services/S
	service  string // S
	host     string // where the API is, for errors
	now      func() time.Time
	services *run.ServicesClient
	revs     *run.RevisionsClient

	mu    sync.Mutex
	runID string // the run whose claim this client took; guarded by mu

	callTimeout     time.Duration
	pollInterval    time.Duration
	updateAttempts  int
	conflictBackoff time.Duration
	// beforeUpdate, when set (by tests), runs between the read and the
	// write of every read-modify-write attempt, numbered from 0.
	beforeUpdate func(ctx context.Context, attempt int)
}

var (
	_ runner.Platform = (*Client)(nil)
	_ runner.Waiter   = (*Client)(nil)
)

// New connects to the Cloud Run Admin API for the service cfg names, with
// the client options opts (none: Google's endpoint with Application Default
// Credentials).
func New(ctx context.Context, cfg Config, opts ...option.ClientOption) (*Client, error) {
	name := fmt.Sprintf("projects/%s/locations/%s/services/%s", cfg.Project, cfg.Region, cfg.Service)
	var missing []string
	for _, f := range []struct{ field, value string }{
		{"project", cfg.Project}, {"region", cfg.Region}, {"service", cfg.Service},
	} {
		if f.value == "" {
			missing = append(missing, f.field)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("connect to cloud run service %q: %s not set", name, strings.Join(missing, ", "))
	}
	host := googleEndpoint
	if cfg.Host != "" {
		host = cfg.Host
	}
	services, err := run.NewServicesClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to cloud run service %q: %w", name, err)
	}
	revs, err := run.NewRevisionsClient(ctx, opts...)
	if err != nil {
		_ = services.Close()
		return nil, fmt.Errorf("connect to cloud run service %q: revisions: %w", name, err)
	}
	// The generated clients retry UNAVAILABLE with a backoff until their
	// own timeout, which they drop when ctx has a deadline: against a dead
	// API a call then waits out the caller's whole deadline and ends with a
	// bare "context deadline exceeded". Each call here gets one attempt
	// under c.callTimeout instead (see call).
	services.CallOptions.GetService = append(services.CallOptions.GetService, noRetry)
	services.CallOptions.UpdateService = append(services.CallOptions.UpdateService, noRetry)
	services.LROClient.CallOptions.GetOperation = append(services.LROClient.CallOptions.GetOperation, noRetry)
	revs.CallOptions.GetRevision = append(revs.CallOptions.GetRevision, noRetry)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	callTimeout := cfg.CallTimeout
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	return &Client{
		name:            name,
		service:         cfg.Service,
		host:            host,
		now:             now,
		services:        services,
		revs:            revs,
		callTimeout:     callTimeout,
		pollInterval:    DefaultPollInterval,
		updateAttempts:  DefaultUpdateAttempts,
		conflictBackoff: DefaultConflictBackoff,
	}, nil
}

// Close closes the connections to the API.
func (c *Client) Close() error {
	return errors.Join(c.services.Close(), c.revs.Close())
}

// Name returns the service's full resource name.
func (c *Client) Name() string { return c.name }

// Service reads the service as it is now.
func (c *Client) Service(ctx context.Context) (runner.Service, error) {
	svc, err := c.getService(ctx)
	if err != nil {
		return runner.Service{}, fmt.Errorf("read service %q: %w", c.name, err)
	}
	return serviceOf(svc), nil
}

// SetTraffic replaces the service's traffic split and returns once the
// operation that serves it is done. A target with Latest routes to the
// latest ready revision; the others name revisions by their short names.
func (c *Client) SetTraffic(ctx context.Context, split []runner.TrafficTarget) error {
	traffic := trafficProto(split)
	op, err := c.update(ctx, c.guarded(func(svc *runpb.Service) error {
		svc.Traffic = traffic
		return nil
	}))
	if err != nil {
		return fmt.Errorf("set traffic of service %q to [%s]: %w", c.name, formatSplit(split), err)
	}
	if _, err := c.follow(ctx, op, nil); err != nil {
		if oe := (*operationError)(nil); errors.As(err, &oe) {
			err = c.resync(ctx, err)
		}
		return fmt.Errorf("set traffic of service %q to [%s]: %w", c.name, formatSplit(split), err)
	}
	return nil
}

// WaitReady polls a revision (short or full name) until its Ready
// condition succeeds, then reports revision-ready with the service's
// served split; a revision that fails is an error with its reason (and,
// after Claim, the claim records the split the failure left).
func (c *Client) WaitReady(ctx context.Context, revision string, report func(runner.Event)) error {
	short := shortName(revision)
	full := c.name + "/revisions/" + short
	t := time.NewTicker(c.pollInterval)
	defer t.Stop()
	for {
		r, err := call(ctx, c, func(ctx context.Context) (*runpb.Revision, error) {
			return c.revs.GetRevision(ctx, &runpb.GetRevisionRequest{Name: full})
		})
		if err != nil {
			return fmt.Errorf("wait for revision %q: %w", full, err)
		}
		ready := readyCondition(r.GetConditions())
		switch ready.GetState() {
		case runpb.Condition_CONDITION_SUCCEEDED:
			details := map[string]string{"revision": short}
			if svc, err := c.getService(ctx); err == nil {
				details["traffic"] = servedSplit(svc)
			}
			emit(report, runner.Event{Kind: results.EventRevisionReady, At: c.now(), Details: details})
			return nil
		case runpb.Condition_CONDITION_FAILED:
			reason := strings.TrimSuffix(strings.TrimSpace(ready.GetMessage()), ".")
			if reason == "" {
				reason = ready.GetReason().String()
			}
			return fmt.Errorf("wait for revision %q: %w", full, c.resync(ctx, &revisionFailedError{revision: short, reason: reason}))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for revision %q: %w", full, ctx.Err())
		case <-t.C:
		}
	}
}

// update runs one read-modify-write: it reads the service, lets mutate
// change it, and writes it back with the etag of the read, which the
// server checks. When the write fails with ABORTED, or with
// FAILED_PRECONDITION and a fresh read shows a new etag (another writer
// changed the service), the change is made again on the fresh read, after
// a short backoff, up to c.updateAttempts writes. It returns the started
// operation.
func (c *Client) update(ctx context.Context, mutate func(*runpb.Service) error) (*run.UpdateServiceOperation, error) {
	var (
		conflict error  // the last write's conflict
		sentEtag string // the etag the last write carried
	)
	for attempt := 0; ; attempt++ {
		svc, err := c.getService(ctx)
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		if conflict != nil && status.Code(conflict) == codes.FailedPrecondition && svc.GetEtag() == sentEtag {
			// The service did not change: the precondition that failed was
			// not the etag.
			return nil, conflict
		}
		if err := mutate(svc); err != nil {
			return nil, err
		}
		if c.beforeUpdate != nil {
			c.beforeUpdate(ctx, attempt)
		}
		sentEtag = svc.GetEtag()
		op, err := call(ctx, c, func(ctx context.Context) (*run.UpdateServiceOperation, error) {
			return c.services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		})
		if err == nil {
			return op, nil
		}
		if code := status.Code(err); code != codes.FailedPrecondition && code != codes.Aborted {
			return nil, fmt.Errorf("update: %w", err)
		}
		if attempt+1 >= c.updateAttempts {
			return nil, fmt.Errorf("update: the write kept conflicting, gave up after %d attempts: %w", attempt+1, err)
		}
		conflict = fmt.Errorf("update: %w", err)
		wait := time.NewTimer(c.conflictBackoff << attempt)
		select {
		case <-ctx.Done():
			wait.Stop()
			return nil, fmt.Errorf("update: retry after a conflict: %w", ctx.Err())
		case <-wait.C:
		}
	}
}

// follow polls an operation every c.pollInterval until it is done and
// returns its result. onMeta, when set, sees the operation's metadata (the
// service as it is being reconciled) before the first poll and after each
// one; when it returns true, follow stops and returns nil, nil. An
// operation that fails is an error from its status; polls that fail with
// UNAVAILABLE are retried a few times.
func (c *Client) follow(ctx context.Context, op *run.UpdateServiceOperation, onMeta func(*runpb.Service) bool) (*runpb.Service, error) {
	t := time.NewTicker(c.pollInterval)
	defer t.Stop()
	var (
		resp     *runpb.Service
		err      error
		failures int
	)
	for {
		if onMeta != nil {
			if md, _ := op.Metadata(); md != nil && onMeta(md) {
				return nil, nil
			}
		}
		if op.Done() {
			if err == nil && resp == nil {
				resp, err = op.Poll(ctx) // a done operation answers without a call
			}
			if err != nil {
				return nil, &operationError{err: err}
			}
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("follow operation %q: %w", op.Name(), ctx.Err())
		case <-t.C:
		}
		resp, err = call(ctx, c, func(ctx context.Context) (*runpb.Service, error) { return op.Poll(ctx) })
		if err != nil && !op.Done() {
			if status.Code(err) == codes.Unavailable && failures+1 < maxPollErrors && ctx.Err() == nil {
				failures++
				err = nil
				continue
			}
			return nil, fmt.Errorf("follow operation %q: %w", op.Name(), err)
		}
		failures = 0
	}
}

// noRetry turns off a generated client's own retries.
var noRetry = gax.WithRetry(nil)

// getService reads the service, once.
func (c *Client) getService(ctx context.Context) (*runpb.Service, error) {
	return call(ctx, c, func(ctx context.Context) (*runpb.Service, error) {
		return c.services.GetService(ctx, &runpb.GetServiceRequest{Name: c.name})
	})
}

// call makes one call to the API, which must answer within c.callTimeout.
// A call the API did not answer, while ctx still allowed it, is a
// *runner.UnreachableError: UNAVAILABLE (refused, reset, no route), or no
// answer in time.
func call[T any](ctx context.Context, c *Client, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	v, err := f(cctx)
	if err == nil || ctx.Err() != nil {
		return v, err
	}
	switch code := status.Code(err); {
	case code == codes.Unavailable:
	case code == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded):
		if cctx.Err() != nil {
			err = fmt.Errorf("no answer within %v: %w", c.callTimeout, err)
		}
	default:
		return v, err
	}
	return v, &runner.UnreachableError{API: apiName, Host: c.host, Err: err}
}

// operationError is the failure of a long-running operation.
type operationError struct{ err error }

func (e *operationError) Error() string { return "operation failed: " + e.err.Error() }
func (e *operationError) Unwrap() error { return e.err }

// revisionFailedError says which revision could not become ready and why.
type revisionFailedError struct {
	revision, reason string
	err              error // the operation's status, when there is one
}

func (e *revisionFailedError) Error() string {
	if e.revision == "" {
		return "the new revision failed: " + e.reason
	}
	return fmt.Sprintf("revision %q failed: %s", e.revision, e.reason)
}

func (e *revisionFailedError) Unwrap() error { return e.err }

// emit calls report when there is one.
func emit(report func(runner.Event), e runner.Event) {
	if report != nil {
		report(e)
	}
}

func readyCondition(conds []*runpb.Condition) *runpb.Condition {
	for _, c := range conds {
		if c.GetType() == "Ready" {
			return c
		}
	}
	return nil
}

var _ runner.RevisionLister = (*Client)(nil)

// Revisions lists the short names of the service's revisions.
func (c *Client) Revisions(ctx context.Context) ([]string, error) {
	names, err := call(ctx, c, func(ctx context.Context) ([]string, error) {
		var names []string
		it := c.revs.ListRevisions(ctx, &runpb.ListRevisionsRequest{Parent: c.name})
		for {
			r, err := it.Next()
			if errors.Is(err, iterator.Done) {
				return names, nil
			}
			if err != nil {
				return nil, err
			}
			names = append(names, shortName(r.GetName()))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list revisions of service %q: %w", c.name, err)
	}
	return names, nil
}
