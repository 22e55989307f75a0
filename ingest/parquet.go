package ingest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/ingest/entryschema"
	"github.com/ctlimits/ctlimits/sql/datadir"
	"github.com/ctlimits/ctlimits/sql/parquetio"
)

// Schema is the Arrow schema of the entries files (see entryschema, which
// holds it so that the sql package can import it too).
var Schema = entryschema.Schema

// Row groups of 64k rows keep a reader's memory small and still give zstd
// and the dictionaries enough data to work with.
const rowGroupRows = 1 << 16

// batchRows is how many rows are buffered in Arrow builders before they are
// handed to the Parquet writer.
const batchRows = 8192

func writerProps() *parquet.WriterProperties {
	return parquet.NewWriterProperties(
		// zstd at its default level: with pooled encoders
		// (sql/parquetio) compression is ~3% of ingest CPU, and
		// level 1 saved no measurable CPU for 2% larger files
		// (37.98 against 37.16 bytes per entry on the benchmark log).
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithCreatedBy("ctlimits"),
		// Dictionaries pay only where values repeat: one log, two entry
		// types, a few hundred issuers. Serials, names and hashes are
		// (nearly) unique, so a dictionary would only cost.
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor("log", true),
		parquet.WithDictionaryFor("entry_type", true),
		parquet.WithDictionaryFor("issuer", true),
		parquet.WithDictionaryFor("issuer_key_hash", true),
	)
}

// fileWriter writes one entries file. It writes to a temporary name in the
// target directory; commit makes it durable and visible under its final
// name, abort removes it.
type fileWriter struct {
	log   string
	tmp   string
	f     *os.File
	buf   *bufio.Writer
	w     *parquetio.RecordWriter
	total int
}

func newFileWriter(dir, logID string) (*fileWriter, error) {
	f, err := createTemp(dir, ".entries-", ".parquet.tmp")
	if err != nil {
		return nil, fmt.Errorf("couldn't create temporary file in %s: %w", dir, err)
	}
	fw := &fileWriter{log: logID, tmp: f.Name(), f: f, buf: bufio.NewWriterSize(f, 1<<20)}
	fw.w, err = parquetio.NewRecordWriter(fw.buf, Schema, writerProps(), pqarrow.DefaultWriterProps(), batchRows)
	if err != nil {
		f.Close()
		os.Remove(fw.tmp)
		return nil, fmt.Errorf("%s: %w", fw.tmp, err)
	}
	return fw, nil
}

func (fw *fileWriter) add(r *Row) error {
	b := fw.w.B
	b.Field(0).(*array.StringBuilder).Append(fw.log)
	b.Field(1).(*array.Int64Builder).Append(r.Index)
	b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(r.LoggedAt))
	if r.Precert {
		b.Field(3).(*array.StringBuilder).Append("precert")
	} else {
		b.Field(3).(*array.StringBuilder).Append("x509")
	}
	if r.IssuerKeyHash != nil {
		b.Field(5).(*array.FixedSizeBinaryBuilder).Append(r.IssuerKeyHash)
	} else {
		b.Field(5).AppendNull()
	}
	if r.ParseError != "" {
		b.Field(4).AppendNull()
		b.Field(6).AppendNull()
		b.Field(7).AppendNull()
		b.Field(8).AppendNull()
		b.Field(9).AppendNull()
		b.Field(10).AppendNull()
		b.Field(11).AppendNull()
	} else {
		b.Field(4).(*array.StringBuilder).Append(r.Issuer)
		b.Field(6).(*array.StringBuilder).Append(r.Serial)
		b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(r.NotBefore))
		b.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(r.NotAfter))
		parquetio.AppendList(b.Field(9).(*array.ListBuilder), r.DNSNames)
		parquetio.AppendList(b.Field(10).(*array.ListBuilder), r.IPAddresses)
		if r.CommonName != "" {
			b.Field(11).(*array.StringBuilder).Append(r.CommonName)
		} else {
			b.Field(11).AppendNull()
		}
	}
	b.Field(12).(*array.FixedSizeBinaryBuilder).Append(r.LeafHash[:])
	if r.ParseError != "" {
		b.Field(13).(*array.StringBuilder).Append(r.ParseError)
	} else {
		b.Field(13).AppendNull()
	}
	fw.total++
	return fw.w.Added()
}

// commit finishes the file and renames it to dir/name durably: data fsynced
// before the rename, the directory fsynced after, so a crash leaves either
// no file or the whole file.
func (fw *fileWriter) commit(dir, name string) (int64, error) {
	if err := fw.w.Close(); err != nil {
		fw.abort()
		return 0, fmt.Errorf("%s: %w", fw.tmp, err)
	}
	if err := fw.buf.Flush(); err != nil {
		fw.abort()
		return 0, fmt.Errorf("couldn't write %s: %w", fw.tmp, err)
	}
	if err := fw.f.Sync(); err != nil {
		fw.abort()
		return 0, fmt.Errorf("couldn't sync %s: %w", fw.tmp, err)
	}
	st, err := fw.f.Stat()
	if err != nil {
		fw.abort()
		return 0, err
	}
	if err := fw.f.Close(); err != nil {
		os.Remove(fw.tmp)
		return 0, err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(fw.tmp, final); err != nil {
		os.Remove(fw.tmp)
		return 0, fmt.Errorf("couldn't rename %s to %s: %w", fw.tmp, final, err)
	}
	if err := datadir.SyncDir(dir); err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (fw *fileWriter) abort() {
	fw.f.Close()
	os.Remove(fw.tmp)
}

// EntriesWriter writes one entries file exactly as Run does (schema,
// encodings, row groups, durable commit), for tools that make entries
// without reading a log: cmd/ctgen writes generated histories with it.
type EntriesWriter struct{ fw *fileWriter }

// NewEntriesWriter starts an entries file in dir (an EntriesDir) for the
// log with the given standard base64 ID (the log column).
func NewEntriesWriter(dir, logID string) (*EntriesWriter, error) {
	fw, err := newFileWriter(dir, logID)
	if err != nil {
		return nil, err
	}
	return &EntriesWriter{fw}, nil
}

// Add appends a row; rows must come in index order.
func (w *EntriesWriter) Add(r *Row) error { return w.fw.add(r) }

// Commit finishes the file as dir/<first>-<last>.parquet (the name Run
// gives the file covering entries first to last), durably, and returns
// its size in bytes.
func (w *EntriesWriter) Commit(dir string, first, last int64) (int64, error) {
	return w.fw.commit(dir, fileName(first, last))
}

// Abort removes the unfinished file.
func (w *EntriesWriter) Abort() { w.fw.abort() }
