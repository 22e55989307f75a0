package orderio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// smallOrdersParquet is a valid orders file of a few KB using what real
// ones use: zstd, dictionaries, several row groups and pages, nulls.
func smallOrdersParquet(t testing.TB, rows int) []byte { return smallOrdersParquetWith(t, rows, false) }

func smallOrdersParquetWith(t testing.TB, rows int, emptyGroup bool) []byte {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "issued_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "account", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithDictionaryDefault(true),
		parquet.WithMaxRowGroupLength(int64(rows/2+1)), parquet.WithDataPageSize(512))
	fw, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		lb := b.Field(1).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("h%d.example%d.com", i, i%7))
		lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("example%d.com", i%7))
		if i%3 == 0 {
			b.Field(2).AppendNull()
			b.Field(3).AppendNull()
		} else {
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Add(-time.Hour).UnixMilli()))
			b.Field(3).(*array.StringBuilder).Append(fmt.Sprint(i % 5))
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if emptyGroup {
		empty := b.NewRecord()
		defer empty.Release()
		if err := fw.Write(empty); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readOrders opens and reads a whole orders file; a panic is returned as
// an error saying so, for the tests to fail on.
func readOrders(path string) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("PANIC: %v", r)
		}
	}()
	in, err := Open(path, nil)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	buf := make([]Record, 100)
	for {
		k, err := in.Read(buf)
		n += k
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// tryDamaged reads data as an orders file and fails the test on a panic,
// an error that does not name the file, or more than 64 MiB allocated.
func tryDamaged(t *testing.T, dir, what string, data []byte) error {
	t.Helper()
	path := filepath.Join(dir, "orders.parquet")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readOrders(path)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("%s: a %d-byte file allocated %d MiB", what, len(data), alloc>>20)
	}
	if err != nil && (strings.HasPrefix(err.Error(), "PANIC") || !strings.Contains(err.Error(), path)) {
		t.Errorf("%s: %v", what, err)
	}
	return err
}

// Not parallel: it measures allocations, which other tests would add to.
func TestDamagedParquetIsAnErrorNotAPanic(t *testing.T) {
	good := smallOrdersParquet(t, 200)
	dir := t.TempDir()
	if n, err := readOrders(writeFileBytes(t, dir, "good.parquet", good)); err != nil || n != 200 {
		t.Fatalf("the valid file: %d orders, %v", n, err)
	}
	footer := len(good) - 8 - int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	// Every truncation must be refused.
	for n := 0; n < len(good); n += 1 + n/64 {
		if tryDamaged(t, dir, fmt.Sprintf("truncated to %d", n), good[:n]) == nil {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(good))
		}
	}
	// Flip bytes: everywhere in the footer, every few bytes elsewhere.
	step := 1
	if testing.Short() {
		step = 5
	}
	for i := 0; i < len(good); i += step {
		if i < footer && i%11 != 0 {
			continue
		}
		for _, x := range []byte{0xff, 0x80, 0x01} {
			bad := bytes.Clone(good)
			bad[i] ^= x
			tryDamaged(t, dir, fmt.Sprintf("byte %d ^ %#x", i, x), bad)
		}
		for _, v := range []byte{0} {
			bad := bytes.Clone(good)
			bad[i] = v
			tryDamaged(t, dir, fmt.Sprintf("byte %d = %#x", i, v), bad)
		}
	}
}

func writeFileBytes(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The checks must not refuse valid files: an empty row group (its chunks
// have no pages, at offset 0) is one.
func TestEmptyRowGroupIsNotDamage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if n, err := readOrders(writeFileBytes(t, dir, "o.parquet", smallOrdersParquetWith(t, 50, true))); err != nil || n != 50 {
		t.Fatalf("%d orders, %v", n, err)
	}
}

// Files DuckDB writes (snappy, zstd, several row groups, dictionaries, nulls,
// integer accounts) pass the checks and read whole.
func TestDuckDBWrittenOrdersPassTheChecks(t *testing.T) {
	t.Parallel()
	db := certificatesDB(t)
	dir := t.TempDir()
	for _, codec := range []string{"snappy", "zstd", "uncompressed"} {
		path := filepath.Join(dir, codec+".parquet")
		mustExec(t, db, fmt.Sprintf(`COPY (SELECT TIMESTAMP '2026-03-01 00:00:00' + to_minutes(i) AS issued_at,
			['h' || i || '.example' || (i %% 7) || '.com', 'example' || (i %% 7) || '.com'] AS names,
			CASE WHEN i %% 3 = 0 THEN NULL ELSE TIMESTAMP '2026-02-28 23:00:00' + to_minutes(i) END AS not_before,
			CASE WHEN i %% 5 = 0 THEN NULL ELSE (i %% 4)::BIGINT END AS account
			FROM range(5000) t(i)) TO '%s' (FORMAT parquet, COMPRESSION %s, ROW_GROUP_SIZE 2048)`, path, codec))
		if n, err := readOrders(path); err != nil || n != 5000 {
			t.Errorf("%s: %d orders, %v", codec, n, err)
		}
	}
}
