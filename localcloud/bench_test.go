package localcloud

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/localcloud/internal/lctest"
)

// BenchmarkFrontEnd measures the whole local cloud: a client with 32
// keep-alive connections → front end → instance → external API through the
// NAT gateway, with no NAT pressure (pooled connections, 1,024 ports per
// instance) and simulated latencies scaled 100 times down (1.5 ms external API). It reports
// requests per second; the goal is ≥ 2,000 on a 2-core machine.
func BenchmarkFrontEnd(b *testing.B) {
	svc := lctest.Service("api", lctest.Call("external_api"))
	svc.App.ServerTime = 0
	svc.MinInstances = 2
	cfg := lctest.Config(100, svc)
	cfg.NAT.MinPortsPerVM = 1024
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	url, _ := c.ServiceURL("api")
	const workers = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}}
	defer client.CloseIdleConnections()

	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := client.Get(url + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					if failed.Add(1) < 5 {
						b.Logf("status %d: %s", resp.StatusCode, body)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed", n, b.N)
	}
}
