// Command benchtable measures ctlimits' replay core and Boulder's rate
// limiter on one synthetic stream (synth.Realistic) under the production
// limits, on one core, and prints a markdown table.
//
//	go run ./cmd/benchtable [-orders 10000000] [-boulder-orders 1000000] [-seed 1] [-one-by-one] [-json]
//
// With -json it prints one JSON object instead of the table (read by
// cmd/ctbench, which makes docs/benchmarks.md): the rows with keys "core",
// "prepare-decide", "core-boulder-orders" and "boulder", and the ratio.
//
// Orders are generated and prepared in chunks outside the timed sections:
// the "core" rows time Replayer.DecideBatch alone (Replayer.Decide, one
// order at a time, with -one-by-one), the "prepare + decide" row adds
// Namer.Prepare, and the Boulder row times what boulderdiff.Boulder does
// per order (renewal lookup, NewOrderLimitTransactions, BatchSpend,
// and the issuance BatchSpend) on identifiers parsed outside the timer.
// Boulder runs the first -boulder-orders orders of the same stream.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/letsencrypt/boulder/identifier"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/boulderdiff"
	"github.com/ctlimits/ctlimits/replay/synth"
)

const productionDefaults = `
CertificatesPerDomain:
  burst: 50
  count: 50
  period: 168h
CertificatesPerFQDNSet:
  burst: 5
  count: 5
  period: 168h
`

const chunk = 1 << 16

// oneByOne selects Replayer.Decide over Replayer.DecideBatch.
var oneByOne bool

type row struct {
	key     string
	name    string
	orders  int
	elapsed time.Duration
	mallocs uint64
	note    string
}

func main() {
	orders := flag.Int("orders", 10_000_000, "orders through ctlimits")
	boulderOrders := flag.Int("boulder-orders", 1_000_000, "orders through Boulder's limiter (the first of the same stream)")
	seed := flag.Uint64("seed", 1, "synth seed")
	flag.BoolVar(&oneByOne, "one-by-one", false, "decide with Replayer.Decide, one order at a time, instead of Replayer.DecideBatch")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the ctlimits run to this file")
	asJSON := flag.Bool("json", false, "print one JSON object instead of the markdown table")
	flag.Parse()
	log.SetFlags(0)
	runtime.GOMAXPROCS(1)

	cfg := synth.Realistic(*seed, *orders)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	core, both := runCtlimits(cfg, *orders)
	pprof.StopCPUProfile()
	nb := min(*boulderOrders, *orders)
	bo := runBoulder(cfg, nb)
	// The fair ratio: ctlimits on exactly the orders Boulder decided (the
	// same prefix of the same stream, so the same state sizes).
	same, _ := runCtlimits(cfg, nb)
	same.name = "ctlimits replay core, Boulder's orders"
	same.key = "core-boulder-orders"

	if *asJSON {
		printJSON(*seed, *orders, nb, []row{core, both, same, bo}, bo.nsPerOrder()/same.nsPerOrder())
		return
	}
	fmt.Printf("Stream: synth.Realistic(seed %d), production limits (50/168h per domain, 5/168h per exact set), GOMAXPROCS=1, %s/%s, %s.\n\n",
		*seed, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Println("| engine | orders | orders/s | ns/order | allocs/order |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, r := range []row{core, both, same, bo} {
		fmt.Printf("| %s | %d | %.0f | %.0f | %.2f |\n", r.name, r.orders,
			float64(r.orders)/r.elapsed.Seconds(), r.nsPerOrder(), float64(r.mallocs)/float64(r.orders))
	}
	fmt.Printf("\nctlimits vs Boulder on the same %d orders, one core: %.1fx faster.\n", nb, bo.nsPerOrder()/same.nsPerOrder())
	for _, r := range []row{core, same, bo} {
		if r.note != "" {
			fmt.Printf("\n%s: %s", r.name, r.note)
		}
	}
	fmt.Println()
}

// jsonRow and jsonOutput are the -json output.
type jsonRow struct {
	Key            string  `json:"key"`
	Name           string  `json:"name"`
	Orders         int     `json:"orders"`
	Seconds        float64 `json:"seconds"`
	OrdersPerS     float64 `json:"orders_per_s"`
	NsPerOrder     float64 `json:"ns_per_order"`
	AllocsPerOrder float64 `json:"allocs_per_order"`
	Note           string  `json:"note,omitempty"`
}

type jsonOutput struct {
	Stream         string    `json:"stream"`
	Seed           uint64    `json:"seed"`
	Orders         int       `json:"orders"`
	BoulderOrders  int       `json:"boulder_orders"`
	GOMAXPROCS     int       `json:"gomaxprocs"`
	GOOS           string    `json:"goos"`
	GOARCH         string    `json:"goarch"`
	GoVersion      string    `json:"go_version"`
	Rows           []jsonRow `json:"rows"`
	RatioVsBoulder float64   `json:"ratio_vs_boulder"`
}

func printJSON(seed uint64, orders, boulderOrders int, rows []row, ratio float64) {
	out := jsonOutput{
		Stream:         "synth.Realistic",
		Seed:           seed,
		Orders:         orders,
		BoulderOrders:  boulderOrders,
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
		GOOS:           runtime.GOOS,
		GOARCH:         runtime.GOARCH,
		GoVersion:      runtime.Version(),
		RatioVsBoulder: ratio,
	}
	for _, r := range rows {
		out.Rows = append(out.Rows, jsonRow{
			Key:            r.key,
			Name:           r.name,
			Orders:         r.orders,
			Seconds:        r.elapsed.Seconds(),
			OrdersPerS:     float64(r.orders) / r.elapsed.Seconds(),
			NsPerOrder:     r.nsPerOrder(),
			AllocsPerOrder: float64(r.mallocs) / float64(r.orders),
			Note:           r.note,
		})
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", "  ")
	if err := e.Encode(out); err != nil {
		log.Fatal(err)
	}
}

func (r row) nsPerOrder() float64 { return float64(r.elapsed.Nanoseconds()) / float64(r.orders) }

// timed runs f and returns its wall time and heap allocations.
func timed(f func()) (time.Duration, uint64) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	f()
	d := time.Since(t0)
	runtime.ReadMemStats(&m1)
	return d, m1.Mallocs - m0.Mallocs
}

// runCtlimits replays the first limit orders of cfg's stream.
func runCtlimits(cfg synth.Config, limit int) (core, both row) {
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		log.Fatal(err)
	}
	r := replay.NewReplayer(p)
	g := synth.New(cfg)
	core = row{key: "core", name: "ctlimits replay core (DecideBatch)"}
	if oneByOne {
		core.name = "ctlimits replay core (Decide)"
	}
	both = row{key: "prepare-decide", name: "ctlimits Prepare + Decide"}
	var namer replay.Namer
	res := make([]replay.Result, 256)
	raw := make([]replay.Order, chunk)
	prep := make([]replay.Prepared, chunk)
	limited := 0
	for {
		n := 0
		for n < chunk && core.orders+n < limit && g.Next(&raw[n]) {
			raw[n].Names = append([]string(nil), raw[n].Names...)
			n++
		}
		if n == 0 {
			break
		}
		d, m := timed(func() {
			for i := range n {
				if prep[i], err = namer.Prepare(&raw[i]); err != nil {
					log.Fatal(err)
				}
			}
		})
		both.elapsed += d
		both.mallocs += m
		d, m = timed(func() {
			// Results are only counted, so a few are reused: results
			// kept for every order would cost cache misses of their own.
			for lo := 0; lo < n; lo += len(res) {
				batch := prep[lo:min(lo+len(res), n)]
				if oneByOne {
					for i := range batch {
						if err := r.Decide(&batch[i], &res[i]); err != nil {
							log.Fatal(err)
						}
					}
				} else if _, err := r.DecideBatch(batch, res); err != nil {
					log.Fatal(err)
				}
				for i := range batch {
					if res[i].Kind == replay.Limited {
						limited++
					}
				}
			}
		})
		core.elapsed += d
		core.mallocs += m
		both.elapsed += d
		both.mallocs += m
		core.orders += n
		both.orders += n
	}
	core.note = fmt.Sprintf("%d of %d orders limited; final state %+v.", limited, core.orders, r.Stats())
	return core, both
}

func runBoulder(cfg synth.Config, n int) row {
	dir, err := os.MkdirTemp("", "benchtable")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "defaults.yml")
	if err := os.WriteFile(path, []byte(productionDefaults), 0o644); err != nil {
		log.Fatal(err)
	}
	b, err := boulderdiff.New(path, "")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	out := row{key: "boulder", name: "Boulder ratelimits (inmem source)"}
	g := synth.New(cfg)
	raw := make([]replay.Order, chunk)
	idents := make([]identifier.ACMEIdentifiers, chunk)
	limited := 0
	for out.orders < n {
		k := 0
		for k < chunk && out.orders+k < n && g.Next(&raw[k]) {
			if idents[k], err = boulderdiff.Idents(raw[k].Names, false); err != nil {
				log.Fatal(err)
			}
			k++
		}
		if k == 0 {
			break
		}
		d, m := timed(func() {
			for i := range k {
				o, err := b.Order(raw[i].IssuedAt, raw[i].NotBefore, 1, idents[i])
				if err != nil {
					log.Fatal(err)
				}
				if !o.Allowed {
					limited++
				}
			}
		})
		out.elapsed += d
		out.mallocs += m
		out.orders += k
	}
	out.note = fmt.Sprintf("the first %d orders of the same stream; %d limited.", out.orders, limited)
	return out
}
