package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/scenarios"
)

// The engine's cost per request is compared with the vegeta library doing
// the same attack in-process: closed model, 8 workers, keep-alive, results
// gob-encoded to a buffered discard writer (or not encoded at all). Both
// report cpu-ns/req (user+system CPU of the whole process per request,
// server included) next to ns/op. Two servers: an httptest server, and a
// raw loopback responder that costs far less CPU, so the client's share
// dominates. Run with:
//
//	go test -run '^$' -bench 'Engine|VegetaLibrary' -benchtime 20000x -count 5 ./runner/load

const benchWorkers = 8

func BenchmarkEngine(b *testing.B) {
	for _, srv := range benchServers {
		for _, encode := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/encode=%v", srv.name, encode), func(b *testing.B) {
				url := srv.start(b)
				l := closed(benchWorkers)
				opts := Options{Load: l, BaseURL: url}
				if encode {
					opts.Results = BufferedSink(io.Discard)
				}
				cpu := startCPU()
				b.ResetTimer()
				sum, err := run(context.Background(), opts, runConfig{limit: uint64(b.N)})
				b.StopTimer()
				cpu.report(b)
				if err != nil || sum.Totals.Requests != int64(b.N) || sum.Totals.Errors != 0 {
					b.Fatalf("run: %v; %+v", err, sum.Totals)
				}
			})
		}
	}
}

func BenchmarkVegetaLibrary(b *testing.B) {
	for _, srv := range benchServers {
		for _, encode := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/encode=%v", srv.name, encode), func(b *testing.B) {
				url := srv.start(b)
				atk := vegeta.NewAttacker(
					vegeta.Workers(benchWorkers), vegeta.MaxWorkers(benchWorkers),
					vegeta.MaxBody(MaxBody), vegeta.KeepAlive(true),
				)
				tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})
				var enc vegeta.Encoder
				var buf *bufio.Writer
				if encode {
					buf = bufio.NewWriterSize(io.Discard, 64<<10)
					enc = vegeta.NewEncoder(buf)
				}
				cpu := startCPU()
				b.ResetTimer()
				var n, errs int
				for r := range atk.Attack(tr, limitPacer{Pacer: vegeta.ConstantPacer{}, limit: uint64(b.N)}, 0, "") {
					n++
					if r.Error != "" {
						errs++
					}
					if enc != nil {
						if err := enc.Encode(r); err != nil {
							b.Fatal(err)
						}
					}
				}
				if buf != nil {
					buf.Flush()
				}
				b.StopTimer()
				cpu.report(b)
				if n != b.N || errs != 0 {
					b.Fatalf("%d results, %d errors; want %d, 0", n, errs, b.N)
				}
			})
		}
	}
}

// BenchmarkImpossibleRate asks 50,000/s for 2 s per iteration with
// MaxWorkers bounds and reports the achieved rate (req/s): the data for
// choosing scenarios.DefaultMaxWorkers. Compare with BenchmarkClosedLoop, the most
// this machine does at a fixed concurrency. Run with -benchtime 1x.
func BenchmarkImpossibleRate(b *testing.B) {
	for _, mw := range []int{8, 32, 64, 128, 256, 512, 2048} {
		b.Run(fmt.Sprintf("max_workers=%d", mw), func(b *testing.B) {
			url := rawOK(b)
			l := testLoad()
			l.Rate = perSecond(50000)
			l.MaxWorkers = mw
			l.Duration = scenarios.Duration(2 * time.Second)
			var rate float64
			for range b.N {
				sum, err := Run(context.Background(), Options{Load: l, BaseURL: url})
				if err != nil {
					b.Fatal(err)
				}
				rate += sum.Load.AchievedRate
				if sum.Totals.Errors != 0 {
					b.Logf("errors: %v", sum.Totals.ByClass)
				}
			}
			b.ReportMetric(rate/float64(b.N), "req/s")
		})
	}
}

// BenchmarkClosedLoop reports the achieved rate of the closed model at
// several concurrencies against the raw responder. Run with -benchtime 1x.
func BenchmarkClosedLoop(b *testing.B) {
	for _, c := range []int{1, 8, 32, 128, 512} {
		b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
			url := rawOK(b)
			l := closed(c)
			l.Duration = scenarios.Duration(2 * time.Second)
			var rate float64
			for range b.N {
				sum, err := Run(context.Background(), Options{Load: l, BaseURL: url})
				if err != nil {
					b.Fatal(err)
				}
				rate += sum.Load.AchievedRate
			}
			b.ReportMetric(rate/float64(b.N), "req/s")
		})
	}
}

// BenchmarkVegetaUnbounded is vegeta's default (unbounded workers) at an
// impossible 50,000/s for 2 s, for comparison with BenchmarkImpossibleRate.
func BenchmarkVegetaUnbounded(b *testing.B) {
	url := rawOK(b)
	var rate float64
	for range b.N {
		atk := vegeta.NewAttacker(vegeta.MaxBody(MaxBody))
		tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})
		n, errs := 0, 0
		start := time.Now()
		for r := range atk.Attack(tr, vegeta.ConstantPacer{Freq: 50000, Per: time.Second}, 2*time.Second, "") {
			n++
			if r.Error != "" {
				errs++
			}
		}
		rate += float64(n-errs) / time.Since(start).Seconds()
		if errs > 0 {
			b.Logf("%d of %d failed", errs, n)
		}
	}
	b.ReportMetric(rate/float64(b.N), "ok-req/s")
}

// benchServers are the servers the CPU comparison runs against.
var benchServers = []struct {
	name  string
	start func(testing.TB) string
}{
	{"httptest", func(tb testing.TB) string {
		srv := httptest.NewServer(okHandler)
		tb.Cleanup(srv.Close)
		return srv.URL
	}},
	{"raw", rawOK},
}

// rawOK is a minimal keep-alive HTTP/1.1 responder on loopback: it reads
// request heads (GET only, no body) and answers each with a canned 200.
func rawOK(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				w := bufio.NewWriter(c)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 && strings.TrimSpace(string(line)) == "" {
						w.WriteString(resp)
						if r.Buffered() == 0 {
							if w.Flush() != nil {
								return
							}
						}
					}
				}
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/"
}

// cpuClock measures the process's user+system CPU time.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: cpuNow()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/req")
}

// BenchmarkConsumerAdd is the engine's own per-result work (classify,
// aggregate, and optionally redact and gob-encode) on a typical ok result,
// without any HTTP: the engine's overhead over the vegeta library is this,
// per request. secret=true has a target URL with a secret query parameter,
// which results.bin stores redacted. grid=1m0s also counts every result on
// a 60 s metric grid (Options.GridPeriod).
func BenchmarkConsumerAdd(b *testing.B) {
	for _, tc := range []struct {
		encode bool
		url    string
		grid   time.Duration
	}{
		{false, "http://127.0.0.1:8080/", 0},
		{true, "http://127.0.0.1:8080/", 0},
		{true, "http://127.0.0.1:8080/items?api_key=K1&page=2", 0},
		{false, "http://127.0.0.1:8080/", time.Minute},
		{true, "http://127.0.0.1:8080/", time.Minute},
		{true, "http://127.0.0.1:8080/items?api_key=K1&page=2", time.Minute},
	} {
		name := fmt.Sprintf("encode=%v", tc.encode)
		if strings.Contains(tc.url, "?") {
			name += "/secret=true"
		}
		if tc.grid > 0 {
			name += fmt.Sprintf("/grid=%v", tc.grid)
		}
		b.Run(name, func(b *testing.B) {
			c := consumer{atk: vegeta.NewAttacker()}
			// As in a run, Result.URL is the target's own string.
			targets := []vegeta.Target{{Method: "GET", URL: tc.url}}
			c.urls = newURLRedactor(targets)
			if tc.encode {
				c.sink = BufferedSink(io.Discard)
				c.enc = newResultEncoder(c.sink)
			}
			c.agg = newAggregator(t0, time.Second, 0, 30*time.Second, "X-Revision", c.windowClosed)
			if tc.grid > 0 {
				c.agg.grid = newGrid(t0, tc.grid)
			}
			hdr := http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"2"}, "X-Revision": {"api-00042"}, "Date": {"Mon, 02 Jan 2025 03:04:05 GMT"}}
			rs := make([]vegeta.Result, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := &rs[i%len(rs)]
				// 10,000 results per second: a window closes every 10,000.
				*r = vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: t0.Add(time.Duration(i) * 100 * time.Microsecond),
					Latency: time.Duration(1000+i%5000) * time.Microsecond, Method: "GET", URL: targets[0].URL, Headers: hdr, Body: []byte("ok")}
				c.add(r)
			}
		})
	}
}

// BenchmarkGridAdd is what Options.GridPeriod adds to each result: one
// grid.add, at BenchmarkConsumerAdd's 10,000 results per second on a 60 s
// grid. It is measured on its own because it is smaller than that
// benchmark's noise on a shared machine.
func BenchmarkGridAdd(b *testing.B) {
	g := newGrid(t0, time.Minute)
	b.ReportAllocs()
	for i := range b.N {
		g.add(t0.Add(time.Duration(i)*100*time.Microsecond), classOK, markNone, 200, "api-00042")
	}
}
