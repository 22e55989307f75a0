package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bench is one result line of `go test -bench`:
//
//	BenchmarkStreamParquet/out=none-2   3   751234567 ns/op   1331000 orders/s
//
// Name has the -GOMAXPROCS suffix removed (Go omits it when GOMAXPROCS is
// 1); Raw is the name as printed.
type Bench struct {
	Name    string
	Raw     string
	N       int64
	Metrics map[string]float64 // unit -> value: ns/op, MB/s, B/op, allocs/op and b.ReportMetric's units
}

// procSuffix is the -GOMAXPROCS suffix go test appends to names.
var procSuffix = regexp.MustCompile(`-[0-9]+$`)

// parseBench reads the result lines of go test -bench output; other lines
// (goos:, pkg:, PASS, ok, b.Log output, --- BENCH) are skipped.
func parseBench(out string) []Bench {
	var res []Bench
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if b, ok := parseBenchLine(sc.Text()); ok {
			res = append(res, b)
		}
	}
	return res
}

func parseBenchLine(line string) (Bench, bool) {
	if !strings.HasPrefix(line, "Benchmark") {
		return Bench{}, false
	}
	f := strings.Fields(line)
	// name, N, then value-unit pairs.
	if len(f) < 4 || len(f)%2 != 0 {
		return Bench{}, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Bench{}, false
	}
	b := Bench{Raw: f[0], Name: procSuffix.ReplaceAllString(f[0], ""), N: n, Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Bench{}, false
		}
		b.Metrics[f[i+1]] = v
	}
	if _, ok := b.Metrics["ns/op"]; !ok {
		return Bench{}, false
	}
	return b, true
}

// findBench returns the result named name (with or without the
// -GOMAXPROCS suffix).
func findBench(bs []Bench, name string) (Bench, bool) {
	for _, b := range bs {
		if b.Name == name || b.Raw == name {
			return b, true
		}
	}
	return Bench{}, false
}

// benchtableOutput is replay/boulderdiff/cmd/benchtable's -json output.
type benchtableOutput struct {
	Stream         string          `json:"stream"`
	Seed           uint64          `json:"seed"`
	Orders         int             `json:"orders"`
	BoulderOrders  int             `json:"boulder_orders"`
	GOMAXPROCS     int             `json:"gomaxprocs"`
	GoVersion      string          `json:"go_version"`
	Rows           []benchtableRow `json:"rows"`
	RatioVsBoulder float64         `json:"ratio_vs_boulder"`
}

type benchtableRow struct {
	Key            string  `json:"key"`
	Name           string  `json:"name"`
	Orders         int     `json:"orders"`
	Seconds        float64 `json:"seconds"`
	OrdersPerS     float64 `json:"orders_per_s"`
	NsPerOrder     float64 `json:"ns_per_order"`
	AllocsPerOrder float64 `json:"allocs_per_order"`
	Note           string  `json:"note"`
}

// benchtable row keys.
const (
	btCore          = "core"
	btPrepareDecide = "prepare-decide"
	btCoreBoulder   = "core-boulder-orders"
	btBoulder       = "boulder"
)

// parseBenchtable decodes benchtable -json output and checks that the rows
// ctbench reads are there.
func parseBenchtable(out string) (benchtableOutput, error) {
	var bt benchtableOutput
	// go run may print nothing else on stdout, but be lenient about text
	// before the object.
	i := strings.Index(out, "{")
	if i < 0 {
		return bt, fmt.Errorf("benchtable printed no JSON object (is -json supported?)")
	}
	if err := json.Unmarshal([]byte(out[i:]), &bt); err != nil {
		return bt, fmt.Errorf("benchtable's JSON: %w", err)
	}
	for _, k := range []string{btCore, btCoreBoulder, btBoulder} {
		r, ok := bt.row(k)
		if !ok {
			return bt, fmt.Errorf("benchtable's JSON has no %q row", k)
		}
		if r.Orders <= 0 || r.OrdersPerS <= 0 {
			return bt, fmt.Errorf("benchtable's %q row measured nothing (%d orders)", k, r.Orders)
		}
	}
	return bt, nil
}

func (bt benchtableOutput) row(key string) (benchtableRow, bool) {
	for _, r := range bt.Rows {
		if r.Key == key {
			return r, true
		}
	}
	return benchtableRow{}, false
}

// ordersSummary finds the first of ctlimits replay's summaries ("...: N
// orders: a new, b renewal, c limited ...") in its output (with --data,
// the first is the production group's) and returns N and the summary from
// N on.
var ordersSummaryRE = regexp.MustCompile(`\b([0-9]+) orders: [^\n]*`)

func ordersSummary(out string) (int64, string, bool) {
	m := ordersSummaryRE.FindStringSubmatch(out)
	if m == nil {
		return 0, "", false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, strings.TrimSpace(m[0]), true
}

// parseCounts reads `ctlimits sql --format csv "SELECT count(*), ..."`: a
// header row and one row of integers.
func parseCounts(out string) ([]int64, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("want a header and one row, got %q", out)
	}
	var ns []int64
	for _, f := range strings.Split(strings.TrimSpace(lines[1]), ",") {
		n, err := strconv.ParseInt(strings.Trim(f, `"`), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("count %q: %w", f, err)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// parseIngestCommand reads ctgen's last line, the ingest command for the
// log it wrote ("ctlimits ingest --log file:///... --key ... --origin
// ..."), and returns the arguments after "ctlimits" and the origin.
func parseIngestCommand(out string) (args []string, origin string, err error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	f := strings.Fields(last)
	if len(f) < 3 || f[0] != "ctlimits" || f[1] != "ingest" {
		return nil, "", fmt.Errorf("ctgen's last line is not a ctlimits ingest command: %q", last)
	}
	for i := 1; i+1 < len(f); i++ {
		if f[i] == "--origin" {
			origin = f[i+1]
		}
	}
	return f[1:], origin, nil
}

// windowStart is the first day of a ctgen log's window, the end of its
// checkpoint origin (ctgen.ctlimits.example/2026-06-01).
func windowStart(origin string) (string, bool) {
	i := strings.LastIndexByte(origin, '/')
	if i < 0 {
		return "", false
	}
	d := origin[i+1:]
	if !regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`).MatchString(d) {
		return "", false
	}
	return d, true
}

// ctgenState is what ctbench reads of DATA/ctgen.json, the state of a
// history ctgen -entries wrote.
type ctgenState struct {
	Start        string `json:"start"`
	Days         int    `json:"days"`
	Certificates int64  `json:"certificates"`
	Entries      int64  `json:"next_index"`
}

func parseCtgenState(b []byte) (ctgenState, error) {
	var st ctgenState
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("ctgen's state: %w", err)
	}
	if st.Certificates <= 0 || st.Entries < st.Certificates || st.Days <= 0 {
		return st, fmt.Errorf("ctgen's state holds no history (%d certificates, %d entries, %d days)", st.Certificates, st.Entries, st.Days)
	}
	return st, nil
}

// replayLog is what `ctlimits replay --data` says on stderr about the
// first stream (the production group's).
type replayLog struct {
	// Resumed: the replay restored the state saved at StateAt (RFC 3339).
	Resumed bool
	StateAt string
	// From is why it replayed from scratch ("from scratch (--from-scratch)").
	From string
	// Replayed is the certificates replayed in this run: read since the
	// state, or all of them.
	Replayed int64
	// MaxHeld is the most certificates held at once (from scratch only).
	MaxHeld int64
	// The decisions of all history after the run.
	Orders, New, Renewal, Limited int64
}

var (
	resumeLineRE  = regexp.MustCompile(`: resuming from the state saved at (\S+) \([0-9]+ new entries files\): ([0-9]+) certificates logged since`)
	scratchLineRE = regexp.MustCompile(`: replaying (from scratch[^\n]*)`)
	slicesLineRE  = regexp.MustCompile(`: ([0-9]+) certificates in [0-9]+ NotBefore slices of \S+ \(at most ([0-9]+) held at once\)`)
	countsRE      = regexp.MustCompile(`\b([0-9]+) orders: ([0-9]+) new, ([0-9]+) renewal, ([0-9]+) limited`)
)

// parseReplayLog reads replay's progress lines: how it started (resumed
// or from scratch), how many certificates it replayed, and its summary.
func parseReplayLog(stderr string) (replayLog, error) {
	var rl replayLog
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	m := countsRE.FindStringSubmatch(stderr)
	if m == nil {
		return rl, fmt.Errorf("no \"N orders: a new, b renewal, c limited\" summary in %q", firstLine(stderr))
	}
	rl.Orders, rl.New, rl.Renewal, rl.Limited = atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
	r := resumeLineRE.FindStringSubmatchIndex(stderr)
	sc := scratchLineRE.FindStringSubmatchIndex(stderr)
	switch {
	case r != nil && (sc == nil || r[0] < sc[0]):
		rl.Resumed = true
		rl.StateAt = stderr[r[2]:r[3]]
		rl.Replayed = atoi(stderr[r[4]:r[5]])
	case sc != nil:
		rl.From = stderr[sc[2]:sc[3]]
		m := slicesLineRE.FindStringSubmatch(stderr[sc[0]:])
		if m == nil {
			return rl, errors.New("a replay from scratch without its \"N certificates in K NotBefore slices\" line")
		}
		rl.Replayed, rl.MaxHeld = atoi(m[1]), atoi(m[2])
	default:
		return rl, errors.New("neither \"resuming from the state saved at\" nor \"replaying from scratch\" in its output")
	}
	return rl, nil
}

// savedStateInfo is one of resume.json's saved states.
type savedStateInfo struct {
	At      time.Time `json:"at"`
	File    string    `json:"file"`
	Bytes   int64     `json:"bytes"`
	Sets    int64     `json:"live_sets"`
	Buckets int64     `json:"live_buckets"`
}

// lastState reads DATA/replay/<stream>/resume.json and returns its
// latest saved state.
func lastState(resumeJSON []byte) (savedStateInfo, error) {
	var rec struct {
		States []savedStateInfo `json:"states"`
	}
	if err := json.Unmarshal(resumeJSON, &rec); err != nil {
		return savedStateInfo{}, fmt.Errorf("the replay state record: %w", err)
	}
	if len(rec.States) == 0 {
		return savedStateInfo{}, errors.New("the replay state record lists no saved state")
	}
	last := rec.States[0]
	for _, s := range rec.States[1:] {
		if s.At.After(last.At) {
			last = s
		}
	}
	if last.File == "" || last.Sets <= 0 {
		return last, fmt.Errorf("the state at %s has no file or no live sets (%d)", last.At.Format(time.RFC3339), last.Sets)
	}
	return last, nil
}

// parseCountSum reads `ctlimits sql --format csv` of a count and a
// HUGEINT sum (beyond int64: kept as its decimal digits).
func parseCountSum(out string) (int64, string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return 0, "", fmt.Errorf("want a header and one row, got %q", out)
	}
	f := strings.Split(strings.TrimSpace(lines[1]), ",")
	if len(f) != 2 {
		return 0, "", fmt.Errorf("want two columns, a count and a sum, got %q", lines[1])
	}
	n, err := strconv.ParseInt(strings.Trim(f[0], `"`), 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("count %q: %w", f[0], err)
	}
	sum, ok := new(big.Int).SetString(strings.Trim(f[1], `"`), 10)
	if !ok {
		return 0, "", fmt.Errorf("sum %q is not an integer (no rows?)", f[1])
	}
	return n, sum.String(), nil
}
