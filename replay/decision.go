package replay

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
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
	// Refused: the order names more identifiers than its profile allows
	// (Profile.MaxNames); Boulder's RA refuses it before any certificate,
	// so nothing is counted or spent, and no bucket is consulted.
	Refused
)

func (k Kind) String() string {
	switch k {
	case New:
		return "new"
	case Renewal:
		return "renewal"
	case Limited:
		return "limited"
	case Refused:
		return "refused"
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
func (b BucketRef) ID() string { return string(b.AppendID(nil)) }

// AppendID appends ID to buf.
func (b BucketRef) AppendID(buf []byte) []byte {
	buf = append(buf, b.Limit.String()...)
	buf = append(buf, ':')
	switch b.Limit {
	case CertificatesPerFQDNSet:
		return hex.AppendEncode(buf, b.Set[:])
	case NewOrdersPerAccount:
		return append(buf, b.Account...)
	case CertificatesPerDomainPerAccount:
		buf = append(buf, b.Account...)
		buf = append(buf, ':')
	}
	return append(buf, b.Key...)
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
	// MaskedDenial is set on an order issued only by Boulder's batch rule
	// before Policy.DenialFirstSince (batch.go): a checked bucket denied
	// it, but an allowed check with a longer retryIn decided the batch.
	// It is the denial the current rule would report; Masked tells
	// whether there is one. Kind is New and Denials is empty all the same.
	MaskedDenial Denial
	// MaxNames is the names cap that refused the order; zero unless Kind
	// is Refused.
	MaxNames int
}

// Masked reports whether the order was issued although a check denied it
// (see MaskedDenial).
func (r *Result) Masked() bool { return r.MaskedDenial.Bucket.Limit != unknownLimit }

// Clone returns a copy of r that owns its slices (nil when empty), for
// keeping past the next Decide.
func (r *Result) Clone() Result {
	c := *r
	c.Denials, c.Tokens = nil, nil
	if len(r.Denials) > 0 {
		c.Denials = slices.Clone(r.Denials)
	}
	if len(r.Tokens) > 0 {
		c.Tokens = slices.Clone(r.Tokens)
	}
	return c
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

// Message is Boulder's error text for a limited or refused order, ""
// otherwise.
func (r *Result) Message() string {
	return string(r.AppendMessage(nil))
}

// AppendMessage appends Message to b; writers use it to spare the
// allocations.
func (r *Result) AppendMessage(b []byte) []byte {
	if r.Kind == Refused {
		// ra.NewOrder's berrors.MalformedError text.
		b = append(b, "Order cannot contain more than "...)
		b = strconv.AppendInt(b, int64(r.MaxNames), 10)
		return append(b, " identifiers"...)
	}
	d, ok := r.Reason()
	if !ok {
		return b
	}
	return appendDenialMessage(b, d, time.Unix(0, r.IssuedAt+int64(d.RetryIn)))
}

// appendDenialMessage renders Boulder's text for a denial: ratelimits'
// Decision.Result and the berrors constructor that appends the link to the
// docs. The number is the limit's burst; the period is Go's Duration
// formatting; the retry time is formatted to the second.
func appendDenialMessage(b []byte, d Denial, retryAfter time.Time) []byte {
	switch d.Bucket.Limit {
	case CertificatesPerDomain, CertificatesPerDomainPerAccount:
		b = append(b, "too many certificates ("...)
		b = strconv.AppendInt(b, d.Limit.Burst, 10)
		b = append(b, ") already issued for "...)
		b = strconv.AppendQuote(b, boulderKeyTail(d.Bucket.Key))
		b = append(b, " in the last "...)
		b = append(b, d.Limit.Period.String()...)
		b = appendRetry(b, retryAfter)
		return append(b, ": see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain"...)
	case CertificatesPerFQDNSet:
		b = append(b, "too many certificates ("...)
		b = strconv.AppendInt(b, d.Limit.Burst, 10)
		b = append(b, ") already issued for this exact set of identifiers in the last "...)
		b = append(b, d.Limit.Period.String()...)
		b = appendRetry(b, retryAfter)
		return append(b, ": see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers"...)
	case NewOrdersPerAccount:
		b = append(b, "too many new orders ("...)
		b = strconv.AppendInt(b, d.Limit.Burst, 10)
		b = append(b, ") from this account in the last "...)
		b = append(b, d.Limit.Period.String()...)
		b = appendRetry(b, retryAfter)
		return append(b, ": see https://letsencrypt.org/docs/rate-limits/#new-orders-per-account"...)
	}
	b = append(b, "rate limited by "...)
	b = append(b, d.Bucket.ID()...)
	return appendRetry(b, retryAfter)
}

func appendRetry(b []byte, at time.Time) []byte {
	b = append(b, ", retry after "...)
	return at.UTC().AppendFormat(b, "2006-01-02 15:04:05 MST")
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
