package report

// Aggregates: the report's figures, each one or a few SQL queries over the
// decisions (dec), the certificates and the entries. Only the requested or
// busiest domains' rows are grouped in Go.

import (
	dbsql "database/sql"
	"fmt"
	"sort"
	"strings"
	"time"
)

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
	certs, err := queryRows(b.ctx, b.db, `SELECT coalesce(issuer_group, 'other'), count(*) FROM certificates GROUP BY ALL`, nil, (*keyCount).fields)
	if err != nil {
		return err
	}
	for _, c := range certs {
		group(c.key).Certificates += c.n
		s.Certificates += c.n
	}
	orders, err := queryRows(b.ctx, b.db, dec+`SELECT coalesce(issuer_group, 'other'), count(*),
	  count(*) FILTER (decision = 'new'), count(*) FILTER (decision = 'renewal'), count(*) FILTER (decision = 'limited')
	  FROM d GROUP BY ALL`, nil, func(g *GroupCounts) []any { return []any{&g.Group, &g.Orders, &g.New, &g.Renewal, &g.Limited} })
	if err != nil {
		return err
	}
	for _, o := range orders {
		gc := group(o.Group)
		gc.Orders += o.Orders
		gc.New += o.New
		gc.Renewal += o.Renewal
		gc.Limited += o.Limited
		s.Orders += o.Orders
		s.New += o.New
		s.Renewal += o.Renewal
		s.Limited += o.Limited
	}
	s.LimitedBy, err = queryRows(b.ctx, b.db, dec+`SELECT l, count(*) FROM (
	    SELECT DISTINCT ord, split_part(unnest(limited_by), ':', 1) AS l FROM d WHERE decision = 'limited')
	  GROUP BY l ORDER BY count(*) DESC, l`, nil, func(l *LimitCount) []any { return []any{&l.Limit, &l.Orders} })
	if err != nil {
		return err
	}
	type logRow struct {
		LogStats
		from, to dbsql.NullTime
	}
	logs, err := queryRows(b.ctx, b.db, `SELECT log, count(*), min(logged_at), max(logged_at) FROM entries GROUP BY log ORDER BY log`, nil,
		func(l *logRow) []any { return []any{&l.Log, &l.Entries, &l.from, &l.to} })
	if err != nil {
		return err
	}
	s.Logs = make([]LogStats, 0, len(logs))
	for _, l := range logs {
		l.From, l.To = l.from.Time.UTC(), l.to.Time.UTC()
		l.Name = b.opts.LogNames[l.Log]
		s.Logs = append(s.Logs, l.LogStats)
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

func (b *builder) limited() error {
	lo := &b.r.Limited
	filter := b.domainFilter()
	if err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*) FROM d WHERE decision = 'limited' AND `+filter).Scan(&lo.Total); err != nil {
		return fmt.Errorf("couldn't query the data: %w", err)
	}
	limit := ""
	if b.opts.LimitedRows > 0 {
		limit = fmt.Sprintf(" LIMIT %d", b.opts.LimitedRows)
	}
	type limitedRow struct {
		LimitedOrder
		names, domains, by dbsql.NullString
		retry              dbsql.NullTime
	}
	rows, err := queryRows(b.ctx, b.db, dec+`SELECT * FROM (
	    SELECT ord, issued_at, coalesce(issuer, ''), coalesce(serial, ''), array_to_string(names, ' '),
	      array_to_string(registered_domains, ' '), array_to_string(limited_by, ' '), retry_after,
	      coalesce(message, ''), renewal, coalesce(issuer_group = 'plan', false)
	    FROM d WHERE decision = 'limited' AND `+filter+`
	    ORDER BY issued_at DESC, ord DESC`+limit+`) ORDER BY issued_at, ord`, nil,
		func(r *limitedRow) []any {
			return []any{&r.Order, &r.IssuedAt, &r.Issuer, &r.Serial, &r.names, &r.domains, &r.by, &r.retry, &r.Message, &r.Renewal, &r.Planned}
		})
	if err != nil {
		return err
	}
	lo.Orders = make([]LimitedOrder, 0, len(rows))
	for _, r := range rows {
		o := r.LimitedOrder
		o.IssuedAt = o.IssuedAt.UTC()
		o.RetryAfter = r.retry.Time.UTC()
		o.Names = splitList(r.names)
		o.LimitedBy = splitList(r.by)
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
			o.Domains = splitList(r.domains)
		}
		lo.Orders = append(lo.Orders, o)
	}
	return b.causes()
}

func (b *builder) domains() error {
	// Top N by new certificates, then the requested domains.
	list, err := queryRows(b.ctx, b.db, dec+`SELECT domain FROM (SELECT unnest(registered_domains) AS domain, decision FROM d)
	  GROUP BY domain ORDER BY count(*) FILTER (decision = 'new') DESC, count(*) DESC, domain LIMIT ?`, []any{b.opts.Top}, column[string])
	if err != nil {
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
// Each query fills some fields of a DomainStats per domain, copied into
// the domain's entry.
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
	stats := func(q string, args []any, fields func(*DomainStats) []any, set func(o, s *DomainStats)) error {
		rows, err := queryRows(b.ctx, b.db, sel+q, args, fields)
		for i := range rows {
			set(out[rows[i].Domain], &rows[i])
		}
		return err
	}
	err := stats(`SELECT domain, count(*) FILTER (decision = 'new'), count(*) FILTER (decision = 'renewal'),
	    count(*) FILTER (decision = 'limited'),
	    count(*) FILTER (decision = 'new' AND issued_at > ?::TIMESTAMP - INTERVAL 168 HOURS AND issued_at <= ?::TIMESTAMP),
	    min(issued_at), max(issued_at)
	  FROM f GROUP BY domain`, []any{at, at},
		func(s *DomainStats) []any {
			return []any{&s.Domain, &s.New, &s.Renewal, &s.Limited, &s.Week, &s.First, &s.Last}
		},
		func(o, s *DomainStats) {
			o.New, o.Renewal, o.Limited, o.Week, o.First, o.Last = s.New, s.Renewal, s.Limited, s.Week, s.First.UTC(), s.Last.UTC()
		})
	if err != nil {
		return nil, err
	}
	// Peak: for each new certificate, the new certificates in the 168
	// hours ending at it, (t-168h, t]; of weeks that tie, the earliest
	// (arg_max alone would pick one by scan order, and reports on the
	// same decisions would differ).
	err = stats(`, w AS (SELECT domain, issued_at, count(*) OVER (PARTITION BY domain ORDER BY epoch_us(issued_at)
	    RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW) AS c FROM f WHERE decision = 'new')
	  SELECT domain, max(c), arg_max(issued_at, (c, -epoch_us(issued_at))) FROM w GROUP BY domain`, nil,
		func(s *DomainStats) []any { return []any{&s.Domain, &s.Peak7d, &s.PeakAt} },
		func(o, s *DomainStats) { o.Peak7d, o.PeakAt = s.Peak7d, s.PeakAt.UTC() })
	if err != nil {
		return nil, err
	}
	// The same counting every certificate that counts as new whatever the
	// model decided: CT shows the limited ones were issued too (a plan
	// plans them), so a certificate renews when any earlier one of its
	// exact set, limited or not, has a NotBefore inside the policy's
	// renewal window; the model's renewal column counts only what it let
	// through. Renewals never count against the domain.
	renews := "prev_nb IS NOT NULL"
	if w := b.r.policy.RenewalWindow; w > 0 {
		renews = fmt.Sprintf("epoch_us(prev_nb) > epoch_us(issued_at) - %d", w.Microseconds())
	}
	err = stats(`, s AS (SELECT *, max(not_before) OVER (PARTITION BY fqdn_set_hash ORDER BY issued_at, ord
	    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_nb FROM d WHERE list_has_any(registered_domains, `+in+`)),
	  n AS (SELECT domain, issued_at FROM (SELECT unnest(registered_domains) AS domain, issued_at FROM s WHERE NOT coalesce(`+renews+`, false))
	    WHERE domain IN (SELECT unnest(`+in+`))),
	  w AS (SELECT domain, issued_at, count(*) OVER (PARTITION BY domain ORDER BY epoch_us(issued_at)
	    RANGE BETWEEN 604799999999 PRECEDING AND CURRENT ROW) AS c FROM n)
	  SELECT domain, max(c), arg_max(issued_at, (c, -epoch_us(issued_at))),
	    count(*) FILTER (issued_at > ?::TIMESTAMP - INTERVAL 168 HOURS AND issued_at <= ?::TIMESTAMP) FROM w GROUP BY domain`, []any{at, at},
		func(s *DomainStats) []any { return []any{&s.Domain, &s.PeakIssued, &s.PeakIssuedAt, &s.WeekIssued} },
		func(o, s *DomainStats) {
			o.PeakIssued, o.PeakIssuedAt, o.WeekIssued = s.PeakIssued, s.PeakIssuedAt.UTC(), s.WeekIssued
		})
	if err != nil {
		return nil, err
	}
	err = stats(`, t AS (SELECT domain, unnest(tokens) AS tk FROM f)
	  SELECT domain, min(tk.remaining), max(tk.burst) FROM t WHERE tk.bucket = '`+cpdPrefix+`' || domain GROUP BY domain`, nil,
		func(s *DomainStats) []any { return []any{&s.Domain, &s.LowestTokens, &s.Burst} },
		func(o, s *DomainStats) { o.LowestTokens, o.Burst = s.LowestTokens, s.Burst })
	if err != nil {
		return nil, err
	}
	err = stats(`SELECT domain, count(DISTINCT n) FROM (SELECT domain, unnest(names) AS n FROM f)
	  WHERE n = domain OR ends_with(n, '.' || domain) OR n || '/32' = domain OR (contains(domain, ':') AND contains(n, ':'))
	  GROUP BY domain`, nil,
		func(s *DomainStats) []any { return []any{&s.Domain, &s.Names} },
		func(o, s *DomainStats) { o.Names = s.Names })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b *builder) daily() error {
	var err error
	b.r.Daily, err = queryRows(b.ctx, b.db, dec+`SELECT strftime(CAST(issued_at AS DATE), '%Y-%m-%d') AS day, count(*) FILTER (decision = 'new'),
	    count(*) FILTER (decision = 'renewal'), count(*) FILTER (decision = 'limited')
	  FROM d GROUP BY day ORDER BY day`, nil, func(c *DayCount) []any { return []any{&c.Day, &c.New, &c.Renewal, &c.Limited} })
	return err
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
	type bin struct {
		tMin, tLast        time.Time
		vMin, vLast, burst int64
	}
	for _, dom := range list {
		s := BucketSeries{Domain: dom, Burst: -1, Points: []BucketPoint{}}
		rows, err := queryRows(b.ctx, b.db, dec+`, t AS (SELECT issued_at, ord, unnest(tokens) AS tk FROM d WHERE list_contains(registered_domains, ?)),
		  p AS (SELECT issued_at, ord, tk.remaining AS rem, tk.burst AS burst,
		      (epoch_us(issued_at) - epoch_us(?::TIMESTAMP)) // ? AS bin FROM t WHERE tk.bucket = ?)
		  -- Ties for the lowest level go to the earliest order: the chart
		  -- must not depend on the order DuckDB scans the decision files in.
		  SELECT arg_min(issued_at, (rem, issued_at, ord)), min(rem), arg_max(issued_at, (issued_at, ord)), arg_max(rem, (issued_at, ord)), max(burst)
		  FROM p GROUP BY bin ORDER BY bin`, []any{dom, b.r.Summary.From, width, cpdPrefix + dom},
			func(r *bin) []any { return []any{&r.tMin, &r.vMin, &r.tLast, &r.vLast, &r.burst} })
		if err != nil {
			return err
		}
		for _, r := range rows {
			s.Burst = max(s.Burst, r.burst)
			if r.tMin.Before(r.tLast) {
				s.Points = append(s.Points, BucketPoint{r.tMin.UTC(), r.vMin})
			}
			s.Points = append(s.Points, BucketPoint{r.tLast.UTC(), r.vLast})
		}
		if len(s.Points) > 0 {
			b.r.Levels = append(b.r.Levels, s)
		}
	}
	return nil
}
