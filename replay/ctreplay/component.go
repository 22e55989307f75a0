package ctreplay

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// --domain without reading everything. A registered domain's decisions
// depend only on the orders of its connected component (registered
// domains linked by the certificates that name several; see
// docs/semantics.md), so the replay needs that component's certificates
// and nothing else. DuckDB finds them: starting from the asked domains D,
// select the certificates with a registered domain in D, add all their
// registered domains to D, and repeat until D stops growing.
//
// Each round reads few rows into Go: a cheap filter in SQL keeps the
// entries with a name equal to a domain of D or under it (by its
// dot-separated suffixes; for IP keys, every entry naming an address), a
// superset, and only those certificates go through registered_domains
// (the model's own Go function) for the exact test. Orders the model rejects have no registered domains and join no
// component, as in a full replay, which skips them.

// component returns the SQL that restricts the certificates view (aliased
// c) to the components of e.cfg.Domains within the stream (where, args).
func (e *engine) component(ctx context.Context, where string, args []any) (string, error) {
	d := slices.Clone(e.cfg.Domains)
	for round := 1; ; round++ {
		slices.Sort(d)
		d = slices.Compact(d)
		q := fmt.Sprintf(`SELECT DISTINCT unnest(registered_domains(names)) FROM certificates c %s WHERE %s`, e.selectComponent(d), where)
		rows, err := e.db.DB().QueryContext(ctx, q, args...)
		if err != nil {
			return "", fmt.Errorf("couldn't find the component of %s: %w", strings.Join(e.cfg.Domains, ", "), e.db.Explain(err))
		}
		grown := slices.Clone(d)
		for rows.Next() {
			var x string
			if err := rows.Scan(&x); err != nil {
				rows.Close()
				return "", err
			}
			if _, found := slices.BinarySearch(d, x); !found {
				grown = append(grown, x)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
		if len(grown) == len(d) {
			e.logf("the component of %s: %d registered domains, closed in %d rounds", strings.Join(e.cfg.Domains, ", "), len(d), round)
			return e.selectComponent(d), nil
		}
		d = grown
	}
}

// selectComponent is a join clause (after "FROM certificates c") keeping
// the certificates with a registered domain in d, exactly.
func (e *engine) selectComponent(d []string) string {
	lit := sqlList(d)
	// IP addresses key by prefix (/32, /64), which no suffix shows: when
	// the component has one, every certificate naming an IP address is a
	// candidate (there are few), and the exact test below decides.
	ips := "false"
	if slices.ContainsFunc(d, func(x string) bool { return strings.ContainsAny(x, ":/") }) {
		ips = `(len(ip_addresses) > 0 OR regexp_matches(coalesce(common_name, ''), '^[0-9a-fA-F:.]+$'))`
	}
	names := `list_concat(coalesce(dns_names, []), CASE WHEN common_name IS NULL OR common_name = '' THEN [] ELSE [common_name] END)`
	// Every suffix of every name (a.b.example -> a.b.example, b.example,
	// example), lowercased, without a trailing dot: a name falls under a
	// registered domain only if the domain is one of its suffixes.
	suffixes := `flatten(list_transform(` + names + `, n -> list_transform(range(1, len(string_split(rtrim(lower(n), '.'), '.')) + 1), i -> array_to_string(string_split(rtrim(lower(n), '.'), '.')[i:], '.'))))`
	return `SEMI JOIN (SELECT DISTINCT issuer, serial FROM entries WHERE ` + ips + ` OR list_has_any(` + lit + `, ` + suffixes + `)) k USING (issuer, serial)
		JOIN (SELECT 1) ON list_has_any(registered_domains(c.names), ` + lit + `)`
}

// sqlList is an SQL list literal of strings.
func sqlList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
