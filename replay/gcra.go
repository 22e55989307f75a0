package replay

import (
	"math"
	"math/bits"
	"time"
)

// Outcome is the result of offering a cost to one bucket. It mirrors
// Boulder's ratelimits.Decision field for field.
type Outcome struct {
	Allowed bool
	// Remaining is the number of whole tokens left: after the spend when
	// allowed, before it when denied.
	Remaining int64
	// RetryIn is how long until the same cost would be allowed (when
	// denied), or until one more token of the cost refills (when allowed
	// and the bucket is left short).
	RetryIn time.Duration
	// ResetIn is how long until the bucket is full again.
	ResetIn time.Duration
	// TAT is the bucket's theoretical arrival time after the decision, in
	// Unix nanoseconds: the instant it is full again. Unchanged when denied.
	TAT int64
}

// spend is the GCRA decision for offering cost tokens at now to a bucket
// whose stored TAT is tat (both Unix nanoseconds; a missing bucket is
// tat <= now). It is Boulder's maybeSpend and decides nothing else: storing
// the new TAT is the caller's choice.
//
// Boulder computes in int64 nanoseconds, where emission*burst, TAT+cost
// and now-(TAT-burstOffset) wrap for large bursts, long periods or times
// near 2262. Here the same quantities are taken relative to now, as the
// debt d = max(now,tat)-now, and compared in 128 bits, so the decision is
// exact for every limit NewLimit accepts; where the two agree (every
// product within int64) the results are Boulder's bit for bit. Durations
// past 292 years saturate at the largest time.Duration, and a new TAT past
// 2262-04-11 at the largest Unix nanosecond.
//
// The cost must be in [0, l.Burst]; the callers build only costs of 0 and 1.
func (l *Limit) spend(now, tat, cost int64) Outcome {
	// A TAT in the past must not grant capacity from the past: start at now.
	t := max(now, tat)
	ei := uint64(l.emission)
	d := uint64(t) - uint64(now) // t >= now: exact in uint64
	inc := mul128(ei, uint64(max(cost, 0)))
	need := inc.add(d)
	capacity := u128{l.capHi, l.capLo}
	if capacity.less(need) {
		return Outcome{
			Allowed:   false,
			Remaining: l.tokensFor(d),
			RetryIn:   time.Duration(need.sub(capacity).int63()),
			ResetIn:   time.Duration(u128{0, d}.int63()),
			TAT:       t,
		}
	}
	diff := capacity.sub(need)
	var retryIn time.Duration
	if diff.less(inc) {
		retryIn = time.Duration(inc.sub(diff).int63())
	}
	newTAT := int64(math.MaxInt64)
	if room := uint64(math.MaxInt64) - uint64(t); !(u128{0, room}).less(inc) {
		newTAT = t + int64(inc.lo)
	}
	return Outcome{
		Allowed:   true,
		Remaining: int64(diff.div(ei)), // at most Burst
		RetryIn:   retryIn,
		ResetIn:   time.Duration(need.int63()),
		TAT:       newTAT,
	}
}

// tokensFor is Boulder's residual, (now-(tat-burstOffset))/emission, for
// a bucket in debt d = tat-now >= 0: whole tokens left, negative (rounded
// toward zero) for a bucket deeper in debt than its burst.
func (l *Limit) tokensFor(d uint64) int64 {
	capacity := u128{l.capHi, l.capLo}
	if dd := (u128{0, d}); capacity.less(dd) {
		return -dd.sub(capacity).divInt63(uint64(l.emission))
	}
	return capacity.sub(u128{0, d}).divInt63(uint64(l.emission))
}

// level is the whole tokens a bucket with this TAT holds at now, at most
// Burst.
func (l *Limit) level(tat, now int64) int64 {
	if tat <= now {
		return l.Burst
	}
	return min(l.Burst, l.tokensFor(uint64(tat)-uint64(now)))
}

// u128 is an unsigned 128-bit number, for the GCRA's products.
type u128 struct{ hi, lo uint64 }

func mul128(a, b uint64) u128 {
	hi, lo := bits.Mul64(a, b)
	return u128{hi, lo}
}

func (a u128) add(b uint64) u128 {
	lo, carry := bits.Add64(a.lo, b, 0)
	return u128{a.hi + carry, lo}
}

func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	return u128{a.hi - b.hi - borrow, lo}
}

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// int63 is a, saturated at math.MaxInt64.
func (a u128) int63() int64 {
	if a.hi != 0 || a.lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(a.lo)
}

// div is a/d, saturated at the largest uint64; d > 0.
func (a u128) div(d uint64) uint64 {
	if a.hi == 0 {
		return a.lo / d
	}
	if a.hi >= d {
		return math.MaxUint64
	}
	q, _ := bits.Div64(a.hi, a.lo, d)
	return q
}

// divInt63 is a/d saturated at math.MaxInt64.
func (a u128) divInt63(d uint64) int64 { return u128{0, a.div(d)}.int63() }

// Bucket is a single token bucket with its stored TAT, for callers that want
// the GCRA on its own (tests, what-if tools). The zero Bucket is full.
type Bucket struct {
	Limit Limit
	// TAT is the stored theoretical arrival time in Unix nanoseconds.
	TAT int64
}

// Spend offers cost at now and stores the new TAT when allowed.
func (b *Bucket) Spend(now time.Time, cost int64) Outcome {
	o := b.Limit.spend(now.UnixNano(), b.TAT, cost)
	if o.Allowed {
		b.TAT = o.TAT
	}
	return o
}

// Check offers cost at now without storing anything.
func (b *Bucket) Check(now time.Time, cost int64) Outcome {
	return b.Limit.spend(now.UnixNano(), b.TAT, cost)
}
