package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
)

// Replaying CT history (ctlimits replay --data DIR): orders come from the
// certificates view, in time order, and decisions go to
// DATA/decisions/policy=<name>/decisions.parquet.

// addCTReplayFlags defines the flags of a replay over DATA.
func addCTReplayFlags(fs *pflag.FlagSet) {
	fs.String("data", "", "replay the certificates ingested into this data `directory` (instead of --orders)")
	fs.String("issuers", "production", "which certificates: production (Let's Encrypt), staging, other (other CAs, as if from Let's Encrypt), all, or a regular expression on the issuer name")
	fs.StringSlice("domain", nil, "replay only the orders connected to these registered domains (repeatable)")
	fs.String("since", "", "first order to report (RFC 3339 or YYYY-MM-DD); earlier orders warm the buckets up")
	fs.String("until", "", "last instant to replay (RFC 3339 or YYYY-MM-DD, exclusive)")
}

// stream is one independent replay: a set of issuers under one policy.
type stream struct {
	label  string // for messages: "Let's Encrypt production"
	where  string // SQL condition on the certificates view
	args   []any
	policy *replay.Policy
}

// warmUp is how far before --since orders are replayed without being
// reported: the renewal lookback, which also covers any bucket's refill.
const warmUp = 120 * 24 * time.Hour

func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time or a date (2026-03-01)", flag, s)
}

// ctStreams turns --issuers and --policy into the replays to run.
// Staging certificates are never mixed silently into a production replay:
// they always get a stream of their own, under letsencrypt-staging unless
// --policy names another policy for a staging-only replay.
// explicit says the user chose the policy (or its limits) for this replay.
func ctStreams(issuers string, main *replay.Policy, explicit bool) ([]stream, error) {
	staging := func() (*replay.Policy, error) {
		if explicit {
			return main, nil
		}
		p, err := replay.LookupPolicy("letsencrypt-staging")
		if err != nil {
			return nil, err
		}
		p.AssumeARI = main.AssumeARI
		return p, nil
	}
	switch issuers {
	case "production":
		return []stream{{"Let's Encrypt production", "issuer_group = 'letsencrypt'", nil, main}}, nil
	case "other":
		return []stream{{"other CAs", "issuer_group = 'other'", nil, main}}, nil
	case "staging":
		p, err := staging()
		if err != nil {
			return nil, err
		}
		return []stream{{"Let's Encrypt staging", "issuer_group = 'letsencrypt-staging'", nil, p}}, nil
	case "all":
		p, err := staging()
		if err != nil {
			return nil, err
		}
		return []stream{
			{"Let's Encrypt production and other CAs", "issuer_group <> 'letsencrypt-staging'", nil, main},
			{"Let's Encrypt staging", "issuer_group = 'letsencrypt-staging'", nil, p},
		}, nil
	}
	if _, err := regexp.Compile(issuers); err != nil {
		return nil, usagef("--issuers %q: not production, staging, other, all, or a valid regular expression: %v", issuers, err)
	}
	p, err := staging()
	if err != nil {
		return nil, err
	}
	return []stream{
		{"issuers matching " + issuers, "regexp_matches(issuer, ?) AND issuer_group <> 'letsencrypt-staging'", []any{issuers}, main},
		{"staging issuers matching " + issuers, "regexp_matches(issuer, ?) AND issuer_group = 'letsencrypt-staging'", []any{issuers}, p},
	}, nil
}

// policyDirName makes a policy name safe for a directory.
func policyDirName(p *replay.Policy) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == '=' {
			return '_'
		}
		return r
	}, p.Name)
}

// ctReplay is one replay of CT history in DATA.
type ctReplay struct {
	data         string
	streams      []stream
	since, until time.Time
	domains      []string // registered domains; empty: all
	format, out  string   // out "": DATA/decisions/policy=<name>/
	quiet        bool
	// done, if set, sees each stream's Replayer after its last order.
	done func(*replay.Replayer)
}

// streamResult is what one stream of a ctReplay did.
type streamResult struct {
	stream
	counts             orderio.Counts
	overModel, skipped int64
	dest               string
}

func runReplayData(ctx context.Context, env *cmdEnv, data string) error {
	fs := env.fs
	issuers, _ := fs.GetString("issuers")
	main, err := policyFromFlags(fs)
	if err != nil {
		return err
	}
	c := ctReplay{data: data}
	if c.streams, err = ctStreams(issuers, main, fs.Changed("policy") || fs.Changed("limits") || fs.Changed("overrides")); err != nil {
		return err
	}
	sinceS, _ := fs.GetString("since")
	untilS, _ := fs.GetString("until")
	if c.since, err = parseWhen("since", sinceS); err != nil {
		return err
	}
	if c.until, err = parseWhen("until", untilS); err != nil {
		return err
	}
	c.domains, _ = fs.GetStringSlice("domain")
	for i, d := range c.domains {
		rd, err := replay.RegisteredDomain(d)
		if err != nil {
			return usagef("--domain %q: %v", d, err)
		}
		c.domains[i] = rd
	}
	c.quiet, _ = fs.GetBool("quiet")
	c.format, _ = fs.GetString("format")
	c.out, _ = fs.GetString("out")
	if !fs.Changed("format") {
		c.format = "parquet"
	}
	if c.out != "" && len(c.streams) > 1 {
		return usagef("--out holds one replay, but --issuers %s makes %d (production and staging are replayed apart); write into DATA instead", issuers, len(c.streams))
	}
	results, err := c.run(ctx, env)
	if err != nil {
		return err
	}
	if len(results) == 0 && !c.quiet {
		fmt.Fprintf(env.stderr, "ctlimits replay: no certificates in %s matched --issuers %s\n", data, issuers)
	}
	return nil
}

// run replays each stream and reports on stderr.
func (c *ctReplay) run(ctx context.Context, env *cmdEnv) ([]streamResult, error) {
	db, err := sql.Open(c.data)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if !db.Params.HasEntries {
		return nil, fmt.Errorf("no certificates in %s: run 'ctlimits ingest --data %s --log LOG' first", c.data, c.data)
	}
	var results []streamResult
	var written []string
	for _, st := range c.streams {
		res, err := c.replayStream(ctx, env, db, st)
		if errors.Is(err, errNoOrders) {
			continue
		}
		if err != nil {
			return results, err
		}
		results = append(results, res)
		written = append(written, filepath.Dir(res.dest))
		if !c.quiet {
			fmt.Fprintf(env.stderr, "ctlimits replay: %s under %s: %s; %d over the model (issued although the model would have limited them); %d skipped -> %s\n",
				st.label, st.policy.Name, res.counts, res.overModel, res.skipped, res.dest)
		}
	}
	if c.out == "" && len(written) > 0 {
		// DATA/decisions holds the last replay only: drop the policies it
		// did not use, so the decisions view never mixes two replays.
		dirs, _ := filepath.Glob(filepath.Join(c.data, "decisions", "policy=*"))
		for _, d := range dirs {
			if !slices.Contains(written, d) {
				if err := os.RemoveAll(d); err != nil {
					return results, fmt.Errorf("couldn't remove the decisions of an earlier replay: %w", err)
				}
			}
		}
	}
	return results, nil
}

func (c *ctReplay) replayStream(ctx context.Context, env *cmdEnv, db *sql.DB, st stream) (streamResult, error) {
	res := streamResult{stream: st}
	where := []string{"(" + st.where + ")"}
	args := slices.Clone(st.args)
	if !c.since.IsZero() {
		where = append(where, "issued_at >= ?")
		args = append(args, c.since.Add(-warmUp))
	}
	if !c.until.IsZero() {
		where = append(where, "issued_at < ?")
		args = append(args, c.until)
	}
	q := orderio.CertificateQuery + " WHERE " + strings.Join(where, " AND ") + orderio.CertificateOrder
	rows, err := db.DB().QueryContext(ctx, q, args...)
	if err != nil {
		return res, fmt.Errorf("couldn't read certificates from %s: %w", c.data, err)
	}
	in := orderio.Reader(orderio.NewQueryReader(c.data+" certificates", rows))
	defer in.Close() // the query's rows, even when componentsOf replaces in
	if len(c.domains) > 0 {
		if in, err = componentsOf(ctx, in, c.domains); err != nil {
			return res, err
		}
	}
	res.dest = c.out
	if res.dest == "" {
		dir := sql.DecisionsDir(c.data, policyDirName(st.policy))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return res, fmt.Errorf("couldn't create %s: %w", dir, err)
		}
		res.dest = filepath.Join(dir, "decisions.parquet")
	}
	skip := func(rec *orderio.Record, err error) {
		if res.skipped++; res.skipped <= 3 && !c.quiet {
			fmt.Fprintf(env.stderr, "ctlimits replay: skipping certificate %s serial %s: %v\n", rec.Cert.Issuer, rec.Cert.Serial, err)
		}
	}
	err = writeOutput(res.dest, env.stdout, func(w io.Writer) error {
		out, err := orderio.NewWriterWith(c.format, w, orderio.WriterOptions{CT: true, Policy: st.policy.Name})
		if err != nil {
			return err
		}
		filtered := &sinceWriter{Writer: out, since: math.MinInt64}
		if !c.since.IsZero() {
			filtered.since = c.since.UnixNano()
		}
		if _, err = orderio.Stream(ctx, in, st.policy, filtered, orderio.Options{Skip: skip, Done: c.done}); err != nil {
			return err
		}
		res.counts, res.overModel = filtered.counts, filtered.counts.Limited
		if res.counts.Orders == 0 && c.out == "" {
			// Nothing matched: keep whatever an earlier replay wrote.
			return errNoOrders
		}
		return out.Close()
	})
	return res, err
}

var errNoOrders = errors.New("no orders")

// sinceWriter drops the warm-up orders before --since and counts the rest.
type sinceWriter struct {
	orderio.Writer
	since  int64
	counts orderio.Counts
}

func (s *sinceWriter) Write(r *orderio.Row) error {
	if r.Result.IssuedAt < s.since {
		return nil
	}
	s.counts.Add(r.Result)
	return s.Writer.Write(r)
}

// componentsOf keeps the orders connected to the given registered
// domains: their whole connected components, so the replay stays exact.
func componentsOf(ctx context.Context, in orderio.Reader, domains []string) (orderio.Reader, error) {
	recs, err := orderio.ReadAll(ctx, in)
	if err != nil {
		return nil, err
	}
	// Orders the model rejects are left out here, as the replay skips
	// them; the rest join components in the order Components.Add sees
	// them.
	var namer replay.Namer
	var comps replay.Components
	var kept []orderio.Record
	var hits []int
	for i := range recs {
		p, err := namer.Prepare(&recs[i].Order)
		if err != nil {
			continue
		}
		comps.Add(&p)
		if slices.ContainsFunc(p.Domains, func(d string) bool { return slices.Contains(domains, d) }) {
			hits = append(hits, len(kept))
		}
		kept = append(kept, recs[i])
	}
	wanted := map[int32]bool{}
	for _, i := range hits {
		wanted[comps.Of(i)] = true
	}
	var out []orderio.Record
	for i := range kept {
		if wanted[comps.Of(i)] {
			out = append(out, kept[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no certificates for %s in %s", strings.Join(domains, ", "), in.Name())
	}
	return orderio.NewSliceReader(in.Name(), out), nil
}
