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
	switch r.Source {
	case "plan":
		return fmt.Sprintf("%s planned orders replayed: %s new, %s renewal, %s limited.", f.int(s.Orders), f.int(s.New), f.int(s.Renewal), f.int(s.Limited))
	case "plan+ct":
		return fmt.Sprintf("%s certificates in %d %s; %s orders replayed, %s of them planned: %s new, %s renewal, %s limited.",
			f.int(s.Certificates), len(s.Logs), logs, f.int(s.Orders), f.int(r.Plan.Orders), f.int(s.New), f.int(s.Renewal), f.int(s.Limited))
	}
	return fmt.Sprintf("%s certificates in %d %s; %s orders replayed: %s new, %s renewal, %s limited (over the model).",
		f.int(s.Certificates), len(s.Logs), logs, f.int(s.Orders), f.int(s.New), f.int(s.Renewal), f.int(s.Limited))
}

const overModelNote = "Certificates in CT were issued: an order the model would have limited is over the model, not an error. " +
	"Likely causes: an override, ARI (replacements skip the checks), or concurrent orders racing Boulder's check-then-spend."

const plannedNote = "A planned order limited at its planned time: the client retries at the retry-after (see when the plan finishes)."

// limitedTitle is the limited orders' section title: CT's are over the
// model, a plan's are simply limited.
func (r *Report) limitedTitle() string {
	switch r.Source {
	case "plan":
		return "Limited orders"
	case "plan+ct":
		return "Limited orders (planned, or over the model)"
	}
	return "Limited orders (over the model)"
}

// limitedNote explains what a limited order means for the source.
func (r *Report) limitedNote() string {
	switch r.Source {
	case "plan":
		return plannedNote
	case "plan+ct":
		return plannedNote + " " + overModelNote
	}
	return overModelNote
}

func (r *Report) limitedLine() string {
	what := "orders over the model"
	switch r.Source {
	case "plan":
		what = "limited orders"
	case "plan+ct":
		what = "limited orders (planned, or CT certificates over the model)"
	}
	if r.Limited.Total == 0 {
		return "No order is limited."
	}
	if int64(len(r.Limited.Orders)) < r.Limited.Total {
		return fmt.Sprintf("%d %s; the newest %d:", r.Limited.Total, what, len(r.Limited.Orders))
	}
	return fmt.Sprintf("%d %s:", r.Limited.Total, what)
}

// answers are the report's conclusions, first in every human format: the
// override to ask for, when a plan finishes, the headroom now.
func (r *Report) answers() []string {
	f := cellFmt{}
	var out []string
	for i := range r.Sizing {
		s := &r.Sizing[i]
		if s.Sized {
			out = append(out, fmt.Sprintf("%s: %s.", s.Domain, s.Advice))
		} else {
			out = append(out, fmt.Sprintf("%s: not sized (%s).", s.Domain, s.Note))
		}
	}
	if len(r.Sizing) == 0 {
		out = append(out, "No override needed: no registered domain's bucket refused an order.")
	}
	if l := r.finishLine(); l != "" {
		out = append(out, l)
	}
	for _, h := range r.HeadNow {
		if !h.OK {
			out = append(out, fmt.Sprintf("%s: no headroom figure (%s).", h.Domain, h.Note))
			continue
		}
		full := fmt.Sprintf(", full again %s UTC", f.time(h.FullAt))
		if !h.FullAt.After(r.At) {
			full = " (full)"
		}
		out = append(out, fmt.Sprintf("%s: %s of %s tokens left at %s UTC%s; %s certificates expire in 30 days (%s renew, %s count as new).",
			h.Domain, f.int(h.Tokens), f.int(h.Burst), f.time(r.At), full, f.int(h.Expiring), f.int(h.Renewing), f.int(h.CountNew)))
	}
	return out
}

func (r *Report) sizingLine() string {
	if len(r.Sizing) == 0 {
		return "No domain was limited by CertificatesPerDomain: no override needed."
	}
	return fmt.Sprintf("The smallest weekly limit under which no order is limited by the domain's bucket, found by replaying its connected component under %s; tiers cover it times %g.",
		r.SizingPolicy, r.Headroom)
}

func (r *Report) formLine(s *Sizing) string {
	f := cellFmt{}
	tier := "none needed"
	if s.Form.Tier > 0 {
		tier = f.int(s.Form.Tier) + " per week"
	}
	issued := "issued per CT"
	switch r.Source {
	case "plan":
		issued = "planned"
	case "plan+ct":
		issued = "issued per CT and planned"
	}
	return fmt.Sprintf("registered domain %s; tier %s; new certificates this week %s %s (%s allowed by the model), peak week %s %s (%s allowed by the model); %s names; renewal share %s; evidence %s to %s",
		s.Form.Domain, tier, f.int(s.Form.IssuedCurrentWeek), issued, f.int(s.Form.CurrentWeek), f.int(s.Form.IssuedPeakWeek), issued, f.int(s.Form.PeakWeek),
		f.int(s.Form.Names), f.pct(s.Form.RenewalShare), f.day(s.Form.From), f.day(s.Form.To))
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
	section("Answer")
	for _, a := range r.answers() {
		fmt.Fprintf(bw, "- %s\n", a)
	}
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
	section(r.limitedTitle())
	fmt.Fprintf(bw, "%s\n", r.limitedLine())
	if len(r.Limited.Orders) > 0 {
		fmt.Fprintf(bw, "%s\n", r.limitedNote())
		for _, o := range r.Limited.Orders {
			f := cellFmt{}
			fmt.Fprintf(bw, "  %s  %s  %s  retry after %s\n    names: %s\n    %s\n",
				f.time(o.IssuedAt), f.list(o.Domains), f.list(o.Limits), f.time(o.RetryAfter), shortNames(o.Names, 4), o.Message)
			if len(o.Causes) > 0 {
				fmt.Fprintf(bw, "    likely: %s\n", strings.Join(o.Causes, "; "))
			}
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
		fmt.Fprintf(bw, "\n    account: %s\n    form: %s\n", s.Account.Reason, r.formLine(s))
	}
	if r.Plan != nil {
		section("When the plan finishes")
		fmt.Fprintf(bw, "%s\n", r.finishLine())
		tbl("plan")
		if t := r.table("plan_domains", false); len(t.rows) > 0 {
			fmt.Fprintln(bw)
			tbl("plan_domains")
		}
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
	fmt.Fprintf(bw, "\n## Answer\n\n")
	for _, a := range r.answers() {
		fmt.Fprintf(bw, "- %s\n", mdEscape(a))
	}
	fmt.Fprintf(bw, "\n## Summary\n")
	tbl("issuer_groups", true)
	tbl("limits", true)
	tbl("logs", true)
	fmt.Fprintf(bw, "\n## %s\n\n%s\n\n%s\n", r.limitedTitle(), r.limitedNote(), r.limitedLine())
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
			fmt.Fprintf(bw, "\n\n- Account-level override: %s\n- The form: %s\n", mdEscape(s.Account.Reason), mdEscape(r.formLine(s)))
		}
	}
	if r.Plan != nil {
		fmt.Fprintf(bw, "\n## When the plan finishes\n\n%s\n", mdEscape(r.finishLine()))
		tbl("plan", false)
		tbl("plan_domains", true)
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
