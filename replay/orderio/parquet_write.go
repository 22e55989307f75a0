package orderio

import (
	"encoding/hex"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/sql/parquetio"
)

// decisionFields are the columns every decision file has; docs/schema.md
// documents each column.
var decisionFields = []arrow.Field{
	{Name: "order", Type: arrow.PrimitiveTypes.Int64},
	{Name: "issued_at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	{Name: "decision", Type: arrow.BinaryTypes.String},
	{Name: "limited_by", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "retry_after", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "message", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "renewal", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "ari", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "registered_domains", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	{Name: "fqdn_set_hash", Type: arrow.BinaryTypes.String},
	{Name: "min_tokens", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "tokens", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "bucket", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "remaining", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "burst", Type: arrow.PrimitiveTypes.Int64},
	))},
}

// DecisionSchema is the Parquet schema of decision files of planned
// orders: the decision columns and the order's profile (named or
// inferred).
var DecisionSchema = arrow.NewSchema(append(append([]arrow.Field{}, decisionFields...),
	arrow.Field{Name: "profile", Type: arrow.BinaryTypes.String}), nil)

// ctFields are the columns decisions of historical orders add: which
// certificate, its validity, and the policy replayed.
var ctFields = []arrow.Field{
	{Name: "issuer", Type: arrow.BinaryTypes.String},
	{Name: "serial", Type: arrow.BinaryTypes.String},
	{Name: "issuer_group", Type: arrow.BinaryTypes.String},
	{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	{Name: "not_after", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "policy", Type: arrow.BinaryTypes.String},
}

// CTDecisionSchema is the decision columns plus the certificate columns,
// the schema of DATA/decisions files. A certificate's profile is not
// stored: it is always inferred from the columns here (not_before,
// not_after, names), and the decisions view infers it with the same Go
// function (certificate_profile), so decision files written before
// profiles existed read the same.
var CTDecisionSchema = arrow.NewSchema(append(append([]arrow.Field{}, decisionFields...), ctFields...), nil)

// rowGroupRows bounds a row group: big enough for zstd and DuckDB scans.
// Rows reach the file in records of recordRows, small enough that the
// builders' buffers stay in cache instead of regrowing (and clearing)
// megabytes for every row group.
const (
	rowGroupRows = 128 << 10
	recordRows   = 8 << 10
)

type parquetWriter struct {
	*parquetio.RecordWriter
	scratch []byte
	ct      bool
	policy  string
	noCert  CertRef // planned orders' certificate columns
}

func newParquetWriter(w io.Writer, opt WriterOptions) (*parquetWriter, error) {
	schema := DecisionSchema
	if opt.CT {
		schema = CTDecisionSchema
	}
	// Dictionaries only where values repeat: on unique columns (order,
	// times, set hashes, names) the dictionary's hashing cost more than
	// the whole replay (measured, docs/benchmarks.md). zstd level 1: most
	// of zstd's ratio on these columns for a fraction of the default's
	// time.
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(1),
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor("decision", true),
		parquet.WithDictionaryFor("message", true),
		parquet.WithDictionaryFor("limited_by.list.element", true),
		parquet.WithDictionaryFor("registered_domains.list.element", true),
		parquet.WithDictionaryFor("tokens.list.element.bucket", true),
		parquet.WithDictionaryFor("issuer", true),
		parquet.WithDictionaryFor("issuer_group", true),
		parquet.WithDictionaryFor("policy", true),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithCreatedBy("ctlimits"),
	)
	rw, err := parquetio.NewRecordWriter(w, schema, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()), recordRows)
	if err != nil {
		return nil, err
	}
	return &parquetWriter{RecordWriter: rw, ct: opt.CT, policy: opt.Policy, noCert: CertRef{IssuerGroup: opt.Group}}, nil
}

func (p *parquetWriter) Write(r *Row) error {
	res, pr := r.Result, r.Prepared
	f := p.B.Fields()
	f[0].(*array.Int64Builder).Append(r.Order)
	f[1].(*array.TimestampBuilder).Append(arrow.Timestamp(res.IssuedAt))
	f[2].(*array.StringBuilder).Append(res.Kind.String())
	lb := f[3].(*array.ListBuilder)
	lb.Append(true)
	for _, d := range res.Denials {
		p.scratch = d.Bucket.AppendID(p.scratch[:0])
		lb.ValueBuilder().(*array.StringBuilder).BinaryBuilder.Append(p.scratch)
	}
	if at := res.RetryAfter(); !at.IsZero() {
		f[4].(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		p.scratch = res.AppendMessage(p.scratch[:0])
		f[5].(*array.StringBuilder).BinaryBuilder.Append(p.scratch)
	} else {
		f[4].AppendNull()
		f[5].AppendNull()
	}
	f[6].(*array.BooleanBuilder).Append(res.Renewal)
	f[7].(*array.BooleanBuilder).Append(res.ARI)
	parquetio.AppendList(f[8].(*array.ListBuilder), pr.Names)
	parquetio.AppendList(f[9].(*array.ListBuilder), pr.Domains)
	p.scratch = hex.AppendEncode(p.scratch[:0], pr.Set[:])
	f[10].(*array.StringBuilder).BinaryBuilder.Append(p.scratch)
	minTok := int64(-1)
	tb := f[12].(*array.ListBuilder)
	tb.Append(true)
	sb := tb.ValueBuilder().(*array.StructBuilder)
	for _, t := range res.Tokens {
		sb.Append(true)
		p.scratch = t.Bucket.AppendID(p.scratch[:0])
		sb.FieldBuilder(0).(*array.StringBuilder).BinaryBuilder.Append(p.scratch)
		sb.FieldBuilder(1).(*array.Int64Builder).Append(t.Remaining)
		sb.FieldBuilder(2).(*array.Int64Builder).Append(t.Burst)
		if t.Bucket.Limit == replay.CertificatesPerDomain && (minTok < 0 || t.Remaining < minTok) {
			minTok = t.Remaining
		}
	}
	if minTok >= 0 {
		f[11].(*array.Int64Builder).Append(minTok)
	} else {
		f[11].AppendNull()
	}
	if p.ct {
		c := r.Cert
		if c == nil {
			c = &p.noCert
		}
		f[13].(*array.StringBuilder).Append(c.Issuer)
		f[14].(*array.StringBuilder).Append(c.Serial)
		f[15].(*array.StringBuilder).Append(c.IssuerGroup)
		f[16].(*array.TimestampBuilder).Append(arrow.Timestamp(pr.NotBefore))
		if pr.NotAfter != 0 {
			f[17].(*array.TimestampBuilder).Append(arrow.Timestamp(pr.NotAfter))
		} else {
			f[17].AppendNull()
		}
		f[18].(*array.StringBuilder).Append(p.policy)
	} else {
		f[13].(*array.StringBuilder).Append(pr.Profile.String())
	}
	return p.Added()
}
