package orderio

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestParquetNamesDoNotPinRecords: a name kept after its order was read
// must not keep the whole record it came from (its 64k rows) in memory.
// The replay keeps stale names around (bucket keys in reused Results,
// live buckets), and when names pointed into arrow's record buffers, a
// Parquet replay's memory grew by about 30 bytes an order read. Not
// parallel: it measures the heap.
func TestParquetNamesDoNotPinRecords(t *testing.T) {
	const rows = 4 * parquetBatch
	pad := strings.Repeat("x", 100)
	path := filepath.Join(t.TempDir(), "o.parquet")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	name := func(i int) string { return fmt.Sprintf("%s%d.example.com", pad, i) }
	writeOrdersParquet(t, path, rows, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) },
		func(i int) []string { return []string{name(i), "www." + name(i)} })

	before := heapInUse()
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]Record, batchSize)
	var kept []string // one name of every 1000 orders
	read := 0
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			if (read+i)%1000 == 0 {
				kept = append(kept, buf[i].Order.Names[1])
			}
		}
		read += n
		clear(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if read != rows {
		t.Fatalf("read %d rows, wrote %d", read, rows)
	}
	r.Close() // the reader's own buffers go; the kept names stay
	grew := int64(heapInUse()) - int64(before)
	// The rows hold about 240 bytes of names each, 60 MB in all; the kept
	// names about 30 KB.
	t.Logf("heap grew %d KB keeping %d names of %d rows", grew>>10, len(kept), rows)
	if grew > 4<<20 {
		t.Errorf("the heap grew by %d MB keeping %d names: they pin the records they were read from", grew>>20, len(kept))
	}
	for i, s := range kept {
		if want := "www." + name(1000*i); s != want {
			t.Fatalf("kept name %d is %q, want %q", i, s, want)
		}
	}
	runtime.KeepAlive(kept)
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
