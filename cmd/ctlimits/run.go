package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/report"
	"github.com/ctlimits/ctlimits/sql"
)

// ctlimits run: the nightly job. Exit statuses follow the monitoring
// plugin convention (Nagios, Icinga, Sensu):
const (
	statusOK      = 0 // every watched domain has headroom
	statusWarn    = 1 // a watched domain has fewer tokens left than its threshold
	statusCrit    = 2 // a watched domain had an order limited since the last run
	statusUnknown = 3 // stale or incomplete data, or an error
)

var statusNames = [...]string{"OK", "WARN", "CRIT", "UNKNOWN"}

// runStatus is an error that carries the run's exit status.
type runStatus struct {
	code int
	msg  string
}

func (s runStatus) Error() string { return s.msg }
func (s runStatus) ExitCode() int { return s.code }

func init() {
	register(&command{
		name:    "run",
		summary: "The nightly job: ingest every log, replay, report, and exit with a monitoring status",
		usage:   "--config FILE [--metrics FILE]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("config", "", "run configuration YAML `file` (see docs/run.md)")
			fs.String("metrics", "", "also write Prometheus metrics to this `file` (node_exporter textfile collector)")
			fs.Bool("quiet", false, "print only the status line")
		},
		run: runRun,
	})
}

// runConfig is the YAML configuration of ctlimits run. docs/run.md
// documents every field.
type runConfig struct {
	// Data is the data directory. Required.
	Data string `yaml:"data"`
	// Logs to follow, each a name from the log list or a URL. Required.
	Logs []runLog `yaml:"logs"`
	// LogList is a log list v3 JSON file; default the embedded snapshot.
	LogList string `yaml:"log_list"`
	// Contact goes into the User-Agent.
	Contact string `yaml:"contact"`
	// Policy, Limits, Overrides, Issuers and AssumeARI are as the replay
	// flags; defaults letsencrypt and production.
	Policy    string `yaml:"policy"`
	Limits    string `yaml:"limits"`
	Overrides string `yaml:"overrides"`
	Issuers   string `yaml:"issuers"`
	AssumeARI bool   `yaml:"assume_ari"`
	// StaleAfter: UNKNOWN when the newest certificate is older. Default 48h.
	StaleAfter string `yaml:"stale_after"`
	// Watch lists the domains whose headroom decides the exit status.
	Watch []runWatch `yaml:"watch"`
	// Metrics is a Prometheus textfile to write (--metrics wins).
	Metrics string `yaml:"metrics"`
}

type runLog struct {
	Log      string `yaml:"log"`
	Key      string `yaml:"key"`
	Origin   string `yaml:"origin"`
	Protocol string `yaml:"protocol"`
	// From is the first entry index the first time the log is ingested.
	From int64 `yaml:"from"`
}

// UnmarshalYAML accepts a bare log name as well as the full form.
func (l *runLog) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		l.Log = n.Value
		return nil
	}
	type plain runLog
	return n.Decode((*plain)(l))
}

type runWatch struct {
	Domain string `yaml:"domain"`
	// WarnTokens: WARN when fewer tokens are left. Default 10.
	WarnTokens *int64 `yaml:"warn_tokens"`
}

func loadRunConfig(path string) (*runConfig, time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't read the run configuration: %w", err)
	}
	var c runConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if c.Data == "" {
		return nil, 0, fmt.Errorf("%s: no data directory (data: DIR)", path)
	}
	if len(c.Logs) == 0 {
		return nil, 0, fmt.Errorf("%s: no logs to follow (logs: [NAME, ...]; 'ctlimits logs' lists them)", path)
	}
	for i, l := range c.Logs {
		if l.Log == "" {
			return nil, 0, fmt.Errorf("%s: logs[%d] has no log", path, i)
		}
	}
	if c.Policy == "" {
		c.Policy = "letsencrypt"
	}
	if c.Issuers == "" {
		c.Issuers = "production"
	}
	stale := 48 * time.Hour
	if c.StaleAfter != "" {
		if stale, err = time.ParseDuration(c.StaleAfter); err != nil || stale <= 0 {
			return nil, 0, fmt.Errorf("%s: stale_after %q is not a positive duration (like 48h)", path, c.StaleAfter)
		}
	}
	for i, w := range c.Watch {
		d, err := replay.RegisteredDomain(w.Domain)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: watch[%d]: %v", path, i, err)
		}
		if d != strings.ToLower(strings.TrimSuffix(w.Domain, ".")) {
			return nil, 0, fmt.Errorf("%s: watch[%d]: %s is not a registered domain (its registered domain is %s, whose bucket it shares)", path, i, w.Domain, d)
		}
		c.Watch[i].Domain = d
		if w.WarnTokens == nil {
			ten := int64(10)
			c.Watch[i].WarnTokens = &ten
		}
	}
	return &c, stale, nil
}

// runRecord is what a run leaves in DATA/reports/<date>.run.json, for the
// next run's diff and for machines.
type runRecord struct {
	Time         time.Time        `json:"time"`
	Status       string           `json:"status"`
	ExitCode     int              `json:"exit_code"`
	Reasons      []string         `json:"reasons"`
	Newest       *time.Time       `json:"newest_certificate"`
	Logs         []runLogResult   `json:"logs"`
	Decisions    []runDecisions   `json:"decisions"`
	Watch        []runWatchResult `json:"watch"`
	NewlyLimited []runLimited     `json:"newly_limited"`
}

type runLogResult struct {
	Log      string `json:"log"`
	Entries  int64  `json:"entries_this_run"`
	TreeSize int64  `json:"tree_size"`
	Error    string `json:"error,omitempty"`
}

type runDecisions struct {
	Issuers   string `json:"issuers"`
	Policy    string `json:"policy"`
	Orders    int64  `json:"orders"`
	New       int64  `json:"new"`
	Renewal   int64  `json:"renewal"`
	OverModel int64  `json:"over_model"`
}

type runWatchResult struct {
	Domain     string    `json:"domain"`
	Tokens     int64     `json:"tokens"`
	Burst      int64     `json:"burst"`
	FullAt     time.Time `json:"full_at"`
	WarnTokens int64     `json:"warn_tokens"`
	LimitedNew int64     `json:"limited_since_last_run"`
	Status     string    `json:"status"`
	Certs7Days int64     `json:"new_certificates_7d"`
}

type runLimited struct {
	IssuedAt time.Time `json:"issued_at"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	Names    []string  `json:"names"`
	Message  string    `json:"message"`
}

func runRun(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	path, _ := env.fs.GetString("config")
	if path == "" {
		fmt.Fprintln(env.stdout, "CTLIMITS UNKNOWN: --config FILE is required")
		return runStatus{code: statusUnknown}
	}
	cfg, stale, err := loadRunConfig(path)
	if err != nil {
		fmt.Fprintln(env.stdout, "CTLIMITS UNKNOWN: "+err.Error())
		return runStatus{code: statusUnknown}
	}
	if m, _ := env.fs.GetString("metrics"); m != "" {
		cfg.Metrics = m
	}
	quiet, _ := env.fs.GetBool("quiet")
	rec, err := nightly(ctx, env, cfg, stale, quiet, time.Now().UTC())
	if err != nil {
		rec = &runRecord{Time: time.Now().UTC(), Status: "UNKNOWN", ExitCode: statusUnknown, Reasons: []string{err.Error()}}
	}
	if cfg.Metrics != "" {
		if merr := writeMetrics(cfg.Metrics, rec); merr != nil && err == nil {
			rec.ExitCode, rec.Status = statusUnknown, "UNKNOWN"
			rec.Reasons = append(rec.Reasons, merr.Error())
		}
	}
	// The status line goes to stdout, as monitoring plugins print it.
	line := "CTLIMITS " + rec.Status
	if len(rec.Reasons) > 0 {
		line += ": " + strings.Join(rec.Reasons, "; ")
	}
	fmt.Fprintln(env.stdout, line)
	if rec.ExitCode == statusOK {
		return nil
	}
	return runStatus{code: rec.ExitCode}
}

// nightly does the work; an error means the run could not complete.
func nightly(ctx context.Context, env *cmdEnv, cfg *runConfig, stale time.Duration, quiet bool, now time.Time) (*runRecord, error) {
	if err := os.MkdirAll(filepath.Join(cfg.Data, "reports"), 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create %s: %w", cfg.Data, err)
	}
	unlock, err := ingest.Lock(filepath.Join(cfg.Data, "run.lock"))
	if err != nil {
		if errors.Is(err, ingest.ErrLocked) {
			return nil, fmt.Errorf("another ctlimits run is working on %s (%v); this run did nothing", cfg.Data, err)
		}
		return nil, err
	}
	defer unlock()
	logOut := io.Discard
	if !quiet {
		logOut = env.stderr
	}
	rec := &runRecord{Time: now}
	prev := previousRun(cfg.Data)

	// 1. Ingest every log; a failing log makes the data incomplete, not
	// the run pointless.
	ingest.Version = version()
	for _, rl := range cfg.Logs {
		res := runLogResult{Log: rl.Log}
		l, err := resolveLog(rl.Log, cfg.LogList, rl.Key, rl.Origin, rl.Protocol)
		if err == nil {
			var sum *ingest.Summary
			sum, err = ingest.Run(ctx, ingest.Config{Log: l, Data: cfg.Data, From: rl.From, HTTP: ingest.HTTPConfig{Contact: cfg.Contact}})
			if sum != nil {
				res.Entries, res.TreeSize = sum.Entries, sum.TreeSize
				fmt.Fprintln(logOut, sum.String())
			}
		}
		if err != nil {
			res.Error = err.Error()
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("log %s: %v", rl.Log, err))
		}
		rec.Logs = append(rec.Logs, res)
	}
	incomplete := len(rec.Reasons) > 0

	// 2. Replay, keeping the final bucket levels of the watched domains.
	p, err := replay.LookupPolicy(cfg.Policy)
	if err != nil {
		return nil, err
	}
	if err := applyPolicyFiles(p, cfg.Limits, cfg.Overrides); err != nil {
		return nil, err
	}
	p.AssumeARI = cfg.AssumeARI
	streams, err := ctStreams(cfg.Issuers, p, cfg.Limits != "" || cfg.Overrides != "" || cfg.Policy != "letsencrypt")
	if err != nil {
		return nil, err
	}
	newest, err := newestCertificate(ctx, cfg.Data)
	if err != nil {
		return nil, err
	}
	if newest.IsZero() {
		return nil, fmt.Errorf("no certificates in %s yet", cfg.Data)
	}
	rec.Newest = &newest
	levels := map[string]runWatchResult{}
	c := ctReplay{data: cfg.Data, streams: streams[:1], format: "parquet", quiet: quiet}
	c.done = func(r *replay.Replayer) {
		for _, w := range cfg.Watch {
			tokens, burst, full := r.Level(w.Domain, newest.UnixNano())
			// One Replayer per worker: the domain's own shows its level,
			// the others a full bucket, so the lowest is the answer.
			if prev, seen := levels[w.Domain]; seen && prev.Tokens <= tokens {
				continue
			}
			levels[w.Domain] = runWatchResult{Domain: w.Domain, Tokens: tokens, Burst: burst, FullAt: time.Unix(0, full).UTC(), WarnTokens: *w.WarnTokens}
		}
	}
	results, err := c.run(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(streams) > 1 { // staging apart, without watch levels
		c2 := ctReplay{data: cfg.Data, streams: streams[1:], format: "parquet", quiet: quiet}
		more, err := c2.run(ctx, env)
		if err != nil {
			return nil, err
		}
		results = append(results, more...)
	}
	for _, r := range results {
		rec.Decisions = append(rec.Decisions, runDecisions{r.label, r.policy.Name, r.counts.Orders, r.counts.New, r.counts.Renewal, r.overModel})
	}

	// 3. What is new since the last run, per watched domain.
	var since time.Time
	if prev != nil && prev.Newest != nil {
		since = *prev.Newest
	}
	// Opened after the replay, so the decisions view reads its output.
	db, err := sql.Open(cfg.Data)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rec.NewlyLimited, err = limitedSince(ctx, db, since)
	if err != nil {
		return nil, err
	}
	worst := statusOK
	for _, w := range cfg.Watch {
		wr := levels[w.Domain]
		if wr.Domain == "" { // no production replay touched it
			wr = runWatchResult{Domain: w.Domain, Tokens: p.Limits[replay.CertificatesPerDomain].Burst, Burst: p.Limits[replay.CertificatesPerDomain].Burst, WarnTokens: *w.WarnTokens, FullAt: newest}
		}
		for _, l := range rec.NewlyLimited {
			if slices.ContainsFunc(l.Names, func(n string) bool { d, _ := replay.RegisteredDomain(n); return d == w.Domain }) {
				wr.LimitedNew++
			}
		}
		wr.Certs7Days, err = newCerts7d(ctx, db, w.Domain, newest)
		if err != nil {
			return nil, err
		}
		st := statusOK
		switch {
		case wr.LimitedNew > 0:
			st = statusCrit
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("%s had %d orders limited since the last run", w.Domain, wr.LimitedNew))
		case wr.Tokens < wr.WarnTokens:
			st = statusWarn
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("%s has %d of %d tokens left (threshold %d), full again %s", w.Domain, wr.Tokens, wr.Burst, wr.WarnTokens, wr.FullAt.Format(time.RFC3339)))
		}
		wr.Status = statusNames[st]
		worst = max(worst, st)
		rec.Watch = append(rec.Watch, wr)
	}
	if age := now.Sub(newest); age > stale {
		incomplete = true
		rec.Reasons = append(rec.Reasons, fmt.Sprintf("the newest certificate is %s old (stale after %s)", age.Round(time.Minute), stale))
	}
	// A limited watched domain is news even on incomplete data; otherwise
	// incomplete data is UNKNOWN, whatever the rest says.
	switch {
	case worst == statusCrit:
		rec.ExitCode = statusCrit
	case incomplete:
		rec.ExitCode = statusUnknown
	default:
		rec.ExitCode = worst
	}
	rec.Status = statusNames[rec.ExitCode]

	// 4. Reports and the diff against the previous run.
	base := filepath.Join(cfg.Data, "reports", now.Format("2006-01-02"))
	if err := writeJSONFile(base+".run.json", rec); err != nil {
		return nil, err
	}
	diff := runDiff(prev, rec)
	if err := writeFileAtomic(base+".diff.md", []byte(diff)); err != nil {
		return nil, err
	}
	if !quiet {
		fmt.Fprint(env.stdout, diff)
	}
	if err := writeRunReports(ctx, db, base, cfg.Watch); err != nil {
		return nil, err
	}
	return rec, nil
}

// writeRunReports writes the full report as JSON, Markdown and HTML next
// to the run's record, sizing and measuring the watched domains.
func writeRunReports(ctx context.Context, db *sql.DB, base string, watch []runWatch) error {
	var opts report.Options
	for _, w := range watch {
		opts.Domains = append(opts.Domains, w.Domain)
	}
	r, err := report.Build(ctx, db.DB(), opts)
	if err != nil {
		return fmt.Errorf("couldn't build the report: %w", err)
	}
	for ext, write := range map[string]func(io.Writer) error{".json": r.WriteJSON, ".md": r.WriteMarkdown, ".html": r.WriteHTML} {
		if err := writeOutput(base+ext, nil, write); err != nil {
			return err
		}
	}
	return nil
}

func applyPolicyFiles(p *replay.Policy, limits, overrides string) error {
	if limits != "" {
		data, err := os.ReadFile(limits)
		if err != nil {
			return fmt.Errorf("couldn't read limits: %w", err)
		}
		if p.Limits, err = replay.ParseLimits(data, limits); err != nil {
			return err
		}
		p.Name += "+limits"
	}
	if overrides != "" {
		data, err := os.ReadFile(overrides)
		if err != nil {
			return fmt.Errorf("couldn't read overrides: %w", err)
		}
		return p.ParseOverrides(data, overrides)
	}
	return nil
}

func newestCertificate(ctx context.Context, data string) (time.Time, error) {
	db, err := sql.Open(data)
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

// limitedSince lists the orders over the model issued after since.
func limitedSince(ctx context.Context, db *sql.DB, since time.Time) ([]runLimited, error) {
	rows, err := db.DB().QueryContext(ctx, `SELECT issued_at, issuer, serial, names, message FROM decisions
		WHERE over_model AND issued_at > ? ORDER BY issued_at, issuer, serial`, since)
	if err != nil {
		return nil, fmt.Errorf("couldn't read decisions: %w", err)
	}
	defer rows.Close()
	var out []runLimited
	for rows.Next() {
		var l runLimited
		var names any
		if err := rows.Scan(&l.IssuedAt, &l.Issuer, &l.Serial, &names, &l.Message); err != nil {
			return nil, err
		}
		l.IssuedAt = l.IssuedAt.UTC()
		for _, n := range names.([]any) {
			l.Names = append(l.Names, n.(string))
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func newCerts7d(ctx context.Context, db *sql.DB, domain string, at time.Time) (int64, error) {
	var n int64
	err := db.DB().QueryRowContext(ctx, `SELECT count(*) FROM decisions WHERE decision = 'new'
		AND list_contains(registered_domains, ?) AND issued_at > ? AND issued_at <= ?`, domain, at.Add(-7*24*time.Hour), at).Scan(&n)
	return n, err
}

// previousRun reads the newest earlier run record, nil if none.
func previousRun(data string) *runRecord {
	files, _ := filepath.Glob(filepath.Join(data, "reports", "*.run.json"))
	sort.Strings(files)
	for i := len(files) - 1; i >= 0; i-- {
		b, err := os.ReadFile(files[i])
		if err != nil {
			continue
		}
		var r runRecord
		if json.Unmarshal(b, &r) == nil {
			return &r
		}
	}
	return nil
}

// runDiff says what changed since the previous run, in Markdown.
func runDiff(prev, cur *runRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ctlimits run %s: %s\n\n", cur.Time.Format(time.RFC3339), cur.Status)
	if prev == nil {
		fmt.Fprintf(&b, "First run: nothing to compare with.\n\n")
	} else {
		fmt.Fprintf(&b, "Compared with the run of %s (%s).\n\n", prev.Time.Format(time.RFC3339), prev.Status)
	}
	for _, r := range cur.Reasons {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	if len(cur.Reasons) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Newly limited orders (%d)\n\n", len(cur.NewlyLimited))
	for i, l := range cur.NewlyLimited {
		if i == 20 {
			fmt.Fprintf(&b, "- ... and %d more (the run's .run.json lists them all)\n", len(cur.NewlyLimited)-20)
			break
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", l.IssuedAt.Format(time.RFC3339), strings.Join(l.Names, " "), l.Message)
	}
	b.WriteString("\n## Watched domains\n\n| domain | status | was | tokens | new certs 7d | limited since last run |\n|---|---|---|---|---|---|\n")
	for _, w := range cur.Watch {
		was := "-"
		if prev != nil {
			for _, pw := range prev.Watch {
				if pw.Domain == w.Domain {
					was = pw.Status
				}
			}
		}
		crossed := ""
		if was != "-" && was != w.Status {
			crossed = " (changed)"
		}
		fmt.Fprintf(&b, "| %s | %s%s | %s | %d/%d | %d | %d |\n", w.Domain, w.Status, crossed, was, w.Tokens, w.Burst, w.Certs7Days, w.LimitedNew)
	}
	return b.String()
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes via writeOutput: temporary file, sync, rename.
func writeFileAtomic(path string, b []byte) error {
	return writeOutput(path, nil, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeMetrics writes the Prometheus text exposition of the run, atomically
// as node_exporter's textfile collector requires.
func writeMetrics(path string, r *runRecord) error {
	var b strings.Builder
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	gauge("ctlimits_run_status", "Exit status of the last run: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.")
	fmt.Fprintf(&b, "ctlimits_run_status %d\n", r.ExitCode)
	gauge("ctlimits_run_timestamp_seconds", "When the last run finished.")
	fmt.Fprintf(&b, "ctlimits_run_timestamp_seconds %d\n", r.Time.Unix())
	if r.Newest != nil {
		gauge("ctlimits_newest_certificate_timestamp_seconds", "Issue time of the newest certificate in the data.")
		fmt.Fprintf(&b, "ctlimits_newest_certificate_timestamp_seconds %d\n", r.Newest.Unix())
	}
	if len(r.Logs) > 0 {
		gauge("ctlimits_log_tree_size", "Verified tree size of each followed log.")
		for _, l := range r.Logs {
			fmt.Fprintf(&b, "ctlimits_log_tree_size{log=%q} %d\n", l.Log, l.TreeSize)
		}
		gauge("ctlimits_log_ok", "1 if the log was ingested without error in the last run.")
		for _, l := range r.Logs {
			fmt.Fprintf(&b, "ctlimits_log_ok{log=%q} %d\n", l.Log, map[bool]int{true: 1}[l.Error == ""])
		}
	}
	if len(r.Decisions) > 0 {
		gauge("ctlimits_orders", "Replayed orders by decision, per replay.")
		for _, d := range r.Decisions {
			for _, kv := range []struct {
				k string
				v int64
			}{{"new", d.New}, {"renewal", d.Renewal}, {"over_model", d.OverModel}} {
				fmt.Fprintf(&b, "ctlimits_orders{policy=%q,decision=%q} %d\n", d.Policy, kv.k, kv.v)
			}
		}
	}
	if len(r.Watch) > 0 {
		gauge("ctlimits_domain_tokens", "CertificatesPerDomain tokens left for each watched domain at the newest certificate.")
		for _, w := range r.Watch {
			fmt.Fprintf(&b, "ctlimits_domain_tokens{domain=%q} %d\n", w.Domain, w.Tokens)
		}
		gauge("ctlimits_domain_limited_since_last_run", "Orders of each watched domain the model limited since the last run.")
		for _, w := range r.Watch {
			fmt.Fprintf(&b, "ctlimits_domain_limited_since_last_run{domain=%q} %d\n", w.Domain, w.LimitedNew)
		}
	}
	return writeFileAtomic(path, []byte(b.String()))
}
