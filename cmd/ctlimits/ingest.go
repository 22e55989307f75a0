package main

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

func init() {
	register(&command{
		name:    "ingest",
		summary: "Download a CT log range into DATA as verified Parquet, resumably",
		usage:   "--log LOG [--log-list FILE] [--data DIR] [--from N] [--to N] [--workers N] [--issuer REGEX] [--max-wait D]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("log", "", "log to ingest: base64 log ID, description or a unique part of it, or URL (https://..., file:///dir of tiles)")
			fs.String("log-list", "", "CT log list v3 JSON `file` (default: the embedded snapshot)")
			fs.String("data", "./data", "data `directory`")
			fs.String("from", "0", "where a log new to DATA starts: an entry index, or end-N for N entries before the end of its tree (later runs continue where DATA ends)")
			fs.Int64("to", 0, "stop before this entry index (default: the signed tree size)")
			fs.Int("workers", 4, "requests in flight to the log, and parsing goroutines")
			fs.String("issuer", "", "keep only rows whose issuer name matches this `regex` (others are verified and counted, not stored)")
			fs.String("key", "", "log public key for a URL not in the log list: base64 DER, or a PEM `file`")
			fs.String("origin", "", "checkpoint origin for a static log given by URL (default: the URL without scheme)")
			fs.String("protocol", "", "protocol for a log given by URL: static or rfc6962 (default: static for file://)")
			fs.Int64("file-entries", 1<<18, "log entries per Parquet file (a multiple of 256)")
			fs.String("contact", "", "e-mail or URL added to the User-Agent, so log operators can reach you")
			fs.Int("max-retries", 8, "retries per request on 429, 5xx and network errors before giving up")
			fs.Duration("max-wait", 5*time.Minute, "longest single wait before a retry; a log asking for longer (Retry-After) is an error")
			fs.Bool("quiet", false, "no progress output")
		},
		run: runIngest,
	})
}

func runIngest(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q (the log goes in --log)", args)
	}
	get := func(n string) string { s, _ := env.fs.GetString(n); return s }
	geti := func(n string) int64 { v, _ := env.fs.GetInt64(n); return v }
	name := get("log")
	if name == "" {
		return usagef("--log is required; run 'ctlimits logs' for the known logs")
	}
	l, err := resolveLog(name, get("log-list"), get("key"), get("origin"), get("protocol"))
	if err != nil {
		return err
	}
	cfg := ingest.Config{Log: l, Data: get("data"), To: geti("to"), FileEntries: geti("file-entries")}
	if cfg.From, cfg.FromEnd, err = ingest.ParseFrom(get("from")); err != nil {
		return usagef("--%v", err)
	}
	cfg.Workers, _ = env.fs.GetInt("workers")
	if cfg.From < 0 || cfg.To < 0 || (cfg.To > 0 && cfg.To <= cfg.From) {
		return usagef("--from %d --to %d is not a range", cfg.From, cfg.To)
	}
	if cfg.FileEntries <= 0 || cfg.FileEntries%256 != 0 {
		return usagef("--file-entries %d is not a positive multiple of 256", cfg.FileEntries)
	}
	if re := get("issuer"); re != "" {
		if cfg.Issuer, err = regexp.Compile(re); err != nil {
			return usagef("--issuer: %v", err)
		}
	}
	cfg.HTTP.Version = version()
	cfg.HTTP.Contact = get("contact")
	mr, _ := env.fs.GetInt("max-retries")
	cfg.HTTP.MaxRetries = mr
	if mr == 0 {
		cfg.HTTP.MaxRetries = -1
	}
	if cfg.HTTP.MaxWait, _ = env.fs.GetDuration("max-wait"); cfg.HTTP.MaxWait <= 0 {
		return usagef("--max-wait %s is not a positive duration", cfg.HTTP.MaxWait)
	}
	// Long waits are announced even with --quiet: silence for minutes
	// looks like a hang.
	cfg.HTTP.Notice = func(msg string) { fmt.Fprintln(env.stderr, msg) }
	quiet, _ := env.fs.GetBool("quiet")
	if !quiet {
		p := newProgress(env.stderr, l.Description)
		cfg.Progress = p.update
		defer p.finish()
	}
	sum, err := ingest.Run(ctx, cfg)
	if sum != nil && (err == nil || sum.Entries > 0) {
		fmt.Fprintln(env.stdout, sum.String())
	}
	if errors.Is(err, ingest.ErrLocked) {
		return fmt.Errorf("%w; wait for it to finish, or use another --data", err)
	}
	return err
}

// resolveLog finds LOG in the log list, or builds a log from a URL and key.
func resolveLog(name, listPath, key, origin, protocol string) (*loglist.Log, error) {
	ll, err := loglist.Load(listPath)
	if err != nil {
		return nil, err
	}
	l, err := ll.Find(name)
	if err == nil {
		return l, nil
	}
	if !strings.Contains(name, "://") || !errors.Is(err, loglist.ErrNotFound) {
		return nil, usagef("--log %s", err)
	}
	kind := loglist.Kind(protocol)
	switch {
	case protocol == "" && strings.HasPrefix(name, "file://"):
		kind = loglist.Static
	case kind != loglist.Static && kind != loglist.RFC6962:
		return nil, usagef("--log %s is not in the log list: give --protocol static or rfc6962, and --key", name)
	}
	if key == "" {
		return nil, usagef("--log %s is not in the log list: give its public key with --key (base64 DER or a PEM file)", name)
	}
	der, err := readKey(key)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	if origin == "" && kind == loglist.Static && !strings.HasPrefix(name, "file://") {
		origin = strings.TrimRight(strings.SplitN(name, "://", 2)[1], "/")
	}
	if origin == "" && kind == loglist.Static {
		return nil, usagef("--log %s: a local tile directory needs --origin (the checkpoint's first line)", name)
	}
	l, err = loglist.Custom(name, kind, der, origin)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return l, nil
}

func readKey(s string) ([]byte, error) {
	if der, err := base64.StdEncoding.DecodeString(s); err == nil {
		return der, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("neither base64 nor a readable file: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes, nil
	}
	return nil, fmt.Errorf("%s holds no PEM block", s)
}

// progress shows a bar on a terminal and a plain line every 10 seconds
// otherwise (cron mail and CI logs stay readable).
type progress struct {
	w     io.Writer
	name  string
	bar   *progressbar.ProgressBar
	last  time.Time
	total int64
}

func newProgress(w io.Writer, name string) *progress {
	p := &progress{w: w, name: name, last: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("entries"),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) update(pr ingest.Progress) {
	if p.bar != nil {
		if p.total != pr.Total {
			p.total = pr.Total
			p.bar.ChangeMax64(pr.Total)
		}
		p.bar.Describe(fmt.Sprintf("%s (%d retries)", p.name, pr.Retries))
		p.bar.Set64(pr.Done)
		return
	}
	if time.Since(p.last) < 10*time.Second && pr.Done < pr.Total {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Done) / pr.Elapsed.Seconds()
	eta := "-"
	if rate > 0 {
		eta = (time.Duration(float64(pr.Total-pr.Done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "ingest %s: %d/%d entries (%.1f%%), at index %d, %.0f entries/s, ETA %s, %d retries\n",
		p.name, pr.Done, pr.Total, 100*float64(pr.Done)/float64(max(pr.Total, 1)), pr.Position, rate, eta, pr.Retries)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
