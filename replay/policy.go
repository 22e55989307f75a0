package replay

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Model selects how a policy counts.
type Model uint8

const (
	// TokenBucket is Boulder's GCRA limiter, in production since January
	// 2025.
	TokenBucket Model = iota
	// SlidingWindow counts certificates by NotBefore over the previous
	// period, as Boulder did before the token-bucket limiter (legacy.go).
	SlidingWindow
)

func (m Model) String() string {
	if m == SlidingWindow {
		return "sliding-window"
	}
	return "token-bucket"
}

// Policy is a complete set of rules to replay under. Build one with
// LookupPolicy and adjust it (limits, overrides, ARI) before the first
// Decide; a Replayer does not expect it to change afterwards.
type Policy struct {
	// Name is the built-in policy this came from ("letsencrypt", ...) or
	// "custom".
	Name  string
	Model Model
	// Limits are the defaults per limit name; a zero Limit is disabled.
	Limits [numLimits]Limit
	// Overrides replace a limit for one key; see AddOverride.
	Overrides map[OverrideKey]Limit
	// SetOverrides replace CertificatesPerFQDNSet for one exact set.
	SetOverrides map[SetHash]Limit
	// RenewalWindow bounds the renewal lookback: an order renews when its
	// exact set was issued with a NotBefore strictly after
	// IssuedAt - RenewalWindow. Zero means any earlier issuance counts.
	RenewalWindow time.Duration
	// RenewalWindowSince is when RenewalWindow took effect; orders before
	// it renew on any earlier issuance. Zero: always in effect.
	RenewalWindowSince time.Time
	// CountRenewals makes renewals count against CertificatesPerDomain
	// while still never being blocked by it (Let's Encrypt until February
	// 2019). Sliding-window policies only.
	CountRenewals bool
	// DenialFirstSince is when Boulder's batch decision began to prefer a
	// denial (boulder PR 8674, see batch.go): from it on, an order is
	// limited when any checked bucket denies it. Before it, a token-bucket
	// batch was decided by its strictest check, denied or allowed, by
	// retryIn alone, so an allowed check with a longer retryIn let an
	// order through that a bucket denied (Result.MaskedDenial). Zero:
	// always the current rule. The sliding-window model has no batch and
	// ignores it.
	DenialFirstSince time.Time
	// AssumeARI takes an order as an ARI replacement, exempt from every
	// check, when it shares a name with an earlier certificate that is not
	// yet replaced and the order falls inside that certificate's suggested
	// renewal window (see ari.go). CT cannot show ARI, so this is opt-in.
	AssumeARI bool
}

// OverrideKey is the bucket an override applies to: a registered domain or
// IP prefix for CertificatesPerDomain, the account for NewOrdersPerAccount
// and CertificatesPerDomainPerAccount.
type OverrideKey struct {
	Limit Name
	ID    string
}

// renewalWindowFrom is when Let's Encrypt bounded the renewal exemption to
// certificates issued in the last 120 days (Boulder's
// FQDNSetTimestampsForWindow call; announced for 2025-01-06).
var renewalWindowFrom = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// denialFirstFrom is when production Let's Encrypt first ran a Boulder
// whose batch decision prefers a denial: PR 8674 merged on Tuesday
// 2026-03-17, after v0.20260309.0 was cut; Boulder's release schedule
// (docs/release.md: cut on Monday, staging on Tuesday, production on
// Thursday) puts its first release, cut on 2026-03-23, in production on
// Thursday 2026-03-26. docs/semantics.md, "Dated rules", has the evidence
// and its limits.
var denialFirstFrom = time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)

// stagingDenialFirstFrom is the same release's staging deployment, on the
// Tuesday before production.
var stagingDenialFirstFrom = time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC)

const week = 168 * time.Hour

// The built-in policies. Production burst = count is inferred from the
// public docs ("up to N every P, refills 1 every P/N"); the production
// YAML is not public. See docs/semantics.md for each value's source.
var builtins = map[string]func() *Policy{
	"letsencrypt": func() *Policy {
		p := &Policy{Model: TokenBucket, RenewalWindow: 120 * 24 * time.Hour, RenewalWindowSince: renewalWindowFrom,
			DenialFirstSince: denialFirstFrom}
		p.Limits[CertificatesPerDomain] = mustLimit(50, 50, week)
		p.Limits[CertificatesPerFQDNSet] = mustLimit(5, 5, week)
		p.Limits[NewOrdersPerAccount] = mustLimit(300, 300, 3*time.Hour)
		return p
	},
	"letsencrypt-staging": func() *Policy {
		p := &Policy{Model: TokenBucket, RenewalWindow: 120 * 24 * time.Hour, RenewalWindowSince: renewalWindowFrom,
			DenialFirstSince: stagingDenialFirstFrom}
		p.Limits[CertificatesPerDomain] = mustLimit(30000, 30000, week)
		p.Limits[CertificatesPerFQDNSet] = mustLimit(30000, 30000, week)
		p.Limits[NewOrdersPerAccount] = mustLimit(1500, 1500, 3*time.Hour)
		return p
	},
	"letsencrypt-2019": func() *Policy {
		p := &Policy{Model: SlidingWindow}
		p.Limits[CertificatesPerDomain] = mustLimit(50, 50, week)
		p.Limits[CertificatesPerFQDNSet] = mustLimit(5, 5, week)
		return p
	},
	"letsencrypt-2018": func() *Policy {
		p := &Policy{Model: SlidingWindow, CountRenewals: true}
		p.Limits[CertificatesPerDomain] = mustLimit(50, 50, week)
		p.Limits[CertificatesPerFQDNSet] = mustLimit(5, 5, week)
		return p
	},
}

// PolicyNames lists the built-in policies.
func PolicyNames() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupPolicy returns a fresh copy of a built-in policy.
func LookupPolicy(name string) (*Policy, error) {
	mk, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q; choose one of %s", name, strings.Join(PolicyNames(), ", "))
	}
	p := mk()
	p.Name = name
	return p, nil
}

// limitFor returns the limit that applies to a bucket: its override if it
// has one, else the default.
func (p *Policy) limitFor(name Name, id string) Limit {
	if len(p.Overrides) > 0 {
		if l, ok := p.Overrides[OverrideKey{name, id}]; ok {
			return l
		}
	}
	return p.Limits[name]
}

// setLimit returns the CertificatesPerFQDNSet limit of one exact set.
func (p *Policy) setLimit(h SetHash) Limit {
	if len(p.SetOverrides) > 0 {
		if l, ok := p.SetOverrides[h]; ok {
			return l
		}
	}
	return p.Limits[CertificatesPerFQDNSet]
}

// AddOverride sets the limit for one bucket. The id is checked and
// normalized as Boulder does: a CertificatesPerDomain id must be a
// registered domain (or an IP address, keyed by its prefix); a
// CertificatesPerFQDNSet id is the comma-separated names of the set.
func (p *Policy) AddOverride(name Name, id string, l Limit) error {
	if !l.Enabled() {
		return fmt.Errorf("override %s:%s has no limit", name, id)
	}
	if id == "" {
		return fmt.Errorf("override for %s has an empty id", name)
	}
	switch name {
	case CertificatesPerDomain:
		d, err := RegisteredDomain(id)
		if err != nil {
			return fmt.Errorf("override %s:%s: %w", name, id, err)
		}
		norm, _ := normalizeName(id)
		if !norm.ip && d != norm.value {
			return fmt.Errorf("override %s:%s would never apply: buckets are per registered domain, and the registered domain of %q is %q", name, id, id, d)
		}
		id = d
	case CertificatesPerFQDNSet:
		names, err := NormalizeNames(strings.Split(id, ","))
		if err != nil {
			return fmt.Errorf("override %s:%s: %w", name, id, err)
		}
		if p.SetOverrides == nil {
			p.SetOverrides = make(map[SetHash]Limit)
		}
		p.SetOverrides[HashNames(names)] = l
		return nil
	case NewOrdersPerAccount, CertificatesPerDomainPerAccount:
		// Any account string; Boulder's are numeric registration IDs.
	default:
		return fmt.Errorf("overrides for %s are not modeled", name)
	}
	if p.Overrides == nil {
		p.Overrides = make(map[OverrideKey]Limit)
	}
	p.Overrides[OverrideKey{name, id}] = l
	return nil
}

// renewalCutoff returns the earliest NotBefore (exclusive) that makes an
// order at now a renewal, and whether the window applies at all.
func (p *Policy) renewalCutoff(now int64) (int64, bool) {
	if p.RenewalWindow <= 0 {
		return 0, false
	}
	if !p.RenewalWindowSince.IsZero() && now < p.RenewalWindowSince.UnixNano() {
		return 0, false
	}
	return now - int64(p.RenewalWindow), true
}

// denialFirst reports whether an order at now (Unix ns) is decided by the
// current batch rule, a denial first (see DenialFirstSince).
func (p *Policy) denialFirst(now int64) bool {
	return p.DenialFirstSince.IsZero() || now >= p.DenialFirstSince.UnixNano()
}
