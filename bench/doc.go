// Package bench holds the end-to-end performance comparison of issue 2's
// `make bench`: the built `cutover run` binary against the same attack made
// directly with the vegeta library (internal/vegetalib), both as child
// processes driving one loopback server process (internal/target), so each
// side's CPU and memory are its own rusage. It has no API; everything is in
// its benchmarks, which report their goals rather than assert them:
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench/
//
// Without -bench, `go test` runs nothing here.
//
// To see where either side's CPU goes, profile the two processes on the
// same attack: `CUTOVER_CPUPROFILE=c.prof cutover run scenario.yaml` (a
// hidden switch of the binary) and `go run ./bench/internal/vegetalib
// -cpuprofile v.prof ...`, then compare with `go tool pprof -top -cum`.
package bench
