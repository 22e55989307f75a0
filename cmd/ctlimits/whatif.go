//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/ctreplay"
	"github.com/ctlimits/ctlimits/replay/whatif"
	"github.com/ctlimits/ctlimits/report"
	"github.com/ctlimits/ctlimits/sql"
)

// whatifFormats are the formats 'ctlimits whatif' writes.
var whatifFormats = []string{"text", "markdown", "json"}

func init() {
	register(&command{
		name:    "whatif",
		summary: "Re-simulate renewals under another certificate lifetime or cadence: which limit bites first, when, and the override needed",
		usage: "--data DIR (--lifetime D | --profile P) [--renew-at F|ari | --renew-every D[..D]] [--weeks N]\n" +
			"                [--domain D ...] [--at TIME] [--assume-ari] [--format text|markdown|json] [--out FILE]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("data", "./data", "data `directory` with ingested entries (the history to start from)")
			fs.String("issuers", "production", "which certificates: production, other, all (production and other CAs; staging is not projected), or a regular expression on the issuer name")
			fs.StringArray("domain", nil, "project only the exact sets with a name under this registered `domain` (repeatable; default: every live certificate)")
			fs.String("lifetime", "", "lifetime of the projected certificates: 45d, 64d, 90d, 160h, or a Go duration (default: the --profile's on the start date)")
			fs.String("profile", "", "profile the projected orders ask for: classic, tlsserver or shortlived (its names cap applies; default: the profile issuing --lifetime)")
			fs.String("renew-at", "", "renew at this fraction of each certificate's lifetime (2/3, 0.5), or \"ari\": in Boulder's ARI window (the default)")
			fs.String("renew-every", "", "renew this long after each certificate's NotBefore: 2d, or a range 2d..3d jittered per certificate")
			fs.Int("weeks", 12, "how many weeks to project from the start")
			fs.String("at", "", "the start (\"today\"), RFC 3339 or YYYY-MM-DD (default: the newest order in DATA)")
			addPolicyFlags(fs)
			fs.Float64("headroom", 1.2, "factor on a CertificatesPerDomain override's size before choosing a tier (as the report's)")
			fs.Bool("no-size", false, "do not size overrides (each size costs a few replays of the bucket's connected component)")
			fs.String("format", "text", "output format: "+strings.Join(whatifFormats, ", "))
			fs.StringP("out", "o", "", "write to this file, atomically (default: stdout)")
			fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines preparing the history's orders")
			fs.Bool("from-scratch", false, "replay the history from scratch, ignoring the states 'ctlimits replay --data' saved")
			fs.Bool("quiet", false, "no progress lines on stderr")
		},
		run: runWhatif,
	})
}

// whatifRun is one what-if, settled from the flags.
type whatifRun struct {
	data    string
	stream  ctreplay.Stream
	domains []string
	cadence whatif.Cadence
	at      time.Time // zero: the newest order
	weeks   int
	size    bool
	head    float64
	workers int
	scratch bool
	log     io.Writer
}

func runWhatif(ctx context.Context, env *cmdEnv, args []string) error {
	fs := env.fs
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	format, _ := fs.GetString("format")
	if !slices.Contains(whatifFormats, format) {
		return usagef("unknown --format %q; choose one of %s", format, strings.Join(whatifFormats, ", "))
	}
	w := whatifRun{}
	w.data, _ = fs.GetString("data")
	p, err := policyFromFlags(fs)
	if err != nil {
		return err
	}
	issuers, _ := fs.GetString("issuers")
	if issuers == "staging" {
		return usagef("--issuers staging: the what-if projects production issuance; staging has its own limits")
	}
	explicit := fs.Changed("policy") || fs.Changed("limits") || fs.Changed("overrides")
	streams, err := ctreplay.Streams(issuers, p, explicit)
	if err != nil {
		return usageError{err}
	}
	w.stream = streams[0] // production (and other CAs); staging is replayed apart and not projected
	for _, d := range mustStrings(fs.GetStringArray("domain")) {
		rd, err := replay.RegisteredDomain(d)
		if err != nil {
			return usagef("--domain %q: %v", d, err)
		}
		w.domains = append(w.domains, rd)
	}
	if w.cadence, err = cadenceFromFlags(fs); err != nil {
		return err
	}
	if w.weeks, _ = fs.GetInt("weeks"); w.weeks < 1 || w.weeks > 520 {
		return usagef("--weeks %d: want 1 to 520", w.weeks)
	}
	if s, _ := fs.GetString("at"); s != "" {
		if w.at, err = parseWhen("at", s); err != nil {
			return err
		}
	}
	if w.head, _ = fs.GetFloat64("headroom"); w.head < 1 {
		return usagef("--headroom %g: must be at least 1", w.head)
	}
	noSize, _ := fs.GetBool("no-size")
	w.size = !noSize
	if w.workers, _ = fs.GetInt("workers"); w.workers < 1 {
		return usagef("--workers %d: want 1 or more", w.workers)
	}
	w.scratch, _ = fs.GetBool("from-scratch")
	if quiet, _ := fs.GetBool("quiet"); !quiet {
		w.log = env.stderr
	}
	out, _ := fs.GetString("out")
	res, err := w.run(ctx)
	if err != nil {
		return err
	}
	return writeOutput(out, env.stdout, func(wr io.Writer) error { return res.write(wr, format) })
}

func mustStrings(s []string, _ error) []string { return s }

// cadenceFromFlags reads --lifetime, --profile, --renew-at and
// --renew-every. The lifetime of a --profile alone is settled at the
// start, once it is known (whatifRun.run).
func cadenceFromFlags(fs *pflag.FlagSet) (whatif.Cadence, error) {
	var c whatif.Cadence
	lifetime, _ := fs.GetString("lifetime")
	profile, _ := fs.GetString("profile")
	var err error
	if c.Profile, err = replay.ParseProfile(profile); err != nil {
		return c, usagef("--profile: %v", err)
	}
	if lifetime == "" && c.Profile == replay.NoProfile {
		return c, usagef("--lifetime (45d, 160h, ...) or --profile is required")
	}
	if lifetime != "" {
		if c.Lifetime, err = parseSpan(lifetime); err != nil {
			return c, usagef("--lifetime %q: %v", lifetime, err)
		}
	}
	at, _ := fs.GetString("renew-at")
	every, _ := fs.GetString("renew-every")
	switch {
	case at != "" && every != "":
		return c, usagef("give --renew-at or --renew-every, not both")
	case every != "":
		lo, hi, found := strings.Cut(every, "..")
		if c.EveryMin, err = parseSpan(lo); err == nil {
			c.EveryMax = c.EveryMin
			if found {
				c.EveryMax, err = parseSpan(hi)
			}
		}
		if err != nil {
			return c, usagef("--renew-every %q: %v (like 2d or 2d..3d)", every, err)
		}
	case at == "" || at == "ari":
		c.ARIWindow = true
	default:
		if c.RenewAt, err = parseFraction(at); err != nil {
			return c, usagef("--renew-at %q: %v", at, err)
		}
	}
	return c, nil
}

// parseSpan reads 45d, 1.5d, 160h, or any Go duration.
func parseSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || !(f > 0 && f <= 1e5) { // NaN too
			return 0, errors.New("want a positive number of days, like 45d")
		}
		return time.Duration(f * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration, like 45d, 160h or 90m")
	}
	return d, nil
}

// parseFraction reads 2/3 or 0.66.
func parseFraction(s string) (float64, error) {
	if n, d, ok := strings.Cut(s, "/"); ok {
		a, err1 := strconv.ParseFloat(strings.TrimSpace(n), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(d), 64)
		if err1 != nil || err2 != nil || b == 0 {
			return 0, errors.New("want a fraction like 2/3 or 0.5, or ari")
		}
		return a / b, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("want a fraction like 2/3 or 0.5, or ari")
	}
	return f, nil
}

// whatifResult is what the command prints.
type whatifResult struct {
	Data    string   `json:"data"`
	Policy  string   `json:"policy"`
	Stream  string   `json:"stream"`
	Domains []string `json:"domains"`
	// History: the orders replayed to reach the start, and from where.
	History     int64  `json:"history_orders"`
	HistoryFrom string `json:"history_from"`
	*whatif.Outcome
	// Tiers: the override tier per CertificatesPerDomain override.
	Tiers []whatifTier `json:"tiers"`
}

type whatifTier struct {
	Domain string `json:"domain"`
	Needed int64  `json:"needed_per_week"`
	Target int64  `json:"target_per_week"`
	Tier   int64  `json:"tier"`
}

func (w *whatifRun) logf(format string, args ...any) {
	if w.log != nil {
		fmt.Fprintf(w.log, "ctlimits whatif: "+format+"\n", args...)
	}
}

func (w *whatifRun) run(ctx context.Context) (*whatifResult, error) {
	db, err := sql.Open(w.data)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if !db.Params.HasEntries {
		return nil, fmt.Errorf("no CT entries in %s: run 'ctlimits ingest --data %s' first", w.data, w.data)
	}
	if w.at.IsZero() {
		var newest *time.Time
		q := `SELECT max(issued_at) FROM orders WHERE names IS NOT NULL AND (` + w.stream.Where + `)`
		if err := db.DB().QueryRowContext(ctx, q, w.stream.Args...).Scan(&newest); err != nil {
			return nil, fmt.Errorf("couldn't read the newest order: %w", db.Explain(err))
		}
		if newest == nil {
			return nil, fmt.Errorf("no %s certificates in %s", w.stream.Label, w.data)
		}
		w.at = newest.UTC()
	}
	if w.cadence.Lifetime == 0 {
		w.cadence.Lifetime = w.cadence.Profile.Lifetime(w.at)
	}
	if err := w.cadence.Validate(); err != nil {
		return nil, usageError{err}
	}
	certs, err := w.liveCerts(ctx, db)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate of %s in %s is valid at %s: nothing to renew", w.selection(), w.data, w.at.Format(time.RFC3339))
	}
	w.logf("%d live certificates of %s at %s", len(certs), w.selection(), w.at.Format(time.RFC3339))
	st, err := ctreplay.StateAt(ctx, ctreplay.Config{Data: w.data, Workers: w.workers, Resume: ctreplay.ResumeOptions{FromScratch: w.scratch}}, w.stream, w.at)
	if err != nil {
		return nil, err
	}
	w.logf("history: %d orders, %s", st.Orders, st.From)
	plan := &whatif.Plan{Cadence: w.cadence, Start: w.at, End: w.at.Add(time.Duration(w.weeks) * 7 * 24 * time.Hour), Certs: certs}
	out, err := whatif.Simulate(st.Replayer, plan)
	if err != nil {
		return nil, err
	}
	res := &whatifResult{Data: w.data, Policy: w.stream.Policy.Name, Stream: w.stream.Label, Domains: w.domains,
		History: st.Orders, HistoryFrom: st.From, Outcome: out, Tiers: []whatifTier{}}
	if res.Domains == nil {
		res.Domains = []string{}
	}
	if !w.size {
		return res, nil
	}
	for i := range out.Limits {
		lo := &out.Limits[i]
		if !lo.Bit || lo.Limit == whatif.NamesCap {
			continue
		}
		dom, err := replay.RegisteredDomain(strings.Split(lo.FirstBucket, ",")[0])
		if err != nil {
			return nil, err
		}
		// An override changes what the history left in the buckets:
		// each try replays the history of the bucket's connected
		// component under it (exact for the bucket), then the plan.
		start := func(p *replay.Policy) (*replay.Replayer, error) {
			s := w.stream
			s.Policy = p
			st, err := ctreplay.StateAt(ctx, ctreplay.Config{Data: w.data, Workers: w.workers, Domains: []string{dom}}, s, w.at)
			if err != nil {
				return nil, err
			}
			return st.Replayer, nil
		}
		ov, err := whatif.SizeOverride(start, w.stream.Policy, plan, lo)
		if err != nil {
			return nil, fmt.Errorf("couldn't size an override of %s for %s: %w", lo.Limit, lo.FirstBucket, err)
		}
		w.logf("sized %s for %s in %d replays", lo.Limit, ov.Key, ov.Replays)
		if lo.Limit == replay.CertificatesPerDomain.String() {
			target := int64(math.Ceil(float64(ov.Needed)*w.head - 1e-9))
			res.Tiers = append(res.Tiers, whatifTier{Domain: ov.Key, Needed: ov.Needed, Target: target, Tier: report.TierFor(target)})
		}
	}
	return res, nil
}

func (w *whatifRun) selection() string {
	if len(w.domains) == 0 {
		return w.stream.Label
	}
	return strings.Join(w.domains, ", ")
}

// liveCerts reads each exact set's newest certificate issued by the start,
// if it is still valid then.
func (w *whatifRun) liveCerts(ctx context.Context, db *sql.DB) ([]whatif.Cert, error) {
	cond := []string{"names IS NOT NULL", "(" + w.stream.Where + ")", "issued_at <= ?"}
	args := append(slices.Clone(w.stream.Args), w.at)
	if len(w.domains) > 0 {
		quoted := make([]string, len(w.domains))
		for i, d := range w.domains {
			quoted[i] = "'" + strings.ReplaceAll(d, "'", "''") + "'"
		}
		cond = append(cond, "list_has_any(registered_domains, ["+strings.Join(quoted, ", ")+"])")
	}
	q := `SELECT CAST(to_json(names) AS VARCHAR), issued_at, not_before, not_after FROM (
	  SELECT names, issued_at, not_before, not_after,
	    row_number() OVER (PARTITION BY fqdn_set_hash ORDER BY issued_at DESC, not_before DESC, serial) AS newest
	  FROM orders WHERE ` + strings.Join(cond, " AND ") + `)
	WHERE newest = 1 AND not_after > ?`
	args = append(args, w.at)
	rows, err := db.DB().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the live certificates: %w", db.Explain(err))
	}
	defer rows.Close()
	var certs []whatif.Cert
	for rows.Next() {
		var names string
		var c whatif.Cert
		if err := rows.Scan(&names, &c.IssuedAt, &c.NotBefore, &c.NotAfter); err != nil {
			return nil, fmt.Errorf("couldn't read the live certificates: %w", err)
		}
		if err := json.Unmarshal([]byte(names), &c.Names); err != nil {
			return nil, fmt.Errorf("couldn't read the live certificates: %w", err)
		}
		certs = append(certs, c)
	}
	return certs, rows.Err()
}

func (r *whatifResult) write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "markdown":
		return r.writeMarkdown(w)
	}
	return r.writeText(w)
}

const whatifTime = "2006-01-02 15:04"

func (r *whatifResult) headline() string {
	return fmt.Sprintf("%s, %d weeks from %s to %s", r.Cadence, int(r.End.Sub(r.Start)/(7*24*time.Hour)), r.Start.Format(whatifTime), r.End.Format(whatifTime))
}

func (r *whatifResult) projected() string {
	s := fmt.Sprintf("%d exact sets live; %d orders: %d new, %d renewals", r.Sets, r.Orders, r.New, r.Renewals)
	if r.ARI > 0 {
		s += fmt.Sprintf(" (%d ARI replacements)", r.ARI)
	}
	s += fmt.Sprintf(", %d limited, %d refused", r.Limited, r.Refused)
	if r.Retries > 0 {
		s += fmt.Sprintf(" (%d retries after a limit)", r.Retries)
	}
	if r.PeakWeek > 0 {
		s += fmt.Sprintf("; busiest week %d orders (from %s)", r.PeakWeek, r.PeakWeekStart.Format("2006-01-02"))
	}
	return s
}

// verdict is the answer in one paragraph.
func (r *whatifResult) verdict() string {
	if r.Orders == 0 {
		return fmt.Sprintf("No renewal falls in the %d weeks.", int(r.End.Sub(r.Start)/(7*24*time.Hour)))
	}
	if r.Binding == "" {
		s := fmt.Sprintf("No limit bites in %d weeks.", int(r.End.Sub(r.Start)/(7*24*time.Hour)))
		// The closest call: the fewest tokens left, as a share of the
		// burst.
		var best *whatif.LimitOutcome
		for i := range r.Limits {
			l := &r.Limits[i]
			if l.Fewest >= 0 && l.Burst > 0 && (best == nil || l.Fewest*best.Burst < best.Fewest*l.Burst) {
				best = l
			}
		}
		if best != nil {
			s += fmt.Sprintf(" Closest: %s, down to %d of %d tokens.", best.Limit, best.Fewest, best.Burst)
		}
		return s
	}
	l := r.Limits[0]
	s := fmt.Sprintf("%s bites first, on %s (%s): %d orders limited", l.Limit, l.First.Format(whatifTime), l.FirstBucket, l.Orders)
	if l.Limit == whatif.NamesCap {
		s = fmt.Sprintf("The names cap bites first, on %s: %s; %d orders refused. No override lifts it: split the names over certificates, or ask for a profile with a higher cap (classic).",
			l.First.Format(whatifTime), l.FirstBucket, l.Orders)
	} else if l.Override != nil {
		s += fmt.Sprintf("; an override of %s:%s of %d per week would let them through", l.Override.Limit, l.Override.Key, l.Override.Needed)
		for _, t := range r.Tiers {
			if t.Domain == l.Override.Key {
				switch {
				case t.Tier > 0:
					s += fmt.Sprintf(" (the %d tier, %d with headroom)", t.Tier, t.Target)
				default:
					s += " (above the largest tier: ask Let's Encrypt directly)"
				}
			}
		}
		s += "."
	} else {
		s += "."
	}
	return s
}

// limitCells are a limit's table cells, in text and markdown alike; none
// fills the cells that have no value.
func limitCells(l whatif.LimitOutcome, none string) (bites, first, fewest, override string) {
	bites, first, fewest, override = "no", none, none, none
	if l.Bit {
		bites, first = "yes", l.First.Format(whatifTime)
	}
	if l.Fewest >= 0 {
		fewest = fmt.Sprintf("%d of %d", l.Fewest, l.Burst)
	}
	if l.Override != nil {
		override = fmt.Sprintf("%d/week", l.Override.Needed)
	}
	return bites, first, fewest, override
}

func (r *whatifResult) writeText(w io.Writer) error {
	fmt.Fprintf(w, "WHAT-IF: %s\n", r.headline())
	fmt.Fprintf(w, "history: %s under %s, %d orders (%s)\n", r.Stream, r.Policy, r.History, r.HistoryFrom)
	fmt.Fprintf(w, "projected: %s\n\n", r.projected())
	if len(r.Limits) == 0 {
		_, err := fmt.Fprintf(w, "%s\n", r.verdict())
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  LIMIT\tBITES\tFIRST\tLIMITED\tBUCKETS\tFEWEST_LEFT\tOVERRIDE\n")
	for _, l := range r.Limits {
		bites, first, fewest, ov := limitCells(l, "-")
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%s\t%s\n", l.Limit, bites, first, l.Orders, l.Buckets, fewest, ov)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.verdict())
	return err
}

func (r *whatifResult) writeMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "## What-if: %s\n\n", r.headline())
	fmt.Fprintf(w, "- History: %s under %s, %d orders (%s)\n", r.Stream, r.Policy, r.History, r.HistoryFrom)
	fmt.Fprintf(w, "- Projected: %s\n\n", r.projected())
	fmt.Fprintf(w, "| limit | bites | first | limited | buckets | fewest left | override |\n|---|---|---|---:|---:|---|---|\n")
	for _, l := range r.Limits {
		bites, first, fewest, ov := limitCells(l, "")
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %s | %s |\n", l.Limit, bites, first, l.Orders, l.Buckets, fewest, ov)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", r.verdict())
	return err
}
