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

# Benchmarks print their table to stdout and to docs/benchmarks.md's
# sections; see docs/benchmarks.md for how each number is measured.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1x ./replay/... ./ingest/... 2>&1 | tee bench.out

demo: build
	./$(BIN) demo

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin bench.out
