package replay

import (
	"errors"
	"fmt"
	"time"

	"github.com/ctlimits/ctlimits/replay/internal/table"
)

// ErrOutOfOrder is returned for an order earlier than the one before it.
var ErrOutOfOrder = errors.New("order is earlier than the previous order")

// Replayer decides orders one at a time, in time order, under one policy.
type Replayer struct {
	p *Policy

	// Stored TATs (Unix ns) of the buckets that are not full. A bucket
	// whose TAT is at or before now is full, the same as no bucket, and
	// may be dropped at any time.
	domainTAT  *table.Domains
	accountTAT map[accountKey]int64
	// sets holds, per exact set, its CertificatesPerFQDNSet TAT and the
	// newest NotBefore of its issued certificates (the renewal lookup
	// needs only the maximum). One table, so an order costs one lookup
	// for its set, and the store goes to the slot the lookup found.
	sets *table.Sets

	legacy *legacyState // SlidingWindow policies
	ari    *ariState    // AssumeARI

	domainScratch []int64 // the TATs of the current order's domains

	now      int64 // the last order's instant
	started  bool
	sinceGC  int // decisions since the last sweep
	gcBudget int // decisions between sweeps
}

// accountKey keys NewOrdersPerAccount (domain "") and the per-account
// CertificatesPerDomainPerAccount buckets.
type accountKey struct{ account, domain string }

// NewReplayer returns a Replayer for p with every bucket full and no
// history.
func NewReplayer(p *Policy) *Replayer {
	r := &Replayer{
		p:          p,
		domainTAT:  table.NewDomains(),
		accountTAT: make(map[accountKey]int64),
		sets:       table.NewSets(),
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
	// The slices are reused, and their entries name registered domains:
	// zero the last decision's entries, so that past len nothing keeps a
	// domain string (and the whole input buffer it points into, such as
	// a 64 MB arena of CT history) alive once the order is gone.
	clear(res.Denials)
	clear(res.Tokens)
	*res = Result{IssuedAt: now, Denials: res.Denials[:0], Tokens: res.Tokens[:0]}

	if r.sinceGC++; r.sinceGC >= r.gcBudget {
		r.sweep(now)
	}
	if n := o.Profile.MaxNames(); len(o.Names) > n {
		// Boulder's RA refuses the order (ra.NewOrder, profile.maxNames)
		// after the WFE's limit checks, and the WFE then refunds what
		// those checks spent: no bucket changes either way.
		res.Kind, res.MaxNames = Refused, n
		return nil
	}
	if r.legacy != nil {
		r.decideLegacy(o, res)
		return nil
	}
	r.decide(o, res)
	return nil
}

// DecideBatch decides orders in sequence into results (which must be at
// least as long), exactly as calling Decide on each in turn, and returns
// how many it decided: on an error, orders[n] is the order refused, and
// nothing after it was decided.
//
// It is faster than Decide on a large state. It decides warmWindow orders
// at a time, and meanwhile has the CPU fetch, without waiting, the state
// the next window will read (the home slots of its sets and domains) and
// the domain names of the window after, whose bytes that prefetch hashes:
// many cache misses in flight at once instead of one after another. The
// prefetches only move cache lines; every decision reads the state
// afresh, so orders in one batch may share sets and domains.
func (r *Replayer) DecideBatch(orders []Prepared, results []Result) (n int, err error) {
	results = results[:len(orders)]
	window := func(i int) []Prepared { return orders[min(i, len(orders)):min(i+warmWindow, len(orders))] }
	warm := r.legacy == nil && table.HavePrefetch
	if warm {
		r.prefetchNames(window(0))
		r.prefetchNames(window(warmWindow))
		r.prefetchState(window(0))
	}
	for start := 0; start < len(orders); start += warmWindow {
		if warm {
			r.prefetchNames(window(start + 2*warmWindow))
			r.prefetchState(window(start + warmWindow))
		}
		for i := start; i < min(start+warmWindow, len(orders)); i++ {
			if err := r.Decide(&orders[i], &results[i]); err != nil {
				return i, err
			}
		}
	}
	return len(orders), nil
}

// warmWindow is how many orders DecideBatch prefetches at once: enough
// cache lines to keep the CPU's miss buffers busy, few enough to stay in
// L1/L2 until they are used.
const warmWindow = 32

// warmMinSlots is the smallest table DecideBatch prefetches from: a
// smaller one (a few MB at most) stays in the caches. (A variable for
// tests, which set it to 0 to run the prefetching on small states.)
var warmMinSlots = 1 << 16

// prefetchNames prefetches the orders' domain names (the slice and the
// bytes), which prefetchState hashes.
func (r *Replayer) prefetchNames(orders []Prepared) {
	if len(orders) == 0 || r.domainTAT.Slots() < warmMinSlots {
		return
	}
	var pf table.Prefetch
	const most = 4 * warmWindow
	for i := range orders {
		ds := orders[i].Domains
		if len(ds) == 0 || pf.Len()+2 > most {
			continue
		}
		pf.Strings(ds)
		pf.String(ds[0])
		for _, d := range ds[1:] {
			if pf.Len() < most {
				pf.String(d)
			}
		}
	}
	pf.Do()
}

// prefetchState prefetches the home slots of the orders' sets and
// domains.
func (r *Replayer) prefetchState(orders []Prepared) {
	st, dt := r.sets, r.domainTAT
	sets, domains := st.Slots() >= warmMinSlots, dt.Slots() >= warmMinSlots
	if len(orders) == 0 || !sets && !domains {
		return
	}
	var pf table.Prefetch
	for i := range orders {
		o := &orders[i]
		if sets {
			k := table.KeyOf((*[32]byte)(&o.Set))
			pf.SetHome(st, &k)
		}
		if domains {
			for _, d := range o.Domains {
				pf.DomainHome(dt, d)
			}
		}
		if pf.Len()+2 > pf.Cap() {
			break
		}
	}
	pf.Do()
}

// decide is the token-bucket order flow: Boulder's WFE NewOrder check
// batch, then the RA's spend-only batch when the certificate is issued.
// Every bucket is read once; checks and spends work on the values read.
func (r *Replayer) decide(o *Prepared, res *Result) {
	p, now := r.p, o.IssuedAt
	key := table.KeyOf((*[32]byte)(&o.Set))
	slot, known := r.sets.Find(&key)
	set := slot.SetState // zero when !known
	setTAT := max(set.TAT, now)

	// 1. Renewal: the same exact set issued within the window (wfe2
	// NewOrder and ra issueCertificateOuter, FQDNSetTimestampsForWindow).
	res.Renewal = known && r.renews(set.LastNB, now)

	// The domains' TATs, read only when the per-domain limit applies:
	// renewals never touch those buckets.
	tats := r.domainScratch[:0]
	if !res.Renewal {
		for _, d := range o.Domains {
			tat, ok := r.domainTAT.Get(d)
			if !ok {
				tat = now
			}
			tats = append(tats, tat)
		}
	}
	r.domainScratch = tats
	perAccount := r.perAccountLimit(o.Account)
	setLimit := p.setLimit(o.Set)

	if r.ari != nil && r.ari.claim(o, now) {
		// An ARI replacement inside its window skips checkNewOrderLimits
		// entirely; issuance still spends as below.
		res.ARI = true
	} else {
		// 2. The new-order batch. Checks store nothing; NewOrdersPerAccount
		// is check-and-spend and is stored only if the batch is allowed.
		// Every check is also folded into old, the batch rule before
		// DenialFirstSince (batch.go): a few comparisons, cheaper than a
		// branch on the date at each check.
		var old oldBatch
		var acctOutcome Outcome
		acctLimit := Limit{}
		if !res.Renewal && o.Account != "" {
			acctLimit = p.limitFor(NewOrdersPerAccount, o.Account)
			if acctLimit.Enabled() {
				acctOutcome = r.offerAccount(&acctLimit, accountKey{account: o.Account}, now, res,
					BucketRef{Limit: NewOrdersPerAccount, Account: o.Account})
				old.add(&acctOutcome)
			}
		}
		if !res.Renewal {
			for i, d := range o.Domains {
				if perAccount.Enabled() {
					out := r.offerAccount(&perAccount, accountKey{o.Account, d}, now, res,
						BucketRef{Limit: CertificatesPerDomainPerAccount, Key: d, Account: o.Account})
					old.add(&out)
					continue
				}
				l := p.limitFor(CertificatesPerDomain, d)
				if !l.Enabled() {
					continue
				}
				out := l.spend(now, tats[i], 1)
				if !out.Allowed {
					r.deny(res, Denial{Bucket: BucketRef{Limit: CertificatesPerDomain, Key: d}, Limit: l,
						Remaining: out.Remaining, RetryIn: out.RetryIn})
				}
				old.add(&out)
			}
		}
		if setLimit.Enabled() {
			out := setLimit.spend(now, setTAT, 1)
			if !out.Allowed {
				r.deny(res, Denial{Bucket: BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set}, Limit: setLimit,
					Remaining: out.Remaining, RetryIn: out.RetryIn})
			}
			old.add(&out)
		}
		if old.masks(res) && !p.denialFirst(now) {
			// 3a. Before PR 8674 an allowed check outranked every denial:
			// Boulder allowed the batch, and the order goes on to issue.
			res.MaskedDenial = res.Denials[res.Reported]
			clear(res.Denials)
			res.Denials, res.Reported = res.Denials[:0], 0
		}
		if len(res.Denials) > 0 {
			// 3. A denied batch stores nothing at all.
			res.Kind = Limited
			r.reportTokens(o, res, tats, setTAT, setLimit, perAccount)
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
		for i, d := range o.Domains {
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
			if out := l.spend(now, tats[i], 1); out.Allowed {
				r.domainTAT.Set(d, out.TAT)
				tats[i] = out.TAT
			}
		}
	}
	if setLimit.Enabled() {
		if out := setLimit.spend(now, setTAT, 1); out.Allowed {
			setTAT = out.TAT
		}
	}
	set.TAT = setTAT
	if !known || o.NotBefore > set.LastNB {
		set.LastNB = o.NotBefore
	}
	if known {
		r.sets.Update(slot, set)
	} else {
		r.sets.Insert(slot, &key, set)
	}
	if r.ari != nil {
		r.ari.issued(o)
	}
	r.reportTokens(o, res, tats, setTAT, setLimit, perAccount)
}

// renews reports whether an issuance with NotBefore nb makes an order at
// now a renewal: nb strictly after now minus the renewal window (Boulder's
// query is "issued > now - window"), or any issuance when no window
// applies.
func (r *Replayer) renews(nb, now int64) bool { return r.p.Renews(nb, now) }

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

// reportTokens records the level of every bucket the order touched, from
// the TATs the decision already holds: tats are the domains' (empty for a
// renewal, which touches no per-domain bucket), setTAT the exact set's.
func (r *Replayer) reportTokens(o *Prepared, res *Result, tats []int64, setTAT int64, setLimit, perAccount Limit) {
	now := o.IssuedAt
	if o.Account != "" && !res.Renewal {
		if l := r.p.limitFor(NewOrdersPerAccount, o.Account); l.Enabled() {
			tat, _ := r.accountTAT[accountKey{account: o.Account}]
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: NewOrdersPerAccount, Account: o.Account}, level(&l, tat, now), l.Burst})
		}
	}
	for i, tat := range tats {
		d := o.Domains[i]
		if perAccount.Enabled() {
			at, _ := r.accountTAT[accountKey{o.Account, d}]
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerDomainPerAccount, Key: d, Account: o.Account}, level(&perAccount, at, now), perAccount.Burst})
		}
		if l := r.p.limitFor(CertificatesPerDomain, d); l.Enabled() {
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerDomain, Key: d}, level(&l, tat, now), l.Burst})
		}
	}
	if setLimit.Enabled() {
		res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set}, level(&setLimit, setTAT, now), setLimit.Burst})
	}
}

// level is the whole tokens a bucket with this TAT holds at now.
func level(l *Limit, tat, now int64) int64 { return l.level(tat, now) }

// sweep drops state that can no longer change a decision: buckets whose
// TAT has passed (full again) and issuances older than the renewal window.
func (r *Replayer) sweep(now int64) {
	r.domainTAT.Sweep(now)
	for k, tat := range r.accountTAT {
		if tat <= now {
			delete(r.accountTAT, k)
		}
	}
	// A set is forgotten once its bucket is full and its last issuance
	// can no longer make an order a renewal (never, before the window).
	if cutoff, windowed := r.p.renewalCutoff(now); windowed {
		r.sets.Sweep(now, cutoff)
	}
	live := r.domainTAT.Len() + r.sets.Len() + len(r.accountTAT)
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
	// DomainBuckets and AccountBuckets count stored TATs; Sets counts the
	// exact sets remembered for their bucket or for renewal lookups.
	DomainBuckets, AccountBuckets, Sets int
}

// Stats returns the number of entries held now (before any pending sweep).
func (r *Replayer) Stats() Stats {
	return Stats{r.domainTAT.Len(), len(r.accountTAT), r.sets.Len()}
}

// Level reports a CertificatesPerDomain bucket at instant at (Unix ns, not
// before the last order decided): whole tokens left, the burst, and when
// it is full again (at itself when full). It reads the state only.
func (r *Replayer) Level(domain string, at int64) (remaining, burst int64, fullAt int64) {
	l := r.p.limitFor(CertificatesPerDomain, domain)
	if !l.Enabled() {
		return 0, 0, at
	}
	if r.legacy != nil {
		n, _ := inWindow(r.legacy.domains[domain], at, l.Period)
		w := r.legacy.domains[domain]
		full := at
		if len(w) > 0 {
			full = max(at, w[len(w)-1]+int64(l.Period))
		}
		return max(0, l.Burst-n), l.Burst, full
	}
	tat, ok := r.domainTAT.Get(domain)
	if !ok || tat <= at {
		return l.Burst, l.Burst, at
	}
	return level(&l, tat, at), l.Burst, tat
}
