package report

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML file: inline CSS
// and inline SVG charts, no scripts, nothing fetched.
func (r *Report) WriteHTML(w io.Writer) error {
	f := cellFmt{}
	type tbl struct {
		Title  string
		Header []string
		Rows   [][]string
	}
	mk := func(name string) tbl {
		t := r.table(name, false)
		return tbl{t.title, t.header, t.rows}
	}
	type sizing struct {
		Sizing
		Form string
	}
	var sz []sizing
	for i := range r.Sizing {
		sz = append(sz, sizing{r.Sizing[i], r.formLine(&r.Sizing[i])})
	}
	var levels []template.HTML
	for _, s := range r.Levels {
		levels = append(levels, template.HTML(levelChart(&s, r.Summary.From, r.Summary.To)))
	}
	type lim struct {
		LimitedOrder
		When, Retry, Domains, Limits, Names, Causes string
	}
	var lims []lim
	for _, o := range r.Limited.Orders {
		lims = append(lims, lim{o, f.time(o.IssuedAt), f.time(o.RetryAfter), f.list(o.Domains), f.list(o.Limits), shortNames(o.Names, 4), strings.Join(o.Causes, "; ")})
	}
	data := map[string]any{
		"R":            r,
		"Headline":     r.headline(),
		"Counts":       r.countsLine(),
		"Answers":      r.answers(),
		"LimitedTitle": r.limitedTitle(),
		"LimitedNote":  r.limitedNote(),
		"LimitedLine":  r.limitedLine(),
		"Groups":       mk("issuer_groups"),
		"Limits":       mk("limits"),
		"Logs":         mk("logs"),
		"Limited":      lims,
		"Repeated":     groupMessages(r.Limited.Orders),
		"Domains":      mk("domains"),
		"SizingLine":   r.sizingLine(),
		"SizingTable":  mk("override_sizing"),
		"Sizing":       sz,
		"FinishLine":   r.finishLine(),
		"Plan":         mk("plan"),
		"PlanDomains":  mk("plan_domains"),
		"HeadLine":     r.headroomLine(),
		"Headroom":     mk("headroom"),
		"Daily":        template.HTML(dailyChart(r.Daily, map[bool]string{true: "limited (over the model)", false: "limited"}[r.Source == "ct"])),
		"Levels":       levels,
		"Style":        template.CSS(stylesheet),
	}
	return page.Execute(w, data)
}

// messageGroup is one of Boulder's messages and the limited orders that
// got it, the retry time left out: a hosting provider's burst is dozens of
// orders with one message.
type messageGroup struct {
	Message, Domains, Limits, Causes string
	Orders                           int
	First, Last, RetryFrom, RetryTo  string
}

var retryTime = regexp.MustCompile(`retry after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`)

// groupMessages groups limited orders by message (without its retry
// time) and likely causes, in order of first appearance.
func groupMessages(orders []LimitedOrder) []messageGroup {
	f := cellFmt{}
	var out []messageGroup
	index := map[string]int{}
	for _, o := range orders {
		msg := retryTime.ReplaceAllString(o.Message, "retry after …")
		causes := strings.Join(o.Causes, "; ")
		key := msg + "\x00" + causes
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, messageGroup{Message: msg, Domains: f.list(o.Domains), Limits: f.list(o.Limits), Causes: causes,
				First: f.time(o.IssuedAt), RetryFrom: f.time(o.RetryAfter)})
		}
		g := &out[i]
		g.Orders++
		g.Last, g.RetryTo = f.time(o.IssuedAt), f.time(o.RetryAfter)
	}
	return out
}

// stylesheet is the page's inline CSS.
const stylesheet = `body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a202c; background: #fff; margin: 2em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #e2e8f0; padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e2e8f0; text-align: left; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; }
td.n, th.n { text-align: right; }
.note { color: #4a5568; }
.over { background: #fff5f5; }
.answer li { font-size: 1.1em; margin: .3em 0; }
details { margin: .5em 0 1em; }
summary { cursor: pointer; color: #2b6cb0; }
.card { border: 1px solid #e2e8f0; border-radius: 6px; padding: .6em 1em; margin: .6em 0; }
.msg { font-family: ui-monospace, monospace; font-size: 12px; color: #742a2a; }
td:first-child { white-space: nowrap; }
svg { display: block; margin: .5em 0 1em; }
svg text { font: 11px system-ui, sans-serif; fill: #4a5568; }
svg text.axis { font-weight: 600; fill: #2d3748; }
`

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ctlimits report</title>
<style>
{{.Style}}</style>
</head>
<body>
<h1>ctlimits report</h1>
<p>{{.Headline}}<br>{{.Counts}}</p>
{{define "table"}}{{if .Rows}}<table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{else}}<p class="note">None.</p>{{end}}{{end}}
<h2>Answer</h2>
<ul class="answer">{{range .Answers}}<li>{{.}}</li>{{end}}</ul>
<h2>Override sizing</h2>
<p>{{.SizingLine}}</p>
{{if .Sizing}}{{template "table" .SizingTable}}
{{range .Sizing}}<div class="card"><b>{{.Domain}}</b>: {{.Advice}}{{if .Note}} <span class="note">({{.Note}})</span>{{end}}
<br>Account-level override: {{.Account.Reason}}
<br>The form: {{.Form}}</div>
{{end}}{{end}}
{{if .R.Plan}}<h2>When the plan finishes</h2>
<p>{{.FinishLine}}</p>
{{if .R.Plan.OK}}{{template "table" .Plan}}
<h3>By registered domain</h3>
{{template "table" .PlanDomains}}{{end}}
{{end}}<h2>Headroom now</h2>
<p>{{.HeadLine}}</p>
{{if .R.HeadNow}}{{template "table" .Headroom}}{{end}}
<h2>Summary</h2>
<h3>By issuer group</h3>
{{template "table" .Groups}}
<h3>Limited orders per limit</h3>
{{template "table" .Limits}}
<h3>Logs</h3>
{{template "table" .Logs}}
<h3>Issuance per day</h3>
{{.Daily}}
<h2>{{.LimitedTitle}}</h2>
<p class="note">{{.LimitedNote}}</p>
<p>{{.LimitedLine}}</p>
{{if .Repeated}}<h3>By message</h3>
<table><tr><th class="n">orders</th><th>message (retry time left out)</th><th>registered domains</th><th>limits</th><th>issued (UTC)</th><th>retry after (UTC)</th><th>likely causes</th></tr>
{{range .Repeated}}<tr class="group"><td class="n">{{.Orders}}</td><td><span class="msg">{{.Message}}</span></td><td>{{.Domains}}</td><td>{{.Limits}}</td><td>{{.First}}{{if ne .First .Last}} to {{.Last}}{{end}}</td><td>{{.RetryFrom}}{{if ne .RetryFrom .RetryTo}} to {{.RetryTo}}{{end}}</td><td>{{.Causes}}</td></tr>
{{end}}</table>
<details><summary>Every limited order ({{len .Limited}})</summary>
<table><tr><th>issued_at (UTC)</th><th>registered domains</th><th>limits</th><th>retry after (UTC)</th><th>names</th><th>message and likely causes</th></tr>
{{range .Limited}}<tr class="over"><td>{{.When}}</td><td>{{.Domains}}</td><td>{{.Limits}}</td><td>{{.Retry}}</td><td>{{.Names}}</td><td><span class="msg">{{.Message}}</span>{{if .Causes}}<br>likely: {{.Causes}}{{end}}</td></tr>
{{end}}</table></details>{{end}}
<h2>Registered domains</h2>
<p class="note">By new certificates; * marks a --domain. Peak: most new certificates in any 168 hours.</p>
{{template "table" .Domains}}
{{if .Levels}}<h3>Bucket level over time (CertificatesPerDomain)</h3>
<p class="note">Tokens left after each order (lowest and last per time bin), refilling at burst per 168 hours in between.</p>
{{range .Levels}}{{.}}{{end}}{{end}}
{{if .R.Notes}}<h2>Notes</h2><ul>{{range .R.Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p class="note">schema_version {{.R.SchemaVersion}} · policy {{.R.Policy}} · generated by ctlimits, offline</p>
</body>
</html>
`))

const (
	colNew     = "#3182ce"
	colRenewal = "#38a169"
	colLimited = "#e53e3e"
)

// dailyChart is a stacked bar chart of new, renewal and limited orders per
// day, its axes labelled with their units.
func dailyChart(days []DayCount, limited string) string {
	if len(days) == 0 {
		return `<p class="note">No orders.</p>`
	}
	const W, H, left, right, top, bottom = 1000, 280, 64, 10, 24, 44
	first, _ := time.Parse("2006-01-02", days[0].Day)
	last, _ := time.Parse("2006-01-02", days[len(days)-1].Day)
	n := int(last.Sub(first).Hours()/24) + 1
	var peak int64 = 1
	for _, d := range days {
		peak = max(peak, d.New+d.Renewal+d.Limited)
	}
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	bw := pw / float64(n)
	y := func(v int64) float64 { return ph * float64(v) / float64(peak) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="issuance per day">`, W, H, W, H)
	axes(&b, left, top, pw, ph, peak, "certificates per day")
	for _, d := range days {
		t, _ := time.Parse("2006-01-02", d.Day)
		i := int(t.Sub(first).Hours() / 24)
		x := float64(left) + float64(i)*bw
		base := float64(top) + ph
		for _, seg := range []struct {
			v   int64
			col string
		}{{d.New, colNew}, {d.Renewal, colRenewal}, {d.Limited, colLimited}} {
			if seg.v == 0 {
				continue
			}
			h := y(seg.v)
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s: %d</title></rect>`,
				x+bw*0.1, base-h, max(bw*0.8, 0.8), h, seg.col, d.Day, seg.v)
			base -= h
		}
	}
	// Day ticks: at most 8, evenly spaced, each under its bar's middle.
	step := max((n+7)/8, 1)
	for i := 0; i < n; i += step {
		x := float64(left) + (float64(i)+0.5)*bw
		fmt.Fprintf(&b, `<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" stroke="#a0aec0"/><text x="%.2f" y="%.2f" text-anchor="middle">%s</text>`,
			x, float64(top)+ph, x, float64(top)+ph+4, x, float64(top)+ph+16, first.AddDate(0, 0, i).Format("2006-01-02"))
	}
	xTitle(&b, left, pw, H, "day (UTC)")
	legend(&b, left, 14, []string{"new", "renewal", limited}, []string{colNew, colRenewal, colLimited})
	b.WriteString(`</svg>`)
	return b.String()
}

// axes draws the value gridlines with their numbers, and the value axis's
// title (its unit) turned along the axis.
func axes(b *strings.Builder, left, top int, pw, ph float64, peak int64, title string) {
	for _, v := range []int64{0, peak / 2, peak} {
		yy := float64(top) + ph - ph*float64(v)/float64(max(peak, 1))
		fmt.Fprintf(b, `<line x1="%d" y1="%.2f" x2="%.2f" y2="%.2f" stroke="#e2e8f0"/><text x="%d" y="%.2f" text-anchor="end">%d</text>`,
			left, yy, float64(left)+pw, yy, left-6, yy+4, v)
	}
	fmt.Fprintf(b, `<text class="axis" transform="rotate(-90)" x="%.2f" y="14" text-anchor="middle">%s</text>`, -(float64(top) + ph/2), html.EscapeString(title))
}

// xTitle writes the time axis's title (its unit) under the axis.
func xTitle(b *strings.Builder, left int, pw float64, h int, title string) {
	fmt.Fprintf(b, `<text class="axis" x="%.2f" y="%d" text-anchor="middle">%s</text>`, float64(left)+pw/2, h-4, html.EscapeString(title))
}

func legend(b *strings.Builder, x, y int, labels, colors []string) {
	for i, l := range labels {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`, x, y-9, colors[i], x+14, y, html.EscapeString(l))
		x += 24 + 7*len(l)
	}
}

// levelChart draws one domain's bucket level: the sampled levels after
// orders, with the refill in between at burst per 168 hours (the default
// and every override tier refill that way).
func levelChart(s *BucketSeries, from, to time.Time) string {
	const W, H, left, right, top, bottom = 1000, 200, 64, 10, 24, 44
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	span := max(to.Sub(from), time.Hour)
	burst := max(s.Burst, 1)
	x := func(t time.Time) float64 { return float64(left) + pw*float64(t.Sub(from))/float64(span) }
	y := func(v float64) float64 { return float64(top) + ph - ph*v/float64(burst) }
	rate := float64(burst) / float64(168*time.Hour) // tokens per ns
	var pts []string
	add := func(t time.Time, v float64) { pts = append(pts, fmt.Sprintf("%.2f,%.2f", x(t), y(v))) }
	add(from, float64(burst))
	prevT, prevV := from, float64(burst)
	for _, p := range s.Points {
		// Refill from the previous point until full or until this one.
		gap := float64(p.T.Sub(prevT))
		if full := (float64(burst) - prevV) / rate; full < gap {
			add(prevT.Add(time.Duration(full)), float64(burst))
			add(p.T, float64(burst))
		} else {
			add(p.T, prevV+gap*rate)
		}
		add(p.T, float64(p.Tokens))
		prevT, prevV = p.T, float64(p.Tokens)
	}
	if gap := float64(to.Sub(prevT)); gap > 0 {
		if full := (float64(burst) - prevV) / rate; full < gap {
			add(prevT.Add(time.Duration(full)), float64(burst))
			add(to, float64(burst))
		} else {
			add(to, prevV+gap*rate)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="bucket level of %s">`,
		W, H, W, H, html.EscapeString(s.Domain))
	axes(&b, left, top, pw, ph, burst, "tokens left")
	fmt.Fprintf(&b, `<polygon points="%.2f,%.2f %s %.2f,%.2f" fill="#bee3f8" stroke="none"/>`, x(from), y(0), strings.Join(pts, " "), x(to), y(0))
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, strings.Join(pts, " "), colNew)
	for _, p := range s.Points {
		if p.Tokens == 0 {
			fmt.Fprintf(&b, `<circle cx="%.2f" cy="%.2f" r="2.5" fill="%s"/>`, x(p.T), y(0), colLimited)
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="14" font-weight="600">%s: tokens left of %d (CertificatesPerDomain, refills %d per 168 h)</text>`, left, html.EscapeString(s.Domain), burst, burst)
	// Time ticks: the ends and three between.
	for i := 0; i <= 4; i++ {
		t := from.Add(span * time.Duration(i) / 4)
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<line x1="%.2f" y1="%.2f" x2="%.2f" y2="%.2f" stroke="#a0aec0"/><text x="%.2f" y="%.2f" text-anchor="%s">%s</text>`,
			x(t), float64(top)+ph, x(t), float64(top)+ph+4, x(t), float64(top)+ph+16, anchor, t.UTC().Format("2006-01-02 15:04"))
	}
	xTitle(&b, left, pw, H, "time (UTC)")
	b.WriteString(`</svg>`)
	return b.String()
}
