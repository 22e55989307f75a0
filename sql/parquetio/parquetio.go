// Package parquetio is the Parquet-writing plumbing ctlimits' writers
// share (ingest's entries files, replay/orderio's orders and decisions):
// a zstd codec that reuses its encoders, and the few lines every writer
// repeats to move Arrow builders into a file. It imports only arrow and
// klauspost/compress, so any package can use it.
package parquetio

import (
	"github.com/apache/arrow/go/v17/arrow/array"
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

// FlushRecord hands the rows built in b to fw's buffered row group (a
// new row group starts when the writer's maximum row group length is
// reached) and resets b. Writers build records of a few thousand rows
// and flush each: small records keep the builders' buffers in cache.
func FlushRecord(fw *pqarrow.FileWriter, b *array.RecordBuilder) error {
	rec := b.NewRecord()
	defer rec.Release()
	return fw.WriteBuffered(rec)
}
