// Package ctreplay replays the certificates ingested into a DATA directory
// through the rate-limit model: DuckDB deduplicates log entries into
// certificates (sql), orderio turns them into orders and decisions, replay
// decides, and the decisions go to a new decisions generation in DATA
// (sql/datadir), made current in one step.
//
// Run is the whole engine; cmd/ctlimits only turns flags into a Config.
package ctreplay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// WarmUp is how far before Config.Since orders are replayed without being
// reported: the renewal lookback, which also covers any bucket's refill.
const WarmUp = 120 * 24 * time.Hour

// Config is one replay of the CT history in a DATA directory.
type Config struct {
	// Data is the DATA directory. Required.
	Data string
	// Streams to replay (Streams builds them). Required.
	Streams []Stream
	// Since, if set, is the first order whose decision is written; the
	// WarmUp before it is replayed to fill the buckets. Optional.
	Since time.Time
	// Until, if set, ends the replay (exclusive). Optional.
	Until time.Time
	// Domains, if set, restricts the replay to the connected components
	// of these registered domains (exact: nothing outside a component can
	// change a decision inside it). Optional.
	Domains []string
	// Workers replay independent components in parallel into DATA; the
	// decisions are the same for any number. Default GOMAXPROCS.
	Workers int
	// Out, if set, receives the decisions of the single stream as one
	// time-ordered stream in Format, instead of DATA: a file written
	// atomically, or "-" for Stdout.
	Out, Format string
	Stdout      io.Writer
	// Log receives progress lines and skipped-certificate notes; nil is
	// quiet.
	Log io.Writer
	// Now names the decisions generation. Default time.Now().
	Now time.Time
	// InMemory loads the stream's whole history into one table and
	// replays its connected components on Workers goroutines. Without
	// it, history is read a NotBefore slice at a time (Chunks) and
	// replayed by one Replayer, in memory bounded by the live state and
	// the slices. The decisions are the same.
	InMemory bool
	// Chunks shape the slices. Optional.
	Chunks ChunkOptions
	// Resume controls the saved states of full replays into DATA.
	// Optional.
	Resume ResumeOptions
	// Plan, if set, lays planned orders over the history of their
	// registered domains (plan.go); the decisions go to Out, never into
	// DATA. Optional.
	Plan *Plan
}

// StreamResult is what one stream did.
type StreamResult struct {
	Stream
	Counts orderio.Counts
	// OverModel counts the certificates the model would have limited:
	// every limited decision of CT history was in fact issued.
	OverModel int64
	// Plan counts the planned orders' decisions (Config.Plan), which
	// Counts includes.
	Plan orderio.Counts
	// Skipped counts certificates whose names the model rejects.
	Skipped int64
	// Dest is where the decisions went.
	Dest string
	// Late counts the entries, new since the last replay, that were logged
	// before its watermark: they made this replay go back further.
	Late int64
	// Watermark: the decisions of orders from here on are provisional
	// (later entries may still change them). Zero for partial replays.
	Watermark time.Time
	resume    *pendingResume
	// replayers hold the final state: one per worker, each registered
	// domain's state in exactly one of them.
	replayers []*replay.Replayer
}

// Level is a registered domain's CertificatesPerDomain level at instant
// at (Unix ns) after the stream's last order: tokens left, the burst, and
// when the bucket is full again.
func (r *StreamResult) Level(domain string, at int64) (remaining, burst, fullAt int64) {
	remaining = math.MaxInt64
	for _, rep := range r.replayers {
		// The other workers never saw the domain and report it full, so
		// the lowest level is the domain's own.
		if t, b, f := rep.Level(domain, at); t < remaining {
			remaining, burst, fullAt = t, b, f
		}
	}
	if remaining == math.MaxInt64 {
		l := r.Policy.Limits[replay.CertificatesPerDomain]
		return l.Burst, l.Burst, at
	}
	return remaining, burst, fullAt
}

// Result is what a replay did, stream by stream; streams with no orders
// are left out.
type Result struct {
	Streams []StreamResult
	// Generation is the decisions directory made current ("" with Out).
	Generation string
}

// ErrNoCertificates means DATA holds no certificates at all.
var ErrNoCertificates = errors.New("no certificates")

var errNoOrders = errors.New("no orders")

// Run replays cfg.Streams. Into DATA it holds the decisions lock, writes
// every stream into one new generation and makes it current only when all
// succeeded: a failed or killed replay leaves the previous decisions as
// they were. If no stream has an order, nothing is written.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.Out != "" && len(cfg.Streams) > 1 {
		return nil, fmt.Errorf("an output file holds one replay, but %d streams were asked for (production and staging are replayed apart)", len(cfg.Streams))
	}
	if cfg.Plan != nil && (cfg.Out == "" || len(cfg.Streams) != 1) {
		return nil, fmt.Errorf("a plan over DATA is one replay written to an output file, never into DATA")
	}
	e, err := openEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.db.Close()
	dd := e.dd
	res := &Result{}
	if cfg.Out == "" {
		unlock, err := dd.Lock(datadir.DecisionsLock)
		if err != nil {
			if errors.Is(err, datadir.ErrLocked) {
				return nil, fmt.Errorf("another ctlimits replay is writing decisions in %s: %w", cfg.Data, err)
			}
			return nil, err
		}
		defer unlock()
		if n, err := dd.SweepDecisions(); err != nil {
			return nil, err
		} else if n > 0 {
			e.logf("removed %d unfinished decisions generation(s) a killed replay left", n)
		}
		if e.gen, err = dd.NewGeneration(cfg.Now); err != nil {
			return nil, err
		}
		defer e.gen.Abort()
	}
	for _, st := range cfg.Streams {
		sr, err := e.replayStream(ctx, st)
		if errors.Is(err, errNoOrders) {
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Streams = append(res.Streams, sr)
		if cfg.Plan != nil {
			e.logf("%s under %s: plan %s: %s; with %d certificates of DATA (%d over the model); %d skipped -> %s",
				st.Label, st.Policy.Name, cfg.Plan.Name, sr.Plan, sr.Counts.Orders-sr.Plan.Orders, sr.OverModel, sr.Skipped, sr.Dest)
			continue
		}
		e.logf("%s under %s: %s; %d over the model (issued although the model would have limited them); %d skipped -> %s",
			st.Label, st.Policy.Name, sr.Counts, sr.OverModel, sr.Skipped, sr.Dest)
	}
	if e.gen != nil && len(res.Streams) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := e.gen.Commit(); err != nil {
			return nil, err
		}
		res.Generation = e.gen.FinalDir(e.gen.Root())
		// The states are recorded only once their decisions are current:
		// a replay killed before leaves the previous record, which the
		// next replay finds stale and does not resume from.
		for _, s := range res.Streams {
			if s.resume != nil {
				if err := writeResumeRecord(s.resume.dir, s.resume.rec, s.resume.keep); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

// openEngine opens DATA for a replay: its layout, and DuckDB's views
// over its entries, which must hold some. The caller closes e.db.
func openEngine(cfg Config) (*engine, error) {
	dd, err := datadir.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	if !db.Params.HasEntries {
		db.Close()
		return nil, fmt.Errorf("%w in %s: run 'ctlimits ingest --data %s --log LOG' first", ErrNoCertificates, cfg.Data, cfg.Data)
	}
	cfg.Chunks.fill()
	cfg.Resume.fill()
	return &engine{cfg: cfg, dd: dd, db: db}, nil
}

type engine struct {
	cfg Config
	dd  *datadir.Dir
	db  *sql.DB
	gen *datadir.Generation
}

func (e *engine) logf(format string, args ...any) {
	if e.cfg.Log != nil {
		fmt.Fprintf(e.cfg.Log, "ctlimits replay: "+format+"\n", args...)
	}
}

func (e *engine) replayStream(ctx context.Context, st Stream) (StreamResult, error) {
	res := StreamResult{Stream: st}
	where := []string{"(" + st.Where + ")"}
	args := slices.Clone(st.Args)
	if !e.cfg.Since.IsZero() {
		where = append(where, "issued_at >= ?")
		args = append(args, e.cfg.Since.Add(-WarmUp))
	}
	if !e.cfg.Until.IsZero() {
		where = append(where, "issued_at < ?")
		args = append(args, e.cfg.Until)
	}
	if e.cfg.Plan != nil {
		return e.replayPlan(ctx, st, strings.Join(where, " AND "), args)
	}
	if !e.cfg.InMemory && len(e.cfg.Domains) == 0 {
		return e.replayChunked(ctx, st, strings.Join(where, " AND "), args)
	}
	from := orderio.CertTableQuery
	if len(e.cfg.Domains) > 0 {
		// Only the domains' connected components, found in DuckDB
		// (component.go): nothing else of history is read into memory.
		sel, err := e.component(ctx, strings.Join(where, " AND "), args)
		if err != nil {
			return res, err
		}
		from = strings.Replace(from, "FROM certificates", "FROM certificates c "+sel, 1)
	}
	// DuckDB deduplicates entries into certificates; Go sorts them (see
	// orderio.CertTable for why not ORDER BY).
	start := time.Now()
	rows, err := e.db.DB().QueryContext(ctx, from+" WHERE "+strings.Join(where, " AND "), args...)
	if err != nil {
		return res, fmt.Errorf("couldn't read certificates from %s: %w", e.cfg.Data, err)
	}
	deduped := time.Now()
	tbl, err := orderio.LoadCertTable(ctx, e.cfg.Data+" certificates", rows)
	if err != nil {
		return res, err
	}
	loaded := time.Now()
	tbl.Sort()
	round := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	e.logf("%s: %d certificates deduplicated by DuckDB in %s, read in %s, sorted in %s", st.Label, tbl.Len(),
		round(deduped.Sub(start)), round(loaded.Sub(deduped)), round(time.Since(loaded)))
	in := tbl.Reader()
	if len(e.cfg.Domains) > 0 && tbl.Len() == 0 {
		return res, fmt.Errorf("no certificates for %s in %s", strings.Join(e.cfg.Domains, ", "), e.cfg.Data)
	}
	skip := func(rec *orderio.Record, err error) {
		if res.Skipped++; res.Skipped <= 3 {
			e.logf("skipping certificate %s serial %s: %v", rec.Cert.Issuer, rec.Cert.Serial, err)
		}
	}
	since := int64(math.MinInt64)
	if !e.cfg.Since.IsZero() {
		since = e.cfg.Since.UnixNano()
	}
	if e.gen != nil {
		return e.replayParts(ctx, st, tbl, in, since, skip, res)
	}
	res.Dest = e.cfg.Out
	write := func(w io.Writer) (err error) {
		res.Counts, err = replayInto(ctx, w, e.cfg.Format, in, st, since, orderio.Options{Skip: skip,
			Done: func(r *replay.Replayer) { res.replayers = []*replay.Replayer{r} }})
		res.OverModel = res.Counts.Limited
		return err
	}
	if e.cfg.Out == "-" {
		res.Dest = "stdout"
		err = write(e.cfg.Stdout)
	} else {
		err = datadir.Write(e.cfg.Out, write)
	}
	return res, err
}

// replayInto replays in's orders under st's policy and writes the
// decisions of those issued from since on to w, in format; it returns
// their counts.
func replayInto(ctx context.Context, w io.Writer, format string, in orderio.Reader, st Stream, since int64, opt orderio.Options) (orderio.Counts, error) {
	out, err := orderio.NewWriterWith(format, w, orderio.WriterOptions{CT: true, Policy: st.Policy.Name})
	if err != nil {
		return orderio.Counts{}, err
	}
	filtered := &sinceWriter{Writer: out, since: since}
	if _, err := orderio.Stream(ctx, in, st.Policy, filtered, opt); err != nil {
		return orderio.Counts{}, err
	}
	return filtered.counts, out.Close()
}

// replayParts replays in's orders into the generation's policy directory
// as one part file per worker. Workers replay whole connected components
// (orderio.CertTable.Partition), so the decisions are those of one serial
// replay.
func (e *engine) replayParts(ctx context.Context, st Stream, tbl *orderio.CertTable, in orderio.Reader, since int64,
	skip func(*orderio.Record, error), res StreamResult) (StreamResult, error) {
	parts := []orderio.Reader{in}
	if len(e.cfg.Domains) == 0 { // --domain selections are small: one worker
		start := time.Now()
		var err error
		var ps orderio.PartitionStats
		if parts, ps, err = tbl.Partition(ctx, e.cfg.Workers, skip); err != nil {
			return res, err
		}
		skip = nil // Partition passed them on
		e.logf("%s: %d connected components of registered domains (the largest %d orders) on %d workers %v, in %s",
			st.Label, ps.Components, ps.Largest, len(parts), ps.PerWorker, time.Since(start).Round(100*time.Millisecond))
	}
	replayStart := time.Now()
	dir, err := e.gen.PolicyDir(st.Policy.Name)
	if err != nil {
		return res, err
	}
	res.Dest = e.gen.FinalDir(dir)
	g, gctx := errgroup.WithContext(ctx)
	counts := make([]orderio.Counts, len(parts))
	res.replayers = make([]*replay.Replayer, len(parts))
	for w, part := range parts {
		g.Go(func() error {
			path := filepath.Join(dir, fmt.Sprintf("%s-part-%05d.parquet", datadir.SafeName(st.Slug), w))
			return datadir.Write(path, func(f io.Writer) (err error) {
				opt := orderio.Options{Workers: 1, Skip: skip, PositionFromLine: true,
					Done: func(r *replay.Replayer) { res.replayers[w] = r }}
				counts[w], err = replayInto(gctx, f, "parquet", part, st, since, opt)
				return err
			})
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	for w := range parts {
		res.Counts.Merge(counts[w])
	}
	res.OverModel = res.Counts.Limited
	if res.Counts.Orders == 0 {
		return res, errNoOrders
	}
	e.logf("%s: replayed and written in %s", st.Label, time.Since(replayStart).Round(100*time.Millisecond))
	return res, nil
}

// sinceWriter drops the warm-up orders before Since and counts the rest;
// with daily set, it also keeps the counts before each UTC day.
type sinceWriter struct {
	orderio.Writer
	since  int64
	counts orderio.Counts
	daily  map[int64]orderio.Counts // UTC midnight (Unix ns) -> counts before it
	day    int64
}

func (s *sinceWriter) Write(r *orderio.Row) error {
	if r.Result.IssuedAt < s.since {
		return nil
	}
	if s.daily != nil {
		if d := time.Unix(0, r.Result.IssuedAt).UTC().Truncate(24 * time.Hour).UnixNano(); d != s.day {
			s.day, s.daily[d] = d, s.counts
		}
	}
	s.counts.Add(r.Result)
	return s.Writer.Write(r)
}

// before is the counts of the orders before midnight at: those of the
// first day with orders at or after it.
func (s *sinceWriter) before(at time.Time) orderio.Counts {
	best, found := int64(0), false
	for d := range s.daily {
		if d >= at.UnixNano() && (!found || d < best) {
			best, found = d, true
		}
	}
	if !found {
		return s.counts
	}
	return s.daily[best]
}

// replayChunked replays the stream's history on one Replayer, into one
// file per day of the generation or into Out. A replay of all history
// into DATA resumes from a saved state when it can (resume.go) and saves
// states for the next one; otherwise history is read a NotBefore slice at
// a time (chunks.go).
func (e *engine) replayChunked(ctx context.Context, st Stream, where string, args []any) (StreamResult, error) {
	res := StreamResult{Stream: st}
	start := time.Now()
	full := e.gen != nil && e.cfg.Since.IsZero() && e.cfg.Until.IsZero()
	var rp resumePoint
	var rdir string
	var files map[string]int64
	var logNewest map[string]time.Time
	if full {
		var err error
		rdir = resumeDir(e.dd, st)
		// A state file a killed replay was writing (the decisions lock
		// is held: no replay is writing one now).
		if _, err := datadir.SweepTemp(rdir); err != nil {
			return res, err
		}
		if files, err = e.dd.EntriesFiles(); err != nil {
			return res, err
		}
		if rp, err = e.findResume(ctx, st, rdir, files); err != nil {
			return res, err
		}
		if logNewest, err = e.logNewest(ctx, rp); err != nil {
			return res, err
		}
	}
	var in orderio.Reader
	var chunks *chunkReader
	if rp.rep != nil {
		var n int
		var err error
		if in, n, err = e.newResumeReader(ctx, where, args, rp.at, rp.orders); err != nil {
			return res, err
		}
		e.logf("%s: resuming %s: %d certificates logged since, read by DuckDB in %s", st.Label, rp.why, n, time.Since(start).Round(100*time.Millisecond))
	} else {
		var err error
		if chunks, err = newChunkReader(ctx, e.db, e.cfg.Data+" certificates", where, args, e.cfg.Chunks); err != nil {
			return res, err
		}
		if chunks == nil {
			return res, errNoOrders
		}
		in = chunks
		if full {
			e.logf("%s: replaying %s", st.Label, rp.why)
		}
	}
	res.Late = rp.late
	// Both readers number orders from the start of history (Line), so a
	// resumed replay's positions continue the saved state's.
	opt := orderio.Options{Workers: e.cfg.Workers, Start: rp.rep, PositionFromLine: true,
		Skip: func(rec *orderio.Record, err error) {
			if res.Skipped++; res.Skipped <= 3 {
				e.logf("skipping certificate %s serial %s: %v", rec.Cert.Issuer, rec.Cert.Serial, err)
			}
		},
		Done: func(r *replay.Replayer) { res.replayers = []*replay.Replayer{r} }}
	var saver *stateSaver
	if full {
		newest := time.Time{}
		for _, t := range logNewest {
			if t.After(newest) {
				newest = t
			}
		}
		saver = &stateSaver{dir: rdir, first: newest.Truncate(24*time.Hour).AddDate(0, 0, 1-e.cfg.Resume.KeepDays)}
		opt.Boundary = saver.first.UnixNano()
		if rp.rep != nil {
			opt.Boundary = max(opt.Boundary, rp.at.Add(24*time.Hour).UnixNano())
		}
		opt.AtBoundary = saver.at
	}
	since := int64(math.MinInt64)
	if !e.cfg.Since.IsZero() {
		since = e.cfg.Since.UnixNano()
	}
	var out orderio.Writer
	var finish func() error
	switch {
	case e.gen != nil:
		dir, err := e.gen.PolicyDir(st.Policy.Name)
		if err != nil {
			return res, err
		}
		res.Dest = e.gen.FinalDir(dir)
		if rp.rep != nil {
			if err := e.keepDays(st, dir, rp.at); err != nil {
				return res, err
			}
		}
		dw := &dayWriter{dir: dir, slug: st.Slug, policy: st.Policy.Name}
		defer dw.Abort()
		out, finish = dw, dw.Close
	case e.cfg.Out == "-":
		res.Dest = "stdout"
		w, err := orderio.NewWriterWith(e.cfg.Format, e.cfg.Stdout, orderio.WriterOptions{CT: true, Policy: st.Policy.Name})
		if err != nil {
			return res, err
		}
		out, finish = w, w.Close
	default:
		res.Dest = e.cfg.Out
		f, err := datadir.NewFile(e.cfg.Out)
		if err != nil {
			return res, err
		}
		defer f.Abort()
		w, err := orderio.NewWriterWith(e.cfg.Format, f, orderio.WriterOptions{CT: true, Policy: st.Policy.Name})
		if err != nil {
			return res, err
		}
		out, finish = w, func() error {
			if err := w.Close(); err != nil {
				return err
			}
			return f.Commit()
		}
	}
	filtered := &sinceWriter{Writer: out, since: since, counts: rp.counts, daily: map[int64]orderio.Counts{}}
	if _, err := orderio.Stream(ctx, in, st.Policy, filtered, opt); err != nil {
		return res, err
	}
	if err := finish(); err != nil {
		return res, err
	}
	res.Counts, res.OverModel = filtered.counts, filtered.counts.Limited
	if saver != nil {
		for i := range saver.states {
			saver.states[i].Counts = filtered.before(saver.states[i].At)
		}
	}
	if res.Counts.Orders == 0 && rp.rep == nil {
		return res, errNoOrders
	}
	if full {
		wm := time.Time{}
		for _, t := range logNewest {
			if wm.IsZero() || t.Before(wm) {
				wm = t
			}
		}
		res.Watermark = wm.Add(-e.cfg.Resume.Lateness)
		res.resume = &pendingResume{dir: rdir, keep: e.cfg.Resume.KeepDays, rec: resumeRecord{
			Format: resumeFormat, Policy: st.Policy.Name, Digest: st.Policy.Digest(), Where: st.Where,
			Files: files, States: append(rp.keep, saver.states...), Watermark: res.Watermark,
			LogNewest: logNewest, Generation: e.gen.Name(), Replayed: e.cfg.Now.UTC()}}
	}
	if chunks != nil {
		e.logf("%s: %d certificates in %d NotBefore slices of %s (at most %d held at once), read by DuckDB in %s, replayed and written in %s",
			st.Label, chunks.emitted, chunks.Chunks, chunks.opt.Span, chunks.MaxBuf, chunks.ReadTime.Round(100*time.Millisecond), (time.Since(start) - chunks.ReadTime).Round(100*time.Millisecond))
	} else {
		e.logf("%s: replayed and written in %s", st.Label, time.Since(start).Round(100*time.Millisecond))
	}
	if rp.late > 0 {
		back := "replayed from scratch"
		if rp.rep != nil {
			back = "went back to " + rp.at.Format(time.RFC3339)
		}
		e.logf("%s: %d new entries were logged before the last replay's watermark (late): the replay %s for them", st.Label, rp.late, back)
	}
	return res, nil
}
