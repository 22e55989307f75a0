package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	_ "github.com/ctlimits/ctlimits/ingest/parquetzstd" // pooled zstd codec
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// WriteOrders writes the orders of c, one at a time from synth's
// Generator (memory does not grow with c.Orders), to path in the orders
// format `ctlimits replay --orders` reads, chosen by orderio.FormatOf:
// "-" is JSON lines on stdout, *.jsonl JSON lines, *.csv CSV, *.parquet
// Parquet. A file is written under a temporary name and renamed into
// place once complete. It returns how many orders it wrote.
func WriteOrders(path string, stdout io.Writer, c synth.Config) (int64, error) {
	format, err := orderio.FormatOf(path)
	if err != nil {
		return 0, err
	}
	if path == "-" {
		return writeOrdersTo(stdout, format, c)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("couldn't create %s: %w", path, err)
	}
	n, err := writeOrdersTo(tmp, format, c)
	if err == nil {
		err = tmp.Chmod(0o644) // not CreateTemp's 0600: a data file like any other
	}
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return n, err
	}
	return n, nil
}

// orderWriter encodes orders in one input format.
type orderWriter interface {
	Write(o *replay.Order) error
	// Close flushes; it does not close the underlying io.Writer.
	Close() error
}

func writeOrdersTo(w io.Writer, format orderio.Format, c synth.Config) (int64, error) {
	var ow orderWriter
	switch format {
	case orderio.JSONL:
		ow = &jsonlOrders{w: bufio.NewWriterSize(w, 1<<20)}
	case orderio.CSV:
		ow = newCSVOrders(w)
	case orderio.Parquet:
		var err error
		if ow, err = newParquetOrders(w); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("can't write orders as %s", format)
	}
	g := synth.New(c)
	var o replay.Order
	var n int64
	for g.Next(&o) {
		if err := ow.Write(&o); err != nil {
			return n, fmt.Errorf("couldn't write orders: %w", err)
		}
		n++
	}
	if err := ow.Close(); err != nil {
		return n, fmt.Errorf("couldn't write orders: %w", err)
	}
	return n, nil
}

const rfc3339Nano = "2006-01-02T15:04:05.999999999Z07:00"

// jsonlOrders writes one JSON object per line, by hand (encoding/json's
// reflection would cost more than generating the order):
//
//	{"issued_at":"...","names":["..."],"not_before":"...","not_after":"...","account":"..."}
//
// not_before, not_after and account only when set.
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

// csvOrders writes the header issued_at,names,not_before,not_after,account
// and one row per order, names separated by spaces.
type csvOrders struct {
	w      *csv.Writer
	header bool
	rec    []string
}

func newCSVOrders(w io.Writer) *csvOrders {
	return &csvOrders{w: csv.NewWriter(bufio.NewWriterSize(w, 1<<20))}
}

func (c *csvOrders) Write(o *replay.Order) error {
	if !c.header {
		c.header = true
		if err := c.w.Write([]string{"issued_at", "names", "not_before", "not_after", "account"}); err != nil {
			return err
		}
	}
	c.rec = append(c.rec[:0], fmtTime(o.IssuedAt), strings.Join(o.Names, " "), fmtTime(o.NotBefore), fmtTime(o.NotAfter), o.Account)
	return c.w.Write(c.rec)
}

func (c *csvOrders) Close() error {
	c.w.Flush()
	return c.w.Error()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(rfc3339Nano)
}

// ordersSchema is the Parquet orders schema orderio's reader takes:
// nanosecond timestamps (the generator's instants are nanoseconds, kept
// exactly), names as list<string>, the optional columns nullable.
var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "issued_at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	{Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "not_after", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "account", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// Row groups of 128k orders, reaching the file in records of 8k, as
// orderio's decision writer does.
const (
	ordersRowGroup = 128 << 10
	ordersRecord   = 8 << 10
)

type parquetOrders struct {
	fw *pqarrow.FileWriter
	b  *array.RecordBuilder
	n  int
}

func newParquetOrders(w io.Writer) (*parquetOrders, error) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor("account", true),
		parquet.WithMaxRowGroupLength(ordersRowGroup),
		parquet.WithCreatedBy("ctgen"),
	)
	// The Parquet writer closes its sink if it can; the caller owns w.
	fw, err := pqarrow.NewFileWriter(ordersSchema, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, fmt.Errorf("couldn't start Parquet output: %w", err)
	}
	return &parquetOrders{fw: fw, b: array.NewRecordBuilder(memory.DefaultAllocator, ordersSchema)}, nil
}

func (p *parquetOrders) Write(o *replay.Order) error {
	f := p.b.Fields()
	f[0].(*array.TimestampBuilder).Append(arrow.Timestamp(o.IssuedAt.UnixNano()))
	lb := f[1].(*array.ListBuilder)
	lb.Append(true)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	for _, n := range o.Names {
		vb.Append(n)
	}
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
	if p.n++; p.n >= ordersRecord {
		return p.flush()
	}
	return nil
}

func (p *parquetOrders) flush() error {
	if p.n == 0 {
		return nil
	}
	rec := p.b.NewRecord()
	defer rec.Release()
	p.n = 0
	return p.fw.WriteBuffered(rec)
}

func (p *parquetOrders) Close() error {
	err := p.flush()
	p.b.Release()
	if cerr := p.fw.Close(); err == nil {
		err = cerr
	}
	return err
}

// ordersOptions are the flags of `ctgen -orders`.
type ordersOptions struct {
	N      int
	Seed   uint64
	Out    string
	OutSet bool // -out given; otherwise the orders go to stdout
	// PerDay, when positive, sets the mean rate in orders a day.
	PerDay float64
	// LogFlags are the log-only flags given, an error here.
	LogFlags []string
}

// ordersMode runs `ctgen -orders N`: the log flags do not apply.
func ordersMode(o ordersOptions, stdout, stderr io.Writer) error {
	if len(o.LogFlags) > 0 {
		return fmt.Errorf("-%s: -orders writes orders, not a log; the log flags (-certs, -days, -start, -hosting, -serve) don't apply", strings.Join(o.LogFlags, ", -"))
	}
	if o.N <= 0 {
		return errors.New("-orders: want a positive number of orders")
	}
	out := o.Out
	if !o.OutSet {
		out = "-"
	}
	c := synth.Realistic(o.Seed, o.N)
	if o.PerDay < 0 || math.IsNaN(o.PerDay) || math.IsInf(o.PerDay, 0) {
		return fmt.Errorf("-per-day %v: want a positive rate", o.PerDay)
	}
	if o.PerDay > 0 {
		// Realistic's steps: Burst of them 0, the others exponential with
		// mean MeanStep.
		c.MeanStep = time.Duration(float64(24*time.Hour) / ((1 - c.Burst) * o.PerDay))
		if c.MeanStep <= 0 {
			return fmt.Errorf("-per-day %v: more than one order a nanosecond", o.PerDay)
		}
	}
	t0 := time.Now()
	written, err := WriteOrders(out, stdout, c)
	if err != nil {
		return err
	}
	dest := out
	if out == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(stderr, "ctgen: wrote %s orders (synth.Realistic, seed %d, mean step %s) to %s in %s\n",
		strconv.FormatInt(written, 10), o.Seed, c.MeanStep, dest, time.Since(t0).Round(time.Millisecond))
	return nil
}
