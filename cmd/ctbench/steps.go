package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// config is what a run measures, and with what.
type config struct {
	quick    bool
	work     string // -work: generated logs (cached), data directories, logs
	ctlimits string // the built ctlimits binary, absolute
	// ctlimitsShown is how commands show it: relative to the repository
	// root when inside it (bin/ctlimits).
	ctlimitsShown string
	goTool        string

	ingestEntries int64 // BenchmarkIngestLocalTiles (and the DuckDB entries scan)
	rfcEntries    int64 // BenchmarkIngestRFC6962VsScanner
	orders        int64 // benchtable -orders
	boulderOrders int64 // benchtable -boulder-orders
	steadyOrders  int64 // BenchmarkDecideBatch -benchtime Nx
	streamTimes   int   // BenchmarkStreamParquet -benchtime Nx
	e2e1          e2eParams
	e2e8          *e2eParams    // nil: not run (-quick)
	replayOrders  int64         // replay-100m
	history       entriesParams // history-120d
	nightsBase    entriesParams // nights: the history the nights grow
	shardCerts    int           // sharded: ctgen -entries -certs (about 5x certificates with the lead-in)
	shards        int           // sharded: N
}

// e2eParams are ctgen's parameters for an end-to-end log.
type e2eParams struct {
	certs, days, hosting int
	label                string // "1M certificates"
}

func newConfig(quick bool) config {
	c := config{
		quick:         quick,
		ingestEntries: 1 << 20,
		rfcEntries:    1 << 17,
		orders:        10_000_000,
		boulderOrders: 1_000_000,
		steadyOrders:  3_000_000,
		streamTimes:   3,
		e2e1:          e2eParams{certs: 1_000_000, days: 1, hosting: 5, label: "1M certificates"},
		e2e8:          &e2eParams{certs: 4_700_000, days: 1, hosting: 10, label: "8M certificates"},
		replayOrders:  100_000_000,
		// About 100M certificates with the lead-in, as Let's Encrypt's
		// 120 days at a tenth of its rate.
		history:    entriesParams{certs: 75_000_000, days: 120},
		nightsBase: entriesParams{certs: 30_000_000, days: 30},
		shardCerts: 600_000,
		shards:     8,
	}
	if quick {
		c.ingestEntries = 65536
		c.rfcEntries = 16384
		c.orders, c.boulderOrders = 1_000_000, 100_000
		c.streamTimes = 1
		c.e2e1 = e2eParams{certs: 100_000, days: 1, hosting: 5, label: "100k certificates"}
		c.e2e8 = nil
		c.replayOrders = 1_000_000
		c.history = entriesParams{certs: 750_000, days: 120}
		c.nightsBase = entriesParams{certs: 300_000, days: 30}
		c.shardCerts = 20_000
	}
	return c
}

// step is one selectable part of the run: the rows it fills, and how.
type step struct {
	name    string
	aliases []string
	rows    []Row // What, Target and Step set; run fills the rest
	run     func(s *session, rows []Row) error
}

// notRunError marks a step that could not run for a reason that is not a
// failure of ctlimits (a benchmark not written yet, say): its rows say
// "not run" and the exit status stays 0.
type notRunError struct{ reason string }

func (e notRunError) Error() string { return e.reason }

func steps(c config) []step {
	rows := func(name string, target string, whats ...string) []Row {
		rs := make([]Row, len(whats))
		for i, w := range whats {
			rs[i] = Row{What: w, Step: name}
		}
		if target != "" {
			rs[0].Target = target
		}
		return rs
	}
	// targets sets the rows' targets, in order.
	targets := func(rs []Row, ts ...string) []Row {
		for i, t := range ts {
			rs[i].Target = t
		}
		return rs
	}
	st := []step{
		{name: "ingest-local", run: (*session).ingestLocal, rows: rows("ingest-local", ">= 100k entries/s",
			fmt.Sprintf("ingest from local tiles (`file://`), full verification, X.509 parsing, Parquet; %s entries (`BenchmarkIngestLocalTiles`)", fmtInt(c.ingestEntries)))},
		{name: "duckdb-entries", run: (*session).duckdbEntries, rows: rows("duckdb-entries", "baseline",
			fmt.Sprintf("DuckDB scanning the entries Parquet ingest wrote from the same kind of local log, every column, aggregated in C; %s entries (`BenchmarkDuckDBScanEntries`)", fmtInt(c.ingestEntries)))},
		{name: "ingest-rfc6962", run: (*session).ingestRFC6962, rows: rows("ingest-rfc6962", ">= 3x",
			fmt.Sprintf("ingest from a loopback RFC 6962 server next to ct-go's scanner on the same server, same concurrency; %s entries (`BenchmarkIngestRFC6962VsScanner`)", fmtInt(c.rfcEntries)),
			"the same, CPU per entry (the in-process server's share in both)",
			"the same, next to the scanner at its defaults")},
		{name: "replay-core", aliases: []string{"boulder"}, run: (*session).replayCore, rows: targets(rows("replay-core", "",
			fmt.Sprintf("replay core (`DecideBatch`), one core, %s orders of `synth.Realistic` (`benchtable`)", fmtCount(c.orders)),
			fmt.Sprintf("replay core next to Boulder's limiter on the same %s orders, one core each (`benchtable`)", fmtCount(c.boulderOrders)),
			fmt.Sprintf("replay, Prepare + Decide, one core, %s orders (`benchtable`)", fmtCount(c.orders))),
			">= 5M orders/s", ">= 20x")},
		{name: "replay-steady", run: (*session).replaySteady, rows: rows("replay-steady", ">= 5M orders/s",
			"replay core, one core, steady state: 262k prepared orders cycled (`BenchmarkDecideBatch`)")},
		{name: "stream-parquet", run: (*session).streamParquet, rows: targets(rows("stream-parquet", "",
			"Parquet orders file to decisions: read, prepare (all cores), decide; decisions discarded (`BenchmarkStreamParquet/out=none`, 1M orders)",
			"the same, writing JSON lines decisions (`out=jsonl`)",
			"the same, writing Parquet decisions (`out=parquet`)",
			"DuckDB reading the same Parquet orders file, every row delivered to Go through database/sql (`duckdb=rows`)",
			"DuckDB reading the same file, every column decoded and aggregated in C (`duckdb=count`)"),
			">= 1M orders/s", ">= 1M orders/s", ">= 1M orders/s", "baseline", "baseline")},
		{name: "physical", run: (*session).physical, rows: rows("physical", "",
			"physical limit: SHA-256 leaf hash of one MerkleTreeLeaf, one core (`BenchmarkPhysicalLeafHash`)",
			"physical limit: parsing one certificate, standard library (`BenchmarkPhysicalParseCertificate`)",
			"physical limit: encoding one entries row into Parquet (`BenchmarkPhysicalEncodeRow`)",
			"ingest's CPU per entry (ingest-local) next to the sum of the three physical limits (a sample-log entry, one core)")},
	}
	st = append(st, e2eStep("e2e-1m", &c.e2e1, ""))
	st = append(st, e2eStep("e2e-8m", c.e2e8, "< 300 s and < 8 GiB peak RSS"))
	st = append(st, step{name: "replay-100m", run: (*session).replay100M, rows: rows("replay-100m", "100M orders replayed without running out of memory",
		fmt.Sprintf("%s orders from `ctgen -orders` piped through `ctlimits replay --orders -` (JSON lines in, CSV decisions to /dev/null)", fmtCount(c.replayOrders)))})
	st = append(st, historyStep(c.history), nightsStep(c.nightsBase))
	st = append(st, step{name: "sharded", run: (*session).sharded, rows: rows("sharded", "",
		fmt.Sprintf("sharded replay: `ctlimits shard --shards %d` then the shards through Apache Beam's Prism runner (replay/beamshard), next to one `ctlimits replay --data` of the same history (`ctgen -entries -certs %s -days 10`, `--issuers all`)", c.shards, fmtInt(int64(c.shardCerts))),
		"the same, per certificate: sharding, then the shards on Prism, next to the single replay (CPU)")})
	return st
}

func e2eStep(name string, p *e2eParams, target string) step {
	label := "8M certificates"
	if p != nil {
		label = p.label
	}
	what := func(s string) string { return fmt.Sprintf("end to end, a ctgen day of %s: %s", label, s) }
	rows := []Row{
		{What: what("ingest, full verification")},
		{What: what("replay (the whole history, the day reported)")},
		{What: what("report (text, with override sizing)")},
		{What: what("total, tiles to report; bytes on disk per certificate (entries Parquet + decisions)"), Target: target},
	}
	if p == nil {
		// -quick: one row saying so.
		rows = []Row{{What: fmt.Sprintf("end to end, a ctgen day of %s", label), Target: target}}
	}
	for i := range rows {
		rows[i].Step = name
	}
	return step{name: name, rows: rows, run: func(s *session, rows []Row) error {
		if p == nil {
			return notRunError{"-quick runs end to end with 100k certificates only"}
		}
		return s.e2e(name, *p, rows)
	}}
}

// session is one run: its configuration, its runner, and the values
// later rows compare with.
type session struct {
	cfg      config
	r        *runner
	vals     map[string]float64
	ctgenBin string
	ctgenErr error
	boulder  string // Boulder's version, from replay/boulderdiff/go.mod
}

// goTest runs go test with args and returns its benchmark results.
func (s *session) goTest(step string, env []string, args ...string) ([]Bench, error) {
	res := s.r.run(step, command{env: env, name: s.cfg.goTool, args: append([]string{"test"}, args...)})
	if res.err != nil {
		return nil, errors.New(errorLine(res))
	}
	return parseBench(res.stdout), nil
}

func mustBench(bs []Bench, name, pkg string) (Bench, error) {
	b, ok := findBench(bs, name)
	if !ok {
		return b, fmt.Errorf("no %s result in the output of go test %s", name, pkg)
	}
	return b, nil
}

func (s *session) entriesEnv(n int64) []string {
	return []string{"CTLIMITS_BENCH_ENTRIES=" + strconv.FormatInt(n, 10)}
}

func (s *session) ingestLocal(rows []Row) error {
	bs, err := s.goTest("ingest-local", s.entriesEnv(s.cfg.ingestEntries), "-run", "^$", "-bench", "BenchmarkIngestLocalTiles", "-benchtime", "1x", "-timeout", "30m", "./ingest")
	if err != nil {
		return err
	}
	b, err := mustBench(bs, "BenchmarkIngestLocalTiles", "./ingest")
	if err != nil {
		return err
	}
	eps := b.Metrics["entries/s"]
	s.vals["ingest-local.entries/s"] = eps
	m := fmt.Sprintf("%s entries/s", fmtRate(eps))
	if cpu, ok := b.Metrics["cpu-us/entry"]; ok {
		s.vals["ingest-local.cpu-us/entry"] = cpu
		m += fmt.Sprintf("; %.1f µs CPU/entry", cpu)
	}
	if by, ok := b.Metrics["parquet-bytes/entry"]; ok {
		m += fmt.Sprintf("; %.1f Parquet bytes/entry", by)
	}
	rows[0].Measured = m
	rows[0].Met = met(eps >= 100_000)
	return nil
}

func (s *session) duckdbEntries(rows []Row) error {
	bs, err := s.goTest("duckdb-entries", s.entriesEnv(s.cfg.ingestEntries), "-run", "^$", "-bench", "BenchmarkDuckDBScanEntries", "-benchtime", "3x", "-timeout", "30m", "./sql")
	if err != nil {
		return err
	}
	b, ok := findBench(bs, "BenchmarkDuckDBScanEntries")
	if !ok {
		return notRunError{"no BenchmarkDuckDBScanEntries in ./sql"}
	}
	eps, ok := b.Metrics["entries/s"]
	if !ok {
		return errors.New("BenchmarkDuckDBScanEntries reported no entries/s")
	}
	rows[0].Measured = fmt.Sprintf("%s entries/s", fmtRate(eps))
	if ing, ok := s.vals["ingest-local.entries/s"]; ok {
		rows[0].Compared = fmt.Sprintf("ingest from local tiles: %s entries/s", fmtRate(ing))
		rows[0].Ratio = fmtRatio(ing / eps)
	}
	return nil
}

func (s *session) ingestRFC6962(rows []Row) error {
	bs, err := s.goTest("ingest-rfc6962", s.entriesEnv(s.cfg.rfcEntries), "-run", "^$", "-bench", "BenchmarkIngestRFC6962VsScanner", "-benchtime", "1x", "-timeout", "30m", "./ingest")
	if err != nil {
		return err
	}
	b, err := mustBench(bs, "BenchmarkIngestRFC6962VsScanner", "./ingest")
	if err != nil {
		return err
	}
	m := b.Metrics
	ratio := m["ratio"]
	rows[0].Measured = fmt.Sprintf("ctlimits %s entries/s (verified, parsed, written)", fmtRate(m["ctlimits-entries/s"]))
	rows[0].Compared = fmt.Sprintf("ct-go scanner %s entries/s (fetched, parsed)", fmtRate(m["ctgo-scanner-entries/s"]))
	rows[0].Ratio = fmtRatio(ratio)
	rows[0].Met = met(ratio >= 3)
	if cr, ok := m["cpu-ratio"]; ok {
		rows[1].Measured = fmt.Sprintf("ctlimits %.1f µs CPU/entry", m["ctlimits-cpu-us/entry"])
		rows[1].Compared = fmt.Sprintf("ct-go scanner %.1f µs CPU/entry", m["ctgo-scanner-cpu-us/entry"])
		rows[1].Ratio = fmtRatio(cr)
	} else {
		rows[1].Measured = "not measured (no process CPU time)"
	}
	rows[2].Measured = fmt.Sprintf("ctlimits %s entries/s", fmtRate(m["ctlimits-entries/s"]))
	rows[2].Compared = fmt.Sprintf("ct-go scanner at its defaults %s entries/s", fmtRate(m["ctgo-scanner-default-entries/s"]))
	rows[2].Ratio = fmtRatio(m["ratio-vs-default"])
	return nil
}

func (s *session) replayCore(rows []Row) error {
	// replay/boulderdiff's Boulder needs Go 1.27 (README.md).
	res := s.r.run("replay-core", command{dir: "replay/boulderdiff", env: []string{"GOTOOLCHAIN=go1.27.3"}, name: s.cfg.goTool, args: []string{"run", "./cmd/benchtable",
		"-orders", strconv.FormatInt(s.cfg.orders, 10), "-boulder-orders", strconv.FormatInt(s.cfg.boulderOrders, 10), "-json"}})
	if res.err != nil {
		return errors.New(errorLine(res))
	}
	bt, err := parseBenchtable(res.stdout)
	if err != nil {
		return err
	}
	core, _ := bt.row(btCore)
	rows[0].Measured = fmt.Sprintf("%s orders/s (%s/order, %.2f allocs/order)", fmtRate(core.OrdersPerS), fmtNs(core.NsPerOrder), core.AllocsPerOrder)
	rows[0].Met = met(core.OrdersPerS >= 5e6)
	same, _ := bt.row(btCoreBoulder)
	bo, _ := bt.row(btBoulder)
	ratio := same.OrdersPerS / bo.OrdersPerS
	rows[1].Measured = fmt.Sprintf("ctlimits %s orders/s (%s/order)", fmtRate(same.OrdersPerS), fmtNs(same.NsPerOrder))
	rows[1].Compared = fmt.Sprintf("Boulder %s `ratelimits` %s orders/s (%s/order)", s.boulderVersion(), fmtRate(bo.OrdersPerS), fmtNs(bo.NsPerOrder))
	rows[1].Ratio = fmtRatio(ratio)
	rows[1].Met = met(ratio >= 20)
	if pd, ok := bt.row(btPrepareDecide); ok && pd.Orders > 0 {
		rows[2].Measured = fmt.Sprintf("%s orders/s (%s/order, %.2f allocs/order)", fmtRate(pd.OrdersPerS), fmtNs(pd.NsPerOrder), pd.AllocsPerOrder)
	} else {
		rows[2].Measured = "not in benchtable's output"
	}
	return nil
}

var boulderRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/letsencrypt/boulder\s+(v\S+)`)

func (s *session) boulderVersion() string {
	b, err := os.ReadFile(filepath.Join(s.r.root, "replay/boulderdiff/go.mod"))
	if err != nil {
		return ""
	}
	if m := boulderRequire.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

func (s *session) replaySteady(rows []Row) error {
	bs, err := s.goTest("replay-steady", []string{"GOMAXPROCS=1"}, "-run", "^$", "-bench", "DecideBatch", "-benchtime", strconv.FormatInt(s.cfg.steadyOrders, 10)+"x", "./replay")
	if err != nil {
		return err
	}
	b, err := mustBench(bs, "BenchmarkDecideBatch", "./replay")
	if err != nil {
		return err
	}
	ops := b.Metrics["orders/s"]
	if ops == 0 && b.Metrics["ns/op"] > 0 {
		ops = 1e9 / b.Metrics["ns/op"]
	}
	m := fmt.Sprintf("%s orders/s (%s/order", fmtRate(ops), fmtNs(b.Metrics["ns/op"]))
	if a, ok := b.Metrics["allocs/op"]; ok {
		m += fmt.Sprintf(", %.0f allocs/order", a)
	}
	rows[0].Measured = m + ")"
	rows[0].Met = met(ops >= 5e6)
	return nil
}

func (s *session) streamParquet(rows []Row) error {
	bs, err := s.goTest("stream-parquet", nil, "-run", "^$", "-bench", "StreamParquet", "-benchtime", strconv.Itoa(s.cfg.streamTimes)+"x", "-timeout", "30m", "./replay/orderio")
	if err != nil {
		return err
	}
	rate := func(sub string) (float64, bool) {
		b, ok := findBench(bs, "BenchmarkStreamParquet/"+sub)
		if !ok {
			return 0, false
		}
		v, ok := b.Metrics["orders/s"]
		return v, ok
	}
	none, haveNone := rate("out=none")
	for i, sub := range []string{"out=none", "out=jsonl", "out=parquet"} {
		v, ok := rate(sub)
		if !ok {
			return fmt.Errorf("no BenchmarkStreamParquet/%s orders/s in the output", sub)
		}
		rows[i].Measured = fmt.Sprintf("%s orders/s", fmtRate(v))
		rows[i].Met = met(v >= 1e6)
	}
	for i, sub := range []string{"duckdb=rows", "duckdb=count"} {
		r := &rows[3+i]
		v, ok := rate(sub)
		if !ok {
			r.Measured = "not run: no BenchmarkStreamParquet/" + sub + " in ./replay/orderio"
			continue
		}
		r.Measured = fmt.Sprintf("%s orders/s", fmtRate(v))
		if haveNone {
			r.Compared = fmt.Sprintf("ctlimits, decisions discarded: %s orders/s", fmtRate(none))
			r.Ratio = fmtRatio(none / v)
		}
	}
	return nil
}

func (s *session) physical(rows []Row) error {
	bs, err := s.goTest("physical", nil, "-run", "^$", "-bench", "Physical", "-benchmem", "./ingest")
	if err != nil {
		return err
	}
	floor, complete := 0.0, true
	for i, name := range []string{"BenchmarkPhysicalLeafHash", "BenchmarkPhysicalParseCertificate", "BenchmarkPhysicalEncodeRow"} {
		b, ok := findBench(bs, name)
		if !ok {
			rows[i].Measured = "not run: no " + name + " in ./ingest"
			complete = false
			continue
		}
		ns := b.Metrics["ns/op"]
		floor += ns
		m := fmtNs(ns)
		if mbs, ok := b.Metrics["MB/s"]; ok {
			m += fmt.Sprintf(" (%s MB/s)", fmtInt(int64(mbs+0.5)))
		}
		if a, ok := b.Metrics["allocs/op"]; ok {
			m += fmt.Sprintf("; %.0f allocs", a)
		}
		rows[i].Measured = m
	}
	cpu, ok := s.vals["ingest-local.cpu-us/entry"]
	switch {
	case !complete:
		rows[3].Measured = "not run: a physical benchmark is missing"
	case !ok:
		rows[3].Measured = "not run: needs the ingest-local step's CPU per entry"
	default:
		rows[3].Measured = fmt.Sprintf("ingest %.1f µs CPU/entry (from ingest-local)", cpu)
		rows[3].Compared = fmt.Sprintf("leaf hash + parse + encode %.1f µs/entry", floor/1e3)
		rows[3].Ratio = fmtRatio(floor / 1e3 / cpu)
	}
	return nil
}

// ctgen builds cmd/ctgen into the work directory, once.
func (s *session) ctgen(step string) (string, error) {
	if s.ctgenBin != "" || s.ctgenErr != nil {
		return s.ctgenBin, s.ctgenErr
	}
	bin := filepath.Join(s.cfg.work, "bin", "ctgen")
	res := s.r.run(step, command{name: s.cfg.goTool, args: []string{"build", "-o", bin, "./cmd/ctgen"}, note: "build, not measured"})
	if res.err != nil {
		s.ctgenErr = fmt.Errorf("building ctgen: %s", errorLine(res))
		return "", s.ctgenErr
	}
	s.ctgenBin = bin
	return bin, nil
}

// e2e generates (or reuses) a ctgen log and runs ingest, replay and report
// on it.
func (s *session) e2e(step string, p e2eParams, rows []Row) error {
	ctgen, err := s.ctgen(step)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("certs%d-days%d-hosting%d-seed1", p.certs, p.days, p.hosting)
	dir := filepath.Join(s.cfg.work, "ctgen", key)
	tiles := filepath.Join(dir, "log")
	marker := filepath.Join(dir, "complete") // ctgen's output, written after it succeeded
	gen := command{name: ctgen, args: []string{"-out", tiles, "-certs", strconv.Itoa(p.certs), "-days", strconv.Itoa(p.days), "-hosting", strconv.Itoa(p.hosting), "-seed", "1"},
		note: "generation, not part of the pipeline"}
	genOut, err := os.ReadFile(marker)
	if err != nil {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		res := s.r.run(step, gen)
		if res.err != nil {
			return fmt.Errorf("ctgen: %s", errorLine(res))
		}
		genOut = []byte(res.stdout)
		if err := os.WriteFile(marker+".tmp", genOut, 0o644); err != nil {
			return err
		}
		if err := os.Rename(marker+".tmp", marker); err != nil {
			return err
		}
	} else {
		s.r.note(step, gen.shell(), "cached: generated by an earlier run, reused")
	}
	args, origin, err := parseIngestCommand(string(genOut))
	if err != nil {
		return err
	}
	since, ok := windowStart(origin)
	if !ok {
		return fmt.Errorf("no window start in the log's origin %q", origin)
	}
	data := filepath.Join(s.cfg.work, "data-"+step)
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	defer os.RemoveAll(data)
	ctl := func(args []string, stdout, note string) command {
		return command{name: s.cfg.ctlimits, shown: s.cfg.ctlimitsShown, args: args, stdout: stdout, note: note}
	}

	var wall, cpu float64
	var peak int64
	measure := func(r *Row, res result, extra string) {
		r.Measured = fmt.Sprintf("%s wall, %s CPU, peak RSS %s%s", fmtSeconds(res.wall), fmtSeconds(res.cpu()), fmtBytes(res.maxRSS), extra)
		wall += res.wall.Seconds()
		cpu += res.cpu().Seconds()
		peak = max(peak, res.maxRSS)
	}
	ing := s.r.run(step, ctl(append(args[:len(args):len(args)], "--data", data, "--quiet"), "", ""))
	if ing.err != nil {
		return fmt.Errorf("ingest: %s", errorLine(ing))
	}
	rep := s.r.run(step, ctl([]string{"replay", "--data", data, "--since", since}, "", ""))
	if rep.err != nil {
		measure(&rows[0], ing, "")
		return fmt.Errorf("replay: %s", errorLine(rep))
	}
	reportFile := filepath.Join(s.cfg.work, "report-"+step+".txt")
	rpt := s.r.run(step, ctl([]string{"report", "--data", data, "--top", "5", "--limited", "3"}, reportFile, ""))
	if rpt.err != nil {
		measure(&rows[0], ing, "")
		measure(&rows[1], rep, "")
		return fmt.Errorf("report: %s", errorLine(rpt))
	}
	cnt := s.r.run(step, ctl([]string{"sql", "--data", data, "--format", "csv",
		"SELECT (SELECT count(*) FROM entries) AS entries, (SELECT count(*) FROM certificates) AS certificates"}, "", "counting, not part of the pipeline"))
	var entries, certs int64
	if cnt.err == nil {
		if ns, err := parseCounts(cnt.stdout); err == nil && len(ns) == 2 {
			entries, certs = ns[0], ns[1]
		}
	}
	ingExtra := ""
	if entries > 0 {
		ingExtra = fmt.Sprintf("; %s entries/s (%s entries)", fmtRate(float64(entries)/ing.wall.Seconds()), fmtInt(entries))
	}
	measure(&rows[0], ing, ingExtra)
	repExtra := ""
	if n, _, ok := ordersSummary(rep.stdout + "\n" + rep.stderr); ok {
		repExtra = fmt.Sprintf("; the day: %s orders", fmtInt(n))
	}
	measure(&rows[1], rep, repExtra)
	measure(&rows[2], rpt, "")
	rows[3].Measured = fmt.Sprintf("%.1f s wall, %.1f s CPU, peak RSS %s", wall, cpu, fmtBytes(peak))
	if rows[3].Target != "" {
		okWall, okRSS := wall < 300, peak < 8<<30
		rows[3].Met = met(okWall && okRSS)
		if !okWall || !okRSS {
			var why []string
			if !okWall {
				why = append(why, "wall")
			}
			if !okRSS {
				why = append(why, "RSS")
			}
			rows[3].Met += " (" + strings.Join(why, ", ") + ")"
		}
	}
	eb, err1 := dirSize(filepath.Join(data, "entries"))
	db, err2 := dirSize(filepath.Join(data, "decisions"))
	switch {
	case err1 != nil || err2 != nil:
		rows[3].Measured += "; bytes per certificate: failed"
		return fmt.Errorf("sizing the data directory: %w", errors.Join(err1, err2))
	case cnt.err != nil:
		rows[3].Measured += "; bytes per certificate: failed"
		return fmt.Errorf("counting certificates: %s", errorLine(cnt))
	case certs == 0:
		rows[3].Measured += "; bytes per certificate: failed"
		return fmt.Errorf("counting certificates: no count in %q", cnt.stdout)
	}
	rows[3].Measured += fmt.Sprintf("; %.0f bytes/certificate on disk (entries %s + decisions %s, %s certificates)",
		float64(eb+db)/float64(certs), fmtBytes(eb), fmtBytes(db), fmtInt(certs))
	return nil
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func (s *session) replay100M(rows []Row) error {
	ctgen, err := s.ctgen("replay-100m")
	if err != nil {
		return err
	}
	n := s.cfg.replayOrders
	from := command{name: ctgen, args: []string{"-orders", strconv.FormatInt(n, 10), "-seed", "1", "-out", "-"}}
	to := command{name: s.cfg.ctlimits, shown: s.cfg.ctlimitsShown, args: []string{"replay", "--orders", "-", "--format", "csv"}, stdout: os.DevNull}
	gr, rr := s.r.pipe("replay-100m", from, to)
	if gr.err != nil {
		line := errorLine(gr)
		if strings.Contains(gr.stderr, "flag provided but not defined: -orders") {
			return notRunError{"ctgen has no -orders flag yet: " + line}
		}
		return fmt.Errorf("ctgen: %s", line)
	}
	if rr.err != nil {
		return fmt.Errorf("ctlimits replay: %s", errorLine(rr))
	}
	got, summary, ok := ordersSummary(rr.stderr)
	if !ok {
		return fmt.Errorf("ctlimits replay printed no summary on stderr")
	}
	if got != n {
		return fmt.Errorf("ctlimits replay decided %d orders, want %d: %s", got, n, summary)
	}
	rows[0].Measured = fmt.Sprintf("%s orders/s: %s wall, %s CPU, peak RSS %s (ctlimits; ctgen %s CPU)",
		fmtRate(float64(n)/rr.wall.Seconds()), fmtSeconds(rr.wall), fmtSeconds(rr.cpu()), fmtBytes(rr.maxRSS), fmtSeconds(gr.cpu()))
	rows[0].Met = fmt.Sprintf("yes (%s orders, peak RSS %s)", fmtCount(n), fmtBytes(rr.maxRSS))
	return nil
}

// sharded measures the sharded replay (docs/sharding.md) next to one
// replay of the same generated history: ctgen writes it twice (same
// seed, so the same entries), one copy is replayed, the other sharded and
// replayed shard by shard on Prism.
func (s *session) sharded(rows []Row) error {
	ctgen, err := s.ctgen("sharded")
	if err != nil {
		return err
	}
	one, sharded := filepath.Join(s.cfg.work, "data-sharded-one"), filepath.Join(s.cfg.work, "data-sharded")
	for _, d := range []string{one, sharded} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		defer os.RemoveAll(d)
		res := s.r.run("sharded", command{name: ctgen, args: []string{"-entries", d, "-certs", strconv.Itoa(s.cfg.shardCerts), "-days", "10", "-seed", "1"},
			note: "generation, not measured"})
		if res.err != nil {
			return fmt.Errorf("ctgen: %s", errorLine(res))
		}
	}
	beam := filepath.Join(s.cfg.work, "bin", "beamshard")
	if res := s.r.run("sharded", command{dir: "replay/beamshard", name: s.cfg.goTool, args: []string{"build", "-o", beam, "./cmd/beamshard"}, note: "build, not measured"}); res.err != nil {
		return fmt.Errorf("building beamshard: %s", errorLine(res))
	}
	ctl := func(args ...string) command {
		return command{name: s.cfg.ctlimits, shown: s.cfg.ctlimitsShown, args: args}
	}
	n := strconv.Itoa(s.cfg.shards)
	single := s.r.run("sharded", ctl("replay", "--data", one, "--issuers", "all", "--from-scratch", "--quiet"))
	if single.err != nil {
		return fmt.Errorf("ctlimits replay: %s", errorLine(single))
	}
	split := s.r.run("sharded", ctl("shard", "--data", sharded, "--shards", n, "--quiet"))
	if split.err != nil {
		return fmt.Errorf("ctlimits shard: %s", errorLine(split))
	}
	prism := s.r.run("sharded", command{name: beam, args: []string{"--data", sharded, "--shards", n, "--issuers", "all", "--runner", "prism"}})
	if prism.err != nil {
		return fmt.Errorf("beamshard: %s", errorLine(prism))
	}
	b, err := os.ReadFile(filepath.Join(sharded, "shards", n, "manifest.json"))
	if err != nil {
		return err
	}
	var m struct {
		Certificates int64 `json:"certificates"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Certificates == 0 {
		return fmt.Errorf("the sharding's manifest: %v (%d certificates)", err, m.Certificates)
	}
	both := split.wall + prism.wall
	rows[0].Measured = fmt.Sprintf("%s wall: sharding %s, the %s shards on Prism %s (peak RSS %s, %s)",
		fmtSeconds(both), fmtSeconds(split.wall), n, fmtSeconds(prism.wall), fmtBytes(split.maxRSS), fmtBytes(prism.maxRSS))
	rows[0].Compared = fmt.Sprintf("one replay: %s wall (peak RSS %s), %s certificates", fmtSeconds(single.wall), fmtBytes(single.maxRSS), fmtInt(m.Certificates))
	rows[0].Ratio = fmtRatio(single.wall.Seconds() / both.Seconds()) // as speeds: above 1, sharded is faster
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.1f µs", float64(d.Microseconds())/float64(m.Certificates))
	}
	rows[1].Measured = fmt.Sprintf("sharding %s, Prism %s CPU a certificate", per(split.cpu()), per(prism.cpu()))
	rows[1].Compared = fmt.Sprintf("one replay %s CPU a certificate", per(single.cpu()))
	rows[1].Ratio = fmtRatio(single.cpu().Seconds() / (split.cpu() + prism.cpu()).Seconds())
	return nil
}
