package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "Replay orders through Let's Encrypt's rate limits and write one decision per order",
		usage:   "(--orders FILE | --data DIR | --data DIR --orders FILE) [--policy NAME] [--limits FILE] [--overrides FILE] [--format table|jsonl|csv|parquet] [--out FILE]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("orders", "", "orders file: .jsonl, .csv or .parquet (\"-\" reads JSON lines from stdin); with --data, the plan is laid over DATA's certificates and its decisions go to --out (never into DATA)")
			addCTReplayFlags(fs)
			addPolicyFlags(fs)
			fs.String("format", "table", "output format: "+strings.Join(orderio.OutputFormats, ", ")+" (default: from --out's extension, else table)")
			fs.StringP("out", "o", "", "write decisions to this file, atomically (default: stdout); .parquet, .jsonl, .csv or .txt choose the format")
			fs.Bool("sort", false, "sort orders by issued_at before replaying (otherwise out-of-order input is an error)")
			fs.BoolP("quiet", "q", false, "print no summary on stderr")
		},
		run: runReplay,
	})
}

// addPolicyFlags defines the flags that choose the rules; replay, report
// and run share them.
func addPolicyFlags(fs *pflag.FlagSet) {
	fs.String("policy", "letsencrypt", "rules to replay under: "+strings.Join(replay.PolicyNames(), ", "))
	fs.String("limits", "", "Boulder-format defaults YAML replacing the policy's limits")
	fs.String("overrides", "", "Boulder-format overrides YAML (CertificatesPerDomain, CertificatesPerFQDNSet, ...)")
	fs.Bool("assume-ari", false, "treat an order sharing a name with a live certificate, inside its ARI renewal window, as an ARI replacement (exempt from checks)")
}

// policyFromFlags builds the policy the flags describe.
func policyFromFlags(fs *pflag.FlagSet) (*replay.Policy, error) {
	name, _ := fs.GetString("policy")
	if _, err := replay.LookupPolicy(name); err != nil {
		return nil, usageError{err}
	}
	limits, _ := fs.GetString("limits")
	overrides, _ := fs.GetString("overrides")
	p, err := orderio.LoadPolicy(name, limits, overrides)
	if err != nil {
		return nil, err
	}
	p.AssumeARI, _ = fs.GetBool("assume-ari")
	return p, nil
}

func runReplay(ctx context.Context, env *cmdEnv, args []string) error {
	fs := env.fs
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	ordersPath, _ := fs.GetString("orders")
	data, _ := fs.GetString("data")
	switch {
	case data != "" && fs.Changed("shard"):
		if ordersPath != "" {
			return usagef("--shard replays DATA's shards: it takes no --orders")
		}
		return runReplayShard(ctx, env, data)
	case data != "":
		// With --orders too: the plan laid over DATA's history.
		return runReplayData(ctx, env, data, ordersPath)
	case ordersPath == "":
		return usagef("--orders FILE or --data DIR is required")
	}
	for _, f := range []string{"issuers", "domain", "since", "until", "in-memory", "slice", "nb-skew", "from-scratch", "keep-days", "lateness", "shard"} {
		if fs.Changed(f) {
			return usagef("--%s applies to --data replays", f)
		}
	}
	format, _ := fs.GetString("format")
	if !slices.Contains(orderio.OutputFormats, format) {
		return usagef("unknown --format %q; choose one of %s", format, strings.Join(orderio.OutputFormats, ", "))
	}
	outPath, _ := fs.GetString("out")
	format, err := orderio.ChooseOutputFormat(format, fs.Changed("format"), outPath, "table")
	if err != nil {
		return usageError{err}
	}
	sortIn, _ := fs.GetBool("sort")
	quiet, _ := fs.GetBool("quiet")
	p, err := policyFromFlags(fs)
	if err != nil {
		return err
	}
	in, err := orderio.Open(ordersPath, env.stdin)
	if err != nil {
		return err
	}
	defer in.Close()

	start := time.Now()
	var counts orderio.Counts
	err = writeOutput(outPath, env.stdout, func(w io.Writer) error {
		// Parquet decisions of a plan carry the columns DATA's have (the
		// policy, the validity; issuer_group "plan"), so that 'ctlimits
		// report --decisions FILE' reads them like DATA's.
		out, err := orderio.NewWriterWith(format, w, orderio.WriterOptions{CT: format == "parquet", Policy: p.Name, Group: "plan"})
		if err != nil {
			return err
		}
		counts, err = orderio.Stream(ctx, in, p, out, orderio.Options{Sort: sortIn})
		if err != nil {
			return err
		}
		return out.Close()
	})
	if err != nil {
		return err
	}
	if !quiet && (outPath != "" || format != "table") {
		dest := outPath
		if dest == "" {
			dest = "stdout"
		}
		fmt.Fprintf(env.stderr, "ctlimits replay: %s under %s -> %s (%s)\n", counts, p.Name, dest, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// writeOutput runs write against path durably and atomically
// (datadir.Write: nothing partial is ever left at path, the umask
// applies), or against stdout when path is empty or "-".
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(stdout)
	}
	return datadir.Write(path, write)
}
