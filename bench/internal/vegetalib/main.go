// Command vegetalib makes one attack directly with the vegeta library and
// consumes its results in-process (vegeta.Metrics.Add), the baseline the
// cutover-vs-vegeta benchmark compares `cutover run` with. It sets the
// options cutover's load engine sets: keep-alive, the request timeout, the
// initial and maximum workers, the response body cap, no proxy.
//
// Open model: -rate N/s with -workers initial and -max-workers bound (0:
// vegeta's unbounded default). Closed model: -rate 0 with -workers N, which
// is exactly N workers each sending its next request when its last one
// finished. When the attack ends it prints one JSON object to stdout:
// requests, errors, the attack's elapsed seconds and the achieved rate
// (requests over the attack's duration, like cutover's achieved_rate).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// options is one attack's configuration.
type options struct {
	url        string
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
	flag.IntVar(&o.rate, "rate", 0, "requests per second; 0 is the closed model with -workers clients")
	flag.Uint64Var(&o.workers, "workers", vegeta.DefaultWorkers, "initial workers (closed model: the concurrency)")
	flag.Uint64Var(&o.maxWorkers, "max-workers", 0, "maximum workers of the open model; 0 is unbounded")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of the attack")
	flag.DurationVar(&o.timeout, "timeout", vegeta.DefaultTimeout, "request timeout")
	flag.BoolVar(&o.keepAlive, "keepalive", true, "reuse connections")
	flag.Int64Var(&o.maxBody, "max-body", 1024, "bytes of each response body read")
	flag.Parse()
	if o.url == "" {
		fmt.Fprintln(os.Stderr, "vegetalib: -url is required")
		os.Exit(2)
	}
	if err := attack(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vegetalib:", err)
		os.Exit(1)
	}
}

// attack runs the attack described by o and writes its summary to out.
func attack(o options, out io.Writer) error {
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
	start := time.Now()
	for r := range atk.Attack(tr, pacer, o.duration, "vegetalib") {
		if r.Error != "" {
			errs++
		}
		m.Add(r)
	}
	elapsed := time.Since(start)
	m.Close()

	s := summary{Requests: m.Requests, Errors: errs, Elapsed: elapsed.Seconds()}
	if secs := min(elapsed, o.duration).Seconds(); secs > 0 {
		s.Rate = float64(m.Requests) / secs
	}
	if err := json.NewEncoder(out).Encode(s); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
