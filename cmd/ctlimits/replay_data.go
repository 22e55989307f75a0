//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/ctreplay"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

// ctlimits replay --data DIR: flags to a ctreplay.Config.

func runReplayData(ctx context.Context, env *cmdEnv, data, planPath string) error {
	fs := env.fs
	issuers, _ := fs.GetString("issuers")
	main, err := policyFromFlags(fs)
	if err != nil {
		return err
	}
	cfg := ctreplay.Config{Data: data, Stdout: env.stdout}
	explicit := fs.Changed("policy") || fs.Changed("limits") || fs.Changed("overrides")
	if cfg.Streams, err = ctreplay.Streams(issuers, main, explicit); err != nil {
		return usageError{err}
	}
	sinceS, _ := fs.GetString("since")
	untilS, _ := fs.GetString("until")
	if cfg.Since, err = parseWhen("since", sinceS); err != nil {
		return err
	}
	if cfg.Until, err = parseWhen("until", untilS); err != nil {
		return err
	}
	cfg.Domains, _ = fs.GetStringSlice("domain")
	for i, d := range cfg.Domains {
		rd, err := replay.RegisteredDomain(d)
		if err != nil {
			return usagef("--domain %q: %v", d, err)
		}
		cfg.Domains[i] = rd
	}
	if quiet, _ := fs.GetBool("quiet"); !quiet {
		cfg.Log = env.stderr
	}
	cfg.Format, _ = fs.GetString("format")
	cfg.Out, _ = fs.GetString("out")
	if planPath != "" {
		return runReplayPlanOverData(ctx, env, cfg)
	}
	if cfg.Workers, _ = fs.GetInt("workers"); cfg.Workers < 1 {
		return usagef("--workers %d: want 1 or more", cfg.Workers)
	}
	var err2 error
	if cfg.Format, err2 = orderio.ChooseOutputFormat(cfg.Format, fs.Changed("format"), cfg.Out, "parquet"); err2 != nil {
		return usageError{err2}
	}
	if cfg.Out == "" && cfg.Format != "parquet" {
		return usagef("--format %s needs --out FILE (or -o - for stdout): DATA keeps decisions in Parquet", cfg.Format)
	}
	if cfg.Out != "" && len(cfg.Streams) > 1 {
		return usagef("--out holds one replay, but --issuers %s makes %d (production and staging are replayed apart); write into DATA instead", issuers, len(cfg.Streams))
	}
	cfg.InMemory, _ = fs.GetBool("in-memory")
	cfg.Resume.FromScratch, _ = fs.GetBool("from-scratch")
	cfg.Resume.KeepDays, _ = fs.GetInt("keep-days")
	cfg.Resume.Lateness, _ = fs.GetDuration("lateness")
	if cfg.Resume.KeepDays < 1 || cfg.Resume.Lateness <= 0 {
		return usagef("--keep-days must be 1 or more and --lateness a positive duration")
	}
	cfg.Chunks.Span, _ = fs.GetDuration("slice")
	cfg.Chunks.Skew, _ = fs.GetDuration("nb-skew")
	if cfg.Chunks.Span <= 0 || cfg.Chunks.Skew <= 0 {
		return usagef("--slice and --nb-skew must be positive durations")
	}
	res, err := ctreplay.Run(ctx, cfg)
	if errors.Is(err, ctreplay.ErrNoCertificates) {
		return fmt.Errorf("%v", err)
	}
	if err != nil {
		return err
	}
	if len(res.Streams) == 0 && cfg.Log != nil {
		fmt.Fprintf(env.stderr, "ctlimits replay: no certificates in %s matched --issuers %s\n", data, issuers)
	}
	return nil
}

// runReplayPlanOverData replays the plan of --orders over DATA's history
// (ctreplay.Plan): its decisions go to --out or stdout, formatted as a
// plan's are (default: table, or by --out's extension), never into DATA.
func runReplayPlanOverData(ctx context.Context, env *cmdEnv, cfg ctreplay.Config) error {
	fs := env.fs
	for _, f := range []string{"in-memory", "from-scratch", "keep-days", "lateness", "slice", "nb-skew"} {
		if fs.Changed(f) {
			return usagef("--%s applies to replays of DATA alone, not to a plan laid over it (--orders)", f)
		}
	}
	if len(cfg.Streams) != 1 {
		return usagef("a plan is laid over one replay, but --issuers makes %d (production and staging are replayed apart); choose one", len(cfg.Streams))
	}
	var err error
	if cfg.Format, err = orderio.ChooseOutputFormat(cfg.Format, fs.Changed("format"), cfg.Out, "table"); err != nil {
		return usageError{err}
	}
	if cfg.Out == "" {
		cfg.Out = "-"
	}
	planPath, _ := fs.GetString("orders")
	in, err := orderio.Open(planPath, env.stdin)
	if err != nil {
		return err
	}
	defer in.Close()
	recs, err := orderio.ReadAll(ctx, in)
	if err != nil {
		return err
	}
	cfg.Plan = &ctreplay.Plan{Name: in.Name(), Orders: recs}
	if cfg.Workers, _ = fs.GetInt("workers"); cfg.Workers < 1 {
		return usagef("--workers %d: want 1 or more", cfg.Workers)
	}
	_, err = ctreplay.Run(ctx, cfg)
	if errors.Is(err, ctreplay.ErrNoCertificates) {
		return fmt.Errorf("%v", err)
	}
	return err
}
