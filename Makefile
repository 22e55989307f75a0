# ctlimits: `make demo` runs the tool on the bundled sample, `make test`
# runs every test (what CI runs). See README.md.

GO        ?= go
BIN       := bin/ctlimits
GOFLAGS   ?=
export GOFLAGS

.PHONY: all build test test-main test-boulder test-beam bench bench-quick demo lint clean fuzz golden

all: build

build:
	$(GO) build -o $(BIN) ./cmd/ctlimits

# The whole suite: vet, the main module's tests, and the differential test
# against Boulder, which lives in its own module (replay/boulderdiff) so
# Boulder's dependencies never enter ctlimits' go.mod.
test: lint test-main test-boulder test-beam

test-main:
	$(GO) test -count=1 ./...

test-boulder:
	cd replay/boulderdiff && $(GO) test -count=1 ./...

# The sharded replay on Apache Beam (Prism, in process), in its own module
# (replay/beamshard) for the same reason: Beam's dependencies stay out of
# ctlimits' go.mod. About 40 s once built; compiling Beam the first time
# takes about 3 minutes on the project's machine.
test-beam:
	cd replay/beamshard && $(GO) vet ./... && $(GO) test -count=1 ./...

# Benchmarks: cmd/ctbench runs every benchmark of docs/benchmarks.md, each
# as a subprocess, prints one table (measured, compared with, ratio,
# target, met?) with the machine and the commands, and writes it into
# docs/benchmarks.md. A full run takes about 16 minutes on the project's
# machine once the end-to-end logs (~13 GB, cached under /tmp/ctbench)
# exist, about 6 more the first time. bench-quick is a smoke run of about
# three minutes at small sizes that prints only. CTBENCH_FLAGS passes
# flags, e.g. CTBENCH_FLAGS='-only e2e-1m,physical' or '-work DIR'
# (go run ./cmd/ctbench -h lists them).
CTBENCH_FLAGS ?=

bench: build
	$(GO) run ./cmd/ctbench $(CTBENCH_FLAGS)

bench-quick: build
	$(GO) run ./cmd/ctbench -quick $(CTBENCH_FLAGS)

demo: build
	./$(BIN) demo

# Fuzzing: every Go fuzz test of a parser of user input, each for
# FUZZTIME (go test -fuzztime syntax). make test runs their seed corpora
# only; this target searches. A crasher lands in the package's
# testdata/fuzz/ and then fails make test until fixed: commit it with the
# fix.
FUZZTIME ?= 1m
fuzz:
	@set -e; for f in $$(git grep -l '^func Fuzz' -- '*_test.go'); do \
	  pkg=./$$(dirname $$f); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	  done; \
	done

# Golden files (report formats, command output): regenerate after a
# deliberate change, then read the diff before committing.
golden:
	$(GO) test ./report/ ./cmd/ctlimits/ -run 'Golden|Report|Replay' -update

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin

# The manual page, docs/ctlimits.1, generated from the commands and their
# flags by 'ctlimits man'; a test in cmd/ctlimits fails when it is stale.
.PHONY: man
man: build
	./$(BIN) man > docs/ctlimits.1
