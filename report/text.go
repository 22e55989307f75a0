package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as one indented JSON object, the schema of
// docs/reports.md.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteCSV writes one table (one of CSVTables) as CSV with a header row.
func (r *Report) WriteCSV(name string, w io.Writer) error {
	t := r.table(name, true)
	cw := csv.NewWriter(w)
	cw.Write(t.header)
	cw.WriteAll(t.rows)
	return cw.Error()
}

// prose is what text and Markdown say around the tables.
func (r *Report) headline() string {
	f := cellFmt{}
	return fmt.Sprintf("Policy %s; orders from %s to %s UTC; now = %s UTC.", r.Policy, f.time(r.Summary.From), f.time(r.Summary.To), f.time(r.At))
}

func (r *Report) countsLine() string {
	f := cellFmt{}
	s := &r.Summary
	logs := "logs"
	if len(s.Logs) == 1 {
		logs = "log"
	}
	return fmt.Sprintf("%s certificates in %d %s; %s orders replayed: %s new, %s renewal, %s limited (over the model).",
		f.int(s.Certificates), len(s.Logs), logs, f.int(s.Orders), f.int(s.New), f.int(s.Renewal), f.int(s.Limited))
}

const overModelNote = "Certificates in CT were issued: an order the model would have limited is over the model, not an error. " +
	"Likely causes: an override, ARI (replacements skip the checks), or concurrent orders racing Boulder's check-then-spend."

func (r *Report) limitedLine() string {
	if r.Limited.Total == 0 {
		return "No order is over the model."
	}
	if int64(len(r.Limited.Orders)) < r.Limited.Total {
		return fmt.Sprintf("%d orders over the model; the newest %d:", r.Limited.Total, len(r.Limited.Orders))
	}
	return fmt.Sprintf("%d orders over the model:", r.Limited.Total)
}

func (r *Report) sizingLine() string {
	if len(r.Sizing) == 0 {
		return "No domain was limited by CertificatesPerDomain: no override needed."
	}
	return fmt.Sprintf("The smallest weekly limit under which no order is limited by the domain's bucket, found by replaying its connected component under %s; tiers cover it times %g.",
		r.SizingPolicy, r.Headroom)
}

func (s *Sizing) formLine() string {
	f := cellFmt{}
	tier := "none needed"
	if s.Form.Tier > 0 {
		tier = f.int(s.Form.Tier) + " per week"
	}
	return fmt.Sprintf("registered domain %s; tier %s; new certificates this week %s, peak week %s; %s names; renewal share %s; evidence %s to %s",
		s.Form.Domain, tier, f.int(s.Form.CurrentWeek), f.int(s.Form.PeakWeek), f.int(s.Form.Names), f.pct(s.Form.RenewalShare), f.day(s.Form.From), f.day(s.Form.To))
}

func (r *Report) headroomLine() string {
	if len(r.Domains) == 0 {
		return "Name domains with --domain to see their headroom."
	}
	return "Tokens in each domain's CertificatesPerDomain bucket at " + cellFmt{}.time(r.At) + " UTC (replayed up to then), and certificates expiring in the next 30 days: renewals are exempt, the rest count as new."
}

// WriteText writes the report for a terminal: aligned columns, concise.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	section := func(title string) { fmt.Fprintf(bw, "\n%s\n", strings.ToUpper(title)) }
	tbl := func(name string) {
		t := r.table(name, false)
		if len(t.rows) == 0 {
			return
		}
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  %s\n", strings.ToUpper(strings.Join(t.header, "\t")))
		for _, row := range t.rows {
			fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	fmt.Fprintf(bw, "ctlimits report\n%s\n%s\n", r.headline(), r.countsLine())
	section("Summary")
	tbl("issuer_groups")
	if len(r.Summary.LimitedBy) > 0 {
		fmt.Fprintln(bw)
		tbl("limits")
	}
	if len(r.Summary.Logs) > 0 {
		fmt.Fprintln(bw)
		tbl("logs")
	}
	section("Limited orders (over the model)")
	fmt.Fprintf(bw, "%s\n", r.limitedLine())
	if len(r.Limited.Orders) > 0 {
		fmt.Fprintf(bw, "%s\n", overModelNote)
		for _, o := range r.Limited.Orders {
			f := cellFmt{}
			fmt.Fprintf(bw, "  %s  %s  %s  retry after %s\n    names: %s\n    %s\n    likely: %s\n",
				f.time(o.IssuedAt), f.list(o.Domains), f.list(o.Limits), f.time(o.RetryAfter), shortNames(o.Names, 4), o.Message, strings.Join(o.Causes, "; "))
		}
	}
	section("Registered domains")
	fmt.Fprintf(bw, "By new certificates; * = asked for with --domain. Peak: most new certificates in any 168 hours.\n")
	tbl("domains")
	section("Override sizing")
	fmt.Fprintf(bw, "%s\n", r.sizingLine())
	tbl("override_sizing")
	for i := range r.Sizing {
		s := &r.Sizing[i]
		fmt.Fprintf(bw, "  %s:", s.Domain)
		if s.Advice != "" {
			fmt.Fprintf(bw, " %s.", s.Advice)
		}
		if s.Note != "" {
			fmt.Fprintf(bw, " (%s)", s.Note)
		}
		fmt.Fprintf(bw, "\n    account: %s\n    form: %s\n", s.Account.Reason, s.formLine())
	}
	section("Headroom now")
	fmt.Fprintf(bw, "%s\n", r.headroomLine())
	tbl("headroom")
	for _, h := range r.HeadNow {
		if h.Note != "" {
			fmt.Fprintf(bw, "  %s: %s\n", h.Domain, h.Note)
		}
	}
	if len(r.Notes) > 0 {
		section("Notes")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "- %s\n", n)
		}
	}
	return bw.Flush()
}

// mdEscape keeps a cell inside its Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`).Replace(s)
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	tbl := func(name string, title bool) {
		t := r.table(name, false)
		if title {
			fmt.Fprintf(bw, "\n### %s\n", t.title)
		}
		if len(t.rows) == 0 {
			fmt.Fprintf(bw, "\nNone.\n")
			return
		}
		fmt.Fprintf(bw, "\n| %s |\n|%s\n", strings.Join(t.header, " | "), strings.Repeat("---|", len(t.header)))
		for _, row := range t.rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = mdEscape(c)
			}
			fmt.Fprintf(bw, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	fmt.Fprintf(bw, "# ctlimits report\n\n%s\n%s\n", r.headline(), r.countsLine())
	fmt.Fprintf(bw, "\n## Summary\n")
	tbl("issuer_groups", true)
	tbl("limits", true)
	tbl("logs", true)
	fmt.Fprintf(bw, "\n## Limited orders (over the model)\n\n%s\n\n%s\n", overModelNote, r.limitedLine())
	if len(r.Limited.Orders) > 0 {
		f := cellFmt{}
		fmt.Fprintf(bw, "\n| issued_at | registered_domains | limits | retry_after | names | message | likely causes |\n|---|---|---|---|---|---|---|\n")
		for _, o := range r.Limited.Orders {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s |\n", f.time(o.IssuedAt), mdEscape(f.list(o.Domains)), mdEscape(f.list(o.Limits)),
				f.time(o.RetryAfter), mdEscape(shortNames(o.Names, 4)), mdEscape(o.Message), mdEscape(strings.Join(o.Causes, "; ")))
		}
	}
	fmt.Fprintf(bw, "\n## Registered domains\n\nBy new certificates; * marks a --domain. Peak: most new certificates in any 168 hours.\n")
	tbl("domains", false)
	fmt.Fprintf(bw, "\n## Override sizing\n\n%s\n", r.sizingLine())
	if len(r.Sizing) > 0 {
		tbl("override_sizing", false)
		for i := range r.Sizing {
			s := &r.Sizing[i]
			fmt.Fprintf(bw, "\n**%s**: %s", mdEscape(s.Domain), mdEscape(s.Advice))
			if s.Note != "" {
				fmt.Fprintf(bw, " (%s)", mdEscape(s.Note))
			}
			fmt.Fprintf(bw, "\n\n- Account-level override: %s\n- The form: %s\n", mdEscape(s.Account.Reason), mdEscape(s.formLine()))
		}
	}
	fmt.Fprintf(bw, "\n## Headroom now\n\n%s\n", r.headroomLine())
	if len(r.HeadNow) > 0 {
		tbl("headroom", false)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(bw, "\n## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "- %s\n", mdEscape(n))
		}
	}
	return bw.Flush()
}
