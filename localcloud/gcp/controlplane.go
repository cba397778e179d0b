package gcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ControlPlane is the local cloud's control plane: one gRPC server on
// 127.0.0.1 that speaks the Google APIs the drivers use against a real
// cloud, over a running Cloud:
//
//   - google.cloud.run.v2.Services: GetService, ListServices, CreateService
//     and UpdateService (long-running operations);
//   - google.cloud.run.v2.Revisions: GetRevision, ListRevisions;
//   - google.longrunning.Operations: GetOperation, WaitOperation,
//     ListOperations;
//   - google.monitoring.v3.MetricService: ListTimeSeries over the recorder.
//
// The unmodified Google client libraries reach it with
// option.WithEndpoint(Addr()), option.WithoutAuthentication() and insecure
// transport credentials. Resource names have the real shape
// (projects/P/locations/L/services/S); timestamps are wall-clock, durations
// in Cloud Run templates are simulated. Its methods are safe for concurrent
// use. Close it before closing the Cloud.
type ControlPlane struct {
	c      *localcloud.Cloud
	ln     net.Listener
	srv    *grpc.Server
	served chan struct{} // closed when Serve returned

	// ctx ends on Close; operation watchers and WaitOperation derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // operation watchers

	// updateMu serializes the API's writes, so an etag check and the change
	// it guards are atomic with respect to other API updates; the API's
	// reads of services hold it shared, so a read never sees a write half
	// done (the new generation, and so the new etag, with the old
	// annotations).
	updateMu sync.RWMutex

	mu      sync.Mutex
	closed  bool
	meta    map[string]*serviceMeta // by service name
	ops     map[string]*operation
	opOrder []string // operation names, oldest first
}

// maxOperations bounds the operations kept; the oldest done ones go first.
const maxOperations = 1000

// serviceMeta is what the control plane keeps about a service beyond the
// data plane's state: the parts of the API resource the local cloud does not
// simulate, echoed back as written.
type serviceMeta struct {
	labels, annotations map[string]string
	description         string
	// templates are the revision templates as the API wrote them, by
	// revision name; revisions deployed through the Go API have none.
	templates map[string]*runpb.RevisionTemplate
	// observed is the last generation seen serving (reconciled and ready).
	observed int64
}

// StartControlPlane starts the control plane of c on 127.0.0.1 (a free
// port). ctx bounds the start only; the server runs until Close.
func StartControlPlane(ctx context.Context, c *localcloud.Cloud) (*ControlPlane, error) {
	if c == nil {
		return nil, errors.New("start control plane: no local cloud")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start control plane: listen: %w", err)
	}
	p := &ControlPlane{
		c:      c,
		ln:     ln,
		srv:    grpc.NewServer(),
		served: make(chan struct{}),
		meta:   map[string]*serviceMeta{},
		ops:    map[string]*operation{},
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	runpb.RegisterServicesServer(p.srv, &runServices{p: p})
	runpb.RegisterRevisionsServer(p.srv, &runRevisions{p: p})
	longrunningpb.RegisterOperationsServer(p.srv, &lroOperations{p: p})
	monitoringpb.RegisterMetricServiceServer(p.srv, &metricService{p: p})
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln)
	}()
	return p, nil
}

// Addr returns the server's address, "127.0.0.1:PORT", for
// option.WithEndpoint.
func (p *ControlPlane) Addr() string { return p.ln.Addr().String() }

// Close stops the server gracefully: it refuses new calls, ends pending
// WaitOperation calls and operation watchers (operations not done by then
// stay not done), and returns once every goroutine it started is gone.
func (p *ControlPlane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.srv.GracefulStop()
	<-p.served
	p.wg.Wait()
	return nil
}

// goWatch runs f in a goroutine that Close waits for; it reports false
// when the control plane is closed.
func (p *ControlPlane) goWatch(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// metaOf returns the service's meta, creating it; callers hold p.mu.
func (p *ControlPlane) metaOf(service string) *serviceMeta {
	m := p.meta[service]
	if m == nil {
		m = &serviceMeta{templates: map[string]*runpb.RevisionTemplate{}}
		p.meta[service] = m
	}
	return m
}

// Resource names.

func (p *ControlPlane) locationName() string {
	return "projects/" + p.c.Project() + "/locations/" + p.c.Region()
}

func (p *ControlPlane) serviceName(service string) string {
	return p.locationName() + "/services/" + service
}

func (p *ControlPlane) revisionName(service, revision string) string {
	if revision == "" {
		return ""
	}
	return p.serviceName(service) + "/revisions/" + revision
}

// parseName splits a resource name of the form
// projects/P/locations/L[/KIND0/ID0[/KIND1/ID1…]] and returns the ids. A
// malformed name is INVALID_ARGUMENT; a project or location other than the
// cloud's is NOT_FOUND, as for a resource that does not exist.
func (p *ControlPlane) parseName(field, name string, kinds ...string) ([]string, error) {
	parts := strings.Split(name, "/")
	want := append([]string{"projects", "locations"}, kinds...)
	if len(parts) != 2*len(want) {
		return nil, status.Errorf(codes.InvalidArgument, "%s %q: want %s", field, name, namePattern(want))
	}
	ids := make([]string, len(want))
	for i, k := range want {
		if parts[2*i] != k || parts[2*i+1] == "" {
			return nil, status.Errorf(codes.InvalidArgument, "%s %q: want %s", field, name, namePattern(want))
		}
		ids[i] = parts[2*i+1]
	}
	if ids[0] != p.c.Project() {
		return nil, status.Errorf(codes.NotFound, "%s %q: project %q not found (the local cloud's project is %q)",
			field, name, ids[0], p.c.Project())
	}
	if ids[1] != p.c.Region() {
		return nil, status.Errorf(codes.NotFound, "%s %q: location %q not found (the local cloud's region is %q)",
			field, name, ids[1], p.c.Region())
	}
	return ids[2:], nil
}

func namePattern(kinds []string) string {
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte('/')
		}
		fmt.Fprintf(&b, "%s/{%s}", k, strings.TrimSuffix(k, "s"))
	}
	return b.String()
}

// statusOf maps a data-plane error to the status code Google uses.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, localcloud.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, localcloud.ErrInvalidArgument):
		code = codes.InvalidArgument
	case errors.Is(err, localcloud.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, localcloud.ErrRevisionFailed):
		code = codes.FailedPrecondition
	case errors.Is(err, localcloud.ErrClosed):
		code = codes.Unavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(code, err.Error())
}

// pageToken encodes an offset into a list; the kind keeps tokens of one
// list from being used with another.
func pageToken(kind string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.Itoa(offset)))
}

// pageOffset decodes a page token; "" is the first page.
func pageOffset(kind, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		if rest, ok := strings.CutPrefix(string(b), kind+":"); ok {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
				return n, nil
			}
		}
	}
	return 0, status.Errorf(codes.InvalidArgument, "page token %q is not valid for this request", token)
}

// page returns the bounds of one page of n items and the next token.
func page(kind string, n int, pageSize int32, token string) (from, to int, next string, err error) {
	from, err = pageOffset(kind, token)
	if err != nil {
		return 0, 0, "", err
	}
	if pageSize < 0 {
		return 0, 0, "", status.Errorf(codes.InvalidArgument, "page size %d is negative", pageSize)
	}
	from = min(from, n)
	to = n
	if pageSize > 0 {
		to = min(n, from+int(pageSize))
	}
	if to < n {
		next = pageToken(kind, to)
	}
	return from, to, next, nil
}

// uid derives a stable UUID-shaped id from parts.
func uid(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// randomUUID returns a random version-4 UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
