//go:build cgo

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/ctreplay"
	"github.com/ctlimits/ctlimits/replay/whatif"
	"github.com/ctlimits/ctlimits/report"
	"github.com/ctlimits/ctlimits/sql"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "The whole pipeline on the bundled sample log, offline: serve, ingest, replay, report",
		usage:   "[--log-dir DIR] [--data DIR]",
		setup: func(fs *pflag.FlagSet) {
			fs.String("log-dir", "testdata/demolog", "the sample log: a static-ct tile directory with its log.json")
			fs.String("data", "", "keep the data in this `directory` (default: a temporary one, removed after)")
		},
		run: runDemo,
		// A CTLIMITS_DATA meant for real work must not receive the demo log.
		localFlags: []string{"data"},
	})
}

// runDemo serves the sample log over HTTP on loopback and runs the real
// client against it, so the demo exercises what a real ingest does:
// checkpoint signature, tiles, issuers, verification, Parquet.
func runDemo(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q", args)
	}
	dir, _ := env.fs.GetString("log-dir")
	data, _ := env.fs.GetString("data")
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		return fmt.Errorf("couldn't read the sample log (run from the repository root, or give --log-dir): %w", err)
	}
	var kf struct {
		PublicKey []byte `json:"public_key"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "log.json"), err)
	}
	if data == "" {
		if data, err = os.MkdirTemp("", "ctlimits-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(data)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("couldn't listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(env.stdout, "Serving %s as a static-ct log at %s\n\n", dir, url)

	l, err := loglist.Custom(url, loglist.Static, kf.PublicKey, kf.Origin)
	if err != nil {
		return err
	}
	l.Description = "ctlimits demo log (" + kf.Origin + ")"
	sum, err := ingest.Run(ctx, ingest.Config{Log: l, Data: data, HTTP: ingest.HTTPConfig{Version: version()}})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "$ ctlimits ingest\n%s\n\n", sum)

	p, _ := replay.LookupPolicy("letsencrypt")
	streams, err := ctreplay.Streams("all", p, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "$ ctlimits replay --issuers all\n")
	res, err := ctreplay.Run(ctx, ctreplay.Config{Data: data, Streams: streams, Format: "parquet"})
	if err != nil {
		return err
	}
	for _, r := range res.Streams {
		fmt.Fprintf(env.stdout, "%s under %s: %s; %d over the model\n", r.Label, r.Policy.Name, r.Counts, r.OverModel)
	}
	if len(res.Streams) == 0 {
		return errors.New("the sample log held no certificates to replay")
	}
	fmt.Fprintf(env.stdout, "\n$ ctlimits report\n")
	if err := demoReport(ctx, env, data); err != nil {
		return err
	}
	return demoWhatif(ctx, env, data, p)
}

// demoWhatif projects the demo's renewals as 45-day certificates renewed
// two thirds in: what Let's Encrypt's shorter lifetimes do to its limits.
func demoWhatif(ctx context.Context, env *cmdEnv, data string, p *replay.Policy) error {
	fmt.Fprintf(env.stdout, "\n$ ctlimits whatif --issuers all --lifetime 45d --renew-at 2/3\n")
	streams, err := ctreplay.Streams("all", p, false)
	if err != nil {
		return err
	}
	w := whatifRun{data: data, stream: streams[0], weeks: 12, size: true, head: 1.2, workers: 1,
		cadence: whatif.Cadence{Lifetime: 45 * 24 * time.Hour, RenewAt: 2.0 / 3}}
	res, err := w.run(ctx)
	if err != nil {
		return err
	}
	return res.writeText(env.stdout)
}

// demoReport prints the text report, trimmed to what fits a terminal.
func demoReport(ctx context.Context, env *cmdEnv, data string) error {
	db, err := sql.Open(data)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := report.Build(ctx, db.DB(), report.Options{Top: 5, LimitedRows: 5, Charts: 1})
	if err != nil {
		return err
	}
	if err := r.WriteText(env.stdout); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nThe same report as HTML: ctlimits demo --data DIR, then ctlimits report --data DIR --format html --out report.html\n")
	return nil
}
