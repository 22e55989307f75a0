// Package ctstream names the independent replays of CT history in a DATA
// directory (streams: a set of issuers under one policy). It is pure Go:
// both the DuckDB replay engine (replay/ctreplay) and the sharded worker
// (replay/shard), which must build without cgo, choose streams here.
package ctstream

import (
	"fmt"
	"regexp"

	"github.com/ctlimits/ctlimits/replay"
)

// Stream is one independent replay of CT history: a set of issuers under
// one policy. Staging certificates always form a stream of their own, so
// they never spend production's buckets.
type Stream struct {
	// Label names the stream in messages ("Let's Encrypt production").
	Label string
	// Slug names the stream's decision files (production-part-00000.parquet):
	// two streams under one policy share its directory, never its files.
	Slug string
	// Where is an SQL condition on the certificates view, with Args.
	Where string
	Args  []any
	// Policy decides the stream's orders.
	Policy *replay.Policy
}

// IssuerSets are the values of --issuers besides a regular expression.
var IssuerSets = []string{"production", "staging", "other", "all"}

// Streams turns an --issuers value and the chosen policy into the streams
// to replay. Staging gets letsencrypt-staging (with main's AssumeARI)
// unless explicit says the user chose the policy or its limits, in which
// case staging is replayed under main too, still apart.
func Streams(issuers string, main *replay.Policy, explicit bool) ([]Stream, error) {
	staging := func() (*replay.Policy, error) {
		if explicit {
			return main, nil
		}
		p, err := replay.LookupPolicy("letsencrypt-staging")
		if err != nil {
			return nil, err
		}
		p.AssumeARI = main.AssumeARI
		return p, nil
	}
	prod := Stream{"Let's Encrypt production", "production", "issuer_group = 'letsencrypt'", nil, main}
	switch issuers {
	case "production":
		return []Stream{prod}, nil
	case "other":
		return []Stream{{"other CAs", "other", "issuer_group = 'other'", nil, main}}, nil
	case "staging", "all":
		p, err := staging()
		if err != nil {
			return nil, err
		}
		st := Stream{"Let's Encrypt staging", "staging", "issuer_group = 'letsencrypt-staging'", nil, p}
		if issuers == "staging" {
			return []Stream{st}, nil
		}
		return []Stream{{"Let's Encrypt production and other CAs", "production-other", "issuer_group <> 'letsencrypt-staging'", nil, main}, st}, nil
	}
	if _, err := regexp.Compile(issuers); err != nil {
		return nil, fmt.Errorf("--issuers %q: not production, staging, other, all, or a valid regular expression: %v", issuers, err)
	}
	p, err := staging()
	if err != nil {
		return nil, err
	}
	return []Stream{
		{"issuers matching " + issuers, "matching", "regexp_matches(issuer, ?) AND issuer_group <> 'letsencrypt-staging'", []any{issuers}, main},
		{"staging issuers matching " + issuers, "staging-matching", "regexp_matches(issuer, ?) AND issuer_group = 'letsencrypt-staging'", []any{issuers}, p},
	}, nil
}

// Groups says which issuer groups (the certificates view's issuer_group)
// the stream holds, and whether the stream is exactly those groups: a
// stream of a regular expression on issuer names is not (ok false).
// The sharded worker, which has no SQL, selects by group.
func (s Stream) Groups() (groups []string, ok bool) {
	switch s.Slug {
	case "production":
		return []string{"letsencrypt"}, true
	case "other":
		return []string{"other"}, true
	case "staging":
		return []string{"letsencrypt-staging"}, true
	case "production-other":
		return []string{"letsencrypt", "other"}, true
	}
	return nil, false
}
