package orderio

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/sql/parquetio"
)

// parquetReader reads orders from a Parquet file with the columns
// issued_at, names and optionally not_before, not_after and account.
// Times may be timestamps (any unit) or RFC 3339 strings; names a list of
// strings or one space-separated string.
type parquetReader struct {
	name string
	pf   *file.Reader
	rr   pqarrow.RecordReader
	cols map[string]int // column name -> index in the record

	rec  arrow.Record
	pos  int   // next row in rec
	row  int64 // rows consumed before rec
	done bool
}

const parquetBatch = 64 << 10

var orderColumns = []string{"issued_at", "names", "not_before", "not_after", "account", "profile"}

// advance makes r.rec a batch with rows left at r.pos, reading batches
// until one has rows; false at the end of the file, with the error that
// ended it unless that was the end.
func (r *parquetReader) advance() (bool, error) {
	for r.rec == nil || r.pos >= int(r.rec.NumRows()) {
		if r.rec != nil {
			r.row += r.rec.NumRows()
			r.rec.Release()
			r.rec = nil
		}
		if r.done || !r.rr.Next() {
			r.done = true
			if err := r.rr.Err(); err != nil && err != io.EOF {
				return false, damaged(r.name, fmt.Sprintf("the rows after row %d", r.row), "%v", err)
			}
			return false, nil
		}
		r.rec = r.rr.Record()
		r.rec.Retain()
		r.pos = 0
	}
	return true, nil
}

// openCheckedParquet opens a Parquet file for reading with arrow, after
// checkParquetFile has checked its structure (footer, column chunks, page
// headers), with bounded decoding (parquetio.Register): a damaged file is
// an error that names it, never a panic or gigabytes allocated. The caller
// closes pf.
func openCheckedParquet(path string) (pf *file.Reader, fr *pqarrow.FileReader, sc *arrow.Schema, err error) {
	parquetio.Register() // bounded decoding: a damaged page cannot ask for gigabytes
	if err := checkParquetFile(path, nil); err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		// The last line of defense: checkParquetFile should have refused
		// whatever makes arrow panic here.
		if p := recover(); p != nil {
			if pf != nil {
				pf.Close()
			}
			pf, fr, sc, err = nil, nil, nil, damaged(path, "the footer", "%v", p)
		}
	}()
	pf, err = file.OpenParquetFile(path, false)
	if err != nil {
		return nil, nil, nil, damaged(path, "the footer", "%v", err)
	}
	if err := checkParquetFile(path, pf); err != nil {
		pf.Close()
		return nil, nil, nil, err
	}
	fr, err = pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatch}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, nil, nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	if sc, err = fr.Schema(); err != nil {
		pf.Close()
		return nil, nil, nil, fmt.Errorf("couldn't read the schema of %s: %w", path, err)
	}
	return pf, fr, sc, nil
}

// openParquetColumns opens a Parquet file (openCheckedParquet) and reads
// the columns pick chooses from its schema: their indices among the file's
// fields, and each one's name with its place among them. pick's error is
// the caller's message about a missing or mistyped column.
func openParquetColumns(path string, pick func(sc *arrow.Schema) (indices []int, cols map[string]int, err error)) (r *parquetReader, err error) {
	pf, fr, sc, err := openCheckedParquet(path)
	if err != nil {
		return nil, err
	}
	defer func() { // as in openCheckedParquet, for the column readers
		if p := recover(); p != nil {
			pf.Close()
			r, err = nil, damaged(path, "the footer", "%v", p)
		}
	}()
	indices, cols, err := pick(sc)
	if err != nil {
		pf.Close()
		return nil, err
	}
	rr, err := fr.GetRecordReader(context.Background(), indices, nil)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	return &parquetReader{name: path, pf: pf, rr: rr, cols: cols}, nil
}

func openParquet(path string) (*parquetReader, error) {
	return openParquetColumns(path, func(sc *arrow.Schema) ([]int, map[string]int, error) {
		var indices []int
		cols := map[string]int{}
		for _, c := range orderColumns {
			idx := sc.FieldIndices(c)
			if len(idx) == 0 {
				if c == "issued_at" || c == "names" {
					return nil, nil, fmt.Errorf("%s: no %q column; an orders file has issued_at, names and optionally not_before, not_after, account, profile", path, c)
				}
				continue
			}
			if err := checkParquetType(c, sc.Field(idx[0]).Type); err != nil {
				return nil, nil, fmt.Errorf("%s: column %s: %w", path, c, err)
			}
			cols[c] = len(indices)
			indices = append(indices, idx[0])
		}
		return indices, cols, nil
	})
}

func checkParquetType(col string, t arrow.DataType) error {
	switch col {
	case "names":
		switch t := t.(type) {
		case *arrow.ListType:
			if isString(t.Elem()) {
				return nil
			}
		case *arrow.LargeListType:
			if isString(t.Elem()) {
				return nil
			}
		}
		if isString(t) {
			return nil
		}
		return fmt.Errorf("type %s; want a list of strings", t)
	case "account":
		if isString(t) || t.ID() == arrow.INT64 || t.ID() == arrow.INT32 {
			return nil
		}
		return fmt.Errorf("type %s; want a string or an integer", t)
	case "profile":
		if isString(t) {
			return nil
		}
		return fmt.Errorf("type %s; want a string (classic, tlsserver or shortlived)", t)
	default:
		if ts, ok := t.(*arrow.TimestampType); ok {
			if ts.Unit > arrow.Nanosecond {
				return fmt.Errorf("timestamp with unknown unit %d (damaged file?)", ts.Unit)
			}
			return nil
		}
		if isString(t) {
			return nil
		}
		return fmt.Errorf("type %s; want a timestamp or an RFC 3339 string", t)
	}
}

func isString(t arrow.DataType) bool {
	return t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING
}

func (r *parquetReader) Name() string { return r.name }

func (r *parquetReader) Close() error {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.rr.Release()
	return r.pf.Close()
}

func (r *parquetReader) Read(buf []Record) (n int, err error) {
	defer func() {
		// The last line of defense, as in openParquet: arrow decodes pages
		// on this goroutine.
		if p := recover(); p != nil {
			r.done = true
			n, err = 0, damaged(r.name, fmt.Sprintf("the rows after row %d", r.row), "%v", p)
		}
	}()
	for n < len(buf) {
		if ok, err := r.advance(); err != nil {
			return n, err
		} else if !ok {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		for ; n < len(buf) && r.pos < int(r.rec.NumRows()); r.pos, n = r.pos+1, n+1 {
			line := r.row + int64(r.pos) + 1
			o, err := r.order(r.pos)
			if err != nil {
				return n, &InputError{File: r.name, Line: line, Unit: "row", Err: err}
			}
			buf[n] = Record{Order: o, Line: line}
		}
	}
	return n, nil
}

func (r *parquetReader) column(name string) arrow.Array {
	i, ok := r.cols[name]
	if !ok {
		return nil
	}
	return r.rec.Column(i)
}

func (r *parquetReader) order(i int) (o replay.Order, err error) {
	if o.IssuedAt, err = timeAt(r.column("issued_at"), i, "issued_at"); err != nil {
		return o, err
	}
	if o.IssuedAt.IsZero() {
		return o, fmt.Errorf("issued_at is null")
	}
	if o.Names, err = namesAt(r.column("names"), i); err != nil {
		return o, err
	}
	if len(o.Names) == 0 {
		return o, fmt.Errorf("names is empty")
	}
	if c := r.column("not_before"); c != nil {
		if o.NotBefore, err = timeAt(c, i, "not_before"); err != nil {
			return o, err
		}
	}
	if c := r.column("not_after"); c != nil {
		if o.NotAfter, err = timeAt(c, i, "not_after"); err != nil {
			return o, err
		}
	}
	if c := r.column("account"); c != nil && !c.IsNull(i) {
		switch a := c.(type) {
		case *array.String:
			o.Account = strings.Clone(a.Value(i)) // see namesAt
		case *array.LargeString:
			o.Account = strings.Clone(a.Value(i))
		case *array.Int64:
			o.Account = strconv.FormatInt(a.Value(i), 10)
		case *array.Int32:
			o.Account = strconv.FormatInt(int64(a.Value(i)), 10)
		}
	}
	if c := r.column("profile"); c != nil && !c.IsNull(i) {
		var s string
		switch a := c.(type) {
		case *array.String:
			s = a.Value(i)
		case *array.LargeString:
			s = a.Value(i)
		}
		if o.Profile, err = replay.ParseProfile(s); err != nil {
			return o, fmt.Errorf("profile: %w", err)
		}
	}
	return o, nil
}

// timeAt reads a timestamp or RFC 3339 string; null is the zero time.
func timeAt(c arrow.Array, i int, field string) (time.Time, error) {
	if c.IsNull(i) {
		return time.Time{}, nil
	}
	switch a := c.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC(), nil
	case *array.String:
		return parseTime(field, a.Value(i))
	case *array.LargeString:
		return parseTime(field, a.Value(i))
	}
	return time.Time{}, fmt.Errorf("%s: unsupported type %s", field, c.DataType())
}

// namesAt returns the names of row i. They are copied, into one string
// per row: arrow's Value returns a string that points into the data
// buffer of the whole record (64k rows), and any one name kept past its
// batch (a bucket key in a reused Result, a live bucket's key) would keep
// that buffer alive. The replay keeps a few stale names of every recent
// order's size, so memory grew with every record read (RSS about 65 MB a
// million orders, some 7 GB at 100M; docs/benchmarks.md, "100M orders").
func namesAt(c arrow.Array, i int) ([]string, error) {
	if c.IsNull(i) {
		return nil, nil
	}
	var values arrow.Array
	var start, end int64
	switch a := c.(type) {
	case *array.List:
		start, end = a.ValueOffsets(i)
		values = a.ListValues()
	case *array.LargeList:
		start, end = a.ValueOffsets(i)
		values = a.ListValues()
	case *array.String:
		return strings.Fields(strings.Clone(a.Value(i))), nil
	case *array.LargeString:
		return strings.Fields(strings.Clone(a.Value(i))), nil
	default:
		return nil, fmt.Errorf("names: unsupported type %s", c.DataType())
	}
	value := func(j int64) (string, bool) {
		if values.IsNull(int(j)) {
			return "", false
		}
		switch v := values.(type) {
		case *array.String:
			return v.Value(int(j)), true
		case *array.LargeString:
			return v.Value(int(j)), true
		}
		return "", false
	}
	size := 0
	for j := start; j < end; j++ {
		v, _ := value(j)
		size += len(v)
	}
	var all strings.Builder
	all.Grow(size)
	for j := start; j < end; j++ {
		v, _ := value(j)
		all.WriteString(v)
	}
	joined := all.String()
	out := make([]string, 0, end-start)
	off := 0
	for j := start; j < end; j++ {
		if v, ok := value(j); ok {
			out = append(out, joined[off:off+len(v)])
			off += len(v)
		}
	}
	return out, nil
}
