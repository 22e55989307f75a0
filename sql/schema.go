package sql

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// The entries and decisions views list their columns from the Arrow
// schemas the writers use (entryschema.Schema, orderio.CTDecisionSchema),
// both for the view over the files and for the empty view that stands in
// when there are none, so the two can never disagree on a column or its
// type.

// column is one view column: its quoted name and its DuckDB type.
type column struct{ name, typ string }

// viewColumns maps schema to DuckDB columns. Every timestamp becomes a
// plain TIMESTAMP: the writers store UTC, and a TIMESTAMPTZ column (which
// DuckDB makes of a time-zone annotated Parquet timestamp) cannot be
// used with date_trunc, strftime or ::DATE unless the ICU extension is
// loaded, which needs a download.
func viewColumns(schema *arrow.Schema) ([]column, error) {
	cols := make([]column, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		t, err := duckType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		cols = append(cols, column{quoteIdent(f.Name), t})
	}
	return cols, nil
}

// duckType is the DuckDB type the views give an Arrow type.
func duckType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Int8Type:
		return "TINYINT", nil
	case *arrow.Int16Type:
		return "SMALLINT", nil
	case *arrow.Int32Type:
		return "INTEGER", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Uint8Type:
		return "UTINYINT", nil
	case *arrow.Uint16Type:
		return "USMALLINT", nil
	case *arrow.Uint32Type:
		return "UINTEGER", nil
	case *arrow.Uint64Type:
		return "UBIGINT", nil
	case *arrow.Float32Type:
		return "FLOAT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.StringType, *arrow.LargeStringType:
		return "VARCHAR", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.FixedSizeBinaryType:
		return "BLOB", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.TimestampType:
		return "TIMESTAMP", nil
	case *arrow.ListType:
		e, err := duckType(t.Elem())
		return e + "[]", err
	case *arrow.StructType:
		fs := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			ft, err := duckType(f.Type)
			if err != nil {
				return "", err
			}
			fs[i] = quoteIdent(f.Name) + " " + ft
		}
		return "STRUCT(" + strings.Join(fs, ", ") + ")", nil
	}
	return "", fmt.Errorf("no DuckDB type for Arrow type %s", t)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// selectList is the select list of a view over files: every column cast to
// its view type (a no-op for those already of it).
func selectList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "CAST(" + c.name + " AS " + c.typ + ") AS " + c.name
	}
	return strings.Join(parts, ",\n       ")
}

// emptyList is the select list of an empty view with the same columns.
func emptyList(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "CAST(NULL AS " + c.typ + ") AS " + c.name
	}
	return strings.Join(parts, ",\n       ")
}
