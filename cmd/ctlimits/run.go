//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/report/nightly"
)

// ctlimits run: the nightly job (report/nightly). Exit statuses follow the
// monitoring plugin convention: nightly.OK, Warn, Crit, Unknown.

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

func runRun(ctx context.Context, env *cmdEnv, args []string) error {
	unknown := func(msg string) error {
		fmt.Fprintln(env.stdout, "CTLIMITS UNKNOWN: "+msg)
		return runStatus{code: nightly.Unknown}
	}
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	path, _ := env.fs.GetString("config")
	if path == "" {
		return unknown("--config FILE is required")
	}
	cfg, err := nightly.LoadConfig(path)
	if err != nil {
		return unknown(err.Error())
	}
	if m, _ := env.fs.GetString("metrics"); m != "" {
		cfg.Metrics = m
	}
	opt := nightly.Options{Now: time.Now().UTC(), Version: version(),
		ResolveLog: func(l nightly.Log, list string) (*loglist.Log, error) {
			return resolveLog(l.Log, list, l.Key, l.Origin, l.Protocol)
		}}
	quiet, _ := env.fs.GetBool("quiet")
	if !quiet {
		opt.Log = env.stderr
	}
	rec, err := nightly.Run(ctx, cfg, opt)
	if err != nil {
		if errors.Is(err, nightly.ErrLocked) {
			return unknown(err.Error())
		}
		rec = &nightly.Record{Time: opt.Now, ExitCode: nightly.Unknown, Status: "UNKNOWN", Reasons: []string{err.Error()}}
		if cfg.Metrics != "" {
			if merr := nightly.WriteMetrics(cfg.Metrics, rec); merr != nil {
				rec.Reasons = append(rec.Reasons, merr.Error())
			}
		}
	}
	// The status line goes to stdout, as monitoring plugins print it.
	line := "CTLIMITS " + rec.Status
	if len(rec.Reasons) > 0 {
		line += ": " + strings.Join(rec.Reasons, "; ")
	}
	fmt.Fprintln(env.stdout, line)
	if !quiet && rec.Reports != "" {
		fmt.Fprintf(env.stderr, "ctlimits run: record and reports in %s\n", rec.Reports)
	}
	if rec.ExitCode == nightly.OK {
		return nil
	}
	return runStatus{code: rec.ExitCode}
}
