package replay

import "time"

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
// tat <= now). It is Boulder's maybeSpend, in integer nanoseconds, and
// decides nothing else: storing the new TAT is the caller's choice.
//
// The cost must be in [0, l.Burst]; the callers build only costs of 0 and 1.
func (l *Limit) spend(now, tat, cost int64) Outcome {
	// A TAT in the past must not grant capacity from the past: start at now.
	t := max(now, tat)
	increment := l.emission * cost
	newTAT := t + increment
	diff := now - (newTAT - l.burstOffset)
	if diff < 0 {
		return Outcome{
			Allowed:   false,
			Remaining: (now - (t - l.burstOffset)) / l.emission,
			RetryIn:   time.Duration(-diff),
			ResetIn:   time.Duration(t - now),
			TAT:       t,
		}
	}
	var retryIn time.Duration
	if diff < increment {
		retryIn = time.Duration(increment - diff)
	}
	return Outcome{
		Allowed:   true,
		Remaining: diff / l.emission,
		RetryIn:   retryIn,
		ResetIn:   time.Duration(newTAT - now),
		TAT:       newTAT,
	}
}

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
