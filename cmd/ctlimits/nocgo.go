//go:build !cgo

package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// Built with CGO_ENABLED=0 there is no DuckDB: the commands that need it
// are here only to say so. What remains works: ingest, logs, version,
// replay --orders, and replay --data DIR --shard I/N, the shard worker
// (replay_shard.go), so a worker image needs no C toolchain.

func needsCgo(what string) error {
	return fmt.Errorf("%s needs DuckDB, which this ctlimits was built without (CGO_ENABLED=0): use a ctlimits built with cgo (CGO_ENABLED=1, the default with a C compiler); this build runs only ingest, logs, version, replay --orders and replay --data DIR --shard I/N", what)
}

func runReplayData(ctx context.Context, env *cmdEnv, data, planPath string) error {
	return needsCgo("--data without --shard")
}

func init() {
	for _, c := range []struct{ name, summary string }{
		{"completion", "Print a shell completion script (needs the cgo build)"},
		{"demo", "Run the whole pipeline on the bundled sample log (needs the cgo build)"},
		{"man", "Print the manual page (needs the cgo build)"},
		{"report", "Report on the replayed decisions (needs the cgo build)"},
		{"run", "The nightly job (needs the cgo build)"},
		{"shard", "Split DATA into shards for replay --shard workers (needs the cgo build)"},
		{"sql", "Query DATA with SQL (needs the cgo build)"},
		{"whatif", "Re-simulate renewals under another lifetime (needs the cgo build)"},
	} {
		register(&command{
			name:    c.name,
			summary: c.summary,
			setup: func(fs *pflag.FlagSet) {
				// Any flags: the answer is the same whatever they are.
				fs.ParseErrorsWhitelist.UnknownFlags = true
			},
			run: func(ctx context.Context, env *cmdEnv, args []string) error { return needsCgo("this command") },
		})
	}
}
