package replay

import "time"

// One order's new-order checks are one Boulder batch (BatchSpend), whose
// decision is the fold of its checks' decisions, in the order they are
// checked, by Boulder's stricter(). The fold changed with boulder PR 8674
// (Policy.DenialFirstSince):
//
//   - Now a denial beats any allowed decision, then the longer retryIn,
//     then the fewer tokens remaining, the later check on a full tie. The
//     order is limited when any check denies it; Replayer.deny keeps the
//     reported denial.
//   - Before, stricter() never looked at allowed: the longer retryIn won,
//     then the fewer remaining (the earlier check only with strictly fewer,
//     so the later one on a full tie). An allowed check that leaves its
//     bucket short has a retryIn too (up to its emission interval), so
//     when it outranked every denial the batch was allowed and the order
//     went through. oldBatch is that fold.

// oldBatch folds a batch's checks as Boulder did before PR 8674. Its zero
// value is the empty batch, which allows: Boulder starts the fold from an
// allowed decision with no retryIn and every token, which any check
// replaces.
type oldBatch struct {
	checked   bool
	allowed   bool
	retryIn   time.Duration
	remaining int64
}

// add folds in the next check's decision: Boulder's old
// stricter(existing, incoming).
func (b *oldBatch) add(out *Outcome) {
	if b.checked && (out.RetryIn < b.retryIn || out.RetryIn == b.retryIn && b.remaining < out.Remaining) {
		return
	}
	*b = oldBatch{checked: true, allowed: out.Allowed, retryIn: out.RetryIn, remaining: out.Remaining}
}

// masks reports whether the folded batch was allowed although a check
// denied it.
func (b *oldBatch) masks(res *Result) bool { return b.allowed && len(res.Denials) > 0 }
