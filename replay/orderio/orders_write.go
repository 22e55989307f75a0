package orderio

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/sql/parquetio"
)

// Orders writers: the inverse of Open, in the same three formats, so that
// what one writes the other reads back exactly (times to the nanosecond).

// OrderWriter encodes orders in one input format.
type OrderWriter interface {
	Write(o *replay.Order) error
	// Close flushes; it does not close the underlying io.Writer.
	Close() error
}

// NewOrderWriter writes orders to w in format, as Open reads them:
//
//   - JSONL: one object per line,
//     {"issued_at":"...","names":["..."],"not_before":"...","not_after":"...","account":"..."},
//     not_before, not_after and account only when set;
//   - CSV: the header issued_at,names,not_before,not_after,account, then
//     a row per order, names separated by spaces;
//   - Parquet: OrdersSchema, zstd, row groups of 128k orders.
func NewOrderWriter(format Format, w io.Writer) (OrderWriter, error) {
	switch format {
	case JSONL:
		return &jsonlOrders{w: bufio.NewWriterSize(w, 1<<20)}, nil
	case CSV:
		return &csvOrders{w: csv.NewWriter(bufio.NewWriterSize(w, 1<<20))}, nil
	case Parquet:
		return newParquetOrders(w)
	}
	return nil, fmt.Errorf("can't write orders as %q: want %s, %s or %s", format, JSONL, CSV, Parquet)
}

// jsonlOrders writes JSON lines by hand: encoding/json's reflection would
// cost more than generating the order.
type jsonlOrders struct {
	w   *bufio.Writer
	buf []byte
}

func (j *jsonlOrders) Write(o *replay.Order) error {
	b := append(j.buf[:0], `{"issued_at":"`...)
	b = o.IssuedAt.UTC().AppendFormat(b, rfc3339Nano)
	b = append(b, `","names":[`...)
	for i, n := range o.Names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
	}
	b = append(b, ']')
	if !o.NotBefore.IsZero() {
		b = append(b, `,"not_before":"`...)
		b = o.NotBefore.UTC().AppendFormat(b, rfc3339Nano)
		b = append(b, '"')
	}
	if !o.NotAfter.IsZero() {
		b = append(b, `,"not_after":"`...)
		b = o.NotAfter.UTC().AppendFormat(b, rfc3339Nano)
		b = append(b, '"')
	}
	if o.Account != "" {
		b = append(b, `,"account":`...)
		b = appendJSONString(b, o.Account)
	}
	b = append(b, "}\n"...)
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonlOrders) Close() error { return j.w.Flush() }

// appendJSONString appends s as a JSON string. Names are ASCII in
// practice; anything else is escaped as JSON requires (control
// characters, quote, backslash) and otherwise passed through as UTF-8.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

type csvOrders struct {
	w      *csv.Writer
	header bool
	rec    []string
}

func (c *csvOrders) Write(o *replay.Order) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(orderColumns); err != nil {
			return err
		}
	}
	c.rec = append(c.rec[:0], orderTime(o.IssuedAt), strings.Join(o.Names, " "), orderTime(o.NotBefore), orderTime(o.NotAfter), o.Account)
	return c.w.Write(c.rec)
}

func (c *csvOrders) Close() error {
	c.w.Flush()
	return c.w.Error()
}

func orderTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(rfc3339Nano)
}

// OrdersSchema is the Parquet orders schema NewOrderWriter writes (Open
// also takes other timestamp units and string types): nanosecond
// timestamps, names as list<string>, the optional columns nullable.
var OrdersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "issued_at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	{Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "not_after", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "account", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

type parquetOrders struct{ *parquetio.RecordWriter }

func newParquetOrders(w io.Writer) (*parquetOrders, error) {
	// As the decisions writer: row groups of rowGroupRows reached in
	// records of recordRows, zstd level 1, a dictionary only for accounts.
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor("account", true),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithCreatedBy("ctlimits"),
	)
	rw, err := parquetio.NewRecordWriter(w, OrdersSchema, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()), recordRows)
	if err != nil {
		return nil, err
	}
	return &parquetOrders{rw}, nil
}

func (p *parquetOrders) Write(o *replay.Order) error {
	f := p.B.Fields()
	f[0].(*array.TimestampBuilder).Append(arrow.Timestamp(o.IssuedAt.UnixNano()))
	parquetio.AppendList(f[1].(*array.ListBuilder), o.Names)
	for i, t := range []time.Time{o.NotBefore, o.NotAfter} {
		if t.IsZero() {
			f[2+i].AppendNull()
		} else {
			f[2+i].(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixNano()))
		}
	}
	if o.Account == "" {
		f[4].AppendNull()
	} else {
		f[4].(*array.StringBuilder).Append(o.Account)
	}
	return p.Added()
}
