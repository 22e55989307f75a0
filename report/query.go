package report

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
)

// dec is the decisions view with every time as a plain UTC TIMESTAMP:
// the Parquet times carry a UTC annotation (TIMESTAMP WITH TIME ZONE), and
// DuckDB without its ICU extension does no arithmetic on those.
const dec = `WITH d AS (SELECT "order" AS ord, CAST(issued_at AS TIMESTAMP) AS issued_at, decision,
  limited_by, CAST(retry_after AS TIMESTAMP) AS retry_after, message, renewal, names,
  registered_domains, fqdn_set_hash, tokens, issuer, serial, issuer_group,
  CAST(not_before AS TIMESTAMP) AS not_before, CAST(not_after AS TIMESTAMP) AS not_after, policy
  FROM decisions) `

// cpdPrefix starts the key of every CertificatesPerDomain bucket.
const cpdPrefix = "CertificatesPerDomain:"

// queryRows runs q and returns one T per row, scanned into the places
// fields gives for it (in the query's column order). Every multi-row query
// of the report goes through it, so that each one checks rows.Err, closes
// its rows and wraps its errors the same way. The slice is never nil: an
// empty result is an empty list in the JSON, not null.
func queryRows[T any](ctx context.Context, db *dbsql.DB, q string, args []any, fields func(*T) []any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the data: %w", err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(fields(&v)...); err != nil {
			return nil, fmt.Errorf("couldn't query the data: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't query the data: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("couldn't query the data: %w", err)
	}
	return out, nil
}

// column scans a one-column row.
func column[T any](v *T) []any { return []any{v} }

// keyCount is a row of a GROUP BY query: a key and a number.
type keyCount struct {
	key string
	n   int64
}

func (k *keyCount) fields() []any { return []any{&k.key, &k.n} }

// sqlList renders strings as a DuckDB list literal.
func sqlList(ss []string) string {
	var sb strings.Builder
	sb.WriteString("[")
	for i, s := range ss {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("'" + strings.ReplaceAll(s, "'", "''") + "'")
	}
	sb.WriteString("]::VARCHAR[]")
	return sb.String()
}

// splitList splits a space-joined list column; NULL and "" are empty.
func splitList(s dbsql.NullString) []string {
	if !s.Valid || s.String == "" {
		return []string{}
	}
	return strings.Split(s.String, " ")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
