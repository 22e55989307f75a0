package replay

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what became of an order.
type Kind uint8

const (
	// New: issued, and counted against CertificatesPerDomain.
	New Kind = iota + 1
	// Renewal: issued as a renewal of the same exact set (or, under the
	// ARI assumption, as an ARI replacement), exempt from
	// CertificatesPerDomain.
	Renewal
	// Limited: at least one checked bucket denied the order; nothing was
	// spent.
	Limited
)

func (k Kind) String() string {
	switch k {
	case New:
		return "new"
	case Renewal:
		return "renewal"
	case Limited:
		return "limited"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// BucketRef names one bucket: a limit and its key.
type BucketRef struct {
	Limit Name
	// Key is the registered domain or IP prefix for the per-domain limits,
	// empty for CertificatesPerFQDNSet (see Set).
	Key string
	// Set is the exact set, for CertificatesPerFQDNSet.
	Set SetHash
	// Account is set for the per-account limits.
	Account string
}

// ID is the bucket as "Limit:key", with Boulder's key formats:
// "CertificatesPerDomain:example.com", "CertificatesPerFQDNSet:<hex>",
// "NewOrdersPerAccount:<account>",
// "CertificatesPerDomainPerAccount:<account>:example.com".
func (b BucketRef) ID() string {
	switch b.Limit {
	case CertificatesPerFQDNSet:
		return b.Limit.String() + ":" + b.Set.String()
	case NewOrdersPerAccount:
		return b.Limit.String() + ":" + b.Account
	case CertificatesPerDomainPerAccount:
		return b.Limit.String() + ":" + b.Account + ":" + b.Key
	}
	return b.Limit.String() + ":" + b.Key
}

// Denial is one checked bucket that refused an order.
type Denial struct {
	Bucket BucketRef
	// Limit is the limit that applied to the bucket (default or override).
	Limit Limit
	// Remaining tokens at the order (fewer than it needed).
	Remaining int64
	// RetryIn is how long until the bucket would allow the order.
	RetryIn time.Duration
}

// Tokens is a bucket's level after an order was decided.
type Tokens struct {
	Bucket    BucketRef
	Remaining int64
	Burst     int64
}

// Result is the decision for one order. A Replayer reuses the slices of the
// Result it is given: copy them to keep them past the next Decide.
type Result struct {
	Kind Kind
	// Renewal reports that the exact set was issued within the renewal
	// window before this order (true for limited renewals too).
	Renewal bool
	// ARI reports that the order was taken as an ARI replacement (only
	// under Policy.AssumeARI) and so skipped every check.
	ARI bool
	// IssuedAt is the order's instant, Unix nanoseconds.
	IssuedAt int64
	// Denials lists every checked bucket that denied the order, in the
	// order Boulder checks them. Empty unless Kind is Limited.
	Denials []Denial
	// Reported indexes the denial Boulder reports: the largest RetryIn,
	// then the fewest tokens remaining, then the last checked.
	Reported int
	// Tokens lists the level of every bucket the order touched, after it.
	Tokens []Tokens
}

// Reason is the reported denial; ok is false unless the order was limited.
func (r *Result) Reason() (d Denial, ok bool) {
	if r.Kind != Limited || len(r.Denials) == 0 {
		return Denial{}, false
	}
	return r.Denials[r.Reported], true
}

// RetryAfter is when the order would next be allowed, without the jitter
// Boulder adds for clients; zero unless the order was limited.
func (r *Result) RetryAfter() time.Time {
	d, ok := r.Reason()
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, r.IssuedAt+int64(d.RetryIn)).UTC()
}

// Message is Boulder's error text for a limited order, "" otherwise.
func (r *Result) Message() string {
	d, ok := r.Reason()
	if !ok {
		return ""
	}
	return denialMessage(d, r.RetryAfter())
}

// denialMessage renders Boulder's text for a denial: ratelimits'
// Decision.Result and the berrors constructor that appends the link to the
// docs. The number is the limit's burst; the period is Go's Duration
// formatting; the retry time is formatted to the second.
func denialMessage(d Denial, retryAfter time.Time) string {
	at := retryAfter.UTC().Format("2006-01-02 15:04:05 MST")
	switch d.Bucket.Limit {
	case CertificatesPerDomain, CertificatesPerDomainPerAccount:
		return fmt.Sprintf("too many certificates (%d) already issued for %q in the last %s, retry after %s"+
			": see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain",
			d.Limit.Burst, boulderKeyTail(d.Bucket.Key), d.Limit.Period, at)
	case CertificatesPerFQDNSet:
		return fmt.Sprintf("too many certificates (%d) already issued for this exact set of identifiers in the last %s, retry after %s"+
			": see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers",
			d.Limit.Burst, d.Limit.Period, at)
	case NewOrdersPerAccount:
		return fmt.Sprintf("too many new orders (%d) from this account in the last %s, retry after %s"+
			": see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account",
			d.Limit.Burst, d.Limit.Period, at)
	}
	return fmt.Sprintf("rate limited by %s, retry after %s", d.Bucket.ID(), at)
}

// boulderKeyTail is what Boulder names in a per-domain message: the text
// after the last colon of its bucket key. For an IPv6 /64 that is "/64",
// not the prefix; ctlimits reproduces the text a client really sees.
func boulderKeyTail(key string) string {
	if i := strings.LastIndexByte(key, ':'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// stricter reports whether denial a is reported over b, which was checked
// before it: Boulder's stricter(), where a later decision wins a full tie.
func stricter(a, b *Denial) bool {
	if a.RetryIn != b.RetryIn {
		return a.RetryIn > b.RetryIn
	}
	return a.Remaining <= b.Remaining
}
