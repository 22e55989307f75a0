package main

import (
	"context"

	"github.com/ctlimits/ctlimits/replay/ctstream"
	"github.com/ctlimits/ctlimits/replay/shard"
)

// ctlimits replay --data DIR --shard I/N: flags to a shard.Job. Pure Go,
// so a worker built with CGO_ENABLED=0 runs it.

func runReplayShard(ctx context.Context, env *cmdEnv, data string) error {
	fs := env.fs
	spec, _ := fs.GetString("shard")
	i, n, err := shard.ParseSpec(spec)
	if err != nil {
		return usageError{err}
	}
	for _, f := range []string{"domain", "since", "until", "in-memory", "slice", "nb-skew", "from-scratch", "keep-days", "lateness", "out", "format", "sort"} {
		if fs.Changed(f) {
			return usagef("--%s does not apply to --shard: a shard worker replays its shard's whole history into DATA", f)
		}
	}
	issuers, _ := fs.GetString("issuers")
	main, err := policyFromFlags(fs)
	if err != nil {
		return err
	}
	explicit := fs.Changed("policy") || fs.Changed("limits") || fs.Changed("overrides")
	streams, err := ctstream.Streams(issuers, main, explicit)
	if err != nil {
		return usageError{err}
	}
	for _, st := range streams {
		if _, ok := st.Groups(); !ok {
			return usagef("--shard replays --issuers production, staging, other or all, not a regular expression (%s)", issuers)
		}
	}
	job := shard.Job{Data: data, Shard: i, Shards: n, Streams: streams}
	if job.Workers, _ = fs.GetInt("workers"); job.Workers < 1 {
		return usagef("--workers %d: want 1 or more", job.Workers)
	}
	if quiet, _ := fs.GetBool("quiet"); !quiet {
		job.Log = env.stderr
	}
	_, err = shard.Run(ctx, job)
	return err
}
