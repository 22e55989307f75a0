package sql

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Format is a query output format.
type Format string

const (
	Table Format = "table" // aligned columns for people
	CSV   Format = "csv"   // RFC 4180 with a header row
	JSON  Format = "json"  // one JSON array of objects
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case Table, CSV, JSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want table, csv or json", s)
}

// Query runs one SQL statement and writes its result to w. Values print
// as DuckDB prints them (see render.go). The whole result is rendered
// before any of it is written, so a query that fails part way writes
// nothing at all to w: no half a table, and never invalid JSON.
func (d *DB) Query(ctx context.Context, query string, w io.Writer, f Format) (err error) {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return d.Explain(fmt.Errorf("couldn't run query: %w", err))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("couldn't read the query's columns: %w", err)
	}
	types, err := columnTypes(rows, cols)
	if err != nil {
		return err
	}
	// The driver converts every DuckDB value to Go; should it panic on one
	// it does not expect, report that instead of crashing.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("couldn't read the query result: the DuckDB driver failed: %v (cast the column to VARCHAR in the query)", r)
		}
	}()
	var out bytes.Buffer
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var emit func([]any) error
	var finish func() error
	switch f {
	case CSV:
		cw := csv.NewWriter(&out)
		if err := cw.Write(cols); err != nil {
			return err
		}
		rec := make([]string, len(cols))
		emit = func(v []any) error {
			for i := range v {
				rec[i] = ""
				if v[i] != nil {
					rec[i] = text(v[i], types[i])
				}
			}
			return cw.Write(rec)
		}
		finish = func() error { cw.Flush(); return cw.Error() }
	case JSON:
		out.WriteString("[")
		n := 0
		names := make([][]byte, len(cols))
		for i, c := range cols {
			names[i], _ = marshalJSON(c)
		}
		emit = func(v []any) error {
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			out.WriteString("\n{")
			for i := range v {
				if i > 0 {
					out.WriteByte(',')
				}
				out.Write(names[i])
				out.WriteByte(':')
				writeJSON(&out, v[i], types[i])
			}
			out.WriteByte('}')
			return nil
		}
		finish = func() error {
			out.WriteString("\n]\n")
			if !json.Valid(out.Bytes()) {
				// A bug here, not in the query: refuse rather than
				// print JSON that no reader can parse.
				return fmt.Errorf("couldn't render the query result as JSON (a ctlimits bug: please report it with the query)")
			}
			return nil
		}
	default:
		tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		rec := make([]string, len(cols))
		flat := strings.NewReplacer("\t", " ", "\n", " ")
		emit = func(v []any) error {
			for i := range v {
				rec[i] = "NULL"
				if v[i] != nil {
					rec[i] = flat.Replace(text(v[i], types[i]))
				}
			}
			_, err := fmt.Fprintln(tw, strings.Join(rec, "\t"))
			return err
		}
		finish = tw.Flush
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("couldn't read the query result: %w", err)
		}
		if err := emit(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return d.Explain(fmt.Errorf("couldn't read the query result: %w", err))
	}
	if err := finish(); err != nil {
		return err
	}
	_, err = out.WriteTo(w)
	return err
}

// columnTypes parses the result's column types, and refuses, before any
// row is read, a type the driver cannot return.
func columnTypes(rows *dbsql.Rows, cols []string) ([]*colType, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("couldn't read the query's column types: %w", err)
	}
	types := make([]*colType, len(cts))
	for i, ct := range cts {
		name := ct.DatabaseTypeName()
		t, err := parseColType(name)
		if err != nil {
			continue // printed by Go type
		}
		if u := t.unreadable(); u != "" {
			return nil, fmt.Errorf("column %s is of type %s, which ctlimits sql cannot read (the DuckDB Go driver does not support %s): cast it in the query, e.g. CAST(%s AS VARCHAR)", cols[i], name, u, quoteIdent(cols[i]))
		}
		types[i] = t
	}
	return types, nil
}
