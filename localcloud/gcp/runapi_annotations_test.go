package gcp

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"github.com/cutover-dev/cutover/localcloud/internal/lctest"
)

// A change of the service's annotations alone is a new generation, done at
// once, with no revision, and the annotations and the etag of a read always
// belong to the same generation: a reader never sees the new etag with the
// old annotations (a write from such a read would pass the etag check and
// put the old annotations back).
func TestControlPlaneAnnotationsOnly(t *testing.T) {
	t.Parallel()
	c := startCloud(t, lctest.Config(100, lctest.Service("api")))
	a := startAPI(t, c)
	ctx := testCtx(t)
	name := serviceResource(c, "api")
	revisions := func() int {
		st, err := c.Service("api")
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Revisions)
	}
	before := revisions()

	var (
		stop    atomic.Bool
		torn    atomic.Int64
		reads   atomic.Int64
		readers sync.WaitGroup
	)
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
				if err != nil {
					t.Errorf("GetService: %v", err)
					return
				}
				reads.Add(1)
				if g, ok := svc.GetAnnotations()["gen"]; ok && g != strconv.FormatInt(svc.GetGeneration(), 10) {
					torn.Add(1)
				}
			}
		}()
	}
	const writes = 100
	for i := range writes {
		svc, err := a.svc.GetService(ctx, &runpb.GetServiceRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Annotations == nil {
			svc.Annotations = map[string]string{}
		}
		svc.Annotations["gen"] = strconv.FormatInt(svc.GetGeneration()+1, 10)
		op, err := a.svc.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
		if err != nil {
			t.Fatalf("write %d: UpdateService: %v", i, err)
		}
		if !op.Done() {
			t.Fatalf("write %d: an annotations-only update is not done at once", i)
		}
		got, err := op.Wait(ctx)
		if err != nil || got.GetGeneration() != svc.GetGeneration()+1 || got.GetAnnotations()["gen"] != svc.Annotations["gen"] {
			t.Fatalf("write %d: generation %d annotations %v (%v), want generation %d with gen=%s",
				i, got.GetGeneration(), got.GetAnnotations(), err, svc.GetGeneration()+1, svc.Annotations["gen"])
		}
	}
	stop.Store(true)
	readers.Wait()
	if n := torn.Load(); n > 0 {
		t.Errorf("%d of %d reads showed a generation with another generation's annotations", n, reads.Load())
	}
	if after := revisions(); after != before {
		t.Errorf("%d revisions after %d annotations-only updates, want still %d", after, writes, before)
	}
}
