# ctlimits: `make demo` runs the tool on the bundled sample, `make test`
# runs every test (what CI runs). See README.md.

GO        ?= go
BIN       := bin/ctlimits
GOFLAGS   ?=
export GOFLAGS

.PHONY: all build test test-main test-boulder bench demo lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ctlimits

# The whole suite: vet, the main module's tests, and the differential test
# against Boulder, which lives in its own module (replay/boulderdiff) so
# Boulder's dependencies never enter ctlimits' go.mod.
test: lint test-main test-boulder

test-main:
	$(GO) test -count=1 ./...

test-boulder:
	cd replay/boulderdiff && $(GO) test -count=1 ./...

# Benchmarks: every table of docs/benchmarks.md, measured again (about
# five minutes on the project's machine). CTLIMITS_BENCH_ENTRIES=65536
# makes the ingest ones quick.
bench: build
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench 'Decide|Prepare' -benchtime 3000000x ./replay
	cd replay/boulderdiff && $(GO) run ./cmd/benchtable -orders 10000000 -boulder-orders 1000000
	$(GO) test -run '^$$' -bench StreamParquet -benchtime 3x ./replay/orderio
	$(GO) test -run '^$$' -bench 'BenchmarkIngest' -benchtime 1x -timeout 30m ./ingest/
	$(GO) test -run '^$$' -bench 'Physical' -benchmem ./ingest/

demo: build
	./$(BIN) demo

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
