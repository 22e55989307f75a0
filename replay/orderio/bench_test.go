package orderio

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	_ "github.com/marcboeker/go-duckdb" // registers the "duckdb" driver
)

var (
	benchFileOnce sync.Once
	benchFile     string
)

const benchOrders = 1_000_000

// benchOrdersFile writes, once per process, a Parquet orders file shaped
// like Let's Encrypt's traffic: 200k registered domains with a heavy tail,
// one to four names per order, most orders repeating an earlier set.
func benchOrdersFile(b *testing.B) string {
	benchFileOnce.Do(func() {
		dir, err := filepathTempDir()
		if err != nil {
			b.Fatal(err)
		}
		benchFile = filepath.Join(dir, "orders.parquet")
		rng := rand.New(rand.NewPCG(1, 2))
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		names := make([][]string, benchOrders)
		for i := range names {
			var d int
			if rng.IntN(10) == 0 {
				d = rng.IntN(200) // a few big hosting domains take 10%
			} else {
				d = rng.IntN(200_000)
			}
			if i > 1000 && rng.IntN(10) < 7 {
				names[i] = names[rng.IntN(i)] // renewals and duplicates
				continue
			}
			n := 1 + rng.IntN(4)
			set := make([]string, n)
			for j := range set {
				set[j] = fmt.Sprintf("h%d.d%d.example.com", rng.IntN(1000), d)
			}
			names[i] = set
		}
		writeOrdersParquet(b, benchFile, benchOrders,
			func(i int) time.Time { return t0.Add(time.Duration(i) * 50 * time.Millisecond) },
			func(i int) []string { return names[i] })
	})
	return benchFile
}

// BenchmarkStreamParquet is the end-to-end replay path: read a Parquet
// orders file, prepare on every core, decide, and encode Parquet
// decisions (discarded). The duckdb= sub-benchmarks are baselines on the
// same file: DuckDB (go-duckdb, its default threads) decoding every
// column and aggregating in C (count), and delivering every row to Go
// through database/sql (rows).
func BenchmarkStreamParquet(b *testing.B) {
	for _, format := range []string{"parquet", "jsonl", "none"} {
		b.Run("out="+format, func(b *testing.B) { benchStream(b, format) })
	}
	b.Run("duckdb=count", func(b *testing.B) { benchDuckDB(b, false) })
	b.Run("duckdb=rows", func(b *testing.B) { benchDuckDB(b, true) })
}

// benchDuckDB reads the benchmark orders file with DuckDB. With rows, every
// row is scanned into Go values through database/sql, as a consumer of
// DuckDB would (NullTime, the names list as []any, then []string), and
// made into a replay.Order; without, DuckDB only aggregates every
// column. Opening the in-memory database is not timed.
func benchDuckDB(b *testing.B, rows bool) {
	path := benchOrdersFile(b)
	db, err := dbsql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	from := "read_parquet('" + strings.ReplaceAll(path, "'", "''") + "')"
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var n int64
		if !rows {
			var first, names, notBefore any
			err := db.QueryRowContext(ctx, `SELECT count(*), min(issued_at), sum(len(names)), count(not_before) FROM `+from).
				Scan(&n, &first, &names, &notBefore)
			if err != nil {
				b.Fatal(err)
			}
		} else {
			rs, err := db.QueryContext(ctx, `SELECT issued_at, names, not_before FROM `+from)
			if err != nil {
				b.Fatal(err)
			}
			var o replay.Order
			for rs.Next() {
				var issued, nb dbsql.NullTime
				var names any
				if err := rs.Scan(&issued, &names, &nb); err != nil {
					b.Fatal(err)
				}
				list, _ := names.([]any)
				o = replay.Order{IssuedAt: issued.Time.UTC(), NotBefore: nb.Time.UTC(), Names: make([]string, 0, len(list))}
				for _, e := range list {
					if s, ok := e.(string); ok {
						o.Names = append(o.Names, s)
					}
				}
				n++
			}
			if err := rs.Err(); err != nil {
				b.Fatal(err)
			}
			rs.Close()
			if len(o.Names) == 0 {
				b.Fatal("the last order has no names")
			}
		}
		if n != benchOrders {
			b.Fatalf("%d orders, want %d", n, benchOrders)
		}
	}
	b.ReportMetric(float64(benchOrders*b.N)/time.Since(start).Seconds(), "orders/s")
}

type nopWriter struct{}

func (nopWriter) Write(*Row) error { return nil }
func (nopWriter) Close() error     { return nil }

func benchStream(b *testing.B, format string) {
	path := benchOrdersFile(b)
	p, _ := replay.LookupPolicy("letsencrypt")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		in, err := Open(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		var w Writer = nopWriter{}
		if format != "none" {
			w, _ = NewWriter(format, io.Discard)
		}
		c, err := Stream(context.Background(), in, p, w, Options{})
		if err != nil || c.Orders != benchOrders {
			b.Fatal(err, c)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		in.Close()
	}
	b.ReportMetric(float64(benchOrders*b.N)/time.Since(start).Seconds(), "orders/s")
}

var tempDirs []string

// TestMain removes the directories filepathTempDir made.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// filepathTempDir makes a directory that outlives one benchmark function,
// so the input file is generated once per process.
func filepathTempDir() (string, error) {
	d, err := os.MkdirTemp("", "ctlimits-bench-")
	tempDirs = append(tempDirs, d)
	return d, err
}
