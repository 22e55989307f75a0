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
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
)

// Replaying CT history (ctlimits replay --data DIR): orders come from the
// certificates view, in time order, and decisions go to
// DATA/decisions/policy=<name>/part-<n>.parquet.

// addCTReplayFlags defines the flags of a replay over DATA.
func addCTReplayFlags(fs *pflag.FlagSet) {
	fs.String("data", "", "replay the certificates ingested into this data `directory` (instead of --orders)")
	fs.String("issuers", "production", "which certificates: production (Let's Encrypt), staging, other (other CAs, as if from Let's Encrypt), all, or a regular expression on the issuer name")
	fs.StringSlice("domain", nil, "replay only the orders connected to these registered domains (repeatable)")
	fs.String("since", "", "first order to report (RFC 3339 or YYYY-MM-DD); earlier orders warm the buckets up")
	fs.String("until", "", "last instant to replay (RFC 3339 or YYYY-MM-DD, exclusive)")
	fs.Int("workers", runtime.GOMAXPROCS(0), "replay independent domains on this many goroutines (into DATA; the decisions are the same for any number)")
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
	workers      int      // goroutines replaying components (into DATA); 0: GOMAXPROCS
	quiet        bool
	// done, if set, sees each stream's Replayers after its last order:
	// one per worker, and each registered domain's state lives in exactly
	// one of them (the others see its bucket full).
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
	if c.workers, _ = fs.GetInt("workers"); c.workers < 1 {
		return usagef("--workers %d: want 1 or more", c.workers)
	}
	if c.format, err = orderio.ChooseOutputFormat(c.format, fs.Changed("format"), c.out, "parquet"); err != nil {
		return usageError{err}
	}
	if c.out == "" && c.format != "parquet" {
		return usagef("--format %s needs --out FILE (or -o - for stdout): DATA keeps decisions in Parquet", c.format)
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
		written = append(written, res.dest)
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
	// DuckDB deduplicates entries into certificates; Go sorts them (see
	// orderio.CertTable for why not ORDER BY).
	start := time.Now()
	rows, err := db.DB().QueryContext(ctx, orderio.CertTableQuery+" WHERE "+strings.Join(where, " AND "), args...)
	if err != nil {
		return res, fmt.Errorf("couldn't read certificates from %s: %w", c.data, err)
	}
	deduped := time.Now()
	tbl, err := orderio.LoadCertTable(ctx, c.data+" certificates", rows)
	if err != nil {
		return res, err
	}
	loaded := time.Now()
	tbl.Sort()
	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	c.progressf(env, "%s: %d certificates deduplicated by DuckDB in %s, read in %s, sorted in %s", st.label, tbl.Len(),
		round(deduped.Sub(start)), round(loaded.Sub(deduped)), round(time.Since(loaded)))
	in := tbl.Reader()
	if len(c.domains) > 0 {
		if in, err = componentsOf(ctx, in, c.domains); err != nil {
			return res, err
		}
	}
	skip := func(rec *orderio.Record, err error) {
		if res.skipped++; res.skipped <= 3 && !c.quiet {
			fmt.Fprintf(env.stderr, "ctlimits replay: skipping certificate %s serial %s: %v\n", rec.Cert.Issuer, rec.Cert.Serial, err)
		}
	}
	since := int64(math.MinInt64)
	if !c.since.IsZero() {
		since = c.since.UnixNano()
	}
	if c.out == "" {
		// Into DATA: connected components replayed in parallel, each
		// worker writing its own part file.
		return c.replayParts(ctx, env, st, tbl, in, since, skip, res)
	}
	res.dest = c.out
	err = writeOutput(res.dest, env.stdout, func(w io.Writer) (err error) {
		res.counts, err = replayInto(ctx, w, c.format, in, st, since, orderio.Options{Skip: skip, Done: c.done})
		res.overModel = res.counts.Limited
		return err
	})
	return res, err
}

// replayInto replays in's orders under st's policy and writes the
// decisions of those issued from since on to w, in format; it returns
// their counts.
func replayInto(ctx context.Context, w io.Writer, format string, in orderio.Reader, st stream, since int64, opt orderio.Options) (orderio.Counts, error) {
	out, err := orderio.NewWriterWith(format, w, orderio.WriterOptions{CT: true, Policy: st.policy.Name})
	if err != nil {
		return orderio.Counts{}, err
	}
	filtered := &sinceWriter{Writer: out, since: since}
	if _, err := orderio.Stream(ctx, in, st.policy, filtered, opt); err != nil {
		return orderio.Counts{}, err
	}
	return filtered.counts, out.Close()
}

// replayParts replays in's orders into DATA/decisions/policy=<name>/ as
// one part file per worker. Workers replay whole connected components
// (orderio.CertTable.Partition), so the decisions are those of one serial
// replay. The directory is replaced whole: parts are written into a
// hidden directory beside it, which is then renamed into place.
func (c *ctReplay) replayParts(ctx context.Context, env *cmdEnv, st stream, tbl *orderio.CertTable, in orderio.Reader, since int64,
	skip func(*orderio.Record, error), res streamResult) (streamResult, error) {
	parts := []orderio.Reader{in}
	if len(c.domains) == 0 { // --domain selections are small: one worker
		workers := c.workers
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		start := time.Now()
		var err error
		var ps orderio.PartitionStats
		if parts, ps, err = tbl.Partition(ctx, workers, skip); err != nil {
			return res, err
		}
		skip = nil // Partition passed them on
		c.progressf(env, "%s: %d connected components of registered domains (the largest %d orders) on %d workers %v, in %s",
			st.label, ps.Components, ps.Largest, len(parts), ps.PerWorker, time.Since(start).Round(100*time.Millisecond))
	}
	replayStart := time.Now()
	dir := sql.DecisionsDir(c.data, policyDirName(st.policy))
	res.dest = dir
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return res, fmt.Errorf("couldn't create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".*.tmp")
	if err != nil {
		return res, fmt.Errorf("couldn't create decisions in %s: %w", parent, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed; left behind only on error

	g, gctx := errgroup.WithContext(ctx)
	counts := make([]orderio.Counts, len(parts))
	reps := make([]*replay.Replayer, len(parts))
	for w, part := range parts {
		g.Go(func() error {
			path := filepath.Join(tmp, sql.DecisionsPart(w))
			return writeOutput(path, nil, func(f io.Writer) (err error) {
				opt := orderio.Options{Workers: 1, Skip: skip, PositionFromLine: true,
					Done: func(r *replay.Replayer) { reps[w] = r }}
				counts[w], err = replayInto(gctx, f, "parquet", part, st, since, opt)
				return err
			})
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	for w := range parts {
		res.counts.Merge(counts[w])
		if c.done != nil {
			c.done(reps[w])
		}
	}
	res.overModel = res.counts.Limited
	if res.counts.Orders == 0 {
		// Nothing matched: keep whatever an earlier replay wrote.
		return res, errNoOrders
	}
	if err := replaceDir(tmp, dir); err != nil {
		return res, fmt.Errorf("couldn't put the decisions in place: %w", err)
	}
	c.progressf(env, "%s: replayed and written in %s", st.label, time.Since(replayStart).Round(100*time.Millisecond))
	return res, nil
}

// replaceDir renames dir new over dir old, which may exist: old is moved
// aside first and removed after, so a reader sees the old directory or
// the new one (or, for a moment, none), never a mix.
func replaceDir(newDir, old string) error {
	aside := ""
	if _, err := os.Stat(old); err == nil {
		aside = newDir + ".old"
		if err := os.Rename(old, aside); err != nil {
			return err
		}
	}
	if err := os.Rename(newDir, old); err != nil {
		if aside != "" {
			os.Rename(aside, old)
		}
		return err
	}
	if d, err := os.Open(filepath.Dir(old)); err == nil {
		d.Sync()
		d.Close()
	}
	if aside != "" {
		return os.RemoveAll(aside)
	}
	return nil
}

var errNoOrders = errors.New("no orders")

// progressf tells what a long replay is doing, on stderr, unless quiet.
func (c *ctReplay) progressf(env *cmdEnv, format string, args ...any) {
	if !c.quiet {
		fmt.Fprintf(env.stderr, "ctlimits replay: "+format+"\n", args...)
	}
}

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
