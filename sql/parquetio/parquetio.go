// Package parquetio is the Parquet-writing plumbing ctlimits' writers
// share (ingest's entries files, replay/orderio's orders and decisions):
// a zstd codec that reuses its encoders, and the few lines every writer
// repeats to move Arrow builders into a file. It imports only arrow and
// klauspost/compress, so any package can use it.
package parquetio

import (
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// AppendList appends vs as one non-null list to lb, a list of strings.
func AppendList(lb *array.ListBuilder, vs []string) {
	lb.Append(true)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	for _, v := range vs {
		vb.Append(v)
	}
}

// RecordWriter writes rows into a Parquet file through an Arrow record
// builder: the caller appends one row to each of B's fields, then calls
// Added, which hands a record of Rows rows to the file's buffered row
// group (a new row group starts at the writer's maximum row group length).
// Small records keep the builders' buffers in cache.
//
// arrow's Parquet writer panics on some write errors (a full disk while
// it writes the file's magic number, a failing sink in a page flush); a
// RecordWriter returns them as errors instead, so a full disk is a
// message, never a crash.
type RecordWriter struct {
	B    *array.RecordBuilder
	fw   *pqarrow.FileWriter
	sink *sink
	rows int
	n    int
}

// sink keeps the first error of the writer under arrow's, which arrow's
// panics do not carry ("failed to write magic number").
type sink struct {
	w   io.Writer
	err error
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}

// NewRecordWriter starts a Parquet file in w with schema, props and
// arrowProps. It never closes w (the caller owns it: a pending file to
// commit, a buffered writer to flush).
func NewRecordWriter(w io.Writer, schema *arrow.Schema, props *parquet.WriterProperties, arrowProps pqarrow.ArrowWriterProperties, rows int) (rw *RecordWriter, err error) {
	Register()
	s := &sink{w: w} // no Close: the Parquet writer closes its sink if it can
	defer recoverWrite(&err, s)
	fw, err := pqarrow.NewFileWriter(schema, s, props, arrowProps)
	if err != nil {
		return nil, fmt.Errorf("couldn't start Parquet output: %w", err)
	}
	return &RecordWriter{B: array.NewRecordBuilder(memory.DefaultAllocator, schema), fw: fw, sink: s, rows: rows}, nil
}

// Added counts the row just appended to B, writing a record when Rows are
// built.
func (r *RecordWriter) Added() error {
	if r.n++; r.n >= r.rows {
		return r.Flush()
	}
	return nil
}

// Flush writes the rows built so far.
func (r *RecordWriter) Flush() (err error) {
	if r.n == 0 {
		return nil
	}
	defer recoverWrite(&err, r.sink)
	r.n = 0
	rec := r.B.NewRecord()
	defer rec.Release()
	if err := r.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("couldn't write Parquet: %w", err)
	}
	return nil
}

// Close writes the rest and the file's footer (not closing the sink).
func (r *RecordWriter) Close() (err error) {
	defer r.B.Release()
	if err := r.Flush(); err != nil {
		return err
	}
	defer recoverWrite(&err, r.sink)
	if err := r.fw.Close(); err != nil {
		return fmt.Errorf("couldn't finish Parquet: %w", err)
	}
	return nil
}

// recoverWrite turns a panic of arrow's writer into *err, with the
// sink's error under it when there is one (a full disk).
func recoverWrite(err *error, s *sink) {
	p := recover()
	if p == nil {
		return
	}
	switch {
	case s != nil && s.err != nil:
		*err = fmt.Errorf("couldn't write Parquet (%v): %w", p, s.err)
	case isError(p):
		*err = fmt.Errorf("couldn't write Parquet: %w", p.(error))
	default:
		*err = fmt.Errorf("couldn't write Parquet: %v", p)
	}
}

func isError(p any) bool { _, ok := p.(error); return ok }
