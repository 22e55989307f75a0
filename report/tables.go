package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// table is one of the report's tables, as every format but JSON shows it.
// Cells are formatted for people (human) or for programs (CSV: RFC 3339
// times, bare numbers, lists joined by spaces).
type table struct {
	name   string
	title  string
	header []string
	rows   [][]string
}

// CSVTables names the tables WriteCSV writes, in order; docs/reports.md
// describes their columns.
var CSVTables = []string{"summary", "issuer_groups", "limits", "logs", "limited", "domains", "override_sizing", "plan", "plan_domains", "headroom", "daily", "bucket_levels"}

type cellFmt struct{ machine bool }

func (f cellFmt) time(t time.Time) string {
	if t.IsZero() {
		if f.machine {
			return ""
		}
		return "-"
	}
	if f.machine {
		return t.UTC().Format(time.RFC3339)
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func (f cellFmt) day(t time.Time) string {
	if t.IsZero() {
		return f.time(t)
	}
	return t.UTC().Format("2006-01-02")
}

func (f cellFmt) int(n int64) string {
	if f.machine {
		return strconv.FormatInt(n, 10)
	}
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// opt is an int that -1 marks as unknown.
func (f cellFmt) opt(n int64) string {
	if n < 0 {
		if f.machine {
			return ""
		}
		return "-"
	}
	return f.int(n)
}

func (f cellFmt) list(ss []string) string {
	if f.machine {
		return strings.Join(ss, " ")
	}
	return strings.Join(ss, ", ")
}

func (f cellFmt) pct(x float64) string {
	if f.machine {
		return strconv.FormatFloat(x, 'f', 4, 64)
	}
	return fmt.Sprintf("%.0f%%", 100*x)
}

func (f cellFmt) bool(b bool) string {
	if f.machine {
		return strconv.FormatBool(b)
	}
	if b {
		return "yes"
	}
	return "no"
}

func (f cellFmt) tier(s *Sizing) string {
	switch {
	case !s.Sized:
		return f.opt(-1)
	case s.Tier == 0 && !f.machine:
		return "none needed"
	case s.Tier < 0 && !f.machine:
		return "above 1M"
	}
	return f.int(s.Tier)
}

func (r *Report) table(name string, machine bool) table {
	f := cellFmt{machine}
	s := &r.Summary
	switch name {
	case "summary":
		t := table{name: name, title: "Summary", header: []string{"key", "value"}}
		add := func(k, v string) { t.rows = append(t.rows, []string{k, v}) }
		add("schema_version", strconv.Itoa(r.SchemaVersion))
		add("policy", r.Policy)
		add("source", r.Source)
		add("sizing_policy", r.SizingPolicy)
		add("from", f.time(s.From))
		add("to", f.time(s.To))
		add("at", f.time(r.At))
		add("logs", f.int(int64(len(s.Logs))))
		add("certificates", f.int(s.Certificates))
		add("orders", f.int(s.Orders))
		add("new", f.int(s.New))
		add("renewal", f.int(s.Renewal))
		add("limited", f.int(s.Limited))
		add("headroom_factor", strconv.FormatFloat(r.Headroom, 'f', -1, 64))
		return t
	case "issuer_groups":
		t := table{name: name, title: "By issuer group", header: []string{"group", "certificates", "orders", "new", "renewal", "limited"}}
		for _, g := range s.Groups {
			t.rows = append(t.rows, []string{g.Group, f.int(g.Certificates), f.int(g.Orders), f.int(g.New), f.int(g.Renewal), f.int(g.Limited)})
		}
		return t
	case "limits":
		t := table{name: name, title: "Limited orders per limit", header: []string{"limit", "orders"}}
		for _, l := range s.LimitedBy {
			t.rows = append(t.rows, []string{l.Limit, f.int(l.Orders)})
		}
		return t
	case "logs":
		t := table{name: name, title: "Logs", header: []string{"log", "entries", "from", "to"}}
		if machine {
			t.header = append(t.header, "name")
		}
		for _, l := range s.Logs {
			if machine {
				t.rows = append(t.rows, []string{l.Log, f.int(l.Entries), f.time(l.From), f.time(l.To), l.Name})
				continue
			}
			t.rows = append(t.rows, []string{l.DisplayName(), f.int(l.Entries), f.time(l.From), f.time(l.To)})
		}
		return t
	case "limited":
		t := table{name: name, title: r.limitedTitle(), header: []string{"issued_at", "registered_domains", "limits", "retry_after", "names"}}
		if machine {
			t.header = []string{"order", "issued_at", "issuer", "serial", "names", "registered_domains", "limits", "limited_by", "retry_after", "message", "renewal", "likely_causes", "planned"}
		}
		for _, o := range r.Limited.Orders {
			if machine {
				t.rows = append(t.rows, []string{f.int(o.Order), f.time(o.IssuedAt), o.Issuer, o.Serial, f.list(o.Names), f.list(o.Domains),
					f.list(o.Limits), f.list(o.LimitedBy), f.time(o.RetryAfter), o.Message, f.bool(o.Renewal), strings.Join(o.Causes, "; "), f.bool(o.Planned)})
				continue
			}
			t.rows = append(t.rows, []string{f.time(o.IssuedAt), f.list(o.Domains), f.list(o.Limits), f.time(o.RetryAfter), shortNames(o.Names, 3)})
		}
		return t
	case "domains":
		t := table{name: name, title: "Registered domains", header: []string{"domain", "new", "renewal", "limited", "peak_7d_new", "current_7d_new", "lowest_tokens", "burst", "names", "first", "last"}}
		for _, d := range r.Top {
			dom := d.Domain
			if d.Requested && !machine {
				dom += " *"
			}
			t.rows = append(t.rows, []string{dom, f.int(d.New), f.int(d.Renewal), f.int(d.Limited), f.int(d.Peak7d), f.int(d.Week),
				f.opt(d.LowestTokens), f.opt(d.Burst), f.int(d.Names), f.day(d.First), f.day(d.Last)})
		}
		if machine {
			t.header = append(t.header, "requested", "peak_7d_end", "peak_7d_issued", "peak_7d_issued_end", "current_7d_issued")
			for i, d := range r.Top {
				t.rows[i] = append(t.rows[i], f.bool(d.Requested), f.time(d.PeakAt), f.int(d.PeakIssued), f.time(d.PeakIssuedAt), f.int(d.WeekIssued))
			}
		}
		return t
	case "override_sizing":
		t := table{name: name, title: "Override sizing", header: []string{"domain", "limited_now", "needed", "target", "tier", "account_override", "replays"}}
		if machine {
			t.header = []string{"domain", "sized", "limited_now", "needed", "verified", "target", "tier", "replays", "component_orders", "component_domains",
				"account_override_likely", "account_peers", "current_weekly_new", "peak_weekly_new", "names", "renewal_share", "evidence_from", "evidence_to", "advice", "note",
				"issued_current_weekly_new", "issued_peak_weekly_new"}
		}
		for i := range r.Sizing {
			z := &r.Sizing[i]
			if machine {
				t.rows = append(t.rows, []string{z.Domain, f.bool(z.Sized), f.int(z.LimitedNow), f.int(z.Needed), f.bool(z.Verified), f.int(z.Target), f.tier(z),
					strconv.Itoa(z.Replays), strconv.Itoa(z.ComponentOrders), strconv.Itoa(z.ComponentDomains), f.bool(z.Account.Likely), f.list(z.Account.Peers),
					f.int(z.Form.CurrentWeek), f.int(z.Form.PeakWeek), f.int(z.Form.Names), f.pct(z.Form.RenewalShare), f.time(z.Form.From), f.time(z.Form.To), z.Advice, z.Note,
					f.int(z.Form.IssuedCurrentWeek), f.int(z.Form.IssuedPeakWeek)})
				continue
			}
			acct := "no"
			if z.Account.Likely {
				acct = "maybe (" + f.list(z.Account.Peers) + ")"
			}
			needed, target := f.opt(-1), f.opt(-1)
			if z.Sized {
				needed, target = f.int(z.Needed), f.int(z.Target)
			}
			t.rows = append(t.rows, []string{z.Domain, f.int(z.LimitedNow), needed, target, f.tier(z), acct, strconv.Itoa(z.Replays)})
		}
		return t
	case "plan":
		t := table{name: name, title: "When the plan finishes", header: []string{"run", "overrides", "finish", "delayed", "longest_wait", "decisions", "last_issued"}}
		if machine {
			t.header = []string{"run", "overrides", "planned_orders", "history_orders", "from", "to", "limited", "finish", "delayed", "max_delay_seconds", "decisions",
				"last_order_names", "last_order_attempts", "ok", "note"}
		}
		p := r.Plan
		if p == nil || (!p.OK && !machine) {
			return t
		}
		var ov []string
		for _, o := range p.Overrides {
			ov = append(ov, fmt.Sprintf("%s:%d", o.Domain, o.PerWeek))
		}
		for _, run := range []struct {
			name string
			ov   []string
			r    PlanRun
		}{{"without_override", nil, p.Without}, {"with_override", ov, p.With}} {
			if machine {
				t.rows = append(t.rows, []string{run.name, f.list(run.ov), f.int(p.Orders), f.int(p.History), f.time(p.From), f.time(p.To), f.int(p.Limited),
					f.time(run.r.Finish), f.int(run.r.Delayed), f.int(run.r.MaxDelay), f.int(run.r.Decisions), f.list(run.r.Last), f.int(run.r.Attempts), f.bool(p.OK), p.Note})
				continue
			}
			ovs := "none"
			if len(run.ov) > 0 {
				ovs = f.list(run.ov)
			} else if run.name == "with_override" {
				ovs = "none suggested"
			}
			t.rows = append(t.rows, []string{strings.ReplaceAll(run.name, "_", " "), ovs, f.time(run.r.Finish), f.int(run.r.Delayed),
				humanDuration(time.Duration(run.r.MaxDelay) * time.Second), f.int(run.r.Decisions), shortNames(run.r.Last, 2)})
		}
		return t
	case "plan_domains":
		t := table{name: name, title: "When each domain's planned orders finish", header: []string{"domain", "orders", "finish", "delayed", "finish_with_override", "delayed_with_override"}}
		p := r.Plan
		if p == nil || !p.OK {
			return t
		}
		for k := range p.Without.Domains {
			a, w := p.Without.Domains[k], p.With.Domains[k]
			t.rows = append(t.rows, []string{a.Domain, f.int(a.Orders), f.time(a.Finish), f.int(a.Delayed), f.time(w.Finish), f.int(w.Delayed)})
		}
		return t
	case "headroom":
		t := table{name: name, title: "Headroom at " + f.time(r.At), header: []string{"domain", "tokens", "burst", "full_at", "expiring_30d", "renewing_30d", "new_30d"}}
		for _, h := range r.HeadNow {
			t.rows = append(t.rows, []string{h.Domain, f.opt(h.Tokens), f.opt(h.Burst), f.time(h.FullAt), f.int(h.Expiring), f.int(h.Renewing), f.int(h.CountNew)})
		}
		return t
	case "daily":
		t := table{name: name, title: "Issuance per day", header: []string{"day", "new", "renewal", "limited"}}
		for _, d := range r.Daily {
			t.rows = append(t.rows, []string{d.Day, f.int(d.New), f.int(d.Renewal), f.int(d.Limited)})
		}
		return t
	case "bucket_levels":
		t := table{name: name, title: "Bucket levels", header: []string{"domain", "t", "tokens", "burst"}}
		for _, s := range r.Levels {
			for _, p := range s.Points {
				t.rows = append(t.rows, []string{s.Domain, f.time(p.T), f.int(p.Tokens), f.int(s.Burst)})
			}
		}
		return t
	}
	panic("report: unknown table " + name)
}

// shortNames lists up to n names and how many more.
func shortNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, " ")
	}
	return fmt.Sprintf("%s (+%d more)", strings.Join(names[:n], " "), len(names)-n)
}
