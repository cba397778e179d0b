// Command vegetalib makes one attack directly with the vegeta library and
// consumes its results in-process, the baseline the cutover-vs-vegeta
// benchmark compares `cutover run` with. It does the work cutover's load
// engine does, the vegeta way: it sets the options cutover sets (keep-alive,
// the request timeout, the initial and maximum workers, the response body
// cap, no proxy, no attack name header), encodes every result with vegeta's
// own encoder (vegeta.NewEncoder, what `vegeta attack` writes) through a
// 256 KiB buffer into a file, syncs and closes that file at the end (as
// cutover's results.bin is), and aggregates every result (vegeta.Metrics).
//
// Open model: -rate N/s with -workers initial and -max-workers bound (0:
// vegeta's unbounded default). Closed model: -rate 0 with -workers N, which
// is exactly N workers each sending its next request when its last one
// finished. When the attack ends it prints one JSON object to stdout:
// requests, errors, the attack's elapsed seconds and the achieved rate
// (requests over the attack's duration, like cutover's achieved_rate).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// resultsBuffer is the buffer in front of the results file, as large as
// the one in front of cutover's results.bin.
const resultsBuffer = 256 << 10

// options is one attack's configuration.
type options struct {
	url        string
	out        string
	rate       int
	workers    uint64
	maxWorkers uint64
	duration   time.Duration
	timeout    time.Duration
	keepAlive  bool
	maxBody    int64
}

// summary is what the program prints.
type summary struct {
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	Elapsed  float64 `json:"elapsed_s"`
	Rate     float64 `json:"achieved_rate"`
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "target URL (a loopback address)")
	flag.StringVar(&o.out, "out", "", "file the encoded results are written to (required)")
	flag.IntVar(&o.rate, "rate", 0, "requests per second; 0 is the closed model with -workers clients")
	flag.Uint64Var(&o.workers, "workers", vegeta.DefaultWorkers, "initial workers (closed model: the concurrency)")
	flag.Uint64Var(&o.maxWorkers, "max-workers", 0, "maximum workers of the open model; 0 is unbounded")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of the attack")
	flag.DurationVar(&o.timeout, "timeout", vegeta.DefaultTimeout, "request timeout")
	flag.BoolVar(&o.keepAlive, "keepalive", true, "reuse connections")
	flag.Int64Var(&o.maxBody, "max-body", 1024, "bytes of each response body read")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole process to this file")
	flag.Parse()
	if o.url == "" || o.out == "" {
		fmt.Fprintln(os.Stderr, "vegetalib: -url and -out are required")
		os.Exit(2)
	}
	if err := profiled(*cpuProfile, func() error { return attack(o, os.Stdout) }); err != nil {
		fmt.Fprintln(os.Stderr, "vegetalib:", err)
		os.Exit(1)
	}
}

// profiled runs f, with a CPU profile written to path unless path is "".
func profiled(path string, f func() error) (err error) {
	if path == "" {
		return f()
	}
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(file); err != nil {
		_ = file.Close()
		return fmt.Errorf("start CPU profile: %w", err)
	}
	defer func() {
		pprof.StopCPUProfile()
		if cerr := file.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close CPU profile: %w", cerr))
		}
	}()
	return f()
}

// attack runs the attack described by o and writes its summary to out.
func attack(o options, out io.Writer) (err error) {
	f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create results file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close results file: %w", cerr)
		}
	}()
	buf := bufio.NewWriterSize(f, resultsBuffer)
	enc := vegeta.NewEncoder(buf)

	opts := []func(*vegeta.Attacker){
		vegeta.KeepAlive(o.keepAlive),
		vegeta.Timeout(o.timeout),
		vegeta.MaxBody(o.maxBody),
		vegeta.Proxy(nil),
		vegeta.Workers(o.workers),
	}
	var pacer vegeta.Pacer
	if o.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: o.rate, Per: time.Second}
		if o.maxWorkers > 0 {
			opts = append(opts, vegeta.MaxWorkers(o.maxWorkers))
		}
	} else {
		// The zero ConstantPacer sends as fast as the workers free up.
		pacer = vegeta.ConstantPacer{}
		opts = append(opts, vegeta.MaxWorkers(o.workers))
	}
	atk := vegeta.NewAttacker(opts...)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: o.url})

	var m vegeta.Metrics
	var errs uint64
	var encErr error
	start := time.Now()
	// No attack name: cutover sends none, so no X-Vegeta-Attack header.
	for r := range atk.Attack(tr, pacer, o.duration, "") {
		if r.Error != "" {
			errs++
		}
		if encErr == nil {
			if encErr = enc.Encode(r); encErr != nil {
				atk.Stop()
			}
		}
		m.Add(r)
	}
	elapsed := time.Since(start)
	m.Close()
	if encErr != nil {
		return fmt.Errorf("write results: %w", encErr)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("flush results file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync results file: %w", err)
	}

	s := summary{Requests: m.Requests, Errors: errs, Elapsed: elapsed.Seconds()}
	if secs := min(elapsed, o.duration).Seconds(); secs > 0 {
		s.Rate = float64(m.Requests) / secs
	}
	if err := json.NewEncoder(out).Encode(s); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
