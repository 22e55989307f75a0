package sql

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
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

// Query runs one SQL statement and writes its result to w.
func (d *DB) Query(ctx context.Context, query string, w io.Writer, f Format) error {
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("couldn't run query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var emit func([]any) error
	var finish func() error
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		rec := make([]string, len(cols))
		emit = func(v []any) error {
			for i := range v {
				rec[i] = text(v[i])
			}
			return cw.Write(rec)
		}
		finish = func() error { cw.Flush(); return cw.Error() }
	case JSON:
		n := 0
		io.WriteString(w, "[")
		emit = func(v []any) error {
			m := make(map[string]any, len(cols))
			for i, c := range cols {
				m[c] = jsonValue(v[i])
			}
			b, err := json.Marshal(orderedRow{cols, m})
			if err != nil {
				return err
			}
			if n > 0 {
				io.WriteString(w, ",")
			}
			n++
			_, err = w.Write(append([]byte("\n"), b...))
			return err
		}
		finish = func() error { _, err := io.WriteString(w, "\n]\n"); return err }
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		rec := make([]string, len(cols))
		emit = func(v []any) error {
			for i := range v {
				rec[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(text(v[i]))
				if v[i] == nil {
					rec[i] = "NULL"
				}
			}
			_, err := fmt.Fprintln(tw, strings.Join(rec, "\t"))
			return err
		}
		finish = tw.Flush
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := emit(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("couldn't read query result: %w", err)
	}
	return finish()
}

// text renders a value for table and CSV output: blobs as hex, times in
// RFC 3339 UTC, lists as JSON, NULL as the empty string.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return hex.EncodeToString(x)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case string:
		return x
	case []any, map[string]any:
		b, _ := json.Marshal(jsonValue(x))
		return string(b)
	}
	return fmt.Sprint(v)
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return hex.EncodeToString(x)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = jsonValue(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}

// orderedRow marshals a row with its columns in query order.
type orderedRow struct {
	cols []string
	m    map[string]any
}

func (r orderedRow) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, c := range r.cols {
		if i > 0 {
			sb.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		v, err := json.Marshal(r.m[c])
		if err != nil {
			return nil, err
		}
		sb.Write(k)
		sb.WriteByte(':')
		sb.Write(v)
	}
	sb.WriteByte('}')
	return []byte(sb.String()), nil
}
