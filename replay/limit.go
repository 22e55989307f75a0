package replay

import (
	"fmt"
	"math/bits"
	"time"
)

// Name identifies a rate limit, spelled as in Boulder's configuration and
// error messages.
type Name uint8

const (
	unknownLimit Name = iota
	// CertificatesPerDomain limits new certificates per registered domain
	// (eTLD+1), IPv4 address (/32) or IPv6 /64. Bucket key: the domain or
	// prefix, e.g. "example.com", "192.0.2.1/32".
	CertificatesPerDomain
	// CertificatesPerFQDNSet limits certificates per exact set of
	// identifiers, renewals included. Bucket key: hex SHA-256 of the
	// normalized names joined by ",".
	CertificatesPerFQDNSet
	// NewOrdersPerAccount limits new orders per ACME account. CT does not
	// show accounts, so it applies only to orders that name one.
	// Bucket key: the account.
	NewOrdersPerAccount
	// CertificatesPerDomainPerAccount exists only as an override: an
	// account with one is checked against a per-account copy of each
	// registered domain's bucket instead of the shared one.
	// Bucket key: "account:domain".
	CertificatesPerDomainPerAccount
	numLimits
)

var limitNames = [numLimits]string{
	unknownLimit:                    "Unknown",
	CertificatesPerDomain:           "CertificatesPerDomain",
	CertificatesPerFQDNSet:          "CertificatesPerFQDNSet",
	NewOrdersPerAccount:             "NewOrdersPerAccount",
	CertificatesPerDomainPerAccount: "CertificatesPerDomainPerAccount",
}

func (n Name) String() string {
	if n < numLimits {
		return limitNames[n]
	}
	return fmt.Sprintf("Name(%d)", uint8(n))
}

// ParseName returns the limit called s (Boulder's spelling).
func ParseName(s string) (Name, bool) {
	for i := CertificatesPerDomain; i < numLimits; i++ {
		if limitNames[i] == s {
			return i, true
		}
	}
	return unknownLimit, false
}

// Limit is one rate limit's parameters: up to Burst tokens, refilled at
// Count tokens per Period. The zero Limit is disabled.
type Limit struct {
	Burst  int64
	Count  int64
	Period time.Duration

	// emission is the nanoseconds one token takes to refill, Period/Count
	// truncated as Boulder truncates it. capHi:capLo is the nanoseconds a
	// bucket takes to refill from empty, emission*Burst, as an unsigned
	// 128-bit number: Boulder accepts any positive burst, and the product
	// passes int64 (where Boulder's burstOffset wraps and denies every
	// order) from a burst of about 763,000 at 50 per 168h.
	emission     int64
	capHi, capLo uint64
}

// NewLimit validates and precomputes a limit. Burst, count and period must
// all be positive, as Boulder's ValidateLimit demands; a count above the
// period's nanoseconds (less than 1ns per token) is refused too, as it
// would make Boulder divide by zero.
func NewLimit(burst, count int64, period time.Duration) (Limit, error) {
	switch {
	case burst <= 0:
		return Limit{}, fmt.Errorf("invalid burst %d, must be > 0", burst)
	case count <= 0:
		return Limit{}, fmt.Errorf("invalid count %d, must be > 0", count)
	case period <= 0:
		return Limit{}, fmt.Errorf("invalid period %s, must be > 0", period)
	case int64(period)/count == 0:
		return Limit{}, fmt.Errorf("invalid count %d per %s: less than 1ns per token", count, period)
	}
	ei := int64(period) / count
	hi, lo := bits.Mul64(uint64(ei), uint64(burst))
	return Limit{Burst: burst, Count: count, Period: period, emission: ei, capHi: hi, capLo: lo}, nil
}

func mustLimit(burst, count int64, period time.Duration) Limit {
	l, err := NewLimit(burst, count, period)
	if err != nil {
		panic(err)
	}
	return l
}

// Enabled reports whether the limit applies at all.
func (l Limit) Enabled() bool { return l.Burst > 0 }

// EmissionInterval is the time one token takes to refill.
func (l Limit) EmissionInterval() time.Duration { return time.Duration(l.emission) }

func (l Limit) String() string {
	if !l.Enabled() {
		return "disabled"
	}
	return fmt.Sprintf("burst %d, %d per %s", l.Burst, l.Count, l.Period)
}
