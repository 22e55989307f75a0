package replay

import (
	"errors"
	"fmt"
	"time"
)

// ErrOutOfOrder is returned for an order earlier than the one before it.
var ErrOutOfOrder = errors.New("order is earlier than the previous order")

// Replayer decides orders one at a time, in time order, under one policy.
type Replayer struct {
	p *Policy

	// Stored TATs (Unix ns) of the buckets that are not full. A bucket
	// whose TAT is at or before now is full, the same as no bucket, and
	// may be dropped at any time.
	domainTAT  map[string]int64
	setTAT     map[SetHash]int64
	accountTAT map[accountKey]int64
	// lastIssued holds, per exact set, the newest NotBefore of its issued
	// certificates: the renewal lookup needs only the maximum.
	lastIssued map[SetHash]int64

	legacy *legacyState // SlidingWindow policies
	ari    *ariState    // AssumeARI

	now      int64 // the last order's instant
	started  bool
	sinceGC  int // decisions since the last sweep
	gcBudget int // decisions between sweeps
}

// accountKey keys NewOrdersPerAccount (domain "") and the per-account
// CertificatesPerDomainPerAccount buckets.
type accountKey struct{ account, domain string }

// NewReplayer returns a Replayer for p with every bucket full and no history.
func NewReplayer(p *Policy) *Replayer {
	r := &Replayer{
		p:          p,
		domainTAT:  make(map[string]int64),
		setTAT:     make(map[SetHash]int64),
		accountTAT: make(map[accountKey]int64),
		lastIssued: make(map[SetHash]int64),
		gcBudget:   minGCBudget,
	}
	if p.Model == SlidingWindow {
		r.legacy = newLegacyState()
	}
	if p.AssumeARI {
		r.ari = newARIState()
	}
	return r
}

// Policy returns the policy the Replayer decides under.
func (r *Replayer) Policy() *Policy { return r.p }

// minGCBudget is the fewest decisions between two sweeps of expired state;
// sweeps run once the decisions since the last one exceed the state swept
// then, so their cost stays O(1) per decision.
const minGCBudget = 1 << 14

// Decide decides one order and updates the buckets. Orders must come in
// non-decreasing IssuedAt; an earlier one is refused with ErrOutOfOrder
// and changes nothing. res is overwritten; its slices are reused.
func (r *Replayer) Decide(o *Prepared, res *Result) error {
	now := o.IssuedAt
	if r.started && now < r.now {
		return fmt.Errorf("%w: %s < %s", ErrOutOfOrder,
			time.Unix(0, now).UTC().Format(time.RFC3339Nano), time.Unix(0, r.now).UTC().Format(time.RFC3339Nano))
	}
	if len(o.Domains) == 0 {
		return fmt.Errorf("%w: the order has no names", ErrBadName)
	}
	r.started, r.now = true, now
	*res = Result{IssuedAt: now, Denials: res.Denials[:0], Tokens: res.Tokens[:0]}

	if r.sinceGC++; r.sinceGC >= r.gcBudget {
		r.sweep(now)
	}
	if r.legacy != nil {
		r.decideLegacy(o, res)
		return nil
	}
	r.decide(o, res)
	return nil
}

// decide is the token-bucket order flow: Boulder's WFE NewOrder check
// batch, then the RA's spend-only batch when the certificate is issued.
func (r *Replayer) decide(o *Prepared, res *Result) {
	p, now := r.p, o.IssuedAt

	// 1. Renewal: the same exact set issued within the window (wfe2
	// NewOrder and ra issueCertificateOuter, FQDNSetTimestampsForWindow).
	res.Renewal = r.isRenewal(o.Set, now)
	if r.ari != nil && r.ari.claim(o, now) {
		// An ARI replacement inside its window skips checkNewOrderLimits
		// entirely; issuance still spends as below.
		res.ARI = true
	} else {
		// 2. The new-order batch. Checks store nothing; NewOrdersPerAccount
		// is check-and-spend and is stored only if the batch is allowed.
		var acctOutcome Outcome
		acctLimit := Limit{}
		if !res.Renewal && o.Account != "" {
			acctLimit = p.limitFor(NewOrdersPerAccount, o.Account)
			if acctLimit.Enabled() {
				acctOutcome = r.offerAccount(&acctLimit, accountKey{account: o.Account}, now, res,
					BucketRef{Limit: NewOrdersPerAccount, Account: o.Account})
			}
		}
		perAccount := r.perAccountLimit(o.Account)
		if !res.Renewal {
			for _, d := range o.Domains {
				if perAccount.Enabled() {
					r.offerAccount(&perAccount, accountKey{o.Account, d}, now, res,
						BucketRef{Limit: CertificatesPerDomainPerAccount, Key: d, Account: o.Account})
					continue
				}
				l := p.limitFor(CertificatesPerDomain, d)
				if !l.Enabled() {
					continue
				}
				tat, ok := r.domainTAT[d]
				if !ok {
					tat = now
				}
				if out := l.spend(now, tat, 1); !out.Allowed {
					r.deny(res, Denial{Bucket: BucketRef{Limit: CertificatesPerDomain, Key: d}, Limit: l,
						Remaining: out.Remaining, RetryIn: out.RetryIn})
				}
			}
		}
		setLimit := p.setLimit(o.Set)
		if setLimit.Enabled() {
			tat, ok := r.setTAT[o.Set]
			if !ok {
				tat = now
			}
			if out := setLimit.spend(now, tat, 1); !out.Allowed {
				r.deny(res, Denial{Bucket: BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set}, Limit: setLimit,
					Remaining: out.Remaining, RetryIn: out.RetryIn})
			}
		}
		if len(res.Denials) > 0 {
			// 3. A denied batch stores nothing at all.
			res.Kind = Limited
			r.reportTokens(o, res)
			return
		}
		if acctLimit.Enabled() && acctOutcome.Allowed {
			r.accountTAT[accountKey{account: o.Account}] = acctOutcome.TAT
		}
	}

	// 4. Issued: the RA's countCertificateIssued, every transaction
	// spend-only, each stored only if its bucket has the capacity.
	res.Kind = New
	if res.Renewal || res.ARI {
		res.Kind = Renewal
	}
	if !res.Renewal {
		perAccount := r.perAccountLimit(o.Account)
		for _, d := range o.Domains {
			if perAccount.Enabled() {
				k := accountKey{o.Account, d}
				tat, ok := r.accountTAT[k]
				if !ok {
					tat = now
				}
				if out := perAccount.spend(now, tat, 1); out.Allowed {
					r.accountTAT[k] = out.TAT
				}
			}
			l := p.limitFor(CertificatesPerDomain, d)
			if !l.Enabled() {
				continue
			}
			tat, ok := r.domainTAT[d]
			if !ok {
				tat = now
			}
			if out := l.spend(now, tat, 1); out.Allowed {
				r.domainTAT[d] = out.TAT
			}
		}
	}
	if setLimit := p.setLimit(o.Set); setLimit.Enabled() {
		tat, ok := r.setTAT[o.Set]
		if !ok {
			tat = now
		}
		if out := setLimit.spend(now, tat, 1); out.Allowed {
			r.setTAT[o.Set] = out.TAT
		}
	}
	if prev, ok := r.lastIssued[o.Set]; !ok || o.NotBefore > prev {
		r.lastIssued[o.Set] = o.NotBefore
	}
	if r.ari != nil {
		r.ari.issued(o)
	}
	r.reportTokens(o, res)
}

// isRenewal reports whether the exact set was issued with a NotBefore
// strictly after now minus the renewal window (Boulder's query is
// "issued > now - window"), or ever, when no window applies.
func (r *Replayer) isRenewal(set SetHash, now int64) bool {
	nb, ok := r.lastIssued[set]
	if !ok {
		return false
	}
	cutoff, windowed := r.p.renewalCutoff(now)
	return !windowed || nb > cutoff
}

// perAccountLimit returns the CertificatesPerDomainPerAccount override of
// an account, or a disabled limit. Like Boulder, there is no default.
func (r *Replayer) perAccountLimit(account string) Limit {
	if account == "" || len(r.p.Overrides) == 0 {
		return Limit{}
	}
	return r.p.Overrides[OverrideKey{CertificatesPerDomainPerAccount, account}]
}

// offerAccount checks cost 1 against an account-keyed bucket, recording a
// denial, and returns the outcome (stored by the caller if it wants).
func (r *Replayer) offerAccount(l *Limit, k accountKey, now int64, res *Result, ref BucketRef) Outcome {
	tat, ok := r.accountTAT[k]
	if !ok {
		tat = now
	}
	out := l.spend(now, tat, 1)
	if !out.Allowed {
		r.deny(res, Denial{Bucket: ref, Limit: *l, Remaining: out.Remaining, RetryIn: out.RetryIn})
	}
	return out
}

func (r *Replayer) deny(res *Result, d Denial) {
	res.Denials = append(res.Denials, d)
	if n := len(res.Denials); n > 1 && stricter(&res.Denials[n-1], &res.Denials[res.Reported]) {
		res.Reported = n - 1
	}
}

// reportTokens records the level of every bucket the order touched.
func (r *Replayer) reportTokens(o *Prepared, res *Result) {
	now := o.IssuedAt
	level := func(l Limit, tat int64, ok bool) int64 {
		if !ok || tat <= now {
			return l.Burst
		}
		return min(l.Burst, (now-(tat-l.burstOffset))/l.emission)
	}
	if o.Account != "" {
		if l := r.p.limitFor(NewOrdersPerAccount, o.Account); l.Enabled() {
			tat, ok := r.accountTAT[accountKey{account: o.Account}]
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: NewOrdersPerAccount, Account: o.Account}, level(l, tat, ok), l.Burst})
		}
	}
	perAccount := r.perAccountLimit(o.Account)
	for _, d := range o.Domains {
		if perAccount.Enabled() {
			tat, ok := r.accountTAT[accountKey{o.Account, d}]
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerDomainPerAccount, Key: d, Account: o.Account}, level(perAccount, tat, ok), perAccount.Burst})
		}
		if l := r.p.limitFor(CertificatesPerDomain, d); l.Enabled() {
			tat, ok := r.domainTAT[d]
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerDomain, Key: d}, level(l, tat, ok), l.Burst})
		}
	}
	if l := r.p.setLimit(o.Set); l.Enabled() {
		tat, ok := r.setTAT[o.Set]
		res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set}, level(l, tat, ok), l.Burst})
	}
}

// sweep drops state that can no longer change a decision: buckets whose
// TAT has passed (full again) and issuances older than the renewal window.
func (r *Replayer) sweep(now int64) {
	for k, tat := range r.domainTAT {
		if tat <= now {
			delete(r.domainTAT, k)
		}
	}
	for k, tat := range r.setTAT {
		if tat <= now {
			delete(r.setTAT, k)
		}
	}
	for k, tat := range r.accountTAT {
		if tat <= now {
			delete(r.accountTAT, k)
		}
	}
	if cutoff, windowed := r.p.renewalCutoff(now); windowed {
		for k, nb := range r.lastIssued {
			if nb <= cutoff {
				delete(r.lastIssued, k)
			}
		}
	}
	live := len(r.domainTAT) + len(r.setTAT) + len(r.accountTAT) + len(r.lastIssued)
	if r.legacy != nil {
		live += r.legacy.sweep(now, r.p)
	}
	if r.ari != nil {
		live += r.ari.sweep(now)
	}
	r.sinceGC = 0
	r.gcBudget = max(minGCBudget, live)
}

// Stats describes the Replayer's live state, for memory accounting.
type Stats struct {
	DomainBuckets, SetBuckets, AccountBuckets, RenewalSets int
}

// Stats returns the number of entries held now (before any pending sweep).
func (r *Replayer) Stats() Stats {
	return Stats{len(r.domainTAT), len(r.setTAT), len(r.accountTAT), len(r.lastIssued)}
}
