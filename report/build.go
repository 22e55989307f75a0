package report

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"

	"github.com/ctlimits/ctlimits/replay"
)

// Build queries db (a DuckDB handle whose catalog has the views
// decisions, certificates and entries; see docs/schema.md) and sizes
// overrides by replaying.
func Build(ctx context.Context, db *dbsql.DB, opts Options) (*Report, error) {
	opts.setDefaults()
	b := &builder{ctx: ctx, db: db, opts: opts}
	return b.build()
}

type builder struct {
	ctx  context.Context
	db   *dbsql.DB
	opts Options
	r    *Report

	compIndex *componentIndex // built on first use by components()
}

func (b *builder) build() (*Report, error) {
	r := &Report{SchemaVersion: SchemaVersion, Headroom: b.opts.Headroom, Domains: []string{}, Notes: []string{}}
	b.r = r
	var n int64
	var from, to dbsql.NullTime
	var policies int64
	var policy dbsql.NullString
	err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*), min(issued_at), max(issued_at), count(DISTINCT policy), min(policy) FROM d`).
		Scan(&n, &from, &to, &policies, &policy)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the decisions: %w", err)
	}
	if n == 0 {
		var entries int64
		if err := b.db.QueryRowContext(b.ctx, `SELECT count(*) FROM entries`).Scan(&entries); err != nil {
			return nil, fmt.Errorf("couldn't read the entries: %w", err)
		}
		if entries == 0 {
			return nil, ErrNoEntries
		}
		return nil, ErrNoDecisions
	}
	if policies > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("the decisions mix %d policies; figures add them up", policies))
	}
	r.Policy = policy.String
	var planned, history int64
	if err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*) FILTER (issuer_group = 'plan'), count(*) FILTER (issuer_group IS DISTINCT FROM 'plan') FROM d`).
		Scan(&planned, &history); err != nil {
		return nil, fmt.Errorf("couldn't read the decisions: %w", err)
	}
	switch {
	case planned == 0:
		r.Source = "ct"
	case history == 0:
		r.Source = "plan"
	default:
		r.Source = "plan+ct"
	}
	r.Summary.From, r.Summary.To = from.Time.UTC(), to.Time.UTC()
	r.At = r.Summary.To
	if !b.opts.At.IsZero() {
		r.At = b.opts.At.UTC()
	}
	r.policy = b.opts.Policy
	if r.policy == nil {
		// "letsencrypt+limits" and the like: the built-in part is all a
		// name can give back.
		name, _, _ := strings.Cut(r.Policy, "+")
		p, err := replay.LookupPolicy(name)
		if err != nil {
			return nil, fmt.Errorf("the decisions were replayed under policy %q, which the report cannot rebuild (pass a policy): %w", r.Policy, err)
		}
		if name != r.Policy && b.opts.Adjust == nil {
			r.Notes = append(r.Notes, fmt.Sprintf("sizing replays use the built-in policy %s; the decisions' %s had extra limits", name, r.Policy))
		}
		r.policy = p
	}
	if b.opts.Adjust != nil {
		if err := b.opts.Adjust(r.policy); err != nil {
			return nil, err
		}
	}
	r.SizingPolicy = r.policy.Name
	if r.SizingPolicy == "" {
		r.SizingPolicy = "custom"
	}
	if err := b.domainsKnown(); err != nil {
		return nil, err
	}
	defer func() { b.compIndex.close() }() // built lazily by sizing or headroom
	steps := []func() error{b.summary, b.limited, b.domains, b.daily, b.sizing, b.plan, b.headroom, b.levels}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// domainsKnown checks every requested domain has replayed orders, and says
// why not when it has none.
func (b *builder) domainsKnown() error {
	seen := map[string]bool{}
	for _, d := range b.opts.Domains {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if seen[d] {
			continue
		}
		seen[d] = true
		if rd, err := replay.RegisteredDomain(d); err != nil {
			return &UnknownDomainError{Domain: d, Hint: fmt.Sprintf("not a domain name or IP address (%v)", err)}
		} else if rd != d {
			return &UnknownDomainError{Domain: d, Hint: fmt.Sprintf("not a registered domain: rate limits count per registered domain, here %q", rd)}
		}
		var n int64
		err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*) FROM d WHERE list_contains(registered_domains, ?)`, d).Scan(&n)
		if err != nil {
			return fmt.Errorf("couldn't query the data: %w", err)
		}
		if n == 0 {
			hint := "no replayed orders for it in the data: check the spelling, or ingest the logs that carry its certificates"
			// The orders view knows certificates the replay left out
			// (another issuer group). Computing its registered domains
			// costs a pass over every certificate, acceptable on this
			// error path only.
			var m int64
			var groups dbsql.NullString
			if err := b.db.QueryRowContext(b.ctx, `SELECT count(*), string_agg(DISTINCT issuer_group, ', ') FROM orders WHERE list_contains(registered_domains, ?)`, d).Scan(&m, &groups); err == nil && m > 0 {
				hint = fmt.Sprintf("%d certificates in the data (issuer group %s) but none replayed: replay them (ctlimits replay --data DIR --issuers all)", m, groups.String)
			}
			return &UnknownDomainError{Domain: d, Hint: hint}
		}
		b.r.Domains = append(b.r.Domains, d)
	}
	return nil
}
