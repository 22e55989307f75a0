package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
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
