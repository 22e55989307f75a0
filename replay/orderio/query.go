package orderio

import (
	dbsql "database/sql"
	"fmt"
	"io"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// CertificateQuery selects historical orders from the certificates view,
// in the column order QueryReader scans. The caller appends WHERE and must
// keep ORDER BY issued_at: the replay needs time order, and issuer, serial
// make ties deterministic.
const CertificateQuery = `SELECT issued_at, names, not_before, not_after, issuer, serial, issuer_group FROM certificates`

// CertificateOrder is the ORDER BY that goes with CertificateQuery.
const CertificateOrder = ` ORDER BY issued_at, issuer, serial`

// QueryReader reads orders from the rows of CertificateQuery.
type QueryReader struct {
	name string
	rows *dbsql.Rows
	line int64
}

// NewQueryReader reads rows (which it closes); name labels messages.
func NewQueryReader(name string, rows *dbsql.Rows) *QueryReader {
	return &QueryReader{name: name, rows: rows}
}

func (q *QueryReader) Name() string { return q.name }
func (q *QueryReader) Close() error { return q.rows.Close() }

func (q *QueryReader) Read(buf []Record) (int, error) {
	n := 0
	for n < len(buf) {
		if !q.rows.Next() {
			if err := q.rows.Err(); err != nil {
				return n, fmt.Errorf("couldn't read %s after row %d: %w", q.name, q.line, err)
			}
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		q.line++
		var (
			issued, nb, na        dbsql.NullTime
			names                 any
			issuer, serial, group dbsql.NullString
		)
		if err := q.rows.Scan(&issued, &names, &nb, &na, &issuer, &serial, &group); err != nil {
			return n, &InputError{File: q.name, Line: q.line, Unit: "row", Err: err}
		}
		list, _ := names.([]any)
		o := replay.Order{IssuedAt: utc(issued), NotBefore: utc(nb), NotAfter: utc(na), Names: make([]string, 0, len(list))}
		for _, e := range list {
			if s, ok := e.(string); ok {
				o.Names = append(o.Names, s)
			}
		}
		buf[n] = Record{Order: o, Line: q.line, Cert: &CertRef{Issuer: issuer.String, Serial: serial.String, IssuerGroup: group.String}}
		n++
	}
	return n, nil
}

func utc(t dbsql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
