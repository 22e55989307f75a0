package orderio

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// Record is one order read from a file, with its position for messages.
type Record struct {
	Order replay.Order
	// Line is the 1-based line (JSON lines, CSV) or row (Parquet, query).
	Line int64
	// Cert identifies the certificate behind a historical order (from
	// CT); nil for planned orders.
	Cert *CertRef
}

// CertRef identifies a certificate from CT.
type CertRef struct {
	Issuer, Serial, IssuerGroup string
}

// Reader yields orders from a file in file order.
type Reader interface {
	// Read fills buf with up to len(buf) records and returns how many; it
	// returns io.EOF once there are no more. A malformed record is an
	// *InputError.
	Read(buf []Record) (int, error)
	// Name is the input as the user named it, for messages.
	Name() string
	Close() error
}

// InputError is a problem with one record of an input file.
type InputError struct {
	File string
	Line int64
	Unit string // "line" or "row"
	Err  error
}

func (e *InputError) Error() string {
	return fmt.Sprintf("%s:%s %d: %v", e.File, e.Unit, e.Line, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// Format names an orders file format.
type Format string

const (
	JSONL   Format = "jsonl"
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// FormatOf chooses the format from a file name: .jsonl/.ndjson/.json are
// JSON lines, .csv is CSV, .parquet is Parquet, and "-" is JSON lines on
// standard input.
func FormatOf(path string) (Format, error) {
	if path == "-" {
		return JSONL, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return JSONL, nil
	case ".csv":
		return CSV, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return "", fmt.Errorf("%s: can't tell the format from the extension; name it .jsonl, .csv or .parquet", path)
}

// Open opens an orders file by extension ("-" reads JSON lines from stdin).
func Open(path string, stdin io.Reader) (Reader, error) {
	f, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if path == "-" {
		return newJSONLReader("-", io.NopCloser(stdin)), nil
	}
	if f == Parquet {
		return openParquet(path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't open orders: %w", err)
	}
	if f == CSV {
		return newCSVReader(path, fh)
	}
	return newJSONLReader(path, fh), nil
}

// parseTime accepts RFC 3339 with or without fractional seconds.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time (like 2026-03-01T12:00:00Z)", field, s)
	}
	return t.UTC(), nil
}

// jsonOrder is one JSON line.
type jsonOrder struct {
	IssuedAt  *string  `json:"issued_at"`
	Names     []string `json:"names"`
	NotBefore *string  `json:"not_before"`
	NotAfter  *string  `json:"not_after"`
	Account   any      `json:"account"`
	Profile   *string  `json:"profile"`
}

type jsonlReader struct {
	name string
	rc   io.ReadCloser
	sc   *bufio.Scanner
	line int64
}

func newJSONLReader(name string, rc io.ReadCloser) *jsonlReader {
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	return &jsonlReader{name: name, rc: rc, sc: sc}
}

func (r *jsonlReader) Name() string { return r.name }
func (r *jsonlReader) Close() error { return r.rc.Close() }

func (r *jsonlReader) Read(buf []Record) (int, error) {
	n := 0
	for n < len(buf) {
		if !r.sc.Scan() {
			if err := r.sc.Err(); err != nil {
				return n, fmt.Errorf("couldn't read %s after line %d: %w", r.name, r.line, err)
			}
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		r.line++
		b := r.sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var j jsonOrder
		if err := json.Unmarshal(b, &j); err != nil {
			return n, r.errf("not a JSON object: %v", err)
		}
		o, err := j.order()
		if err != nil {
			return n, &InputError{File: r.name, Line: r.line, Unit: "line", Err: err}
		}
		buf[n] = Record{Order: o, Line: r.line}
		n++
	}
	return n, nil
}

func (r *jsonlReader) errf(format string, args ...any) error {
	return &InputError{File: r.name, Line: r.line, Unit: "line", Err: fmt.Errorf(format, args...)}
}

func (j *jsonOrder) order() (replay.Order, error) {
	var o replay.Order
	if j.IssuedAt == nil {
		return o, errors.New(`missing "issued_at"`)
	}
	var err error
	if o.IssuedAt, err = parseTime("issued_at", *j.IssuedAt); err != nil {
		return o, err
	}
	if len(j.Names) == 0 {
		return o, errors.New(`missing "names" (a list of DNS names or IP addresses)`)
	}
	o.Names = j.Names
	if j.NotBefore != nil && *j.NotBefore != "" {
		if o.NotBefore, err = parseTime("not_before", *j.NotBefore); err != nil {
			return o, err
		}
	}
	if j.NotAfter != nil && *j.NotAfter != "" {
		if o.NotAfter, err = parseTime("not_after", *j.NotAfter); err != nil {
			return o, err
		}
	}
	switch a := j.Account.(type) {
	case nil:
	case string:
		o.Account = a
	case float64:
		o.Account = fmt.Sprintf("%.0f", a)
	default:
		return o, fmt.Errorf(`"account" must be a string or a number`)
	}
	if j.Profile != nil {
		if o.Profile, err = replay.ParseProfile(*j.Profile); err != nil {
			return o, fmt.Errorf("profile: %w", err)
		}
	}
	return o, nil
}

type csvReader struct {
	name    string
	f       *os.File
	cr      *csv.Reader
	line    int64
	col     map[string]int
	scratch []string
}

func newCSVReader(name string, f *os.File) (*csvReader, error) {
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file; the first line must be the header issued_at,names[,not_before,not_after,account,profile]", name)
		}
		return nil, fmt.Errorf("%s:line 1: %w", name, err)
	}
	r := &csvReader{name: name, f: f, cr: cr, line: 1, col: map[string]int{}}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch h {
		case "issued_at", "names", "not_before", "not_after", "account", "profile":
			r.col[h] = i
		default:
			f.Close()
			return nil, fmt.Errorf("%s:line 1: unknown column %q; the header is issued_at,names[,not_before,not_after,account,profile]", name, h)
		}
	}
	for _, need := range []string{"issued_at", "names"} {
		if _, ok := r.col[need]; !ok {
			f.Close()
			return nil, fmt.Errorf("%s:line 1: no %q column; the header is issued_at,names[,not_before,not_after,account,profile]", name, need)
		}
	}
	return r, nil
}

func (r *csvReader) Name() string { return r.name }
func (r *csvReader) Close() error { return r.f.Close() }

func (r *csvReader) Read(buf []Record) (int, error) {
	n := 0
	for n < len(buf) {
		rec, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if err != nil {
			// FieldPos panics after a failed Read; the ParseError has
			// the line.
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				r.line = int64(pe.Line)
				err = pe.Err
			}
			return n, &InputError{File: r.name, Line: r.line, Unit: "line", Err: err}
		}
		line, _ := r.cr.FieldPos(0)
		r.line = int64(line)
		get := func(c string) string {
			if i, ok := r.col[c]; ok && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		var j jsonOrder
		issued, nb, na := get("issued_at"), get("not_before"), get("not_after")
		j.IssuedAt, j.NotBefore, j.NotAfter = &issued, &nb, &na
		if issued == "" {
			j.IssuedAt = nil
		}
		j.Names = strings.Fields(get("names"))
		if a := get("account"); a != "" {
			j.Account = a
		}
		if pr := get("profile"); pr != "" {
			j.Profile = &pr
		}
		o, err := j.order()
		if err != nil {
			return n, &InputError{File: r.name, Line: r.line, Unit: "line", Err: err}
		}
		buf[n] = Record{Order: o, Line: r.line}
		n++
	}
	return n, nil
}
