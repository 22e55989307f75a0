// Package report turns a replay's decisions into the answers ctlimits'
// users come for: what the data covers, which certificates the model says
// would have been limited, how busy each registered domain is, how large an
// override each limited domain needs (found by replaying, not by counting),
// and how much headroom a domain has now.
//
// Build runs the aggregates in DuckDB over the views of package sql
// (decisions, certificates, entries), so a report over millions of
// decisions never loads them into Go; only the orders of the few domains
// being sized are read back and replayed. The Report it returns is plain
// data; the Write methods render it as text, Markdown, JSON (a stable,
// versioned schema, docs/reports.md), CSV (one table per file) or a single
// self-contained HTML file with SVG charts.
//
// Certificates in CT were issued. A decision of "limited" means the model
// would have limited the order, so the report labels such orders "over the
// model", with the likely reasons (an override, ARI, concurrent orders),
// never as errors.
package report

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// SchemaVersion is the version of the JSON schema (docs/reports.md). It
// changes only when a field changes meaning or is removed; new fields may be
// added within a version.
const SchemaVersion = 1

// Errors Build returns for a data directory that is not ready; callers add
// the directory and the command to run.
var (
	// ErrNoEntries: there is nothing ingested at all.
	ErrNoEntries = errors.New("no CT entries")
	// ErrNoDecisions: entries exist, but nothing has been replayed.
	ErrNoDecisions = errors.New("no decisions")
)

// UnknownDomainError is returned for a --domain with no replayed orders.
type UnknownDomainError struct {
	Domain string
	// Hint says why, when the data knows (not a registered domain,
	// certificates that were not replayed).
	Hint string
}

func (e *UnknownDomainError) Error() string {
	return fmt.Sprintf("domain %q: %s", e.Domain, e.Hint)
}

// Options choose what a report covers. The zero Options is a full report
// with the defaults below.
type Options struct {
	// Domains are registered domains to report on whatever their rank:
	// they are added to the domains table, sized for an override (instead
	// of the limited domains) and given a headroom section. Optional.
	Domains []string
	// Top is how many registered domains the domains table lists (by new
	// certificates) and, without Domains, how many limited domains are
	// sized. Default 10.
	Top int
	// At is "now" for the headroom section and the current week. Default:
	// the newest issued_at in the decisions.
	At time.Time
	// Headroom multiplies the size found by replaying before choosing an
	// override tier. Default 1.2.
	Headroom float64
	// Policy is what sizing and headroom replays run under. Default: the
	// built-in policy named in the decisions' policy column.
	Policy *replay.Policy
	// LimitedRows caps the limited-orders table (the newest rows are kept;
	// the total is always reported). Default 100; negative means all.
	LimitedRows int
	// MaxComponentOrders caps the orders read back to size or measure one
	// domain: a domain whose connected component is larger is skipped
	// with a note. Default 2,000,000 (about 0.5 GB while it is replayed).
	MaxComponentOrders int
	// Charts is how many of the busiest domains get a bucket-level chart
	// (the Domains first). Default 3.
	Charts int
}

func (o *Options) setDefaults() {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.Headroom <= 0 {
		o.Headroom = 1.2
	}
	if o.LimitedRows == 0 {
		o.LimitedRows = 100
	}
	if o.MaxComponentOrders <= 0 {
		o.MaxComponentOrders = 2_000_000
	}
	if o.Charts <= 0 {
		o.Charts = 3
	}
}

// Report is everything a report shows. Its JSON form is the documented
// schema (docs/reports.md); times are UTC.
type Report struct {
	SchemaVersion int `json:"schema_version"`
	// Policy is the policy the decisions were replayed under; SizingPolicy
	// the one sizing and headroom replays used.
	Policy       string    `json:"policy"`
	SizingPolicy string    `json:"sizing_policy"`
	At           time.Time `json:"at"`
	Headroom     float64   `json:"headroom_factor"`
	Domains      []string  `json:"requested_domains"`

	Summary  Summary        `json:"summary"`
	Limited  LimitedOrders  `json:"limited"`
	Top      []DomainStats  `json:"domains"`
	Sizing   []Sizing       `json:"override_sizing"`
	HeadNow  []Headroom     `json:"headroom"`
	Daily    []DayCount     `json:"daily"`
	Levels   []BucketSeries `json:"bucket_levels"`
	Notes    []string       `json:"notes"`
	policy   *replay.Policy
	maxNames int
}

// Summary is what the data covers.
type Summary struct {
	// From and To bound the replayed orders' issued_at.
	From time.Time  `json:"from"`
	To   time.Time  `json:"to"`
	Logs []LogStats `json:"logs"`
	// Certificates counts certificates in DATA (every issuer group);
	// Orders counts the replayed ones.
	Certificates int64         `json:"certificates"`
	Orders       int64         `json:"orders"`
	New          int64         `json:"new"`
	Renewal      int64         `json:"renewal"`
	Limited      int64         `json:"limited"`
	LimitedBy    []LimitCount  `json:"limited_by"`
	Groups       []GroupCounts `json:"issuer_groups"`
}

// LogStats is one CT log's share of the entries.
type LogStats struct {
	Log     string    `json:"log"`
	Entries int64     `json:"entries"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

// LimitCount is how many orders one limit denied. An order denied by two
// limits counts under both.
type LimitCount struct {
	Limit  string `json:"limit"`
	Orders int64  `json:"orders"`
}

// GroupCounts breaks the counts down by issuer group: letsencrypt,
// letsencrypt-staging, other.
type GroupCounts struct {
	Group        string `json:"group"`
	Certificates int64  `json:"certificates"`
	Orders       int64  `json:"orders"`
	New          int64  `json:"new"`
	Renewal      int64  `json:"renewal"`
	Limited      int64  `json:"limited"`
}

// IssuerGroups are the groups, in report order.
var IssuerGroups = []string{"letsencrypt", "letsencrypt-staging", "other"}

// LimitedOrders are the orders over the model.
type LimitedOrders struct {
	// Total counts every limited order in scope; Orders holds the newest
	// LimitedRows of them, oldest first.
	Total  int64          `json:"total"`
	Orders []LimitedOrder `json:"orders"`
}

// LimitedOrder is one certificate the model says would have been limited.
type LimitedOrder struct {
	Order    int64     `json:"order"`
	IssuedAt time.Time `json:"issued_at"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	Names    []string  `json:"names"`
	// Domains are the registered domains whose buckets denied the order,
	// or the order's registered domains when only its exact set did.
	Domains []string `json:"registered_domains"`
	// Limits are the limits that denied it; LimitedBy the buckets.
	Limits     []string  `json:"limits"`
	LimitedBy  []string  `json:"limited_by"`
	RetryAfter time.Time `json:"retry_after"`
	Message    string    `json:"message"`
	Renewal    bool      `json:"renewal"`
	// Causes are the likely reasons CT shows it issued anyway, most
	// likely first.
	Causes []string `json:"likely_causes"`
}

// DomainStats is one registered domain's activity.
type DomainStats struct {
	Domain  string `json:"domain"`
	New     int64  `json:"new"`
	Renewal int64  `json:"renewal"`
	Limited int64  `json:"limited"`
	// Peak7d is the most new certificates in any 168 hours, the window
	// (t-168h, t] ending at PeakAt.
	Peak7d int64     `json:"peak_7d_new"`
	PeakAt time.Time `json:"peak_7d_end"`
	// Week is new certificates in the 168 hours up to the report's At.
	Week int64 `json:"current_7d_new"`
	// LowestTokens is the fewest tokens its CertificatesPerDomain bucket
	// held after any order (before it, for a limited order); Burst that
	// bucket's size. Both -1 when no order reached the bucket.
	LowestTokens int64 `json:"lowest_tokens"`
	Burst        int64 `json:"burst"`
	// Names counts distinct names under the domain.
	Names int64     `json:"names"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Requested is set for a --domain.
	Requested bool `json:"requested"`
}

// RenewalShare is renewals over issued certificates, 0 when none.
func (d *DomainStats) RenewalShare() float64 {
	if d.New+d.Renewal == 0 {
		return 0
	}
	return float64(d.Renewal) / float64(d.New+d.Renewal)
}

// Sizing is the override one domain needs.
type Sizing struct {
	Domain string `json:"domain"`
	// Sized is false when the domain could not be sized (see Note).
	Sized bool   `json:"sized"`
	Note  string `json:"note,omitempty"`
	// LimitedNow counts orders its CertificatesPerDomain bucket denied
	// under the current policy.
	LimitedNow int64 `json:"limited_now"`
	// Needed is the smallest burst (= count per 168h) under which that
	// bucket denies no order, found by binary search over replays;
	// Verified says a replay at Needed denied nothing and one at Needed-1
	// denied something.
	Needed   int64 `json:"needed"`
	Verified bool  `json:"verified"`
	Replays  int   `json:"replays"`
	// ComponentOrders and ComponentDomains describe what was replayed: the
	// domain's connected component.
	ComponentOrders  int `json:"component_orders"`
	ComponentDomains int `json:"component_domains"`
	// Target is Needed times the headroom factor, rounded up; Tier the
	// smallest Let's Encrypt tier covering it, 0 when no override is
	// needed (Needed fits the default) and -1 when Target exceeds every
	// tier.
	Target int64  `json:"target"`
	Tier   int64  `json:"tier"`
	Advice string `json:"advice"`
	// Account says whether a per-account override
	// (CertificatesPerDomainPerAccount) may fit better.
	Account AccountHint `json:"account_override"`
	Form    FormFacts   `json:"form"`
}

// AccountHint is the account-level heuristic. CT does not show ACME
// accounts: this is a guess from issuance timing.
type AccountHint struct {
	Likely bool `json:"likely"`
	// Peers are other limited domains issued in the same 10-minute slots.
	Peers  []string `json:"peers"`
	Reason string   `json:"reason"`
}

// FormFacts are what Let's Encrypt's override request form asks for.
type FormFacts struct {
	Domain       string    `json:"registered_domain"`
	Tier         int64     `json:"tier_requested"`
	CurrentWeek  int64     `json:"current_weekly_new"`
	PeakWeek     int64     `json:"peak_weekly_new"`
	Names        int64     `json:"names"`
	RenewalShare float64   `json:"renewal_share"`
	From         time.Time `json:"evidence_from"`
	To           time.Time `json:"evidence_to"`
}

// Headroom is one domain's CertificatesPerDomain bucket at At.
type Headroom struct {
	Domain string `json:"domain"`
	OK     bool   `json:"ok"`
	Note   string `json:"note,omitempty"`
	// Tokens left at At, of Burst; FullAt is when the bucket is full
	// again (At when it is full).
	Tokens int64     `json:"tokens"`
	Burst  int64     `json:"burst"`
	FullAt time.Time `json:"full_at"`
	// Certificates of the domain whose newest copy expires in
	// (At, At+30d]: Renewing would renew their exact set (exempt from the
	// bucket), CountNew would count as new certificates (their set was
	// last issued longer ago than the renewal window).
	Expiring int64 `json:"expiring_30d"`
	Renewing int64 `json:"renewing_30d"`
	CountNew int64 `json:"new_30d"`
}

// DayCount is one UTC day's issuance.
type DayCount struct {
	Day     string `json:"day"`
	New     int64  `json:"new"`
	Renewal int64  `json:"renewal"`
	Limited int64  `json:"limited"`
}

// BucketSeries is one domain's CertificatesPerDomain bucket over time, at
// most a few hundred points: per time bin, the lowest level and the last.
type BucketSeries struct {
	Domain string        `json:"domain"`
	Burst  int64         `json:"burst"`
	Points []BucketPoint `json:"points"`
}

// BucketPoint is the bucket's level after an order.
type BucketPoint struct {
	T      time.Time `json:"t"`
	Tokens int64     `json:"tokens"`
}

// Tiers are the override tiers Let's Encrypt's form offers for
// certificates per registered domain, per week.
var Tiers = []int64{300, 1000, 5000, 10000, 25000, 50000, 75000, 100000, 175000, 250000, 500000, 1000000}

// TierFor returns the smallest tier covering n, or -1 when none does.
func TierFor(n int64) int64 {
	for _, t := range Tiers {
		if t >= n {
			return t
		}
	}
	return -1
}

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

// dec is the decisions view with every time as a plain UTC TIMESTAMP:
// the Parquet times carry a UTC annotation (TIMESTAMP WITH TIME ZONE), and
// DuckDB without its ICU extension does no arithmetic on those.
const dec = `WITH d AS (SELECT "order" AS ord, CAST(issued_at AS TIMESTAMP) AS issued_at, decision,
  limited_by, CAST(retry_after AS TIMESTAMP) AS retry_after, message, renewal, names,
  registered_domains, fqdn_set_hash, tokens, issuer, serial, issuer_group,
  CAST(not_before AS TIMESTAMP) AS not_before, CAST(not_after AS TIMESTAMP) AS not_after, policy
  FROM decisions) `

func (b *builder) query(q string, args ...any) (*dbsql.Rows, error) {
	rows, err := b.db.QueryContext(b.ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't query the data: %w", err)
	}
	return rows, nil
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
		if name != r.Policy {
			r.Notes = append(r.Notes, fmt.Sprintf("sizing replays use the built-in policy %s; the decisions' %s had extra limits", name, r.Policy))
		}
		r.policy = p
	}
	r.SizingPolicy = r.policy.Name
	if r.SizingPolicy == "" {
		r.SizingPolicy = "custom"
	}
	if err := b.domainsKnown(); err != nil {
		return nil, err
	}
	defer func() { b.compIndex.close() }() // built lazily by sizing or headroom
	steps := []func() error{b.summary, b.limited, b.domains, b.daily, b.sizing, b.headroom, b.levels}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

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

func (b *builder) summary() error {
	s := &b.r.Summary
	groups := map[string]*GroupCounts{}
	for _, g := range IssuerGroups {
		s.Groups = append(s.Groups, GroupCounts{Group: g})
	}
	for i := range s.Groups {
		groups[s.Groups[i].Group] = &s.Groups[i]
	}
	group := func(name string) *GroupCounts {
		if g, ok := groups[name]; ok {
			return g
		}
		s.Groups = append(s.Groups, GroupCounts{Group: name})
		g := &s.Groups[len(s.Groups)-1]
		// Appending may move the slice: rebuild the index.
		for i := range s.Groups {
			groups[s.Groups[i].Group] = &s.Groups[i]
		}
		return g
	}
	rows, err := b.query(`SELECT coalesce(issuer_group, 'other'), count(*) FROM certificates GROUP BY ALL`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g string
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			rows.Close()
			return err
		}
		group(g).Certificates += n
		s.Certificates += n
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	rows, err = b.query(dec + `SELECT coalesce(issuer_group, 'other'), count(*),
	  count(*) FILTER (decision = 'new'), count(*) FILTER (decision = 'renewal'), count(*) FILTER (decision = 'limited')
	  FROM d GROUP BY ALL`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var g string
		var o, nw, rn, lim int64
		if err := rows.Scan(&g, &o, &nw, &rn, &lim); err != nil {
			rows.Close()
			return err
		}
		gc := group(g)
		gc.Orders += o
		gc.New += nw
		gc.Renewal += rn
		gc.Limited += lim
		s.Orders += o
		s.New += nw
		s.Renewal += rn
		s.Limited += lim
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	s.LimitedBy = []LimitCount{}
	rows, err = b.query(dec + `SELECT l, count(*) FROM (
	    SELECT DISTINCT ord, split_part(unnest(limited_by), ':', 1) AS l FROM d WHERE decision = 'limited')
	  GROUP BY l ORDER BY count(*) DESC, l`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var lc LimitCount
		if err := rows.Scan(&lc.Limit, &lc.Orders); err != nil {
			rows.Close()
			return err
		}
		s.LimitedBy = append(s.LimitedBy, lc)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	s.Logs = []LogStats{}
	rows, err = b.query(`SELECT log, count(*), min(logged_at), max(logged_at) FROM entries GROUP BY log ORDER BY log`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l LogStats
		var from, to dbsql.NullTime
		if err := rows.Scan(&l.Log, &l.Entries, &from, &to); err != nil {
			rows.Close()
			return err
		}
		l.From, l.To = from.Time.UTC(), to.Time.UTC()
		s.Logs = append(s.Logs, l)
	}
	return closeRows(rows)
}

func closeRows(rows *dbsql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't query the data: %w", err)
	}
	return nil
}

// domainFilter restricts a query over d to the requested domains, if any.
func (b *builder) domainFilter() string {
	if len(b.r.Domains) == 0 {
		return "true"
	}
	return "list_has_any(registered_domains, " + sqlList(b.r.Domains) + ")"
}

func splitList(s dbsql.NullString) []string {
	if !s.Valid || s.String == "" {
		return []string{}
	}
	return strings.Split(s.String, " ")
}

const cpdPrefix = "CertificatesPerDomain:"

func (b *builder) limited() error {
	lo := &b.r.Limited
	lo.Orders = []LimitedOrder{}
	filter := b.domainFilter()
	if err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*) FROM d WHERE decision = 'limited' AND `+filter).Scan(&lo.Total); err != nil {
		return fmt.Errorf("couldn't query the data: %w", err)
	}
	limit := ""
	if b.opts.LimitedRows > 0 {
		limit = fmt.Sprintf(" LIMIT %d", b.opts.LimitedRows)
	}
	// Times limited per CertificatesPerDomain key, for the causes: a
	// domain limited again and again most likely has an override.
	rows, err := b.query(dec + `SELECT * FROM (
	    SELECT ord, issued_at, coalesce(issuer, ''), coalesce(serial, ''), array_to_string(names, ' '),
	      array_to_string(registered_domains, ' '), array_to_string(limited_by, ' '), retry_after,
	      coalesce(message, ''), renewal
	    FROM d WHERE decision = 'limited' AND ` + filter + `
	    ORDER BY issued_at DESC, ord DESC` + limit + `) ORDER BY issued_at, ord`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var o LimitedOrder
		var names, domains, by dbsql.NullString
		var retry dbsql.NullTime
		if err := rows.Scan(&o.Order, &o.IssuedAt, &o.Issuer, &o.Serial, &names, &domains, &by, &retry, &o.Message, &o.Renewal); err != nil {
			rows.Close()
			return err
		}
		o.IssuedAt = o.IssuedAt.UTC()
		o.RetryAfter = retry.Time.UTC()
		o.Names = splitList(names)
		o.LimitedBy = splitList(by)
		o.Domains = []string{}
		o.Limits = []string{}
		for _, bk := range o.LimitedBy {
			name, key, _ := strings.Cut(bk, ":")
			if !contains(o.Limits, name) {
				o.Limits = append(o.Limits, name)
			}
			if strings.HasPrefix(bk, cpdPrefix) && !contains(o.Domains, key) {
				o.Domains = append(o.Domains, key)
			}
		}
		if len(o.Domains) == 0 {
			o.Domains = splitList(domains)
		}
		lo.Orders = append(lo.Orders, o)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	return b.causes()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// causes fills LimitedOrder.Causes. CT shows each of these certificates was
// issued, so something the model cannot see let it through:
//   - an override, most likely for a domain limited again and again;
//   - ARI: a replacement inside the renewal window skips every check, and
//     a renewal of the exact set is the likeliest replacement;
//   - concurrent orders or timing: Boulder checks at new-order and spends
//     at issuance, so orders racing each other overshoot, and log
//     timestamps trail the real order by seconds to minutes; a retry-after
//     only minutes away fits either.
func (b *builder) causes() error {
	times := map[string]int64{}
	var keys []string
	for _, o := range b.r.Limited.Orders {
		for _, bk := range o.LimitedBy {
			if strings.HasPrefix(bk, cpdPrefix) {
				if _, ok := times[bk]; !ok {
					keys = append(keys, bk)
					times[bk] = 0
				}
			}
		}
	}
	if len(keys) > 0 {
		rows, err := b.query(dec + `SELECT b, count(*) FROM (SELECT unnest(limited_by) AS b FROM d WHERE decision = 'limited')
		  WHERE b IN (SELECT unnest(` + sqlList(keys) + `)) GROUP BY b`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return err
			}
			times[k] = n
		}
		if err := closeRows(rows); err != nil {
			return err
		}
	}
	for i := range b.r.Limited.Orders {
		o := &b.r.Limited.Orders[i]
		var causes []string
		repeated := ""
		for _, bk := range o.LimitedBy {
			if times[bk] > 1 {
				repeated = strings.TrimPrefix(bk, cpdPrefix)
				break
			}
		}
		soon := !o.RetryAfter.IsZero() && o.RetryAfter.Sub(o.IssuedAt) <= 10*time.Minute
		if soon {
			causes = append(causes, "concurrent orders or log-timestamp skew (retry-after only minutes away)")
		}
		if repeated != "" {
			causes = append(causes, fmt.Sprintf("an override for %s (limited %d times)", repeated, times[cpdPrefix+repeated]))
		}
		if o.Renewal {
			causes = append(causes, "ARI (a renewal of the same exact set; ARI replacements skip every check)")
		}
		if len(causes) == 0 {
			if contains(o.Limits, replay.CertificatesPerDomain.String()) {
				causes = append(causes, "an override", "ARI", "concurrent orders")
			} else {
				causes = append(causes, "an exact-set override", "ARI", "concurrent orders")
			}
		}
		o.Causes = causes
	}
	return nil
}

func (b *builder) domains() error {
	// Top N by new certificates, then the requested domains.
	rows, err := b.query(dec+`SELECT domain FROM (SELECT unnest(registered_domains) AS domain, decision FROM d)
	  GROUP BY domain ORDER BY count(*) FILTER (decision = 'new') DESC, count(*) DESC, domain LIMIT ?`, b.opts.Top)
	if err != nil {
		return err
	}
	var list []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		list = append(list, s)
	}
	if err := closeRows(rows); err != nil {
		return err
	}
	for _, d := range b.r.Domains {
		if !contains(list, d) {
			list = append(list, d)
		}
	}
	stats, err := b.domainStats(list)
	if err != nil {
		return err
	}
	b.r.Top = []DomainStats{}
	for _, d := range list {
		s := stats[d]
		s.Requested = contains(b.r.Domains, d)
		b.r.Top = append(b.r.Top, *s)
	}
	sort.SliceStable(b.r.Top, func(i, j int) bool { return b.r.Top[i].New > b.r.Top[j].New })
	return nil
}

// domainStats aggregates the given domains; it reads only their orders.
func (b *builder) domainStats(list []string) (map[string]*DomainStats, error) {
	out := map[string]*DomainStats{}
	for _, d := range list {
		out[d] = &DomainStats{Domain: d, LowestTokens: -1, Burst: -1}
	}
	if len(list) == 0 {
		return out, nil
	}
	in := sqlList(list)
	sel := dec + `, u AS (SELECT unnest(registered_domains) AS domain, * FROM d WHERE list_has_any(registered_domains, ` + in + `)),
	  f AS (SELECT * FROM u WHERE domain IN (SELECT unnest(` + in + `))) `
	at := b.r.At
	rows, err := b.query(sel+`SELECT domain, count(*) FILTER (decision = 'new'), count(*) FILTER (decision = 'renewal'),
	    count(*) FILTER (decision = 'limited'),
	    count(*) FILTER (decision = 'new' AND issued_at > ?::TIMESTAMP - INTERVAL 168 HOURS AND issued_at <= ?::TIMESTAMP),
	    min(issued_at), max(issued_at)
	  FROM f GROUP BY domain`, at, at)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dom string
		var s DomainStats
		if err := rows.Scan(&dom, &s.New, &s.Renewal, &s.Limited, &s.Week, &s.First, &s.Last); err != nil {
			rows.Close()
			return nil, err
		}
		o := out[dom]
		o.New, o.Renewal, o.Limited, o.Week, o.First, o.Last = s.New, s.Renewal, s.Limited, s.Week, s.First.UTC(), s.Last.UTC()
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	// Peak: for each new certificate, the new certificates in the 168
	// hours ending at it, (t-168h, t].
	rows, err = b.query(sel + `, w AS (SELECT domain, issued_at, count(*) OVER (PARTITION BY domain ORDER BY epoch_us(issued_at)
	    RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW) AS c FROM f WHERE decision = 'new')
	  SELECT domain, max(c), arg_max(issued_at, c) FROM w GROUP BY domain`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dom string
		var n int64
		var t time.Time
		if err := rows.Scan(&dom, &n, &t); err != nil {
			rows.Close()
			return nil, err
		}
		out[dom].Peak7d, out[dom].PeakAt = n, t.UTC()
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = b.query(sel + `, t AS (SELECT domain, unnest(tokens) AS tk FROM f)
	  SELECT domain, min(tk.remaining), max(tk.burst) FROM t WHERE tk.bucket = '` + cpdPrefix + `' || domain GROUP BY domain`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dom string
		var lo, burst int64
		if err := rows.Scan(&dom, &lo, &burst); err != nil {
			rows.Close()
			return nil, err
		}
		out[dom].LowestTokens, out[dom].Burst = lo, burst
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	rows, err = b.query(sel + `SELECT domain, count(DISTINCT n) FROM (SELECT domain, unnest(names) AS n FROM f)
	  WHERE n = domain OR ends_with(n, '.' || domain) OR n || '/32' = domain OR (contains(domain, ':') AND contains(n, ':'))
	  GROUP BY domain`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var dom string
		var n int64
		if err := rows.Scan(&dom, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[dom].Names = n
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	return out, nil
}

func (b *builder) daily() error {
	b.r.Daily = []DayCount{}
	rows, err := b.query(dec + `SELECT strftime(CAST(issued_at AS DATE), '%Y-%m-%d') AS day, count(*) FILTER (decision = 'new'),
	    count(*) FILTER (decision = 'renewal'), count(*) FILTER (decision = 'limited')
	  FROM d GROUP BY day ORDER BY day`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c DayCount
		if err := rows.Scan(&c.Day, &c.New, &c.Renewal, &c.Limited); err != nil {
			rows.Close()
			return err
		}
		b.r.Daily = append(b.r.Daily, c)
	}
	return closeRows(rows)
}

// levels samples the bucket level of the busiest domains (the requested
// ones first) for the HTML chart: the period is cut into bins, and each bin
// keeps its lowest level and its last, so dips survive the sampling.
func (b *builder) levels() error {
	b.r.Levels = []BucketSeries{}
	var list []string
	list = append(list, b.r.Domains...)
	for _, d := range b.r.Top {
		if !contains(list, d.Domain) {
			list = append(list, d.Domain)
		}
	}
	if len(list) > b.opts.Charts {
		list = list[:b.opts.Charts]
	}
	const bins = 300
	span := b.r.Summary.To.Sub(b.r.Summary.From)
	width := max(int64(span/bins), int64(time.Second)) / 1000 // microseconds
	for _, dom := range list {
		s := BucketSeries{Domain: dom, Burst: -1, Points: []BucketPoint{}}
		rows, err := b.query(dec+`, t AS (SELECT issued_at, ord, unnest(tokens) AS tk FROM d WHERE list_contains(registered_domains, ?)),
		  p AS (SELECT issued_at, ord, tk.remaining AS rem, tk.burst AS burst,
		      (epoch_us(issued_at) - epoch_us(?::TIMESTAMP)) // ? AS bin FROM t WHERE tk.bucket = ?)
		  SELECT arg_min(issued_at, rem), min(rem), arg_max(issued_at, (issued_at, ord)), arg_max(rem, (issued_at, ord)), max(burst)
		  FROM p GROUP BY bin ORDER BY bin`, dom, b.r.Summary.From, width, cpdPrefix+dom)
		if err != nil {
			return err
		}
		for rows.Next() {
			var tMin, tLast time.Time
			var vMin, vLast, burst int64
			if err := rows.Scan(&tMin, &vMin, &tLast, &vLast, &burst); err != nil {
				rows.Close()
				return err
			}
			s.Burst = max(s.Burst, burst)
			if tMin.Before(tLast) {
				s.Points = append(s.Points, BucketPoint{tMin.UTC(), vMin})
			}
			s.Points = append(s.Points, BucketPoint{tLast.UTC(), vLast})
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		if len(s.Points) > 0 {
			b.r.Levels = append(b.r.Levels, s)
		}
	}
	return nil
}

// ceilMul is ceil(n * f) without float surprises for whole results.
func ceilMul(n int64, f float64) int64 {
	return int64(math.Ceil(float64(n)*f - 1e-9))
}
