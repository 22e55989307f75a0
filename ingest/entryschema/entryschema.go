// Package entryschema holds the Arrow schema of the entries Parquet files
// that ingest writes. It is a package of its own, with no dependencies on
// the rest of ctlimits, so that both ingest (which writes the files) and
// sql (whose entries view reads them, and must type an empty view the same
// way when there are none) can import it: ingest's tests import sql, so
// sql cannot import ingest itself.
package entryschema

import "github.com/apache/arrow/go/v17/arrow"

// Schema is the Arrow schema of the entries files; docs/schema.md documents
// each column. Timestamps are milliseconds since the epoch in UTC, stored
// without a time zone annotation so that DuckDB reads them as plain
// TIMESTAMP (no ICU extension needed) — every value is UTC.
var Schema = arrow.NewSchema([]arrow.Field{
	{Name: "log", Type: arrow.BinaryTypes.String},
	{Name: "idx", Type: arrow.PrimitiveTypes.Int64},
	{Name: "logged_at", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
	{Name: "entry_type", Type: arrow.BinaryTypes.String},
	{Name: "issuer", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "issuer_key_hash", Type: &arrow.FixedSizeBinaryType{ByteWidth: 32}, Nullable: true},
	{Name: "serial", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "not_after", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "dns_names", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "ip_addresses", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "common_name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "leaf_hash", Type: &arrow.FixedSizeBinaryType{ByteWidth: 32}},
	{Name: "parse_error", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)
