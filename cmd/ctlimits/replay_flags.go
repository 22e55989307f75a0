package main

import (
	"runtime"
	"time"

	"github.com/spf13/pflag"
)

// The flags of ctlimits replay --data, in both builds: with cgo they reach
// ctreplay (replay_data.go); without, only --shard runs (replay_shard.go).

// addCTReplayFlags defines the flags of a replay over DATA.
func addCTReplayFlags(fs *pflag.FlagSet) {
	fs.String("data", "", "replay the certificates ingested into this data `directory` (instead of --orders)")
	fs.String("issuers", "production", "which certificates: production (Let's Encrypt), staging, other (other CAs, as if from Let's Encrypt), all, or a regular expression on the issuer name")
	fs.StringSlice("domain", nil, "replay only the orders connected to these registered domains (repeatable)")
	fs.String("since", "", "first order to report (RFC 3339 or YYYY-MM-DD); earlier orders warm the buckets up")
	fs.String("until", "", "last instant to replay (RFC 3339 or YYYY-MM-DD, exclusive)")
	fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines preparing orders, and with --in-memory replaying independent domains (the decisions are the same for any number)")
	fs.Bool("in-memory", false, "load the whole history into memory and replay independent domains in parallel (faster on a day of data; memory grows with history)")
	fs.Duration("slice", 6*time.Hour, "read history in NotBefore slices this long (memory follows the certificates of --slice + --nb-skew)")
	fs.Duration("nb-skew", 24*time.Hour, "how long before its NotBefore a certificate may be logged (a certificate logged earlier is an error that names it)")
	fs.Bool("from-scratch", false, "replay all history, ignoring the states saved by the last replay (they are saved anew)")
	fs.Int("keep-days", 3, "keep the replay's state at each of the last N midnights, so entries up to N days late cost a replay of N days")
	fs.Duration("lateness", 24*time.Hour, "decisions within this much of the least advanced log's newest entry are provisional")
	fs.String("shard", "", "replay only shard `I/N` of 'ctlimits shard --shards N' (pure Go: works in the CGO_ENABLED=0 build); the last shard done publishes all")
}

func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time or a date (2026-03-01)", flag, s)
}
