package sql

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
)

// TestMain removes the benchmark's DATA directory, which outlives one
// benchmark function so that it is built once per process.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchData.dir != "" {
		os.RemoveAll(benchData.dir)
	}
	os.Exit(code)
}

var benchData struct {
	once    sync.Once
	dir     string // holds DATA
	data    string
	entries int64
	err     error
}

// benchEntriesData ingests, once per process, a generated local log of
// CTLIMITS_BENCH_ENTRIES entries (default 2^20) exactly as
// ingest.BenchmarkIngestLocalTiles does (4,096 distinct test certificates
// cycled with distinct timestamps, file:// tiles, full verification), and
// returns its DATA directory and size. The tiles are removed once
// ingested.
func benchEntriesData(b *testing.B) (string, int64) {
	benchData.once.Do(func() {
		d := &benchData
		d.entries = 1 << 20
		if v, err := strconv.ParseInt(os.Getenv("CTLIMITS_BENCH_ENTRIES"), 10, 64); err == nil && v > 0 {
			d.entries = v
		}
		if d.dir, d.err = os.MkdirTemp("", "ctlimits-sql-bench-"); d.err != nil {
			return
		}
		var l *ctlogtest.Log
		if l, d.err = ctlogtest.Generate(ctlogtest.Options{Entries: 4096}); d.err != nil {
			return
		}
		tiles := filepath.Join(d.dir, "tiles")
		t0 := time.Now()
		if d.err = l.WriteLargeTileDir(tiles, d.entries, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); d.err != nil {
			return
		}
		var lg *loglist.Log
		if lg, d.err = loglist.Custom("file://"+tiles, loglist.Static, l.PublicKeyDER(), l.Origin); d.err != nil {
			return
		}
		d.data = filepath.Join(d.dir, "data")
		var sum *ingest.Summary
		if sum, d.err = ingest.Run(context.Background(), ingest.Config{Log: lg, Data: d.data}); d.err != nil {
			return
		}
		b.Logf("generated and ingested %d entries in %s: %d files, %.2f Parquet bytes/entry",
			d.entries, time.Since(t0).Round(time.Millisecond), sum.Files, float64(sum.Bytes)/float64(d.entries))
		d.err = os.RemoveAll(tiles)
	})
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	return benchData.data, benchData.entries
}

// BenchmarkDuckDBScanEntries is DuckDB (through Open and its entries view)
// reading the entries Parquet that ingest writes, decoding every column
// (all fourteen: those the certificates view uses, and idx and leaf_hash)
// and aggregating in C: the baseline for ingest's local-tiles entries/s,
// DuckDB reading what ingest wrote against ingest writing it from tiles.
// Generating and ingesting the log (see benchEntriesData) and opening the
// database are not timed; each iteration is the whole query.
func BenchmarkDuckDBScanEntries(b *testing.B) {
	data, n := benchEntriesData(b)
	const q = `SELECT count(*), sum(length(log)), sum(idx), min(logged_at),
	  count_if(entry_type = 'precert'), sum(length(issuer)), sum(octet_length(issuer_key_hash)),
	  sum(length(serial)), min(not_before), max(not_after),
	  sum(len(dns_names)), sum(len(ip_addresses)), sum(length(common_name)),
	  sum(octet_length(leaf_hash)), count(parse_error)
	FROM entries`
	db, err := Open(data)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		var count int64
		var rest [14]any
		dst := []any{&count}
		for j := range rest {
			dst = append(dst, &rest[j])
		}
		if err := db.DB().QueryRowContext(context.Background(), q).Scan(dst...); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("%d entries, want %d", count, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "entries/s")
}
