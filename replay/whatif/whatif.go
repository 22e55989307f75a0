// Package whatif re-simulates certificate renewals under another lifetime
// or renewal cadence: from the model's state at an instant ("today") and
// the certificates live then, it projects every exact set's renewals N
// weeks forward, decides them on the same Replayer the history was
// replayed on, and reports, limit by limit, which bites first, when, and
// how many orders it limits; SizeOverride finds the override that would
// let the projection through. It is pure: no clock, no I/O; cmd/ctlimits
// reads DATA (ctreplay.StateAt) and prints. docs/whatif.md is the method.
package whatif

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

// Cadence is how the projected certificates live and are renewed. Exactly
// one of RenewAt, ARIWindow and EveryMin/EveryMax chooses when.
type Cadence struct {
	// Lifetime of every projected certificate (NotAfter = NotBefore +
	// Lifetime - 1s, as Boulder issues them).
	Lifetime time.Duration
	// Profile the projected orders ask for; NoProfile: the profile that
	// issues Lifetime on each order's date (replay.ProfileForLifetime),
	// whose names cap then applies.
	Profile replay.Profile
	// RenewAt renews at this fraction of a certificate's lifetime after
	// its NotBefore (2/3: the ideal point of Boulder's ARI window).
	RenewAt float64
	// ARIWindow renews inside Boulder's suggested ARI window of each
	// certificate (replay.SuggestedWindow), at a jittered point.
	ARIWindow bool
	// EveryMin..EveryMax renews this long after the NotBefore, jittered
	// uniformly between the two (equal for no jitter).
	EveryMin, EveryMax time.Duration
}

// Validate checks that the cadence is one rule and that certificates are
// renewed before they expire.
func (c *Cadence) Validate() error {
	if c.Lifetime < time.Hour {
		return fmt.Errorf("the lifetime %s is under an hour: not a certificate lifetime", c.Lifetime)
	}
	if c.Lifetime >= 100*day {
		// issuance.NewProfile refuses maxValidityPeriod >= 100 days.
		return fmt.Errorf("the lifetime %s is 100 days or more, which Boulder refuses to issue", c.Lifetime)
	}
	rules := 0
	if c.RenewAt != 0 {
		rules++
		if !(c.RenewAt > 0 && c.RenewAt < 1) {
			return fmt.Errorf("renewing at %g of the lifetime: want a fraction between 0 and 1 (2/3 is two thirds in)", c.RenewAt)
		}
		if time.Duration(float64(c.Lifetime)*c.RenewAt) < time.Minute {
			return fmt.Errorf("renewing at %g of %s renews within a minute of issuance", c.RenewAt, fmtDuration(c.Lifetime))
		}
	}
	if c.ARIWindow {
		rules++
	}
	if c.EveryMin != 0 || c.EveryMax != 0 {
		rules++
		if c.EveryMin < time.Minute || c.EveryMax < c.EveryMin {
			return fmt.Errorf("renewing every %s..%s: want 1m <= min <= max", c.EveryMin, c.EveryMax)
		}
		if c.EveryMax >= c.Lifetime {
			return fmt.Errorf("renewing every %s..%s lets %s certificates expire before their renewal", c.EveryMin, c.EveryMax, fmtDuration(c.Lifetime))
		}
	}
	if rules != 1 {
		return errors.New("choose one renewal rule: a fraction of the lifetime, Boulder's ARI window, or an interval")
	}
	return nil
}

// String describes the cadence: "45d certificates renewed at 2/3 of
// their lifetime".
func (c *Cadence) String() string {
	s := fmtDuration(c.Lifetime) + " certificates"
	if c.Profile != replay.NoProfile {
		s += " (profile " + c.Profile.String() + ")"
	}
	switch {
	case c.ARIWindow:
		return s + " renewed in Boulder's ARI window"
	case c.RenewAt != 0:
		return s + " renewed at " + fmtFraction(c.RenewAt) + " of their lifetime"
	case c.EveryMin == c.EveryMax:
		return s + " renewed every " + fmtDuration(c.EveryMin)
	}
	return s + " renewed every " + fmtDuration(c.EveryMin) + " to " + fmtDuration(c.EveryMax)
}

// fmtDuration writes whole days as "45d", whole hours as "160h".
func fmtDuration(d time.Duration) string {
	switch {
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

func fmtFraction(f float64) string {
	for den := 2; den <= 12; den++ {
		num := math.Round(f * float64(den))
		if num > 0 && math.Abs(num/float64(den)-f) < 1e-9 {
			return fmt.Sprintf("%d/%d", int(num), den)
		}
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// jitter is the deterministic uniform draw in [0, 1) for the k-th renewal
// of an exact set: the first 8 bytes of SHA-256(set hash, k), so the same
// inputs always project the same orders, and sets renewed at the same
// instant today spread out.
func jitter(set replay.SetHash, k int) float64 {
	var b [40]byte
	copy(b[:32], set[:])
	binary.BigEndian.PutUint64(b[32:], uint64(k))
	h := sha256.Sum256(b[:])
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

// next is when the certificate (issued, nb, na: Unix ns) of set, renewed
// k times before, is renewed, truncated to the second.
func (c *Cadence) next(set replay.SetHash, k int, issued, nb, na int64) int64 {
	var t int64
	switch {
	case c.ARIWindow:
		s, e := replay.SuggestedWindow(issued, na)
		t = s + int64(jitter(set, k)*float64(e-s))
	case c.RenewAt != 0:
		t = nb + int64(float64(na+int64(time.Second)-nb)*c.RenewAt)
	default:
		t = nb + int64(c.EveryMin) + int64(jitter(set, k)*float64(c.EveryMax-c.EveryMin))
	}
	return time.Unix(0, t).Truncate(time.Second).UnixNano()
}

// Cert is a live certificate: its exact set's newest, valid at the start.
type Cert struct {
	Names []string
	// IssuedAt is the order's instant (the earliest log timestamp, as the
	// replay uses), which places its ARI window.
	IssuedAt, NotBefore, NotAfter time.Time
}

// Plan is one what-if: the cadence, the projection's span [Start, End),
// and the live certificates at Start.
type Plan struct {
	Cadence    Cadence
	Start, End time.Time
	Certs      []Cert
}

// NamesCap names the refusals for too many names among Outcome.Limits.
const NamesCap = "NamesCap"

// LimitOutcome is what one limit did to the projection.
type LimitOutcome struct {
	// Limit is the limit's name (replay.Name's), or NamesCap.
	Limit string `json:"limit"`
	// Bit reports that it denied (or, NamesCap, refused) an order.
	Bit bool `json:"bit"`
	// First is its first denial; FirstBucket the bucket: a registered
	// domain, or an exact set's names joined by commas.
	First       *time.Time `json:"first,omitempty"`
	FirstBucket string     `json:"first_bucket,omitempty"`
	// Orders counts the projected orders it denied (an order denied by
	// two limits counts under both); Buckets the distinct buckets.
	Orders  int64 `json:"orders_limited"`
	Buckets int   `json:"buckets"`
	// Burst is the limit's default burst (NamesCap: the names cap).
	Burst int64 `json:"burst"`
	// Fewest is the fewest tokens any bucket of the limit held after a
	// projected order: how close it came. -1 when no order touched it.
	Fewest int64 `json:"fewest_tokens_left"`
	// Override is set by SizeOverride.
	Override *Override `json:"override,omitempty"`

	firstRef   replay.BucketRef
	firstNames []string
}

// Override is the override that would let the projection through.
type Override struct {
	// Limit and Key name it as Boulder's overrides file does: a
	// registered domain, or an exact set's names joined by commas.
	Limit string `json:"limit"`
	Key   string `json:"key"`
	// Needed is the smallest count per 168 hours (burst = count) under
	// which the bucket denies no projected order.
	Needed int64 `json:"needed_per_week"`
	// Verified: Needed lets everything through and Needed-1 does not.
	Verified bool `json:"verified"`
	// Replays counts the replays the search took.
	Replays int `json:"replays"`
}

// Outcome is the projection's result.
type Outcome struct {
	Cadence string    `json:"cadence"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Sets is how many exact sets were projected (their live
	// certificates); Skipped those whose names the model rejects.
	Sets    int `json:"sets"`
	Skipped int `json:"skipped"`
	// The projected orders by decision; Retries counts the orders that
	// repeat one limited earlier (at its retry-after).
	Orders   int64 `json:"orders"`
	New      int64 `json:"new"`
	Renewals int64 `json:"renewals"`
	ARI      int64 `json:"ari_replacements"`
	Limited  int64 `json:"limited"`
	Refused  int64 `json:"refused"`
	Retries  int64 `json:"retries"`
	// PeakWeek is the most orders in one week of the projection
	// (weeks counted from Start), PeakWeekStart its start.
	PeakWeek      int64     `json:"peak_week_orders"`
	PeakWeekStart time.Time `json:"peak_week_start"`
	// Binding is the limit that bites first ("" when none does).
	Binding string `json:"binding"`
	// Limits: those that bit, first bite first, then the others by name.
	Limits []LimitOutcome `json:"limits"`

	denied map[string]int64 // bucket ID -> orders it denied
}

// set is one projected exact set.
type set struct {
	prep           replay.Prepared
	issued, nb, na int64
	k              int
}

type event struct {
	at  int64
	set int
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].set < q[j].set
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// Simulate projects plan's renewals and decides them on rep, which holds
// the state at plan.Start (no order after it decided). The method:
//
//   - Each live certificate's first renewal is where the cadence puts it
//     for that certificate's own lifetime (a client does not know the
//     next certificate will be shorter), or at Start when that has passed.
//   - Every renewal issues a certificate of the new lifetime (NotBefore =
//     the order's instant), renewed in turn by the cadence.
//   - A limited renewal is retried at its retry-after; a refused one
//     (more names than the profile allows) is not retried: that set is
//     not renewed again.
//   - Orders at the same instant are decided in the order of their set
//     hashes; the jitter is a hash of the set and the renewal's index.
//
// So the result depends only on the inputs.
func Simulate(rep *replay.Replayer, plan *Plan) (*Outcome, error) {
	c := &plan.Cadence
	if err := c.Validate(); err != nil {
		return nil, err
	}
	start, end := plan.Start.UnixNano(), plan.End.UnixNano()
	if end <= start {
		return nil, fmt.Errorf("the projection ends (%s) before it starts (%s)", plan.End.UTC().Format(time.RFC3339), plan.Start.UTC().Format(time.RFC3339))
	}
	out := &Outcome{Cadence: c.String(), Start: plan.Start.UTC(), End: plan.End.UTC(), denied: map[string]int64{}}
	sets, skipped := prepare(plan.Certs)
	out.Sets, out.Skipped = len(sets), skipped
	q := make(queue, 0, len(sets))
	for i := range sets {
		s := &sets[i]
		if t := max(c.next(s.prep.Set, 0, s.issued, s.nb, s.na), start); t < end {
			q = append(q, event{t, i})
		}
	}
	heap.Init(&q)
	lim := newTally(rep.Policy())
	weeks := make([]int64, (end-start+int64(week)-1)/int64(week))
	life := int64(c.Lifetime)
	var res replay.Result
	for q.Len() > 0 {
		ev := heap.Pop(&q).(event)
		s := &sets[ev.set]
		p := s.prep
		p.IssuedAt, p.NotBefore, p.NotAfter = ev.at, ev.at, ev.at+life-int64(time.Second)
		p.Profile = c.Profile
		if p.Profile == replay.NoProfile {
			p.Profile = replay.ProfileForLifetime(c.Lifetime, time.Unix(0, ev.at).UTC())
		}
		if err := rep.Decide(&p, &res); err != nil {
			return nil, fmt.Errorf("couldn't decide the renewal of %s at %s: %w", strings.Join(p.Names, ","), time.Unix(0, ev.at).UTC().Format(time.RFC3339), err)
		}
		out.Orders++
		weeks[(ev.at-start)/int64(week)]++
		lim.tokens(&res)
		switch res.Kind {
		case replay.New, replay.Renewal:
			if res.Kind == replay.New {
				out.New++
			} else {
				out.Renewals++
			}
			if res.ARI {
				out.ARI++
			}
			s.issued, s.nb, s.na = p.IssuedAt, p.NotBefore, p.NotAfter
			s.k++
			// Validate keeps the next renewal a minute or more away; the
			// second is a guard against a projection that never advances.
			if t := c.next(s.prep.Set, s.k, s.issued, s.nb, s.na); t < end {
				heap.Push(&q, event{max(t, ev.at+int64(time.Second)), ev.set})
			}
		case replay.Limited:
			out.Limited++
			lim.denied(&res, &p, out.denied)
			retry := time.Unix(0, res.RetryAfter().UnixNano()+int64(time.Second)-1).Truncate(time.Second).UnixNano()
			if retry = max(retry, ev.at+int64(time.Second)); retry < end {
				out.Retries++
				heap.Push(&q, event{retry, ev.set})
			}
		case replay.Refused:
			out.Refused++
			lim.refused(&res, &p)
		}
	}
	for i, n := range weeks {
		if n > out.PeakWeek {
			out.PeakWeek, out.PeakWeekStart = n, plan.Start.Add(time.Duration(i)*week).UTC()
		}
	}
	out.Limits = lim.outcomes()
	if len(out.Limits) > 0 && out.Limits[0].Bit {
		out.Binding = out.Limits[0].Limit
	}
	return out, nil
}

// prepare normalizes the live certificates, one per exact set (the newest
// issued, should two share a set), in the order of their set hashes.
func prepare(certs []Cert) ([]set, int) {
	var n replay.Namer
	bySet := map[replay.SetHash]set{}
	skipped := 0
	for _, ct := range certs {
		p, err := n.Prepare(&replay.Order{IssuedAt: ct.IssuedAt, NotBefore: ct.NotBefore, NotAfter: ct.NotAfter, Names: ct.Names})
		if err != nil || ct.NotAfter.IsZero() {
			skipped++
			continue
		}
		if old, ok := bySet[p.Set]; ok && old.issued >= p.IssuedAt {
			continue
		}
		bySet[p.Set] = set{prep: p, issued: p.IssuedAt, nb: p.NotBefore, na: p.NotAfter}
	}
	keys := make([]replay.SetHash, 0, len(bySet))
	for k := range bySet {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	out := make([]set, len(keys))
	for i, k := range keys {
		out[i] = bySet[k]
	}
	return out, skipped
}

// tally follows every limit through the projection.
type tally struct {
	p       *replay.Policy
	by      map[string]*LimitOutcome
	buckets map[string]map[string]bool
}

func newTally(p *replay.Policy) *tally {
	return &tally{p: p, by: map[string]*LimitOutcome{}, buckets: map[string]map[string]bool{}}
}

func (t *tally) get(name string, burst int64) *LimitOutcome {
	l := t.by[name]
	if l == nil {
		l = &LimitOutcome{Limit: name, Burst: burst, Fewest: -1}
		t.by[name] = l
		t.buckets[name] = map[string]bool{}
	}
	return l
}

func (t *tally) tokens(res *replay.Result) {
	for _, tk := range res.Tokens {
		l := t.get(tk.Bucket.Limit.String(), t.p.Limits[tk.Bucket.Limit].Burst)
		if l.Fewest < 0 || tk.Remaining < l.Fewest {
			l.Fewest = tk.Remaining
		}
	}
}

func (t *tally) denied(res *replay.Result, p *replay.Prepared, byBucket map[string]int64) {
	seen := map[string]bool{}
	for _, d := range res.Denials {
		name := d.Bucket.Limit.String()
		l := t.get(name, t.p.Limits[d.Bucket.Limit].Burst)
		id := d.Bucket.ID()
		byBucket[id]++
		t.buckets[name][id] = true
		l.Buckets = len(t.buckets[name])
		if !seen[name] {
			seen[name] = true
			l.Orders++
		}
		if !l.Bit {
			at := time.Unix(0, res.IssuedAt).UTC()
			l.Bit, l.First, l.firstRef = true, &at, d.Bucket
			l.FirstBucket = d.Bucket.Key
			if d.Bucket.Limit == replay.CertificatesPerFQDNSet {
				l.firstNames = append([]string(nil), p.Names...)
				l.FirstBucket = strings.Join(p.Names, ",")
			}
		}
	}
}

func (t *tally) refused(res *replay.Result, p *replay.Prepared) {
	l := t.get(NamesCap, int64(res.MaxNames))
	l.Orders++
	key := p.Profile.String()
	t.buckets[NamesCap][key] = true
	l.Buckets = len(t.buckets[NamesCap])
	if !l.Bit {
		at := time.Unix(0, res.IssuedAt).UTC()
		l.Bit, l.First = true, &at
		l.FirstBucket = fmt.Sprintf("%s (%d names, profile %s allows %d)", strings.Join(p.Names, ","), len(p.Names), p.Profile, res.MaxNames)
	}
}

func (t *tally) outcomes() []LimitOutcome {
	out := make([]LimitOutcome, 0, len(t.by))
	for _, l := range t.by {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Bit != b.Bit {
			return a.Bit
		}
		if a.Bit && !a.First.Equal(*b.First) {
			return a.First.Before(*b.First)
		}
		return a.Limit < b.Limit
	})
	return out
}

// DeniedBy is how many projected orders the bucket (replay.BucketRef.ID)
// denied.
func (o *Outcome) DeniedBy(bucket string) int64 { return o.denied[bucket] }

// Start builds the state at the plan's start under a policy: the history
// replayed under it. SizeOverride calls it once per override it tries,
// since an override changes what the history left in the buckets.
type Start func(p *replay.Policy) (*replay.Replayer, error)

// SizeOverride finds the smallest override, n per 168 hours with a burst
// of n (the form Let's Encrypt grants), of the bucket lo first bit, under
// which that bucket denies no projected order; it sets lo.Override. The
// denials only fall as n grows, so a doubling search then a binary search
// find it, checked at n and n-1 as the report's sizing does. NamesCap
// cannot be overridden: it returns nil.
func SizeOverride(start Start, p *replay.Policy, plan *Plan, lo *LimitOutcome) (*Override, error) {
	if !lo.Bit || lo.Limit == NamesCap {
		return nil, nil
	}
	ref := lo.firstRef
	o := &Override{Limit: lo.Limit}
	switch ref.Limit {
	case replay.CertificatesPerDomain:
		o.Key = ref.Key
	case replay.CertificatesPerFQDNSet:
		o.Key = strings.Join(lo.firstNames, ",")
	default:
		return nil, fmt.Errorf("sizing an override of %s is not modeled", lo.Limit)
	}
	id := ref.ID()
	denies := func(n int64) (bool, error) {
		q, err := withOverride(p, ref.Limit, o.Key, n)
		if err != nil {
			return false, err
		}
		rep, err := start(q)
		if err != nil {
			return false, err
		}
		o.Replays++
		out, err := Simulate(rep, plan)
		if err != nil {
			return false, err
		}
		return out.DeniedBy(id) > 0, nil
	}
	lo2, hi := lo.Burst, max(2*lo.Burst, 2)
	for {
		bad, err := denies(hi)
		if err != nil {
			return nil, err
		}
		if !bad {
			break
		}
		if hi > 1<<30 {
			return nil, fmt.Errorf("no override up to %d per week lets %s through", hi, o.Key)
		}
		lo2, hi = hi, 2*hi
	}
	// denies(lo2) is true (the default, or a doubling that failed),
	// denies(hi) false.
	for hi-lo2 > 1 {
		mid := lo2 + (hi-lo2)/2
		bad, err := denies(mid)
		if err != nil {
			return nil, err
		}
		if bad {
			lo2 = mid
		} else {
			hi = mid
		}
	}
	o.Needed = hi
	bad, err := denies(hi - 1)
	if err != nil {
		return nil, err
	}
	o.Verified = bad || hi == 1
	lo.Override = o
	return o, nil
}

// withOverride copies p with the limit of one bucket set to n per 168
// hours, burst n.
func withOverride(p *replay.Policy, name replay.Name, key string, n int64) (*replay.Policy, error) {
	q := *p
	q.Overrides = maps.Clone(p.Overrides)
	q.SetOverrides = maps.Clone(p.SetOverrides)
	l, err := replay.NewLimit(n, n, week)
	if err != nil {
		return nil, err
	}
	if err := q.AddOverride(name, key, l); err != nil {
		return nil, err
	}
	return &q, nil
}
