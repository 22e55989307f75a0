package ingest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/jsonclient"
	"github.com/google/certificate-transparency-go/scanner"
)

// benchEntries returns the size of the benchmark logs: CTLIMITS_BENCH_ENTRIES,
// or def.
func benchEntries(def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv("CTLIMITS_BENCH_ENTRIES"), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkIngestLocalTiles ingests a file:// tile directory of 2^20
// generated entries (4,096 distinct test certificates, cycled with distinct
// timestamps) with full verification, X.509 parsing and Parquet writing.
// Building the directory is not timed.
func BenchmarkIngestLocalTiles(b *testing.B) {
	n := benchEntries(1 << 20)
	l, err := ctlogtest.Generate(ctlogtest.Options{Entries: 4096})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	t0 := time.Now()
	if err := l.WriteLargeTileDir(dir, n, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d entries in %s", n, time.Since(t0).Round(time.Millisecond))
	lg := staticLog(l, "file://"+dir+"/")
	b.ResetTimer()
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		data := b.TempDir()
		t, c := time.Now(), processCPU()
		sum, err := Run(context.Background(), Config{Log: lg, Data: data})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(t)
		cpu += processCPU() - c
		if sum.Rows != n {
			b.Fatalf("%d rows, want %d", sum.Rows, n)
		}
		if i == 0 {
			b.ReportMetric(float64(sum.Bytes)/float64(n), "parquet-bytes/entry")
		}
		b.StopTimer()
		os.RemoveAll(data)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "entries/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(n)/float64(b.N), "cpu-us/entry")
	}
}

// BenchmarkIngestRFC6962VsScanner serves one generated log over RFC 6962 on
// loopback (batches capped at 256 and aligned, as Cloudflare, DigiCert and
// Sectigo logs do) and fetches the whole of it three times per iteration,
// from the same server: with ctlimits ingest at its defaults (4 requests in
// flight; verification, parsing, Parquet), with ct-go's scanner at the
// same concurrency (ParallelFetch 4, BatchSize 256 = the server's cap,
// NumWorkers 2 = the cores; fetch and parse only, MatchAll), and with the
// scanner at its defaults (BatchSize 1000, ParallelFetch 1, NumWorkers 1).
// "ratio" is ctlimits over the scanner at the same concurrency,
// "ratio-vs-default" over the scanner at its defaults.
func BenchmarkIngestRFC6962VsScanner(b *testing.B) {
	n := benchEntries(1 << 17)
	l, err := ctlogtest.Generate(ctlogtest.Options{Entries: int(n), Distinct: 4096})
	if err != nil {
		b.Fatal(err)
	}
	s := ctlogtest.NewServer(l, n)
	s.MaxBatch, s.Align = 256, true
	srv := httptest.NewServer(s.RFC6962())
	defer srv.Close()
	l.Root(n) // precompute the tree outside the timings
	lg := rfcLog(l, srv.URL+"/")
	b.ResetTimer()
	var ours, theirs, theirsDefault time.Duration
	var oursCPU, theirsCPU time.Duration // the server's share included
	for i := 0; i < b.N; i++ {
		data := b.TempDir()
		t, c := time.Now(), processCPU()
		if _, err := Run(context.Background(), Config{Log: lg, Data: data, Workers: 4}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t)
		oursCPU += processCPU() - c

		t, c = time.Now(), processCPU()
		got := scanWithCTGo(b, srv.URL, n, scanner.FetcherOptions{BatchSize: 256, ParallelFetch: 4}, 2)
		theirs += time.Since(t)
		theirsCPU += processCPU() - c
		if got != n {
			b.Fatalf("scanner saw %d entries, want %d", got, n)
		}

		t = time.Now()
		def := scanner.DefaultScannerOptions()
		got = scanWithCTGo(b, srv.URL, n, def.FetcherOptions, def.NumWorkers)
		theirsDefault += time.Since(t)
		if got != n {
			b.Fatalf("scanner (defaults) saw %d entries, want %d", got, n)
		}
		b.StopTimer()
		os.RemoveAll(data)
		b.StartTimer()
	}
	o := float64(n) * float64(b.N) / ours.Seconds()
	th := float64(n) * float64(b.N) / theirs.Seconds()
	thd := float64(n) * float64(b.N) / theirsDefault.Seconds()
	b.ReportMetric(o, "ctlimits-entries/s")
	b.ReportMetric(th, "ctgo-scanner-entries/s")
	b.ReportMetric(thd, "ctgo-scanner-default-entries/s")
	b.ReportMetric(o/th, "ratio")
	b.ReportMetric(o/thd, "ratio-vs-default")
	if oursCPU > 0 {
		// CPU per entry of each side, the loopback server's work included
		// (the same for both): steadier than wall time on a shared machine.
		b.ReportMetric(float64(oursCPU.Microseconds())/float64(n)/float64(b.N), "ctlimits-cpu-us/entry")
		b.ReportMetric(float64(theirsCPU.Microseconds())/float64(n)/float64(b.N), "ctgo-scanner-cpu-us/entry")
		b.ReportMetric(float64(theirsCPU)/float64(oursCPU), "cpu-ratio")
	}
}

// scanWithCTGo scans [0, n) with ct-go's scanner and counts the entries.
func scanWithCTGo(b *testing.B, url string, n int64, fo scanner.FetcherOptions, workers int) int64 {
	lc, err := client.New(url, http.DefaultClient, jsonclient.Options{UserAgent: "ctlimits-bench"})
	if err != nil {
		b.Fatal(err)
	}
	fo.StartIndex, fo.EndIndex = 0, n
	opts := scanner.ScannerOptions{FetcherOptions: fo, Matcher: &scanner.MatchAll{}, NumWorkers: workers}
	var seen atomic.Int64
	sc := scanner.NewScanner(lc, opts)
	count := func(*ct.RawLogEntry) { seen.Add(1) }
	if err := sc.Scan(context.Background(), count, count); err != nil {
		b.Fatal(err)
	}
	return seen.Load()
}

var _ = filepath.Join
var _ = loglist.Static
