package main

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goTestOutput = `goos: linux
goarch: amd64
pkg: github.com/ctlimits/ctlimits/replay/orderio
cpu: Oxide Virtual Turin-like Processor             
BenchmarkStreamParquet/out=parquet-2         	       3	3497000123 ns/op	    285984 orders/s
BenchmarkStreamParquet/out=jsonl-2           	       3	2211000456 ns/op	    452269 orders/s
BenchmarkStreamParquet/out=none-2            	       3	 751789012 ns/op	   1330149 orders/s
BenchmarkStreamParquet/duckdb=count-2        	       3	  12345678 ns/op	  81000000 orders/s
--- BENCH: BenchmarkStreamParquet/out=none-2
    bench_test.go:45: generated 1000000 orders in 2.1s
BenchmarkPhysicalLeafHash-2           	 2000000	       523.4 ns/op	1031.00 MB/s	     161 B/op	       3 allocs/op
BenchmarkIngestRFC6962VsScanner-2   	       1	9876543210 ns/op	         1.870 cpu-ratio	     54321 ctgo-scanner-default-entries/s	     65432 ctgo-scanner-entries/s	     28.50 ctlimits-cpu-us/entry	    130000 ctlimits-entries/s	         1.987 ratio	         2.393 ratio-vs-default
BenchmarkDecideBatch 	 3000000	       116.0 ns/op	   8632932 orders/s	       0 B/op	       0 allocs/op
BenchmarkChatty
PASS
ok  	github.com/ctlimits/ctlimits/replay/orderio	42.1s
`

func TestParseBench(t *testing.T) {
	bs := parseBench(goTestOutput)
	if len(bs) != 7 {
		t.Fatalf("%d results, want 7: %+v", len(bs), bs)
	}
	b, ok := findBench(bs, "BenchmarkStreamParquet/out=none")
	if !ok {
		t.Fatal("no BenchmarkStreamParquet/out=none")
	}
	if b.Raw != "BenchmarkStreamParquet/out=none-2" || b.N != 3 || b.Metrics["ns/op"] != 751789012 || b.Metrics["orders/s"] != 1330149 {
		t.Errorf("out=none: %+v", b)
	}
	if _, ok := findBench(bs, "BenchmarkStreamParquet/out=none-2"); !ok {
		t.Error("the raw name with its -GOMAXPROCS suffix is not found")
	}
	if b, _ := findBench(bs, "BenchmarkStreamParquet/duckdb=count"); b.Metrics["orders/s"] != 81e6 {
		t.Errorf("duckdb=count: %+v", b)
	}
	if _, ok := findBench(bs, "BenchmarkStreamParquet/duckdb=rows"); ok {
		t.Error("found a benchmark that is not in the output")
	}
	h, _ := findBench(bs, "BenchmarkPhysicalLeafHash")
	for unit, want := range map[string]float64{"ns/op": 523.4, "MB/s": 1031, "B/op": 161, "allocs/op": 3} {
		if h.Metrics[unit] != want {
			t.Errorf("leaf hash %s = %v, want %v", unit, h.Metrics[unit], want)
		}
	}
	r, _ := findBench(bs, "BenchmarkIngestRFC6962VsScanner")
	for unit, want := range map[string]float64{"ratio": 1.987, "cpu-ratio": 1.87, "ctlimits-entries/s": 130000, "ctgo-scanner-entries/s": 65432, "ctlimits-cpu-us/entry": 28.5} {
		if r.Metrics[unit] != want {
			t.Errorf("rfc6962 %s = %v, want %v", unit, r.Metrics[unit], want)
		}
	}
	// GOMAXPROCS=1: no suffix.
	if d, ok := findBench(bs, "BenchmarkDecideBatch"); !ok || d.N != 3_000_000 || d.Metrics["orders/s"] != 8632932 {
		t.Errorf("DecideBatch: %+v %v", d, ok)
	}
}

func TestParseBenchLineRejects(t *testing.T) {
	for _, l := range []string{
		"BenchmarkChatty",
		"BenchmarkX-2 \t abc \t 12 ns/op",
		"BenchmarkX-2 \t 3 \t 12 ns/op \t 5",
		"BenchmarkX-2 \t 3 \t 12 orders/s",
		"--- BENCH: BenchmarkX-2",
		"    BenchmarkX-2 \t 3 \t 12 ns/op",
	} {
		if b, ok := parseBenchLine(l); ok {
			t.Errorf("parseBenchLine(%q) = %+v, want no result", l, b)
		}
	}
}

const benchtableJSON = `{
  "stream": "synth.Realistic",
  "seed": 1,
  "orders": 10000000,
  "boulder_orders": 1000000,
  "gomaxprocs": 1,
  "goos": "linux",
  "goarch": "amd64",
  "go_version": "go1.26.8",
  "rows": [
    {"key": "core", "name": "ctlimits replay core (DecideBatch)", "orders": 10000000, "seconds": 4.39, "orders_per_s": 2278982, "ns_per_order": 439, "allocs_per_order": 0},
    {"key": "prepare-decide", "name": "ctlimits Prepare + Decide", "orders": 10000000, "seconds": 13.6, "orders_per_s": 734834, "ns_per_order": 1361, "allocs_per_order": 3.45},
    {"key": "core-boulder-orders", "name": "ctlimits replay core, Boulder's orders", "orders": 1000000, "seconds": 0.43, "orders_per_s": 2327554, "ns_per_order": 430, "allocs_per_order": 0},
    {"key": "boulder", "name": "Boulder ratelimits (inmem source)", "orders": 1000000, "seconds": 10.6, "orders_per_s": 94461, "ns_per_order": 10586, "allocs_per_order": 41.1, "note": "the first 1000000 orders"}
  ],
  "ratio_vs_boulder": 24.6
}
`

func TestParseBenchtable(t *testing.T) {
	bt, err := parseBenchtable(benchtableJSON)
	if err != nil {
		t.Fatal(err)
	}
	if bt.Orders != 10_000_000 || bt.BoulderOrders != 1_000_000 || bt.RatioVsBoulder != 24.6 {
		t.Errorf("header: %+v", bt)
	}
	core, _ := bt.row(btCore)
	bo, _ := bt.row(btBoulder)
	if core.OrdersPerS != 2278982 || bo.NsPerOrder != 10586 || bo.AllocsPerOrder != 41.1 {
		t.Errorf("rows: %+v %+v", core, bo)
	}
	if _, err := parseBenchtable("| engine | orders |\n"); err == nil || !strings.Contains(err.Error(), "-json") {
		t.Errorf("the markdown table: err = %v, want one about -json", err)
	}
	noBoulder := strings.Replace(benchtableJSON, `"key": "boulder"`, `"key": "other"`, 1)
	if _, err := parseBenchtable(noBoulder); err == nil || !strings.Contains(err.Error(), `"boulder"`) {
		t.Errorf("no boulder row: err = %v", err)
	}
	if _, err := parseBenchtable(`{"rows": [`); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestOutputParsers(t *testing.T) {
	n, s, ok := ordersSummary("ctlimits replay: 100000000 orders: 30000000 new, 60000000 renewal, 10000000 limited under letsencrypt -> stdout (2m1s)\n")
	if !ok || n != 100_000_000 || !strings.HasPrefix(s, "100000000 orders: 30000000 new") {
		t.Errorf("ordersSummary = %d %q %v", n, s, ok)
	}
	n, _, _ = ordersSummary("Let's Encrypt production and other CAs under letsencrypt: 433 orders: 255 new\nLet's Encrypt staging under letsencrypt-staging: 40 orders: 40 new\n")
	if n != 433 {
		t.Errorf("ordersSummary with groups = %d, want the first, 433", n)
	}
	if _, _, ok := ordersSummary("nothing\n"); ok {
		t.Error("ordersSummary found a summary in nothing")
	}

	ns, err := parseCounts("entries,certificates\n326643,172000\n")
	if err != nil || len(ns) != 2 || ns[0] != 326643 || ns[1] != 172000 {
		t.Errorf("parseCounts = %v, %v", ns, err)
	}
	if _, err := parseCounts("count\n"); err == nil {
		t.Error("parseCounts accepted a header alone")
	}

	out := "wrote 3233786 entries to /tmp/big in 1m5s\nctlimits ingest --log file:///tmp/big --key MFkw+/== --origin ctgen.ctlimits.example/2026-06-01\n"
	args, origin, err := parseIngestCommand(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(args, " ") != "ingest --log file:///tmp/big --key MFkw+/== --origin ctgen.ctlimits.example/2026-06-01" || origin != "ctgen.ctlimits.example/2026-06-01" {
		t.Errorf("parseIngestCommand = %q, %q", args, origin)
	}
	if d, ok := windowStart(origin); !ok || d != "2026-06-01" {
		t.Errorf("windowStart = %q %v", d, ok)
	}
	if _, ok := windowStart("example.com/log"); ok {
		t.Error("windowStart found a date in example.com/log")
	}
	if _, _, err := parseIngestCommand("wrote 3 entries\n"); err == nil {
		t.Error("parseIngestCommand accepted output without the command")
	}
}

const doc = `# Benchmarks

Intro paragraph.

<!-- ctbench:begin -->
## Summary

| old | table |
|---|---|
<!-- ctbench:end -->

## Methods

Kept | as is, with a trailing line.
`

func TestReplaceSection(t *testing.T) {
	got, err := replaceSection(doc, "## Summary\n\nnew table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Benchmarks

Intro paragraph.

<!-- ctbench:begin -->

## Summary

new table

<!-- ctbench:end -->

## Methods

Kept | as is, with a trailing line.
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Idempotent: the same section again gives the same file.
	again, err := replaceSection(got, "## Summary\n\nnew table\n")
	if err != nil || again != got {
		t.Errorf("second replacement changed the file:\n%s", again)
	}

	for name, bad := range map[string]string{
		"no markers":    "# Benchmarks\n\n## Summary\n",
		"no end":        "<!-- ctbench:begin -->\nx\n",
		"no begin":      "x\n<!-- ctbench:end -->\n",
		"reversed":      "<!-- ctbench:end -->\nx\n<!-- ctbench:begin -->\n",
		"twice":         "<!-- ctbench:begin -->\n<!-- ctbench:end -->\n<!-- ctbench:begin -->\n<!-- ctbench:end -->\n",
		"inline marker": "text <!-- ctbench:begin --> text\n<!-- ctbench:end -->\n",
	} {
		if _, err := replaceSection(bad, "x"); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name == "no markers" && !strings.Contains(err.Error(), "<!-- ctbench:begin -->") {
			t.Errorf("no markers: the error does not name the markers: %v", err)
		}
	}
}

func TestWriteDocs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(path, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := writeDocs(path, "## Summary\n\nfresh\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	if !strings.Contains(s, "\nfresh\n") || strings.Contains(s, "| old | table |") ||
		!strings.HasPrefix(s, "# Benchmarks\n\nIntro paragraph.\n\n<!-- ctbench:begin -->\n") ||
		!strings.HasSuffix(s, "<!-- ctbench:end -->\n\n## Methods\n\nKept | as is, with a trailing line.\n") {
		t.Errorf("file after writeDocs:\n%s", s)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}

	// A file without markers is refused and left alone.
	plain := filepath.Join(dir, "plain.md")
	os.WriteFile(plain, []byte("# Benchmarks\n\n## Summary\n"), 0o644)
	err := writeDocs(plain, "x")
	if err == nil || !strings.Contains(err.Error(), "markers") || !strings.Contains(err.Error(), "plain.md") {
		t.Errorf("writeDocs without markers: %v", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "# Benchmarks\n\n## Summary\n" {
		t.Errorf("the refused file changed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestRenderTable(t *testing.T) {
	got := renderTable([]Row{
		{What: "ingest a|b", Measured: "198k entries/s", Target: ">= 100k entries/s", Met: "yes", Step: "ingest-local"},
		{What: "baseline", Measured: "failed: exit status 1\nmore"},
	})
	want := "| what | measured | compared with | ratio | target | met? | step |\n" +
		"|---|---|---|---|---|---|---|\n" +
		"| ingest a\\|b | 198k entries/s | — | — | >= 100k entries/s | yes | `ingest-local` |\n" +
		"| baseline | failed: exit status 1 more | — | — | — | — | — |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRender(t *testing.T) {
	start := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	rp := report{
		Rows: []Row{{What: "x", Measured: "1", Step: "physical"}},
		Machine: machine{CPU: "AMD EPYC", Cores: 2, Memory: "23.5 GiB", Kernel: "Linux 6.18 amd64", Go: "go1.26.8",
			Commit: "5e92c38+dirty", Start: start, End: start.Add(95 * time.Second), LoadStart: "0.50 0.40 0.30", LoadEnd: "1.50 1.00 0.50"},
		Records: []record{
			{step: "physical", shell: "go test -run '^$' -bench Physical -benchmem ./ingest", timed: true,
				res: result{wall: 12 * time.Second, user: 10 * time.Second, sys: time.Second, maxRSS: 500 << 20}},
			{step: "e2e-1m", shell: "ctgen -out x", note: "cached"},
		},
		Mode:   "quick run (-quick)",
		Args:   []string{"-quick"},
		Failed: []string{"e2e-1m"},
	}
	s := rp.render()
	for _, want := range []string{
		"## Summary\n",
		"Measured 2026-11-23 18:00 UTC with `go run ./cmd/ctbench -quick` (`make bench-quick`) at commit `5e92c38+dirty`: quick run (-quick), 1 min 35 s.",
		"| x | 1 | — | — | — | — | `physical` |",
		"**Failed steps: e2e-1m**",
		"AMD EPYC, 2 cores, 23.5 GiB of memory, Linux 6.18 amd64, go1.26.8",
		"0.50 0.40 0.30 at the start, 1.50 1.00 0.50 at the end",
		"- physical: `go test -run '^$' -bench Physical -benchmem ./ingest` (12.0 s wall, 11.0 s CPU, peak RSS 500 MiB)\n",
		"- e2e-1m: `ctgen -out x` (cached)\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("render lacks %q:\n%s", want, s)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRate(2278982), "2.28M"}, {fmtRate(198123), "198k"}, {fmtRate(94461), "94.5k"}, {fmtRate(523), "523"},
		{fmtInt(15188994), "15,188,994"}, {fmtInt(-1234), "-1,234"}, {fmtInt(12), "12"},
		{fmtCount(10_000_000), "10M"}, {fmtCount(4_700_000), "4.7M"}, {fmtCount(100_000), "100k"}, {fmtCount(65536), "65,536"},
		{fmtBytes(6 << 30), "6.00 GiB"}, {fmtBytes(188 << 20), "188 MiB"},
		{fmtNs(523.4), "523 ns"}, {fmtNs(5798), "5,798 ns"}, {fmtNs(106821), "107 µs"}, {fmtNs(12.5), "12.5 ns"},
		{fmtRatio(24.63), "24.6x"}, {fmtRatio(1.987), "1.99x"},
		{fmtDuration(42 * time.Second), "42 s"}, {fmtDuration(23*time.Minute + 5*time.Second), "23 min 05 s"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestSelectSteps(t *testing.T) {
	all := steps(newConfig(false))
	names := func(ss []step) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.name)
		}
		return strings.Join(n, ",")
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.name] {
			t.Errorf("step %s twice", s.name)
		}
		seen[s.name] = true
		if len(s.rows) == 0 {
			t.Errorf("step %s has no rows", s.name)
		}
		for _, r := range s.rows {
			if r.Step != s.name || r.What == "" || r.Measured != "" {
				t.Errorf("step %s: bad skeleton row %+v", s.name, r)
			}
		}
	}
	sel, err := selectSteps(all, "boulder, physical", "")
	if err != nil || names(sel) != "replay-core,physical" {
		t.Errorf("-only boulder,physical = %s, %v", names(sel), err)
	}
	sel, err = selectSteps(all, "", "e2e-8m,replay-100m")
	if err != nil || len(sel) != len(all)-2 || strings.Contains(names(sel), "e2e-8m") {
		t.Errorf("-skip e2e-8m,replay-100m = %s, %v", names(sel), err)
	}
	if _, err := selectSteps(all, "ingest", ""); err == nil || !strings.Contains(err.Error(), "ingest-local") {
		t.Errorf("unknown step: %v", err)
	}
	if _, err := selectSteps(all, "physical", "physical"); err == nil {
		t.Error("an empty selection was accepted")
	}

	q := newConfig(true)
	if q.e2e8 != nil || q.e2e1.certs != 100_000 || q.replayOrders != 1_000_000 || q.ingestEntries != 65536 ||
		q.history != (entriesParams{certs: 750_000, days: 120}) || q.nightsBase != (entriesParams{certs: 300_000, days: 30}) {
		t.Errorf("quick config: %+v", q)
	}
}

func TestShellQuote(t *testing.T) {
	c := command{dir: "replay/boulderdiff", env: []string{"GOMAXPROCS=1"}, name: "go",
		args: []string{"test", "-run", "^$", "-bench", "Decide|Prepare", "it's"}, stdout: "/dev/null"}
	want := `cd replay/boulderdiff && GOMAXPROCS=1 go test -run '^$' -bench 'Decide|Prepare' 'it'\''s' > /dev/null`
	if got := c.shell(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestErrorLine(t *testing.T) {
	exitErr := exec.Command("sh", "-c", "exit 1").Run()
	for _, c := range []struct {
		res  result
		want string
	}{
		{result{err: exitErr, stdout: "goos: linux\n--- FAIL: BenchmarkX-2\n    bench_test.go:12: 3 rows, want 4\nFAIL\n"}, "--- FAIL: BenchmarkX-2: bench_test.go:12: 3 rows, want 4"},
		{result{err: exitErr, stderr: "go: downloading x v1\nctgen: flag provided but not defined: -orders\nUsage:\n"}, "ctgen: flag provided but not defined: -orders"},
		{result{err: exitErr, stderr: "goroutine 1\npanic: boom\n"}, "panic: boom"},
		{result{err: exitErr}, "exit status 1"},
		{result{err: errors.New(`exec: "nope": executable file not found in $PATH`)}, `exec: "nope": executable file not found in $PATH`},
		{result{}, ""},
	} {
		if got := errorLine(c.res); got != c.want {
			t.Errorf("errorLine = %q, want %q", got, c.want)
		}
	}
}

// The runner measures real (tiny) subprocesses: no benchmark runs here.
func TestRunnerMeasures(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	r := &runner{root: dir, logDir: dir, log: &log}
	res := r.run("s", command{env: []string{"CTBENCH_X=ok"}, name: "sh", args: []string{"-c", `echo "$CTBENCH_X"; echo warn >&2`}})
	if res.err != nil || res.stdout != "ok\n" || res.stderr != "warn\n" || res.wall <= 0 || res.maxRSS <= 0 {
		t.Errorf("run: %+v", res)
	}
	if len(r.records) != 1 || !r.records[0].timed || r.records[0].failed {
		t.Errorf("records: %+v", r.records)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "s.log")); !strings.Contains(string(b), "ok\n") {
		t.Errorf("log file: %q", b)
	}
	res = r.run("s", command{name: "sh", args: []string{"-c", "echo bad >&2; exit 3"}})
	if res.err == nil || errorLine(res) != "bad" || !r.records[1].failed {
		t.Errorf("failing run: %+v", res)
	}

	from := command{name: "sh", args: []string{"-c", "seq 1 1000"}}
	to := command{name: "sh", args: []string{"-c", "wc -l; echo '1000 orders: 1 new' >&2"}}
	fr, tr := r.pipe("p", from, to)
	if fr.err != nil || tr.err != nil || strings.TrimSpace(tr.stdout) != "1000" || !strings.Contains(tr.stderr, "1000 orders") {
		t.Errorf("pipe: %+v %+v", fr, tr)
	}
	if last := r.records[len(r.records)-1]; last.shell != "sh -c 'seq 1 1000' | sh -c 'wc -l; echo '\\''1000 orders: 1 new'\\'' >&2'" {
		t.Errorf("pipe record: %q", last.shell)
	}
}

// Real stderr of ctlimits replay --data (trimmed): from scratch, then a
// resumed night.
const (
	replayScratchLog = `ctlimits replay: Let's Encrypt production: replaying from scratch (--from-scratch)
ctlimits replay: Let's Encrypt production: 700412 certificates in 381 NotBefore slices of 6h0m0s (at most 16706 held at once), read by DuckDB in 41.7s, replayed and written in 2.5s
ctlimits replay: Let's Encrypt production under letsencrypt: 700412 orders: 489511 new, 196563 renewal, 14338 limited; 14338 over the model (issued although the model would have limited them); 0 skipped -> D/decisions/gen-20261129T090025.291871043Z/policy=letsencrypt
`
	replayResumedLog = `ctlimits replay: Let's Encrypt production: resuming from the state saved at 2026-06-30T00:00:00Z (1 new entries files): 19815 certificates logged since, read by DuckDB in 900ms
ctlimits replay: Let's Encrypt production: replayed and written in 2.9s
ctlimits replay: Let's Encrypt production under letsencrypt: 710353 orders: 492758 new, 203046 renewal, 14549 limited; 14549 over the model (issued although the model would have limited them); 0 skipped -> D/decisions/gen-20261129T090114.293088409Z/policy=letsencrypt
`
)

func TestParseReplayLog(t *testing.T) {
	rl, err := parseReplayLog(replayScratchLog)
	want := replayLog{From: "from scratch (--from-scratch)", Replayed: 700412, MaxHeld: 16706, Orders: 700412, New: 489511, Renewal: 196563, Limited: 14338}
	if err != nil || rl != want {
		t.Errorf("from scratch: %+v, %v; want %+v", rl, err, want)
	}
	rl, err = parseReplayLog(replayResumedLog)
	want = replayLog{Resumed: true, StateAt: "2026-06-30T00:00:00Z", Replayed: 19815, Orders: 710353, New: 492758, Renewal: 203046, Limited: 14549}
	if err != nil || rl != want {
		t.Errorf("resumed: %+v, %v; want %+v", rl, err, want)
	}
	// A resume that falls back to scratch says why.
	fallback := strings.Replace(replayScratchLog, "(--from-scratch)", "(no saved state)", 1)
	if rl, err := parseReplayLog(fallback); err != nil || rl.Resumed || rl.From != "from scratch (no saved state)" || rl.Replayed != 700412 {
		t.Errorf("fallback: %+v, %v", rl, err)
	}
	lines := strings.Split(replayScratchLog, "\n")
	for name, bad := range map[string]string{
		"no summary":     lines[0] + "\n" + lines[1] + "\n",
		"no slices line": lines[0] + "\n" + lines[2] + "\n",
		"no start line":  lines[1] + "\n" + lines[2] + "\n",
		"nothing":        "",
	} {
		if rl, err := parseReplayLog(bad); err == nil {
			t.Errorf("%s: accepted: %+v", name, rl)
		}
	}
}

func TestParseCtgenState(t *testing.T) {
	st, err := parseCtgenState([]byte(`{"format": 1, "seed": 1, "start": "2026-06-01", "per_day": 10000, "days": 31,
		"next_index": 1349918, "certificates": 710353, "lead_in_certificates": 391552}`))
	if err != nil || st != (ctgenState{Start: "2026-06-01", Days: 31, Certificates: 710353, Entries: 1349918}) {
		t.Errorf("parseCtgenState = %+v, %v", st, err)
	}
	for _, bad := range []string{`{"format": 1}`, `{"days": 1, "certificates": 5, "next_index": 4}`, `not json`} {
		if st, err := parseCtgenState([]byte(bad)); err == nil {
			t.Errorf("parseCtgenState(%s) = %+v, want an error", bad, st)
		}
	}
}

func TestLastState(t *testing.T) {
	rec := `{"format": 1, "states": [
		{"at": "2026-06-30T00:00:00Z", "file": "20260630.state", "orders": 690000, "bytes": 17062773, "live_sets": 486264, "live_buckets": 492},
		{"at": "2026-07-01T00:00:00Z", "file": "20260701.state", "orders": 700412, "bytes": 17175174, "live_sets": 489511, "live_buckets": 468},
		{"at": "2026-06-29T00:00:00Z", "file": "20260629.state", "orders": 680000, "bytes": 16949277, "live_sets": 480000, "live_buckets": 500}]}`
	s, err := lastState([]byte(rec))
	if err != nil || s.File != "20260701.state" || s.Sets != 489511 || s.Buckets != 468 || s.Bytes != 17175174 || !s.At.Equal(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("lastState = %+v, %v", s, err)
	}
	for _, bad := range []string{`{"states": []}`, `{"states": [{"at": "2026-07-01T00:00:00Z", "file": "x.state", "live_sets": 0}]}`, `{`} {
		if s, err := lastState([]byte(bad)); err == nil {
			t.Errorf("lastState(%s) = %+v, want an error", bad, s)
		}
	}

	// lastSavedState sizes the file the record names.
	data := t.TempDir()
	dir := filepath.Join(data, "replay", "production-0fa4026a65f8e152")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "resume.json"), []byte(rec), 0o644)
	os.WriteFile(filepath.Join(dir, "20260701.state"), make([]byte, 3200), 0o644)
	if s, size, err := lastSavedState(data); err != nil || size != 3200 || s.Sets != 489511 {
		t.Errorf("lastSavedState = %+v, %d, %v", s, size, err)
	}
	os.Remove(filepath.Join(dir, "20260701.state"))
	if _, _, err := lastSavedState(data); err == nil {
		t.Error("lastSavedState without the state file: no error")
	}
}

func TestParseCountSum(t *testing.T) {
	n, sum, err := parseCountSum("decisions,row_hash_sum\n79999916,737942233824200183149750136\n")
	if err != nil || n != 79999916 || sum != "737942233824200183149750136" {
		t.Errorf("parseCountSum = %d, %q, %v", n, sum, err)
	}
	if _, sum, err := parseCountSum("n,h\n3,-0012\n"); err != nil || sum != "-12" {
		t.Errorf("a negative sum = %q, %v", sum, err)
	}
	for _, bad := range []string{"n,h\n0,\n", "n,h\n", "n,h\n1,2,3\n", "n,h\nx,1\n"} {
		if n, sum, err := parseCountSum(bad); err == nil {
			t.Errorf("parseCountSum(%q) = %d, %q, want an error", bad, n, sum)
		}
	}
}

func TestSpread(t *testing.T) {
	lo, hi, r := spread([]float64{91, 144, 99, 114})
	if lo != 91 || hi != 144 || math.Abs(r-144.0/91) > 1e-12 {
		t.Errorf("spread = %v %v %v", lo, hi, r)
	}
	if _, _, r := spread([]float64{5}); r != 1 {
		t.Errorf("one value: ratio %v, want 1", r)
	}
	if _, _, r := spread(nil); r != 0 {
		t.Errorf("no values: ratio %v, want 0", r)
	}
}

// linkData shares the entries files with the cache and copies the rest,
// so a run's ctgen -append and replay leave the cache as it was.
func TestLinkData(t *testing.T) {
	src := filepath.Join(t.TempDir(), "cache")
	entries := filepath.Join(src, "entries", "log=abc")
	os.MkdirAll(entries, 0o755)
	os.WriteFile(filepath.Join(src, "ctgen.json"), []byte(`{"days": 30}`), 0o644)
	os.WriteFile(filepath.Join(entries, "0000000000-0000000009.parquet"), []byte("PAR1"), 0o644)
	dst := filepath.Join(t.TempDir(), "data")
	if err := linkData(src, dst); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(filepath.Join(entries, "0000000000-0000000009.parquet"))
	b, err := os.Stat(filepath.Join(dst, "entries", "log=abc", "0000000000-0000000009.parquet"))
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("the entries file is not a hard link of the cached one: %v", err)
	}
	c1, _ := os.Stat(filepath.Join(src, "ctgen.json"))
	c2, err := os.Stat(filepath.Join(dst, "ctgen.json"))
	if err != nil || os.SameFile(c1, c2) {
		t.Fatalf("ctgen.json is not a copy: %v", err)
	}
	// Rewriting the copy in place leaves the cache alone.
	os.WriteFile(filepath.Join(dst, "ctgen.json"), []byte(`{"days": 31}`), 0o644)
	if got, _ := os.ReadFile(filepath.Join(src, "ctgen.json")); string(got) != `{"days": 30}` {
		t.Errorf("the cache's ctgen.json changed: %s", got)
	}
	if err := linkData(src, dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("linkData into an existing directory: %v", err)
	}
}
