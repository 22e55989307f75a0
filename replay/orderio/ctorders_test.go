package orderio

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// smallCTOrders is a CT orders file as 'ctlimits shard' writes one:
// every third certificate staging, some without names or NotAfter.
func smallCTOrders(t testing.TB, rows int) []byte {
	t.Helper()
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "issued_at", Type: ts}, {Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "not_before", Type: ts}, {Name: "not_after", Type: ts, Nullable: true},
		{Name: "issuer", Type: arrow.BinaryTypes.String}, {Name: "serial", Type: arrow.BinaryTypes.String},
		{Name: "issuer_group", Type: arrow.BinaryTypes.String},
		{Name: "line_group", Type: arrow.PrimitiveTypes.Int64}, {Name: "line_nonstaging", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	var buf bytes.Buffer
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(int64(rows/2+1)), parquet.WithDataPageSize(512))
	fw, err := pqarrow.NewFileWriter(sc, &buf, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var prod, staging int64
	for i := range rows {
		at := t0.Add(time.Duration(i) * time.Minute)
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
		lb := b.Field(1).(*array.ListBuilder)
		if i%10 == 9 {
			lb.Append(true) // no names: a certificate the model rejects
		} else {
			lb.Append(true)
			lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("h%d.example%d.com", i, i%7))
			lb.ValueBuilder().(*array.StringBuilder).AppendNull()
		}
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Add(-time.Hour).UnixMicro()))
		if i%4 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Add(90 * 24 * time.Hour).UnixMicro()))
		}
		b.Field(4).(*array.StringBuilder).Append("CN=R10,O=Let's Encrypt,C=US")
		b.Field(5).(*array.StringBuilder).Append(fmt.Sprintf("%04x", i))
		if i%3 == 2 {
			staging++
			b.Field(6).(*array.StringBuilder).Append("letsencrypt-staging")
			b.Field(7).(*array.Int64Builder).Append(staging)
			b.Field(8).AppendNull()
		} else {
			prod++
			b.Field(6).(*array.StringBuilder).Append("letsencrypt")
			b.Field(7).(*array.Int64Builder).Append(prod)
			b.Field(8).(*array.Int64Builder).Append(prod)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenCTOrdersKeepsItsGroups: the reader serves the certificates of
// the asked groups, in file order, with their certificate, their
// position from the asked column, and null names dropped.
func TestOpenCTOrdersKeepsItsGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orders.parquet")
	if err := os.WriteFile(path, smallCTOrders(t, 30), 0o666); err != nil {
		t.Fatal(err)
	}
	in, err := OpenCTOrders(path, []string{"letsencrypt-staging"}, "line_group")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	recs, err := ReadAll(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 10 {
		t.Fatalf("%d staging certificates, want 10", len(recs))
	}
	for k, r := range recs {
		i := 3*k + 2
		if r.Line != int64(k+1) || r.Cert.IssuerGroup != "letsencrypt-staging" || r.Cert.Serial != fmt.Sprintf("%04x", i) {
			t.Fatalf("record %d: line %d, %+v", k, r.Line, r.Cert)
		}
		if want := fmt.Sprintf("h%d.example%d.com", i, i%7); i%10 != 9 && (len(r.Order.Names) != 1 || r.Order.Names[0] != want) {
			t.Fatalf("record %d: names %q, want [%s]", k, r.Order.Names, want)
		}
		if (i%4 == 0) != r.Order.NotAfter.IsZero() {
			t.Fatalf("record %d: not_after %v", k, r.Order.NotAfter)
		}
	}
	// Staging has no non-staging position: asking for it is an error
	// naming the file.
	in2, err := OpenCTOrders(path, []string{"letsencrypt-staging"}, "line_nonstaging")
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close()
	if _, err := ReadAll(context.Background(), in2); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("staging by line_nonstaging: %v", err)
	}
}

// FuzzCTOrders: a damaged CT orders file is an error naming it, never a
// panic. Slow per input (arrow): run with -fuzzminimizetime 2s.
func FuzzCTOrders(f *testing.F) {
	f.Add(smallCTOrders(f, 20))
	f.Add(smallCTOrders(f, 100))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "s.parquet")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := OpenCTOrders(path, []string{"letsencrypt", "other"}, "line_nonstaging")
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatal(err)
			}
			return
		}
		defer in.Close()
		if _, err := ReadAll(context.Background(), in); err != nil && !strings.Contains(err.Error(), path) {
			t.Fatal(err)
		}
	})
}
