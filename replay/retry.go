package replay

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
)

// Retries answers "when does a plan finish?": every order is decided at
// its instant, and each limited order that may retry is decided again at
// its retry-after (Result.RetryAfter, Boulder's, without the jitter Boulder
// adds for clients) until it is issued, as a client that honours
// Retry-After would.
//
// Events run in time order on one Replayer; at one instant the order
// earlier in the input goes first, whether it is a retry or a first
// attempt, so the result does not depend on anything but the input. A
// retried order is the same order moved later: its NotBefore and NotAfter
// move with it.

// RetryOptions tune SimulateRetries.
type RetryOptions struct {
	// Retry says whether the order at index i is retried when limited.
	// Nil retries every order. Orders not retried are decided once, at
	// their instant (CT history under a plan: those certificates were
	// issued whatever the model says).
	Retry func(i int) bool
	// MaxDecisions bounds the decisions, first attempts and retries
	// together; past it SimulateRetries returns ErrRetriesUnbounded.
	// Default 50,000,000.
	MaxDecisions int64
	// Start, if set, decides with this Replayer (a restored state) instead
	// of a new one; the orders must not precede its last order.
	Start *Replayer
}

// RetryResult is what retrying did.
type RetryResult struct {
	// Issued is, per input order, when it was issued (Unix ns); 0 for an
	// order not retried that was limited.
	Issued []int64
	// Attempts is, per input order, how often it was decided.
	Attempts []int32
	// Retried counts the orders that may retry; Delayed those of them
	// limited at least once.
	Retried, Delayed int
	// Decisions counts every decision.
	Decisions int64
	// First is the earliest instant of an order that may retry; Finish
	// the latest issuance of one (0 when none); LastPlanned the latest
	// instant one was planned for (Finish without any limit).
	First, Finish, LastPlanned int64
	// MaxDelay is the longest any order waited past its instant.
	MaxDelay time.Duration
}

// ErrRetriesUnbounded is returned when retries exceed RetryOptions.MaxDecisions.
var ErrRetriesUnbounded = errors.New("retries did not finish")

type retryEvent struct {
	at  int64
	idx int
}

type retryHeap []retryEvent

func (h retryHeap) Len() int { return len(h) }
func (h retryHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].idx < h[j].idx)
}
func (h retryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)   { *h = append(*h, x.(retryEvent)) }
func (h *retryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// SimulateRetries decides orders (in non-decreasing IssuedAt) under p,
// retrying limited ones at their retry-after until issued; see Retries
// above.
func SimulateRetries(p *Policy, orders []Prepared, opt RetryOptions) (RetryResult, error) {
	if opt.MaxDecisions <= 0 {
		opt.MaxDecisions = 50_000_000
	}
	res := RetryResult{Issued: make([]int64, len(orders)), Attempts: make([]int32, len(orders))}
	r := opt.Start
	if r == nil {
		r = NewReplayer(p)
	}
	retries := func(i int) bool { return opt.Retry == nil || opt.Retry(i) }
	for i := range orders {
		if i > 0 && orders[i].IssuedAt < orders[i-1].IssuedAt {
			return res, fmt.Errorf("%w: order %d at %s is before order %d", ErrOutOfOrder, i,
				time.Unix(0, orders[i].IssuedAt).UTC().Format(time.RFC3339Nano), i-1)
		}
		if retries(i) {
			if res.Retried == 0 {
				res.First = orders[i].IssuedAt
			}
			res.Retried++
			res.LastPlanned = orders[i].IssuedAt
		}
	}
	var pending retryHeap
	var out Result
	next := 0
	for next < len(orders) || len(pending) > 0 {
		ev := retryEvent{idx: -1}
		if next < len(orders) {
			ev = retryEvent{at: orders[next].IssuedAt, idx: next}
		}
		if len(pending) > 0 && (ev.idx < 0 || pending[0].at < ev.at || (pending[0].at == ev.at && pending[0].idx < ev.idx)) {
			ev = heap.Pop(&pending).(retryEvent)
		} else {
			next++
		}
		if res.Decisions++; res.Decisions > opt.MaxDecisions {
			return res, fmt.Errorf("%w within %d decisions: the plan is too large to retry order by order, or a limit never refills", ErrRetriesUnbounded, opt.MaxDecisions)
		}
		o := orders[ev.idx] // a copy: a retry moves its times
		if shift := ev.at - o.IssuedAt; shift != 0 {
			o.IssuedAt, o.NotBefore = ev.at, o.NotBefore+shift
			if o.NotAfter != 0 {
				o.NotAfter += shift
			}
		}
		if err := r.Decide(&o, &out); err != nil {
			return res, fmt.Errorf("order %d: %w", ev.idx, err)
		}
		res.Attempts[ev.idx]++
		if out.Kind != Limited {
			res.Issued[ev.idx] = ev.at
			if retries(ev.idx) {
				res.Finish = max(res.Finish, ev.at)
				res.MaxDelay = max(res.MaxDelay, time.Duration(ev.at-orders[ev.idx].IssuedAt))
			}
			continue
		}
		if !retries(ev.idx) {
			continue
		}
		if res.Attempts[ev.idx] == 1 {
			res.Delayed++
		}
		// A denial always names a later instant; the guard keeps a
		// zero RetryIn from spinning at one instant forever.
		at := max(out.RetryAfter().UnixNano(), ev.at+1)
		heap.Push(&pending, retryEvent{at: at, idx: ev.idx})
	}
	return res, nil
}
