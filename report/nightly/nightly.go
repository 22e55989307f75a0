// Package nightly is the nightly job behind `ctlimits run`: ingest every
// configured log from where DATA ends, replay, measure the watched
// domains, judge the run (status.go: a pure function of what it found),
// and leave the run's record, diff and reports in DATA together, plus
// Prometheus metrics.
package nightly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/ctreplay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/report"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// Options are how a run is carried out, beside its Config.
type Options struct {
	// Now is the run's time. Required (tests set it).
	Now time.Time
	// Log receives progress (ingest summaries, replay phases); nil is
	// quiet.
	Log io.Writer
	// ResolveLog finds a configured log in the log list. Required.
	ResolveLog func(l Log, logList string) (*loglist.Log, error)
	// Version is the program's version, for the User-Agent. Optional.
	Version string
}

// ErrLocked means another run holds DATA's run lock; the run did nothing.
var ErrLocked = errors.New("another ctlimits run is working on the data directory")

// Run carries out one nightly run. It always returns a record whose
// status says how it went, except when it could not start at all (the
// data directory or its lock), where it returns an error. The record's
// files are in DATA/reports/<time>/ (Record.Reports), all of them or none.
func Run(ctx context.Context, cfg *Config, opt Options) (*Record, error) {
	dd, err := datadir.Create(cfg.Data)
	if err != nil {
		return nil, err
	}
	unlock, err := dd.Lock(datadir.RunLock)
	if err != nil {
		if errors.Is(err, datadir.ErrLocked) {
			return nil, fmt.Errorf("%w (%s); this run did nothing", ErrLocked, cfg.Data)
		}
		return nil, err
	}
	defer unlock()
	if _, err := datadir.SweepTemp(dd.ReportsDir()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Deadline))
	defer cancel()

	r := &run{cfg: cfg, opt: opt, dd: dd, rec: &Record{Time: opt.Now.UTC()}}
	r.prev, _ = PreviousRecord(dd.ReportsDir())
	var problems []string
	problems = append(problems, r.ingest(ctx)...)
	newest, err := r.newest(ctx)
	if err != nil {
		problems = append(problems, err.Error())
	}
	var watch []WatchResult
	var rep *report.Report
	if !newest.IsZero() {
		r.rec.Newest = &newest
		levels, err := r.replay(ctx, newest)
		if err == nil {
			watch, rep, err = r.measure(ctx, newest, levels)
		}
		if err != nil {
			problems = append(problems, deadlineSays(ctx, err, cfg))
		}
	}
	if len(watch) == 0 { // nothing measured: the watched domains as configured, full
		for _, w := range cfg.Watch {
			watch = append(watch, WatchResult{Domain: w.Domain, WarnTokens: *w.WarnTokens})
		}
	}
	code, reasons, notes, judged := Judge(Facts{Problems: problems, Newest: newest, Now: opt.Now,
		StaleAfter: time.Duration(cfg.StaleAfter), Watch: watch})
	r.rec.ExitCode, r.rec.Status, r.rec.Reasons, r.rec.Notes, r.rec.Watch = code, StatusName(code), reasons, notes, judged
	// The metrics, the record and the exit status must tell one story: a
	// failure to write either is a reason in both (where it can still be
	// written) and makes the run UNKNOWN unless it is CRIT.
	metricsErr := r.writeMetrics()
	if err := r.writeOutputs(rep); err != nil {
		r.fail(err)
		if metricsErr == nil {
			metricsErr = r.writeMetrics()
		}
	}
	if metricsErr != nil {
		r.fail(metricsErr)
	}
	return r.rec, nil
}

// fail records a failure to write the run's outputs.
func (r *run) fail(err error) {
	r.rec.Reasons = append(r.rec.Reasons, err.Error())
	if r.rec.ExitCode != Crit {
		r.rec.ExitCode, r.rec.Status = Unknown, StatusName(Unknown)
	}
}

func (r *run) writeMetrics() error {
	if r.cfg.Metrics == "" {
		return nil
	}
	if err := WriteMetrics(r.cfg.Metrics, r.rec); err != nil {
		return fmt.Errorf("couldn't write the metrics: %w", err)
	}
	return nil
}

type run struct {
	cfg  *Config
	opt  Options
	dd   *datadir.Dir
	rec  *Record
	prev *Record
}

func (r *run) logf(format string, args ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, format+"\n", args...)
	}
}

func deadlineSays(ctx context.Context, err error, cfg *Config) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("the run passed its deadline (%s) and stopped: %v", time.Duration(cfg.Deadline), err)
	}
	return err.Error()
}

// ingest follows every log; a failing log makes the data incomplete, not
// the run pointless. It returns one problem per failed log.
func (r *run) ingest(ctx context.Context) (problems []string) {
	for _, cl := range r.cfg.Logs {
		res := LogResult{Log: cl.Log}
		l, err := r.opt.ResolveLog(cl, r.cfg.LogList)
		if err == nil {
			var sum *ingest.Summary
			http := ingest.HTTPConfig{Contact: r.cfg.Contact, Version: r.opt.Version, MaxWait: time.Duration(r.cfg.MaxWait)}
			from, fromEnd, _ := ingest.ParseFrom(cl.From) // checked by ParseConfig
			sum, err = ingest.Run(ctx, ingest.Config{Log: l, Data: r.cfg.Data, From: from, FromEnd: fromEnd, HTTP: http})
			if sum != nil {
				res.Entries, res.TreeSize = sum.Entries, sum.TreeSize
				r.logf("%s", sum)
			}
		}
		if err != nil {
			res.Error = deadlineSays(ctx, err, r.cfg)
			problems = append(problems, fmt.Sprintf("log %s: %s", cl.Log, res.Error))
		}
		r.rec.Logs = append(r.rec.Logs, res)
	}
	return problems
}

func (r *run) newest(ctx context.Context) (time.Time, error) {
	db, err := sql.Open(r.cfg.Data)
	if err != nil {
		return time.Time{}, err
	}
	defer db.Close()
	var t *time.Time
	if err := db.DB().QueryRowContext(ctx, `SELECT max(issued_at) FROM certificates`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("couldn't read the certificates: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// replay replays every stream into one decisions generation and returns
// the watched domains' levels at the newest certificate, from the first
// (production) stream.
func (r *run) replay(ctx context.Context, newest time.Time) (map[string]WatchResult, error) {
	p, err := orderio.LoadPolicy(r.cfg.Policy, r.cfg.Limits, r.cfg.Overrides)
	if err != nil {
		return nil, err
	}
	p.AssumeARI = r.cfg.AssumeARI
	explicit := r.cfg.Limits != "" || r.cfg.Overrides != "" || r.cfg.Policy != "letsencrypt"
	streams, err := ctreplay.Streams(r.cfg.Issuers, p, explicit)
	if err != nil {
		return nil, err
	}
	res, err := ctreplay.Run(ctx, ctreplay.Config{Data: r.cfg.Data, Streams: streams, Format: "parquet", Log: r.opt.Log, Now: r.opt.Now})
	if err != nil {
		return nil, err
	}
	levels := map[string]WatchResult{}
	for i, s := range res.Streams {
		r.rec.Decisions = append(r.rec.Decisions, Decisions{s.Label, s.Policy.Name, s.Counts.Orders, s.Counts.New, s.Counts.Renewal, s.OverModel})
		if s.Slug == "staging" || s.Slug == "staging-matching" || i > 0 && len(levels) > 0 {
			continue // watched domains are measured on the production stream
		}
		for _, w := range r.cfg.Watch {
			tokens, burst, full := s.Level(w.Domain, newest.UnixNano())
			levels[w.Domain] = WatchResult{Domain: w.Domain, Tokens: tokens, Burst: burst, FullAt: time.Unix(0, full).UTC(), WarnTokens: *w.WarnTokens}
		}
	}
	return levels, nil
}

// measure reads what is new since the previous run and builds the report.
func (r *run) measure(ctx context.Context, newest time.Time, levels map[string]WatchResult) ([]WatchResult, *report.Report, error) {
	var since time.Time
	if r.prev != nil && r.prev.Newest != nil {
		since = *r.prev.Newest
	}
	// Opened after the replay, so the decisions view reads its output.
	db, err := sql.Open(r.cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	if r.rec.NewlyLimited, err = limitedSince(ctx, db, since); err != nil {
		return nil, nil, err
	}
	p, err := replay.LookupPolicy(r.cfg.Policy)
	if err != nil {
		return nil, nil, err
	}
	burst := p.Limits[replay.CertificatesPerDomain].Burst
	var watch []WatchResult
	var issued []string
	for _, w := range r.cfg.Watch {
		wr, ok := levels[w.Domain]
		if !ok { // no production replay touched it
			wr = WatchResult{Domain: w.Domain, Tokens: burst, Burst: burst, WarnTokens: *w.WarnTokens, FullAt: newest}
		}
		for _, l := range r.rec.NewlyLimited {
			if slices.ContainsFunc(l.Names, func(n string) bool { d, _ := replay.RegisteredDomain(n); return d == w.Domain }) {
				wr.LimitedNew++
			}
		}
		var total int64
		if err := db.DB().QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE decision = 'new' AND issued_at > ? AND issued_at <= ?), count(*)
			FROM decisions WHERE list_contains(registered_domains, ?)`, newest.Add(-7*24*time.Hour), newest, w.Domain).Scan(&wr.Certs7Days, &total); err != nil {
			return nil, nil, fmt.Errorf("couldn't count %s's certificates: %w", w.Domain, err)
		}
		if wr.Issued = total > 0; wr.Issued {
			issued = append(issued, w.Domain)
		}
		watch = append(watch, wr)
	}
	// The report sizes and measures the watched domains that have
	// certificates; one without is in the record, with a note.
	rep, err := report.Build(ctx, db.DB(), report.Options{Domains: issued})
	if err != nil && !errors.Is(err, report.ErrNoDecisions) {
		return watch, nil, fmt.Errorf("couldn't build the report: %w", err)
	}
	return watch, rep, nil
}

// limitedSince lists the orders over the model issued after since.
func limitedSince(ctx context.Context, db *sql.DB, since time.Time) ([]Limited, error) {
	rows, err := db.DB().QueryContext(ctx, `SELECT issued_at, issuer, serial, array_to_string(names, ' '), message FROM decisions
		WHERE over_model AND issued_at > ? ORDER BY issued_at, issuer, serial`, since)
	if err != nil {
		return nil, fmt.Errorf("couldn't read decisions: %w", err)
	}
	defer rows.Close()
	out := []Limited{}
	for rows.Next() {
		var l Limited
		var names string
		if err := rows.Scan(&l.IssuedAt, &l.Issuer, &l.Serial, &names, &l.Message); err != nil {
			return nil, fmt.Errorf("couldn't read decisions: %w", err)
		}
		l.IssuedAt = l.IssuedAt.UTC()
		l.Names = strings.Fields(names)
		out = append(out, l)
	}
	return out, rows.Err()
}

// writeOutputs writes the run's files into a hidden directory and renames
// it into place: DATA/reports/<time>/ appears whole or not at all.
func (r *run) writeOutputs(rep *report.Report) error {
	name := r.rec.Time.Format(recordDirLayout)
	final := filepath.Join(r.dd.ReportsDir(), name)
	tmp := filepath.Join(r.dd.ReportsDir(), "."+name+".tmp")
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		return fmt.Errorf("couldn't create %s: %w", tmp, err)
	}
	defer os.RemoveAll(tmp) // gone once renamed
	r.rec.Reports = final
	b, err := json.MarshalIndent(r.rec, "", "  ")
	if err != nil {
		return err
	}
	files := map[string]func(io.Writer) error{
		"run.json": func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err },
		"diff.md":  func(w io.Writer) error { _, err := io.WriteString(w, Diff(r.prev, r.rec)); return err },
	}
	if rep != nil {
		files["report.json"], files["report.md"], files["report.html"] = rep.WriteJSON, rep.WriteMarkdown, rep.WriteHTML
	}
	for f, write := range files {
		if err := datadir.Write(filepath.Join(tmp, f), write); err != nil {
			r.rec.Reports = ""
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		r.rec.Reports = ""
		return fmt.Errorf("couldn't put the run's reports in place: %w", err)
	}
	return datadir.SyncDir(r.dd.ReportsDir())
}
