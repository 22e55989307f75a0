package report

import (
	dbsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/marcboeker/go-duckdb"

	"github.com/ctlimits/ctlimits/replay"
)

// Sizing replays one domain's connected component: the orders whose
// registered domains are linked to it through shared certificates. No
// bucket outside the component can change a decision inside it (see
// replay/partition.go), so replaying the component alone is exact, and a
// few thousand orders replay in milliseconds where the whole data would
// take minutes.

// component is the replayable orders of one connected component.
type component struct {
	orders  []replay.Prepared
	domains int
}

var errTooBig = errors.New("component too large")

// componentIndex knows every registered domain's connected component,
// from one scan of the decisions: the domains of each order, joined by a
// union-find (replay.Components).
type componentIndex struct {
	comps   replay.Components
	size    map[int32]int      // orders per component
	members map[int32][]string // registered domains per component
	// db holds the table ctlimits_component (domain, root) while the
	// report is built: one join then selects a component's orders.
	db *dbsql.DB
}

// components builds the index on first use.
func (b *builder) components() (*componentIndex, error) {
	if b.compIndex != nil {
		return b.compIndex, nil
	}
	lists, err := queryRows(b.ctx, b.db, dec+`SELECT array_to_string(registered_domains, ' ') FROM d`, nil, column[string])
	if err != nil {
		return nil, err
	}
	ix := &componentIndex{size: map[int32]int{}, members: map[int32][]string{}}
	rowDomains := make([][]string, len(lists))
	for i, s := range lists {
		doms := strings.Fields(s)
		if len(doms) == 0 {
			doms = []string{""}
		}
		ix.comps.Add(&replay.Prepared{Domains: doms})
		rowDomains[i] = doms
	}
	seen := map[string]bool{}
	for i, doms := range rowDomains {
		root := ix.comps.Of(i)
		ix.size[root]++
		for _, d := range doms {
			if !seen[d] {
				seen[d] = true
				ix.members[root] = append(ix.members[root], d)
			}
		}
	}
	// A component can hold hundreds of thousands of domains: selecting its
	// orders with list_has_any over them all was quadratic. A table of
	// every domain's component, joined on each order's first registered
	// domain (all of an order's domains share its component), is one
	// hash join.
	// A plain table, not a temporary one, so that whichever pooled
	// connection runs the next query sees it; the database is ctlimits'
	// in-memory one (sql.Open), and close drops the table.
	conn, err := b.db.Conn(b.ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(b.ctx, `CREATE OR REPLACE TABLE ctlimits_component (domain VARCHAR, root INTEGER)`); err != nil {
		return nil, fmt.Errorf("couldn't index components: %w", err)
	}
	ix.db = b.db
	err = conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("not a DuckDB connection")
		}
		a, err := duckdb.NewAppenderFromConn(dconn, "", "ctlimits_component")
		if err != nil {
			return err
		}
		for root, doms := range ix.members {
			for _, d := range doms {
				if err := a.AppendRow(d, root); err != nil {
					a.Close()
					return err
				}
			}
		}
		return a.Close()
	})
	if err != nil {
		ix.close()
		return nil, fmt.Errorf("couldn't index components: %w", err)
	}
	b.compIndex = ix
	return ix, nil
}

// close drops the component table.
func (ix *componentIndex) close() {
	if ix != nil && ix.db != nil {
		ix.db.Exec(`DROP TABLE IF EXISTS ctlimits_component`)
	}
}

// component reads the orders of the domain's connected component back in
// replay order.
func (b *builder) component(domain string) (*component, error) {
	ix, err := b.components()
	if err != nil {
		return nil, err
	}
	root, ok := ix.comps.OfDomain(domain)
	if !ok {
		return nil, fmt.Errorf("no orders for %s", domain)
	}
	if n := ix.size[root]; n > b.opts.MaxComponentOrders {
		return nil, fmt.Errorf("%w: %d orders, more than the %d the report replays", errTooBig, n, b.opts.MaxComponentOrders)
	}
	set := ix.members[root]
	type orderRow struct {
		issued time.Time
		nb, na *time.Time
		names  string
	}
	rows, err := queryRows(b.ctx, b.db, dec+`SELECT issued_at, not_before, not_after, array_to_string(names, ' ') FROM d
	  JOIN ctlimits_component c ON c.domain = d.registered_domains[1] WHERE c.root = ? ORDER BY issued_at, ord`, []any{root},
		func(r *orderRow) []any { return []any{&r.issued, &r.nb, &r.na, &r.names} })
	if err != nil {
		return nil, err
	}
	var namer replay.Namer
	all := make([]replay.Prepared, 0, len(rows))
	var comps replay.Components
	for _, r := range rows {
		o := replay.Order{IssuedAt: r.issued, Names: strings.Fields(r.names)}
		if r.nb != nil {
			o.NotBefore = *r.nb
		}
		if r.na != nil {
			o.NotAfter = *r.na
		}
		p, err := namer.Prepare(&o)
		if err != nil {
			return nil, fmt.Errorf("couldn't rebuild an order of %s at %s: %w", domain, o.IssuedAt.UTC().Format(time.RFC3339), err)
		}
		comps.Add(&p)
		all = append(all, p)
	}
	// The SQL closure is the component; Components confirms it and keeps
	// only the domain's part should the two ever disagree.
	c := &component{domains: len(set)}
	var own int32 = -1
	for i := range all {
		if contains(all[i].Domains, domain) {
			own = comps.Of(i)
			break
		}
	}
	for i := range all {
		if comps.Of(i) == own {
			c.orders = append(c.orders, all[i])
		}
	}
	return c, nil
}

// withOverride copies p and sets the CertificatesPerDomain limit of domain
// to n per 168 hours (burst n), as an approved override tier would.
func withOverride(p *replay.Policy, domain string, n int64) (*replay.Policy, error) {
	q := *p
	q.Overrides = maps.Clone(p.Overrides)
	l, err := replay.NewLimit(n, n, 168*time.Hour)
	if err != nil {
		return nil, err
	}
	if err := q.AddOverride(replay.CertificatesPerDomain, domain, l); err != nil {
		return nil, err
	}
	return &q, nil
}

// deniedBy replays the component under p and counts the orders the
// domain's CertificatesPerDomain bucket denied; with stop it returns at the
// first.
func deniedBy(c *component, p *replay.Policy, domain string, stop bool) (int64, error) {
	r := replay.NewReplayer(p)
	var res replay.Result
	var n int64
	for i := range c.orders {
		if err := r.Decide(&c.orders[i], &res); err != nil {
			return 0, err
		}
		if res.Kind != replay.Limited {
			continue
		}
		for _, d := range res.Denials {
			if d.Bucket.Limit == replay.CertificatesPerDomain && d.Bucket.Key == domain {
				n++
				if stop {
					return n, nil
				}
				break
			}
		}
	}
	return n, nil
}

// sizeDomain finds the smallest n for which an override of n per week
// leaves no order denied by the domain's bucket. Denials only fall as n
// grows, so a binary search over [1, orders touching the domain] finds it
// (a burst as large as the orders can never run dry); the answer is then
// checked with one replay at n and one at n-1.
func (b *builder) sizeDomain(s *Sizing, c *component) error {
	var touching int64
	for i := range c.orders {
		if contains(c.orders[i].Domains, s.Domain) {
			touching++
		}
	}
	s.ComponentOrders, s.ComponentDomains = len(c.orders), c.domains
	limited := func(n int64) (bool, error) {
		p, err := withOverride(b.r.policy, s.Domain, n)
		if err != nil {
			return false, err
		}
		s.Replays++
		k, err := deniedBy(c, p, s.Domain, true)
		return k > 0, err
	}
	now, err := deniedBy(c, b.r.policy, s.Domain, false)
	if err != nil {
		return err
	}
	s.Replays++
	s.LimitedNow = now
	lo, hi := int64(1), max(touching, 1)
	for lo < hi {
		mid := lo + (hi-lo)/2
		bad, err := limited(mid)
		if err != nil {
			return err
		}
		if bad {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	s.Needed = lo
	okAt, err := limited(lo)
	if err != nil {
		return err
	}
	badBelow := true
	if lo > 1 {
		if badBelow, err = limited(lo - 1); err != nil {
			return err
		}
	}
	s.Verified = !okAt && badBelow
	s.Sized = true
	if !s.Verified {
		s.Note = "the replays were not monotone in the limit here: treat the size as approximate"
	}
	return nil
}

func (b *builder) sizing() error {
	b.r.Sizing = []Sizing{}
	targets := b.r.Domains
	if len(targets) == 0 {
		// Every domain whose bucket denied an order, most often first.
		counts, err := queryRows(b.ctx, b.db, dec+`SELECT substr(k, `+fmt.Sprint(len(cpdPrefix)+1)+`) AS dom, count(*) AS n FROM (
		    SELECT unnest(limited_by) AS k FROM d WHERE decision = 'limited')
		  WHERE starts_with(k, '`+cpdPrefix+`') GROUP BY dom ORDER BY n DESC, dom`, nil, (*keyCount).fields)
		if err != nil {
			return err
		}
		var all []string
		for _, c := range counts {
			all = append(all, c.key)
		}
		targets = all
		if len(all) > b.opts.Top {
			targets = all[:b.opts.Top]
			b.r.Notes = append(b.r.Notes, fmt.Sprintf("%d more limited domains were not sized: raise --top or name them with --domain", len(all)-b.opts.Top))
		}
	}
	if len(targets) == 0 {
		return nil
	}
	stats, err := b.domainStats(targets)
	if err != nil {
		return err
	}
	hints, err := b.accountHints(targets)
	if err != nil {
		return err
	}
	def := b.r.policy.Limits[replay.CertificatesPerDomain]
	for _, dom := range targets {
		s := Sizing{Domain: dom, Account: hints[dom]}
		c, err := b.component(dom)
		switch {
		case errors.Is(err, errTooBig):
			s.Note = err.Error()
		case err != nil:
			return err
		default:
			if err := b.sizeDomain(&s, c); err != nil {
				return fmt.Errorf("couldn't size %s: %w", dom, err)
			}
		}
		if s.Sized {
			s.Target = ceilMul(s.Needed, b.r.Headroom)
			switch {
			case def.Enabled() && s.Needed <= def.Burst:
				s.Tier = 0
				s.Advice = fmt.Sprintf("no override needed: %d per week fits the default limit of %d", s.Needed, def.Burst)
			case TierFor(s.Target) < 0:
				s.Tier = -1
				s.Advice = fmt.Sprintf("%d per week (with headroom) is above the largest tier, %d: ask Let's Encrypt directly", s.Target, Tiers[len(Tiers)-1])
			default:
				s.Tier = TierFor(s.Target)
				s.Advice = fmt.Sprintf("request the %d per week tier (needs %d, %d with headroom)", s.Tier, s.Needed, s.Target)
			}
		}
		st := stats[dom]
		s.Form = FormFacts{Domain: dom, Tier: max(s.Tier, 0), CurrentWeek: st.Week, PeakWeek: st.Peak7d,
			IssuedCurrentWeek: st.WeekIssued, IssuedPeakWeek: st.PeakIssued,
			Names: st.Names, RenewalShare: st.RenewalShare(), From: st.First, To: st.Last}
		b.r.Sizing = append(b.r.Sizing, s)
	}
	return nil
}

// accountHints guesses which limited domains share an ACME account. CT
// does not show accounts; what it shows is timing. A hosting provider
// issuing for many customers' registered domains from one account issues
// them in the same bursts, so domains whose 10-minute issuance slots
// overlap mostly (Jaccard index at least 0.5, at least 5 shared slots) are
// grouped. Such a group is better served by one CertificatesPerDomainPerAccount
// override than by a per-domain override each.
func (b *builder) accountHints(targets []string) (map[string]AccountHint, error) {
	slots := map[string]map[int64]bool{}
	rows, err := queryRows(b.ctx, b.db, dec+`SELECT DISTINCT dom, epoch_us(issued_at) // 600000000 AS slot FROM (
	    SELECT unnest(registered_domains) AS dom, issued_at, decision FROM d WHERE list_has_any(registered_domains, `+sqlList(targets)+`))
	  WHERE dom IN (SELECT unnest(`+sqlList(targets)+`)) AND decision IN ('new', 'limited')`, nil, (*keyCount).fields)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if slots[r.key] == nil {
			slots[r.key] = map[int64]bool{}
		}
		slots[r.key][r.n] = true
	}
	peers := map[string][]string{}
	for i, a := range targets {
		for _, c := range targets[i+1:] {
			sa, sc := slots[a], slots[c]
			shared := 0
			for s := range sa {
				if sc[s] {
					shared++
				}
			}
			union := len(sa) + len(sc) - shared
			if shared >= 5 && union > 0 && float64(shared)/float64(union) >= 0.5 {
				peers[a] = append(peers[a], c)
				peers[c] = append(peers[c], a)
			}
		}
	}
	out := map[string]AccountHint{}
	for _, d := range targets {
		p := peers[d]
		sort.Strings(p)
		h := AccountHint{Peers: []string{}}
		if len(p) > 0 {
			h.Likely = true
			h.Peers = p
			h.Reason = fmt.Sprintf("issued in the same 10-minute bursts as %s: likely one ACME account (a hosting provider?), which one CertificatesPerDomainPerAccount override would cover. CT does not show accounts, so this is a guess from timing", strings.Join(p, ", "))
		} else {
			h.Reason = "no other limited domain shares its issuance timing; a per-domain override fits. CT does not show accounts, so an account-level override cannot be ruled out"
		}
		out[d] = h
	}
	return out, nil
}

// headroom replays each requested domain's component up to At and reads
// its CertificatesPerDomain bucket there.
func (b *builder) headroom() error {
	b.r.HeadNow = []Headroom{}
	for _, dom := range b.r.Domains {
		h := Headroom{Domain: dom, Burst: -1, Tokens: -1}
		c, err := b.component(dom)
		switch {
		case errors.Is(err, errTooBig):
			h.Note = err.Error()
		case err != nil:
			return err
		default:
			if err := b.measure(&h, c); err != nil {
				return fmt.Errorf("couldn't measure %s: %w", dom, err)
			}
		}
		b.r.HeadNow = append(b.r.HeadNow, h)
	}
	return nil
}

func (b *builder) measure(h *Headroom, c *component) error {
	p := b.r.policy
	at := b.r.At.UnixNano()
	lim := p.Limits[replay.CertificatesPerDomain]
	if o, ok := p.Overrides[replay.OverrideKey{Limit: replay.CertificatesPerDomain, ID: h.Domain}]; ok {
		lim = o
	}
	if !lim.Enabled() {
		h.Note = "the policy sets no CertificatesPerDomain limit"
		return nil
	}
	h.Burst = lim.Burst
	// The bucket changes only when a new certificate of the domain is
	// issued (spend-only, cost 1); following those spends on a copy of
	// the bucket gives its exact state at At.
	r := replay.NewReplayer(p)
	var res replay.Result
	bucket := replay.Bucket{Limit: lim}
	var window []int64 // sliding-window policies: new certificates' times
	for i := range c.orders {
		o := &c.orders[i]
		if o.IssuedAt > at {
			break
		}
		if err := r.Decide(o, &res); err != nil {
			return err
		}
		if res.Kind == replay.New && contains(o.Domains, h.Domain) {
			bucket.Spend(time.Unix(0, o.IssuedAt), 1)
			window = append(window, o.IssuedAt)
		}
	}
	now := time.Unix(0, at).UTC()
	if p.Model == replay.SlidingWindow {
		// Counted by NotBefore in Boulder; issued_at is within an hour.
		var in []int64
		for _, t := range window {
			if t > at-int64(lim.Period) {
				in = append(in, t)
			}
		}
		h.Tokens = max(lim.Burst-int64(len(in)), 0)
		h.FullAt = now
		if len(in) > 0 {
			h.FullAt = time.Unix(0, in[len(in)-1]+int64(lim.Period)).UTC()
		}
	} else {
		out := bucket.Check(now, 0)
		h.Tokens = out.Remaining
		h.FullAt = now.Add(out.ResetIn)
	}
	// Renewal load: per exact set, the newest certificate by At; if it
	// expires within 30 days it will be replaced, assumed at the start of
	// the last third of its lifetime (ARI's window, certbot's 30 days of
	// 90), or at At if that has passed.
	newest := map[replay.SetHash]*replay.Prepared{}
	for i := range c.orders {
		o := &c.orders[i]
		if o.IssuedAt > at {
			break
		}
		if contains(o.Domains, h.Domain) {
			newest[o.Set] = o
		}
	}
	horizon := at + int64(30*24*time.Hour)
	for _, o := range newest {
		if o.NotAfter <= at || o.NotAfter > horizon {
			continue
		}
		h.Expiring++
		when := max(o.NotAfter-(o.NotAfter-o.NotBefore)/3, at)
		if p.Renews(o.NotBefore, when) {
			h.Renewing++
		} else {
			h.CountNew++
		}
	}
	h.OK = true
	return nil
}

// ceilMul is ceil(n * f) without float surprises for whole results.
func ceilMul(n int64, f float64) int64 {
	return int64(math.Ceil(float64(n)*f - 1e-9))
}
