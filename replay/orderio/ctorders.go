package orderio

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/ctlimits/ctlimits/replay"
)

// CT orders files: the certificates of DATA as orders, in time order, with
// the certificate behind each (issuer, serial, issuer_group) and its
// position in a whole stream. 'ctlimits shard' writes one per shard
// (replay/shard); a worker reads its shard's with OpenCTOrders, in pure
// Go, and decides them as CertTable's reader would have served them.

// CTOrderColumns are the columns of a CT orders file. names is the
// certificate's raw name list (the certificates view's names: null
// elements are dropped, as LoadCertTable drops them); an empty or null
// list is an order the model rejects (skipped, as in a replay of DATA).
// line_group and line_nonstaging are 1-based positions of the
// certificate, in time order, among the certificates of its issuer_group
// and among every non-staging certificate.
var CTOrderColumns = []string{"issued_at", "names", "not_before", "not_after", "issuer", "serial", "issuer_group", "line_group", "line_nonstaging"}

// OpenCTOrders reads a CT orders file, keeping only the certificates of
// the issuer groups in groups; Record.Line is the value of lineColumn
// (line_group or line_nonstaging), so rows keep their position in the
// whole stream (Options.PositionFromLine).
func OpenCTOrders(path string, groups []string, lineColumn string) (Reader, error) {
	if lineColumn != "line_group" && lineColumn != "line_nonstaging" {
		return nil, fmt.Errorf("orderio: unknown line column %q", lineColumn)
	}
	pr, err := openParquetColumns(path, func(sc *arrow.Schema) ([]int, map[string]int, error) {
		var indices []int
		cols := map[string]int{}
		for _, c := range CTOrderColumns {
			idx := sc.FieldIndices(c)
			if len(idx) == 0 {
				return nil, nil, fmt.Errorf("%s: no %q column: not a CT orders file of 'ctlimits shard' (it has %s); run 'ctlimits shard' again", path, c, strings.Join(CTOrderColumns, ", "))
			}
			t := sc.Field(idx[0]).Type
			var bad error
			switch c {
			case "issuer", "serial", "issuer_group":
				if !isString(t) {
					bad = fmt.Errorf("type %s; want a string", t)
				}
			case "line_group", "line_nonstaging":
				if t.ID() != arrow.INT64 {
					bad = fmt.Errorf("type %s; want int64", t)
				}
			default:
				bad = checkParquetType(c, t)
			}
			if bad != nil {
				return nil, nil, fmt.Errorf("%s: column %s: %w", path, c, bad)
			}
			cols[c] = len(indices)
			indices = append(indices, idx[0])
		}
		return indices, cols, nil
	})
	if err != nil {
		return nil, err
	}
	return &ctOrdersReader{parquetReader: *pr, groups: groups, lineCol: lineColumn}, nil
}

type ctOrdersReader struct {
	parquetReader
	groups  []string
	lineCol string
}

func (r *ctOrdersReader) Read(buf []Record) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.done = true
			n, err = 0, damaged(r.name, fmt.Sprintf("the rows after row %d", r.row), "%v", p)
		}
	}()
	// One allocation per batch: rows keep pointers into it.
	refs := make([]CertRef, len(buf))
	for n < len(buf) {
		if ok, err := r.advance(); err != nil {
			return n, err
		} else if !ok {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		for ; n < len(buf) && r.pos < int(r.rec.NumRows()); r.pos++ {
			group := stringAt(r.column("issuer_group"), r.pos)
			if !slices.Contains(r.groups, group) {
				continue
			}
			row := r.row + int64(r.pos) + 1
			if err := r.record(r.pos, group, &buf[n], &refs[n]); err != nil {
				return n, &InputError{File: r.name, Line: row, Unit: "row", Err: err}
			}
			n++
		}
	}
	return n, nil
}

// record fills rec from row i. Unlike an orders file, a certificate with
// no names is a record: the replay skips it, as it skips it in DATA.
func (r *ctOrdersReader) record(i int, group string, rec *Record, ref *CertRef) (err error) {
	var o replay.Order
	if o.IssuedAt, err = timeAt(r.column("issued_at"), i, "issued_at"); err != nil {
		return err
	}
	if o.IssuedAt.IsZero() {
		return fmt.Errorf("issued_at is null")
	}
	if o.Names, err = namesAt(r.column("names"), i); err != nil {
		return err
	}
	if o.NotBefore, err = timeAt(r.column("not_before"), i, "not_before"); err != nil {
		return err
	}
	if o.NotAfter, err = timeAt(r.column("not_after"), i, "not_after"); err != nil {
		return err
	}
	lines, _ := r.column(r.lineCol).(*array.Int64)
	if lines == nil || lines.IsNull(i) || lines.Value(i) < 1 {
		return fmt.Errorf("%s is missing for a %s certificate", r.lineCol, group)
	}
	*ref = CertRef{Issuer: strings.Clone(stringAt(r.column("issuer"), i)), Serial: strings.Clone(stringAt(r.column("serial"), i)),
		IssuerGroup: strings.Clone(group)}
	*rec = Record{Order: o, Line: lines.Value(i), Cert: ref}
	return nil
}

// stringAt is a string column's value ("" for null); it shares the
// record's buffer, so callers keeping it clone it.
func stringAt(c arrow.Array, i int) string {
	if c == nil || c.IsNull(i) {
		return ""
	}
	switch a := c.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return ""
}
