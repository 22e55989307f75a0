package replay

import (
	"slices"
	"time"
)

// The sliding-window model of Boulder before the token-bucket limiter
// (policies letsencrypt-2019 and letsencrypt-2018):
//
//   - CertificatesPerDomain (then "CertificatesPerName"): at most Burst
//     certificates per registered domain whose NotBefore falls in the
//     Period before the order. A renewal (the exact set was ever issued
//     before) is never blocked; since February 2019 it is not counted
//     either, before that it was (Policy.CountRenewals).
//   - CertificatesPerFQDNSet ("Duplicate Certificate"): at most Burst per
//     exact set in the Period, renewals not exempt.
//   - A denied order is retried once the oldest counted certificate leaves
//     the window: oldest NotBefore + Period.
//
// Windows hold the NotBefore of each counted certificate, sorted.

type legacyState struct {
	domains map[string][]int64
	sets    map[SetHash][]int64
	ever    map[SetHash]struct{}
}

func newLegacyState() *legacyState {
	return &legacyState{
		domains: make(map[string][]int64),
		sets:    make(map[SetHash][]int64),
		ever:    make(map[SetHash]struct{}),
	}
}

// inWindow counts the NotBefores in (now-period, now] and returns the
// oldest of them.
func inWindow(w []int64, now int64, period time.Duration) (n int64, oldest int64) {
	lo := now - int64(period)
	i, _ := slices.BinarySearch(w, lo+1) // first > lo
	j, _ := slices.BinarySearch(w, now+1)
	if j <= i {
		return 0, 0
	}
	return int64(j - i), w[i]
}

func insertSorted(w []int64, v int64) []int64 {
	i, _ := slices.BinarySearch(w, v+1)
	return slices.Insert(w, i, v)
}

func (r *Replayer) decideLegacy(o *Prepared, res *Result) {
	s, p, now := r.legacy, r.p, o.IssuedAt
	_, res.Renewal = s.ever[o.Set]

	check := func(w []int64, l Limit, ref BucketRef) {
		n, oldest := inWindow(w, now, l.Period)
		if n >= l.Burst {
			r.deny(res, Denial{Bucket: ref, Limit: l, Remaining: 0,
				RetryIn: time.Duration(oldest + int64(l.Period) - now)})
		}
	}
	if !res.Renewal {
		for _, d := range o.Domains {
			if l := p.limitFor(CertificatesPerDomain, d); l.Enabled() {
				check(s.domains[d], l, BucketRef{Limit: CertificatesPerDomain, Key: d})
			}
		}
	}
	if l := p.setLimit(o.Set); l.Enabled() {
		check(s.sets[o.Set], l, BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set})
	}

	if len(res.Denials) > 0 {
		res.Kind = Limited
	} else {
		res.Kind = New
		if res.Renewal {
			res.Kind = Renewal
		}
		s.sets[o.Set] = insertSorted(s.sets[o.Set], o.NotBefore)
		if !res.Renewal || p.CountRenewals {
			for _, d := range o.Domains {
				s.domains[d] = insertSorted(s.domains[d], o.NotBefore)
			}
		}
		s.ever[o.Set] = struct{}{}
	}

	level := func(w []int64, l Limit) int64 {
		n, _ := inWindow(w, now, l.Period)
		return max(0, l.Burst-n)
	}
	for _, d := range o.Domains {
		if l := p.limitFor(CertificatesPerDomain, d); l.Enabled() {
			res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerDomain, Key: d}, level(s.domains[d], l), l.Burst})
		}
	}
	if l := p.setLimit(o.Set); l.Enabled() {
		res.Tokens = append(res.Tokens, Tokens{BucketRef{Limit: CertificatesPerFQDNSet, Set: o.Set}, level(s.sets[o.Set], l), l.Burst})
	}
}

// sweep drops NotBefores that have left every window. The ever-issued sets
// stay: under these policies a renewal is any earlier issuance.
func (s *legacyState) sweep(now int64, p *Policy) int {
	live := len(s.ever)
	for d, w := range s.domains {
		w = dropBefore(w, now-int64(p.limitFor(CertificatesPerDomain, d).Period))
		if len(w) == 0 {
			delete(s.domains, d)
		} else {
			s.domains[d] = w
			live += len(w)
		}
	}
	for h, w := range s.sets {
		w = dropBefore(w, now-int64(p.setLimit(h).Period))
		if len(w) == 0 {
			delete(s.sets, h)
		} else {
			s.sets[h] = w
			live += len(w)
		}
	}
	return live
}

// dropBefore removes the values <= lo from a sorted window.
func dropBefore(w []int64, lo int64) []int64 {
	i, _ := slices.BinarySearch(w, lo+1)
	if i == 0 {
		return w
	}
	return append(w[:0:0], w[i:]...)
}
