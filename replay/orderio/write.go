package orderio

import (
	"bufio"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// Row is one decided order for a Writer.
type Row struct {
	// Order is the 0-based position of the order in its input.
	Order    int64
	Prepared *replay.Prepared
	Result   *replay.Result
	// Cert is the certificate behind the order, for CT replays.
	Cert *CertRef
}

// Writer writes decision rows in one output format.
type Writer interface {
	Write(r *Row) error
	// Close flushes; it does not close the underlying io.Writer.
	Close() error
}

// Counts tallies decisions, for summaries.
type Counts struct {
	Orders, New, Renewal, Limited, ARI int64
	// Refused counts orders over their profile's names cap.
	Refused int64 `json:",omitempty"`
}

func (c *Counts) Add(res *replay.Result) {
	c.Orders++
	switch res.Kind {
	case replay.New:
		c.New++
	case replay.Renewal:
		c.Renewal++
	case replay.Limited:
		c.Limited++
	case replay.Refused:
		c.Refused++
	}
	if res.ARI {
		c.ARI++
	}
}

// Merge adds the tallies of o.
func (c *Counts) Merge(o Counts) {
	c.Orders += o.Orders
	c.New += o.New
	c.Renewal += o.Renewal
	c.Limited += o.Limited
	c.ARI += o.ARI
	c.Refused += o.Refused
}

func (c Counts) String() string {
	s := fmt.Sprintf("%d orders: %d new, %d renewal, %d limited", c.Orders, c.New, c.Renewal, c.Limited)
	if c.Refused > 0 {
		s += fmt.Sprintf(", %d refused (over their profile's names cap)", c.Refused)
	}
	if c.ARI > 0 {
		s += fmt.Sprintf(" (%d taken as ARI replacements)", c.ARI)
	}
	return s
}

// OutputFormats lists the decision formats.
var OutputFormats = []string{"table", "jsonl", "csv", "parquet"}

// OutputFormatOf returns the decision format a file name implies by its
// extension (.parquet/.pq, .jsonl/.ndjson/.json, .csv, .txt/.table), or ""
// when it implies none (no extension, an unknown one, "-" for stdout).
func OutputFormatOf(path string) string {
	if path == "" || path == "-" {
		return ""
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".parquet", ".pq":
		return "parquet"
	case ".jsonl", ".ndjson", ".json":
		return "jsonl"
	case ".csv":
		return "csv"
	case ".txt", ".table":
		return "table"
	}
	return ""
}

// ChooseOutputFormat settles the decision format from --format and --out:
// an explicit format wins but must agree with the extension of out; else
// the extension decides; else def. A disagreement is an error for the
// user to resolve (`--out x.parquet --format csv` would write CSV into a
// file every tool opens as Parquet).
func ChooseOutputFormat(format string, explicit bool, out, def string) (string, error) {
	implied := OutputFormatOf(out)
	switch {
	case explicit && implied != "" && implied != format:
		return "", fmt.Errorf("--format %s conflicts with --out %s, whose extension means %s; drop --format or rename the file", format, out, implied)
	case explicit:
		return format, nil
	case implied != "":
		return implied, nil
	}
	return def, nil
}

// WriterOptions adjust a Writer.
type WriterOptions struct {
	// CT adds the certificate columns (issuer, serial, issuer_group,
	// not_before, not_after, policy) to Parquet output, and issuer and
	// serial to JSON lines.
	CT bool
	// Policy is written in the policy column.
	Policy string
	// Group is the issuer_group of rows without a certificate (planned
	// orders: "plan"), with CT.
	Group string
}

// NewWriter returns a Writer for format ("table", "jsonl", "csv",
// "parquet") on w.
func NewWriter(format string, w io.Writer) (Writer, error) {
	return NewWriterWith(format, w, WriterOptions{})
}

// NewWriterWith is NewWriter with options.
func NewWriterWith(format string, w io.Writer, opt WriterOptions) (Writer, error) {
	switch format {
	case "table":
		return &tableWriter{w: bufio.NewWriterSize(w, 1<<16)}, nil
	case "jsonl":
		return &jsonlWriter{w: bufio.NewWriterSize(w, 1<<20)}, nil
	case "csv":
		cw := csv.NewWriter(bufio.NewWriterSize(w, 1<<20))
		if err := cw.Write(csvHeader); err != nil {
			return nil, err
		}
		return &csvWriter{w: cw}, nil
	case "parquet":
		return newParquetWriter(w, opt)
	}
	return nil, fmt.Errorf("unknown output format %q; choose one of %s", format, strings.Join(OutputFormats, ", "))
}

func limitedBy(res *replay.Result) []string {
	out := make([]string, len(res.Denials))
	for i, d := range res.Denials {
		out[i] = d.Bucket.ID()
	}
	return out
}

const rfc3339Nano = "2006-01-02T15:04:05.999999999Z07:00"

// jsonlWriter appends JSON by hand: encoding/json's reflection would cost
// more than the replay itself.
type jsonlWriter struct {
	w        *bufio.Writer
	buf, msg []byte
}

func (j *jsonlWriter) Write(r *Row) error {
	res, p := r.Result, r.Prepared
	b := j.buf[:0]
	b = append(b, `{"order":`...)
	b = strconv.AppendInt(b, r.Order, 10)
	b = append(b, `,"issued_at":"`...)
	b = time.Unix(0, res.IssuedAt).UTC().AppendFormat(b, rfc3339Nano)
	b = append(b, `","decision":"`...)
	b = append(b, res.Kind.String()...)
	b = append(b, `","limited_by":[`...)
	for i, d := range res.Denials {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = d.Bucket.AppendID(b) // IDs need no JSON escaping: names are checked
		b = append(b, '"')
	}
	b = append(b, `],"retry_after":`...)
	if at := res.RetryAfter(); !at.IsZero() {
		b = append(b, '"')
		b = at.AppendFormat(b, rfc3339Nano)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"message":`...)
	if res.Kind == replay.Limited || res.Kind == replay.Refused {
		j.msg = res.AppendMessage(j.msg[:0])
		b = strconv.AppendQuote(b, string(j.msg))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"renewal":`...)
	b = strconv.AppendBool(b, res.Renewal)
	b = append(b, `,"ari":`...)
	b = strconv.AppendBool(b, res.ARI)
	b = append(b, `,"names":`...)
	b = appendStrings(b, p.Names)
	b = append(b, `,"registered_domains":`...)
	b = appendStrings(b, p.Domains)
	b = append(b, `,"profile":"`...)
	b = append(b, p.Profile.String()...)
	b = append(b, '"')
	if r.Cert != nil {
		b = append(b, `,"issuer":`...)
		b = strconv.AppendQuote(b, r.Cert.Issuer)
		b = append(b, `,"serial":"`...)
		b = append(b, r.Cert.Serial...)
		b = append(b, '"')
	}
	b = append(b, `,"fqdn_set_hash":"`...)
	b = hex.AppendEncode(b, p.Set[:])
	b = append(b, `","tokens":{`...)
	for i, t := range res.Tokens {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = t.Bucket.AppendID(b)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, t.Remaining, 10)
	}
	b = append(b, "}}\n"...)
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, s)
	}
	return append(b, ']')
}

func (j *jsonlWriter) Close() error { return j.w.Flush() }

var csvHeader = []string{"order", "issued_at", "decision", "limited_by", "retry_after", "message", "renewal", "ari", "names", "registered_domains", "fqdn_set_hash", "profile"}

type csvWriter struct {
	w   *csv.Writer
	rec []string
}

func (c *csvWriter) Write(r *Row) error {
	res, p := r.Result, r.Prepared
	retry := ""
	if at := res.RetryAfter(); !at.IsZero() {
		retry = at.Format(rfc3339Nano)
	}
	c.rec = append(c.rec[:0],
		strconv.FormatInt(r.Order, 10),
		time.Unix(0, res.IssuedAt).UTC().Format(rfc3339Nano),
		res.Kind.String(),
		strings.Join(limitedBy(res), " "),
		retry,
		res.Message(),
		strconv.FormatBool(res.Renewal),
		strconv.FormatBool(res.ARI),
		strings.Join(p.Names, " "),
		strings.Join(p.Domains, " "),
		p.Set.String(),
		p.Profile.String(),
	)
	return c.w.Write(c.rec)
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// tableWriter writes fixed-width columns for people, the variable-width
// names last, and a summary line at the end.
type tableWriter struct {
	w      *bufio.Writer
	counts Counts
	header bool
}

func (t *tableWriter) Write(r *Row) error {
	if !t.header {
		fmt.Fprintf(t.w, "%7s  %-20s  %-8s  %-20s  %s\n", "ORDER", "ISSUED_AT", "DECISION", "RETRY_AFTER", "NAMES / LIMITED BY")
		t.header = true
	}
	res := r.Result
	t.counts.Add(res)
	retry := "-"
	if at := res.RetryAfter(); !at.IsZero() {
		retry = at.Format(time.RFC3339)
	}
	kind := res.Kind.String()
	if res.ARI {
		kind = "ari"
	}
	names := strings.Join(r.Prepared.Names, " ")
	if len(names) > 80 {
		names = names[:77] + "..."
	}
	_, err := fmt.Fprintf(t.w, "%7d  %-20s  %-8s  %-20s  %s\n", r.Order,
		time.Unix(0, res.IssuedAt).UTC().Format(time.RFC3339), kind, retry, names)
	if err != nil {
		return err
	}
	if res.Kind == replay.Limited || res.Kind == replay.Refused {
		_, err = fmt.Fprintf(t.w, "%7s  %s\n", "", res.Message())
	}
	return err
}

func (t *tableWriter) Close() error {
	fmt.Fprintf(t.w, "\n%s\n", t.counts)
	return t.w.Flush()
}
