package replay

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Order is one certificate order as ctlimits sees it: when it was issued
// (or asked for) and the identifiers it names.
type Order struct {
	// IssuedAt is the order's instant: checks and spends happen here. For a
	// certificate from CT it is the earliest log timestamp of its
	// precertificate (NotBefore is backdated by about an hour).
	IssuedAt time.Time
	// Names are the DNS names and IP addresses, in any case and order,
	// duplicates allowed.
	Names []string
	// NotBefore is the issued certificate's NotBefore, which later renewal
	// lookups compare (Boulder's fqdnSets.issued). Optional; zero means
	// IssuedAt.
	NotBefore time.Time
	// NotAfter is the certificate's expiry. Optional; only the ARI
	// assumption uses it, to place the certificate's renewal window.
	NotAfter time.Time
	// Account is the ACME account, when known (CT does not show it).
	// Optional; it enables NewOrdersPerAccount and per-account overrides.
	Account string
	// Profile is the profile the order asks for; NoProfile lets Prepare
	// infer it (resolveProfile).
	Profile Profile
}

// Prepared is an Order with its names normalized and its keys computed,
// ready for Replayer.Decide. Preparing is the costly part (Public Suffix
// List, SHA-256) and is independent per order, so callers may prepare in
// parallel and decide in sequence.
type Prepared struct {
	// Unix nanoseconds; NotAfter is 0 when unknown.
	IssuedAt, NotBefore, NotAfter int64
	// Names are normalized: lowercased, deduplicated, sorted, DNS first.
	Names []string
	// Domains are the distinct registered domains (and IP prefixes) of
	// Names, sorted bytewise.
	Domains []string
	// Set is the exact-set key.
	Set     SetHash
	Account string
	// Profile is the order's profile, resolved: never NoProfile.
	Profile Profile
}

// ErrBadTime is wrapped by every error about an order's times: outside the
// range ctlimits can represent, or not_before after not_after.
var ErrBadTime = errors.New("bad time")

// MinTime and MaxTime bound every instant an order may name: the times
// whose Unix nanoseconds fit in an int64 (1677-09-21 to 2262-04-11), the
// unit the model and Boulder's limiter count in. Outside them UnixNano
// wraps silently (2300 would become 1715), so they are refused.
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
	epoch   = time.Unix(0, 0)
)

// CheckTime reports whether t can be replayed: zero or within
// [MinTime, MaxTime]. field names the time in the error.
func CheckTime(field string, t time.Time) error {
	if t.IsZero() || (!t.Before(MinTime) && !t.After(MaxTime)) {
		return nil
	}
	return fmt.Errorf("%w: %s %s is outside the years 1678-2262 that ctlimits can count in (Unix nanoseconds); fix the date", ErrBadTime, field, t.Format(time.RFC3339Nano))
}

// Prepare normalizes an order. The error wraps ErrBadName for a malformed
// or missing name, ErrBadTime for a time out of range or a not_before after
// the not_after.
func (n *Namer) Prepare(o *Order) (Prepared, error) {
	if o.IssuedAt.IsZero() {
		return Prepared{}, fmt.Errorf("the order has no issue time")
	}
	for _, f := range [...]struct {
		name string
		t    time.Time
	}{{"issued_at", o.IssuedAt}, {"not_before", o.NotBefore}, {"not_after", o.NotAfter}} {
		if err := CheckTime(f.name, f.t); err != nil {
			return Prepared{}, err
		}
	}
	if o.IssuedAt.Before(epoch) {
		// The replay's tables read a bucket they do not hold as a TAT of
		// 0, the Unix epoch: an order before it would find every bucket
		// in debt.
		return Prepared{}, fmt.Errorf("%w: issued_at %s is before 1970-01-01; ctlimits replays orders from 1970 on", ErrBadTime, o.IssuedAt.UTC().Format(time.RFC3339Nano))
	}
	if !o.NotBefore.IsZero() && !o.NotAfter.IsZero() && o.NotBefore.After(o.NotAfter) {
		return Prepared{}, fmt.Errorf("%w: not_before %s is after not_after %s; the two are swapped or wrong",
			ErrBadTime, o.NotBefore.UTC().Format(time.RFC3339Nano), o.NotAfter.UTC().Format(time.RFC3339Nano))
	}
	pn, err := n.prepare(o.Names)
	if err != nil {
		return Prepared{}, err
	}
	p := Prepared{
		IssuedAt: o.IssuedAt.UnixNano(),
		Names:    pn.names,
		Domains:  pn.domains,
		Set:      pn.hash,
		Account:  o.Account,
	}
	p.NotBefore = p.IssuedAt
	if !o.NotBefore.IsZero() {
		p.NotBefore = o.NotBefore.UnixNano()
	}
	if !o.NotAfter.IsZero() {
		p.NotAfter = o.NotAfter.UnixNano()
	}
	p.Profile = resolveProfile(o.Profile, &p)
	return p, nil
}
