//go:build cgo

package main

import (
	"context"
	"io"
	"strings"

	"github.com/ctlimits/ctlimits/sql"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "sql",
		summary: "Run DuckDB SQL over the views of a data directory (entries, ...)",
		usage:   `[--data DIR] [--format table|csv|json] "QUERY"   (or the query on stdin with "-")`,
		setup: func(fs *pflag.FlagSet) {
			fs.String("data", "./data", "data `directory` written by 'ctlimits ingest'")
			fs.String("format", "table", "output format: table, csv (with a header row) or json")
		},
		run: runSQL,
	})
}

func runSQL(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) != 1 {
		return usagef("sql takes one query argument (quote it), got %d arguments", len(args))
	}
	q := args[0]
	if q == "-" {
		b, err := io.ReadAll(env.stdin)
		if err != nil {
			return err
		}
		q = string(b)
	}
	if strings.TrimSpace(q) == "" {
		return usagef("empty query")
	}
	data, _ := env.fs.GetString("data")
	fs, _ := env.fs.GetString("format")
	format, err := sql.ParseFormat(fs)
	if err != nil {
		return usagef("--format: %v", err)
	}
	db, err := sql.Open(data)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Query(ctx, q, env.stdout, format)
}
