// Package replay is ctlimits' model of Let's Encrypt's certificate rate
// limits: given certificate orders in time order, it decides which would have
// been issued as new certificates, which as renewals, and which would have
// been limited, exactly as Boulder (Let's Encrypt's CA software) decides.
//
// The model follows Boulder's ratelimits package and its callers in the WFE
// and RA (see docs/semantics.md for every rule and its source):
//
//   - Each limit is a GCRA token bucket (gcra.go): one stored "theoretical
//     arrival time" (TAT) per bucket, integer nanoseconds, no bucket = full.
//   - At new-order time one batch checks CertificatesPerDomain for each
//     registered domain (unless the order renews an exact set issued in the
//     last 120 days) and CertificatesPerFQDNSet for the exact set; a denied
//     batch stores nothing (replayer.go). Which batch is denied is a dated
//     rule: before boulder PR 8674 reached production an allowed check
//     with a longer retryIn could mask a denial (batch.go).
//   - An issued certificate spends the same buckets, spend-only: a bucket
//     without capacity is left as it is, never pushed below empty.
//   - Before any limit, an order with more names than its certificate
//     profile allows (profile.go: 100 for classic, 25 for tlsserver and
//     shortlived; the profile named, or inferred from the lifetime) is
//     refused, as Boulder's RA refuses it, and nothing is spent.
//   - Policies (policy.go) bundle limits and rules: the current production
//     and staging limits, the sliding-window limits of 2018 and 2019
//     (legacy.go), and Boulder-format YAML defaults and overrides.
//
// The package is pure: time comes from the orders, never from a clock, and
// it does no I/O. A Replayer is not safe for concurrent use; orders whose
// registered domains never meet in one certificate are independent, so a
// caller may replay such partitions on separate Replayers in parallel.
//
// Memory grows with the buckets that are not full and with the exact sets
// issued inside the renewal window, not with history: a bucket whose TAT has
// passed is indistinguishable from no bucket, and is dropped. The two big
// tables (exact sets, domain buckets) are mapped outside the Go heap with
// huge pages on Linux once they pass 4 MB (internal/table), so GOMEMLIMIT and
// runtime.MemStats do not count them; they are unmapped when the Replayer
// is garbage-collected.
package replay
