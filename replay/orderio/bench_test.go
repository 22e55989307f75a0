package orderio

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
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
// decisions (discarded).
func BenchmarkStreamParquet(b *testing.B) {
	for _, format := range []string{"parquet", "jsonl", "none"} {
		b.Run("out="+format, func(b *testing.B) { benchStream(b, format) })
	}
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

// filepathTempDir makes a directory that outlives one benchmark function,
// so the input file is generated once per process.
func filepathTempDir() (string, error) {
	d, err := os.MkdirTemp("", "ctlimits-bench-")
	tempDirs = append(tempDirs, d)
	return d, err
}
