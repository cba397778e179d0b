# cutover — run `make help` for the targets.

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.buildVersion=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := bin/cutover

.PHONY: help build test check bench demo clean

## help: list the targets
help:
	@awk -F': ' '/^## / { sub(/^## /, ""); printf "%-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

## build: build bin/cutover with the version stamped in
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/cutover

## test: run every test, then fuzz scenario parsing for 30,000 inputs (the command CI runs)
test:
	$(GO) test -count=1 -timeout 15m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30000x -fuzzminimizetime 2000x ./scenarios/

## check: gofmt diff, go mod tidy diff, go vet, staticcheck, and the tests with the race detector
check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## bench: load engine, local cloud, 1-hour HTML page and compare benchmarks, then the cutover-vs-vegeta comparison
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./runner/load/
	$(GO) test -run '^$$' -bench . -benchmem ./localcloud/
	$(GO) test -run '^$$' -bench 'OneHour' -benchmem ./reporters/ ./compare/
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

## demo: replay incident 000 (Cloud NAT exhaustion at a deploy) on the local cloud; exits 1
demo:
	$(GO) run ./cmd/cutover run nat-exhaustion

## clean: remove built binaries and run records (untracked output only)
clean:
	rm -rf bin runs
