package ingest

import (
	"bufio"
	"crypto/x509"
	"encoding/binary"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/sql/parquetio"
	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The physical limits of ingest on this machine, one entry at a time and
// one core: what no ingest of a real log can beat per entry. See
// docs/benchmarks.md.

// BenchmarkPhysicalLeafHash is the RFC 6962 leaf hash (SHA-256) of one
// real-sized MerkleTreeLeaf from the sample log.
func BenchmarkPhysicalLeafHash(b *testing.B) {
	l := mustSample(b)
	leaf := l.Entries[1].LeafInput
	b.SetBytes(int64(len(leaf)))
	for b.Loop() {
		rfc6962.DefaultHasher.HashLeaf(leaf)
	}
}

// BenchmarkPhysicalParseCertificate parses one certificate with the
// standard library, as ingest does first.
func BenchmarkPhysicalParseCertificate(b *testing.B) {
	l := mustSample(b)
	var leaf ct.MerkleTreeLeaf
	var der []byte
	for _, e := range l.Entries {
		if _, err := tls.Unmarshal(e.LeafInput, &leaf); err != nil {
			b.Fatal(err)
		}
		if leaf.TimestampedEntry.EntryType == ct.X509LogEntryType {
			der = leaf.TimestampedEntry.X509Entry.Data
			break
		}
	}
	if der == nil {
		b.Fatal("no x509 entry in the sample log")
	}
	b.SetBytes(int64(len(der)))
	for b.Loop() {
		if _, err := x509.ParseCertificate(der); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPhysicalEncodeRow encodes one entries row into Parquet with
// ingest's writer (fileWriter: the entries schema, zstd through
// sql/parquetio, 8,192-row batches into buffered 64k-row row groups),
// amortized over b.N rows into one file whose bytes are counted and
// discarded; finishing the file (the last row group and the footer) is
// timed too. The rows are the sample log's 1,000 entries as ingest parses
// them, cycled the way ctlogtest.WriteLargeTileDir cycles certificates:
// each written row has its own index, a timestamp 37 ms after the
// previous one, and its own (pseudo-random) leaf hash. "bytes/row" is the
// Parquet output per row; "cpu-ns/row" is process CPU time per row (the
// garbage collector's share included), steadier than ns/op on a shared
// machine.
func BenchmarkPhysicalEncodeRow(b *testing.B) {
	l := mustSample(b)
	var p parser
	rows := make([]Row, len(l.Entries))
	for i, le := range l.Entries {
		e := entry{index: int64(i)}
		decodeMerkleLeaf(le.LeafInput, le.ExtraData, &e)
		if e.typ == x509Entry && e.chain0 != nil && e.decodeErr == nil {
			e.issuer, _ = newIssuerCert(e.chain0)
		}
		rows[i] = p.parse(&e)
	}
	start := rows[0].LoggedAt
	var out countingDiscard
	fw := discardFileWriter(b, &out, "bench")
	defer fw.w.B.Release()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		r := rows[i%len(rows)]
		r.Index = int64(i)
		r.LoggedAt = start + int64(i)*37
		for k := 0; k < 4; k++ {
			binary.LittleEndian.PutUint64(r.LeafHash[8*k:], splitmix64(uint64(i)<<2|uint64(k)))
		}
		if err := fw.add(&r); err != nil {
			b.Fatal(err)
		}
	}
	if err := fw.w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := fw.w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := fw.buf.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu = processCPU() - cpu
	b.ReportMetric(float64(out)/float64(b.N), "bytes/row")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
	}
}

// discardFileWriter is newFileWriter's Parquet writer over w instead of a
// temporary file: the same schema, writer properties and batching, for
// add, flush and w.Close; commit and abort are not for it.
func discardFileWriter(b *testing.B, w *countingDiscard, logID string) *fileWriter {
	fw := &fileWriter{log: logID, buf: bufio.NewWriterSize(w, 1<<20)}
	var err error
	fw.w, err = parquetio.NewRecordWriter(fw.buf, Schema, writerProps(), pqarrow.DefaultWriterProps(), batchRows)
	if err != nil {
		b.Fatal(err)
	}
	return fw
}

// countingDiscard counts the bytes written to it and keeps none.
type countingDiscard int64

func (c *countingDiscard) Write(p []byte) (int, error) {
	*c += countingDiscard(len(p))
	return len(p), nil
}

// splitmix64 is SplitMix64's output function: distinct, well-mixed
// values for distinct inputs, so leaf hashes compress like real ones.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
