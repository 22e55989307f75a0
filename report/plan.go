package report

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// plan answers "when does the plan finish?" for decisions that hold
// planned orders: the connected components of the planned orders (with the
// CT certificates in them, for a plan over DATA) are read back from the
// decisions and replayed with every limited planned order retried at its
// retry-after until issued (replay.SimulateRetries): once under the
// policy, once with the suggested overrides (each sized domain at its
// tier). CT certificates are decided once, at their instant: they were
// issued whatever the model says.
func (b *builder) plan() error {
	if b.r.Source == "ct" {
		return nil
	}
	p := &PlanFinish{Overrides: []OverrideTier{}}
	b.r.Plan = p
	var from, to time.Time
	if err := b.db.QueryRowContext(b.ctx, dec+`SELECT count(*), count(*) FILTER (decision = 'limited'), min(issued_at), max(issued_at)
	  FROM d WHERE issuer_group = 'plan'`).Scan(&p.Orders, &p.Limited, &from, &to); err != nil {
		return fmt.Errorf("couldn't query the data: %w", err)
	}
	p.From, p.To = from.UTC(), to.UTC()
	for _, s := range b.r.Sizing {
		switch {
		case !s.Sized || s.Tier == 0:
		case s.Tier > 0:
			p.Overrides = append(p.Overrides, OverrideTier{Domain: s.Domain, PerWeek: s.Tier})
		default: // above every tier: what the size asks for
			p.Overrides = append(p.Overrides, OverrideTier{Domain: s.Domain, PerWeek: s.Target})
		}
	}
	orders, retry, err := b.planOrders()
	if errors.Is(err, errTooBig) {
		p.Note = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	p.History = int64(len(orders)) - int64(countTrue(retry))
	if err := b.planStart(p, orders, retry); err != nil {
		return err
	}
	opt := replay.RetryOptions{Retry: func(i int) bool { return retry[i] }, MaxDecisions: maxRetryDecisions}
	run := func(pol *replay.Policy, out *PlanRun) error {
		res, err := replay.SimulateRetries(pol, orders, opt)
		if err != nil {
			return err
		}
		*out = PlanRun{Delayed: int64(res.Delayed), MaxDelay: int64(res.MaxDelay / time.Second), Decisions: res.Decisions, Last: []string{}}
		if res.Finish != 0 {
			out.Finish = time.Unix(0, res.Finish).UTC()
		}
		// Per domain of AtStart: when its planned orders are done.
		out.Domains = make([]DomainFinish, len(p.AtStart))
		for k, l := range p.AtStart {
			out.Domains[k].Domain = l.Domain
		}
		for i := range orders {
			if !retry[i] {
				continue
			}
			for k := range out.Domains {
				if d := &out.Domains[k]; contains(orders[i].Domains, d.Domain) {
					d.Orders++
					if res.Attempts[i] > 1 {
						d.Delayed++
					}
					if t := time.Unix(0, res.Issued[i]).UTC(); t.After(d.Finish) {
						d.Finish = t
					}
				}
			}
		}
		// The last planned order to be issued (the latest in the plan
		// among those issued at Finish).
		for i := len(orders) - 1; i >= 0; i-- {
			if retry[i] && res.Issued[i] == res.Finish {
				out.Last, out.Attempts = orders[i].Names, int64(res.Attempts[i])
				break
			}
		}
		return nil
	}
	if err := run(b.r.policy, &p.Without); errors.Is(err, replay.ErrRetriesUnbounded) {
		p.Note = err.Error()
		return nil
	} else if err != nil {
		return fmt.Errorf("couldn't retry the plan: %w", err)
	}
	pol := b.r.policy
	for _, o := range p.Overrides {
		if pol, err = withOverride(pol, o.Domain, o.PerWeek); err != nil {
			return err
		}
	}
	if err := run(pol, &p.With); errors.Is(err, replay.ErrRetriesUnbounded) {
		p.Note = err.Error()
		return nil
	} else if err != nil {
		return fmt.Errorf("couldn't retry the plan with the overrides: %w", err)
	}
	p.OK = true
	return nil
}

// planStart measures the buckets of the plan's busiest domains just
// before its first order, after the history before it.
func (b *builder) planStart(p *PlanFinish, orders []replay.Prepared, retry []bool) error {
	var list []string
	add := func(d string) {
		if !contains(list, d) && len(list) < max(b.opts.Charts, len(b.r.Domains)) {
			list = append(list, d)
		}
	}
	for _, d := range b.r.Domains {
		add(d)
	}
	for _, s := range b.r.Sizing {
		add(s.Domain)
	}
	count := map[string]int{}
	for i := range orders {
		if retry[i] {
			for _, d := range orders[i].Domains {
				count[d]++
			}
		}
	}
	busiest := make([]string, 0, len(count))
	for d := range count {
		busiest = append(busiest, d)
	}
	sort.Slice(busiest, func(i, j int) bool {
		return count[busiest[i]] > count[busiest[j]] || (count[busiest[i]] == count[busiest[j]] && busiest[i] < busiest[j])
	})
	for _, d := range busiest {
		add(d)
	}
	start := p.From.UnixNano()
	r := replay.NewReplayer(b.r.policy)
	var res replay.Result
	for i := range orders {
		if orders[i].IssuedAt >= start {
			break
		}
		if err := r.Decide(&orders[i], &res); err != nil {
			return err
		}
	}
	p.AtStart = []PlanLevel{}
	for _, d := range list {
		tokens, burst, full := r.Level(d, start)
		p.AtStart = append(p.AtStart, PlanLevel{Domain: d, Tokens: tokens, Burst: burst, FullAt: time.Unix(0, full).UTC()})
	}
	return nil
}

// maxRetryDecisions bounds a plan's retries: every limited order retries
// at each refill until issued, so n orders on one bucket cost about n²/2
// decisions (5,000 sites: 12.5 million, 4 s); 100 million is about 14,000
// sites on one bucket, half a minute.
const maxRetryDecisions = 100_000_000

// planOrders reads back the orders of every connected component holding a
// planned order, in replay order, and which of them are planned.
func (b *builder) planOrders() ([]replay.Prepared, []bool, error) {
	ix, err := b.components()
	if err != nil {
		return nil, nil, err
	}
	doms, err := queryRows(b.ctx, b.db, dec+`SELECT DISTINCT registered_domains[1] FROM d WHERE issuer_group = 'plan'`, nil, column[string])
	if err != nil {
		return nil, nil, err
	}
	roots := map[int32]bool{}
	total := 0
	for _, d := range doms {
		if root, ok := ix.comps.OfDomain(d); ok && !roots[root] {
			roots[root] = true
			total += ix.size[root]
		}
	}
	if total > b.opts.MaxComponentOrders {
		return nil, nil, fmt.Errorf("%w: the plan's components hold %d orders, more than the %d the report replays; the finish date was not computed", errTooBig, total, b.opts.MaxComponentOrders)
	}
	if len(roots) == 0 {
		return nil, nil, nil
	}
	list := make([]string, 0, len(roots))
	for r := range roots {
		list = append(list, fmt.Sprint(r))
	}
	sort.Strings(list)
	type orderRow struct {
		issued  time.Time
		nb, na  *time.Time
		names   string
		planned bool
	}
	rows, err := queryRows(b.ctx, b.db, dec+`SELECT issued_at, not_before, not_after, array_to_string(names, ' '), coalesce(issuer_group = 'plan', false) FROM d
	  JOIN ctlimits_component c ON c.domain = d.registered_domains[1] WHERE c.root IN (`+strings.Join(list, ", ")+`) ORDER BY issued_at, ord`, nil,
		func(r *orderRow) []any { return []any{&r.issued, &r.nb, &r.na, &r.names, &r.planned} })
	if err != nil {
		return nil, nil, err
	}
	var namer replay.Namer
	orders := make([]replay.Prepared, 0, len(rows))
	retry := make([]bool, 0, len(rows))
	for _, r := range rows {
		o := replay.Order{IssuedAt: r.issued, Names: strings.Fields(r.names)}
		if r.nb != nil {
			o.NotBefore = *r.nb
		}
		if r.na != nil {
			o.NotAfter = *r.na
		}
		pr, err := namer.Prepare(&o)
		if err != nil {
			return nil, nil, fmt.Errorf("couldn't rebuild the order at %s: %w", o.IssuedAt.UTC().Format(time.RFC3339), err)
		}
		orders = append(orders, pr)
		retry = append(retry, r.planned)
	}
	return orders, retry, nil
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// finishLine says when the plan finishes, with and without the override.
func (r *Report) finishLine() string {
	p := r.Plan
	if p == nil {
		return ""
	}
	f := cellFmt{}
	if !p.OK {
		return "The finish date was not computed: " + p.Note
	}
	s := fmt.Sprintf("%s planned orders from %s to %s UTC", f.int(p.Orders), f.time(p.From), f.time(p.To))
	if p.History > 0 && len(p.AtStart) > 0 {
		var lv []string
		for _, l := range p.AtStart {
			lv = append(lv, fmt.Sprintf("%s %s of %s tokens", l.Domain, f.int(l.Tokens), f.int(l.Burst)))
		}
		s += fmt.Sprintf(", starting from the buckets real history left (%s)", strings.Join(lv, ", "))
	}
	s += fmt.Sprintf(". Retrying each limited order at its retry-after until issued, the plan finishes %s UTC", f.time(p.Without.Finish))
	if p.Without.Delayed > 0 {
		s += fmt.Sprintf(" (%s orders delayed, the longest by %s; the last issued is %s, after %d attempts)", f.int(p.Without.Delayed),
			humanDuration(time.Duration(p.Without.MaxDelay)*time.Second), shortNames(p.Without.Last, 2), p.Without.Attempts)
	}
	if len(p.Overrides) == 0 {
		return s + "; no override is suggested."
	}
	var ov []string
	for _, o := range p.Overrides {
		ov = append(ov, fmt.Sprintf("%s %s per week", o.Domain, f.int(o.PerWeek)))
	}
	s += fmt.Sprintf("; with the suggested override (%s) it finishes %s UTC", strings.Join(ov, ", "), f.time(p.With.Finish))
	if p.With.Delayed > 0 {
		s += fmt.Sprintf(" (%s orders still delayed, the longest by %s, by limits the override does not lift; the last issued is %s)", f.int(p.With.Delayed),
			humanDuration(time.Duration(p.With.MaxDelay)*time.Second), shortNames(p.With.Last, 2))
	}
	return s + "."
}

// humanDuration is a duration in days and hours, or minutes when short.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		days, hours := d/(24*time.Hour), (d%(24*time.Hour)+30*time.Minute)/time.Hour
		if hours == 24 {
			days, hours = days+1, 0
		}
		if hours == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd %dh", days, hours)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%dm", (d+30*time.Second)/time.Minute)
}
