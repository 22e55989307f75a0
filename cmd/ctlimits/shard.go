//go:build cgo

package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/replay/ctreplay"
)

func init() {
	register(&command{
		name:    "shard",
		summary: "Split DATA's certificates into N shards of whole connected components, for 'replay --shard I/N' workers",
		usage:   "--data DIR --shards N [--memory-limit SIZE] [--threads N]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("data", "", "the data `directory` to shard (writes DIR/shards/N/)")
			fs.Int("shards", 0, "how many shards (workers) to split the certificates into")
			fs.String("memory-limit", "", "DuckDB's memory limit, like 4GB (default DuckDB's: 80% of RAM); beyond it DuckDB spills to disk under DIR/shards")
			fs.Int("threads", 0, "DuckDB's threads (default every core)")
			fs.BoolP("quiet", "q", false, "print no progress on stderr")
		},
		run: runShard,
	})
}

func runShard(ctx context.Context, env *cmdEnv, args []string) error {
	fs := env.fs
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	cfg := ctreplay.ShardConfig{}
	cfg.Data, _ = fs.GetString("data")
	cfg.Shards, _ = fs.GetInt("shards")
	cfg.MemoryLimit, _ = fs.GetString("memory-limit")
	cfg.Threads, _ = fs.GetInt("threads")
	if cfg.Data == "" {
		return usagef("--data DIR is required")
	}
	if cfg.Shards < 1 {
		return usagef("--shards N is required: 1 or more")
	}
	if cfg.Threads < 0 {
		return usagef("--threads %d: want 0 (every core) or more", cfg.Threads)
	}
	if quiet, _ := fs.GetBool("quiet"); !quiet {
		cfg.Log = env.stderr
	}
	_, err := ctreplay.Shard(ctx, cfg)
	return err
}
