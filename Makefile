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
# Boulder's dependencies never enter ctlimits' go.mod. It runs twice, once
# per era of Boulder's batch rule (docs/semantics.md, "Dated rules"):
# go.mod's current release, which needs Go 1.27 (the go command fetches
# go1.27.3 from the module proxy; only this module uses it), and
# era20260309.mod's v0.20260309.0 on the machine's Go, with the tag that
# tells the test which era it runs.
BOULDER_GOTOOLCHAIN ?= go1.27.3

test: lint test-main test-boulder test-beam

test-main:
	$(GO) test -count=1 -timeout 20m ./...

test-boulder:
	cd replay/boulderdiff && GOTOOLCHAIN=$(BOULDER_GOTOOLCHAIN) $(GO) vet ./... && GOTOOLCHAIN=$(BOULDER_GOTOOLCHAIN) $(GO) test -count=1 ./...
	cd replay/boulderdiff && $(GO) vet -modfile=era20260309.mod -tags boulder20260309 . && $(GO) test -modfile=era20260309.mod -tags boulder20260309 -count=1 .

# The sharded replay on Apache Beam (Prism, in process), in its own module
# (replay/beamshard) for the same reason: Beam's dependencies stay out of
# ctlimits' go.mod. About 40 s once built; compiling Beam the first time
# takes about 3 minutes on the project's machine.
test-beam:
	cd replay/beamshard && $(GO) vet ./... && $(GO) test -count=1 ./...

# Benchmarks: cmd/ctbench runs every benchmark of docs/benchmarks.md, each
# as a subprocess, prints one table (measured, compared with, ratio,
# target, met?) with the machine and the commands, and writes it into
# docs/benchmarks.md. A full run takes about an hour and a half on the
# project's machine once the generated logs and histories (~35 GB, cached
# under /tmp/ctbench) exist, about half an hour more the first time: 16
# minutes for the end-to-end and replay steps, ~21 for history-120d (a
# 100M-certificate replay), ~55 for nights (a 70M replay, ten nights of
# ~2.5 minutes, an 80M replay). Skip the scale steps with
# CTBENCH_FLAGS='-skip history-120d,nights'. bench-quick is a smoke run of
# about five minutes at small sizes that prints only. CTBENCH_FLAGS passes
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
