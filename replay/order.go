package replay

import (
	"fmt"
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
}

// Prepare normalizes an order. The error wraps ErrBadName for a malformed
// or missing name.
func (n *Namer) Prepare(o *Order) (Prepared, error) {
	if o.IssuedAt.IsZero() {
		return Prepared{}, fmt.Errorf("the order has no issue time")
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
	return p, nil
}
