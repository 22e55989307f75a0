package parquetio

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// fullDisk accepts limit bytes, then fails as a full disk does.
type fullDisk struct{ limit int }

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) > d.limit {
		n := d.limit
		d.limit = 0
		return n, syscall.ENOSPC
	}
	d.limit -= len(p)
	return len(p), nil
}

// A full disk at any point of a file is an error wrapping ENOSPC, never a
// panic (arrow's writer panics writing the magic number).
func TestAFullDiskIsAnError(t *testing.T) {
	t.Parallel()
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	for _, limit := range []int{0, 3, 4, 100, 1000, 5000} {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("limit %d: panic: %v", limit, p)
				}
			}()
			rw, err := NewRecordWriter(&fullDisk{limit}, schema, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(100)), pqarrow.DefaultWriterProps(), 10)
			if err != nil {
				return err
			}
			for i := range 1000 {
				rw.B.Field(0).(*array.StringBuilder).Append(strings.Repeat("x", i%50))
				if err := rw.Added(); err != nil {
					rw.B.Release()
					return err
				}
			}
			return rw.Close()
		}()
		if !errors.Is(err, syscall.ENOSPC) && (err == nil || !strings.Contains(err.Error(), "no space left")) {
			t.Errorf("limit %d: got %v, want an error saying the disk is full", limit, err)
		}
	}
}
