package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/spf13/pflag"
)

func init() {
	register(&command{
		name:    "logs",
		summary: "List the CT logs ctlimits knows (from the embedded log list snapshot or --log-list)",
		usage:   "[--log-list FILE] [--format table|json] [--size]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("log-list", "", "CT log list v3 JSON `file` (default: the embedded snapshot)")
			fs.String("format", "table", "output format: table or json")
			fs.Bool("size", false, "fetch each log's signed tree head and show its size (network)")
		},
		run: runLogs,
	})
}

func runLogs(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 {
		return usagef("logs takes no arguments, got %q", args)
	}
	path, _ := env.fs.GetString("log-list")
	format, _ := env.fs.GetString("format")
	withSize, _ := env.fs.GetBool("size")
	if format != "table" && format != "json" {
		return usagef("--format %q: want table or json", format)
	}
	ll, err := loglist.Load(path)
	if err != nil {
		return err
	}
	type row struct {
		Description string `json:"description"`
		Operator    string `json:"operator"`
		Protocol    string `json:"protocol"`
		State       string `json:"state"`
		Start       string `json:"start_inclusive,omitempty"`
		End         string `json:"end_exclusive,omitempty"`
		LogID       string `json:"log_id"`
		URL         string `json:"url"`
		Size        *int64 `json:"tree_size,omitempty"`
		SizeError   string `json:"tree_size_error,omitempty"`
	}
	var rows []row
	for i := range ll.Logs {
		l := &ll.Logs[i]
		r := row{Description: l.Description, Operator: l.Operator, Protocol: string(l.Kind), State: l.State, LogID: l.ID(), URL: l.URL}
		if !l.Start.IsZero() {
			r.Start, r.End = l.Start.Format(time.DateOnly), l.End.Format(time.DateOnly)
		}
		if withSize {
			n, err := ingest.TreeSize(ctx, l, ingest.HTTPConfig{MaxRetries: 2, Timeout: 20 * time.Second, Version: version()})
			if err != nil {
				r.SizeError = err.Error()
			} else {
				r.Size = &n
			}
		}
		rows = append(rows, r)
	}
	if format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if path == "" {
		fmt.Fprintf(env.stderr, "ctlimits logs: %s\n", loglist.SnapshotVersion)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "DESCRIPTION\tOPERATOR\tPROTOCOL\tSTATE\tINTERVAL\t")
	if withSize {
		fmt.Fprint(tw, "SIZE\t")
	}
	fmt.Fprintln(tw, "URL")
	for _, r := range rows {
		iv := "-"
		if r.Start != "" {
			iv = r.Start + ".." + r.End
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t", r.Description, r.Operator, r.Protocol, r.State, iv)
		if withSize {
			if r.Size != nil {
				fmt.Fprintf(tw, "%d\t", *r.Size)
			} else {
				fmt.Fprint(tw, "?\t")
			}
		}
		fmt.Fprintln(tw, r.URL)
	}
	return tw.Flush()
}
