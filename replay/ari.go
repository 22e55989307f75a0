package replay

import "time"

// The ARI assumption (Policy.AssumeARI). An ACME client that follows ARI
// names the certificate it replaces in its order ("replaces"); Boulder
// exempts such an order from every new-order check when the replaced
// certificate is not already replaced, shares an identifier with the order,
// and the order falls inside its suggested renewal window (wfe2
// validateReplacementOrder, core.RenewalInfoSimple). CT cannot show the
// replaces field, so ctlimits can only assume it: an order is taken as the
// replacement of the earliest-issued live certificate that shares a name
// with it and whose window holds the order's instant. A certificate without
// a known NotAfter has no window and is never replaced this way.

type ariCert struct {
	issued                 int64 // Unix ns
	windowStart, windowEnd int64 // [start, end), Unix ns
	replaced               bool
}

type ariState struct {
	byName map[string][]*ariCert // live certificates by normalized name
}

func newARIState() *ariState {
	return &ariState{byName: make(map[string][]*ariCert)}
}

// suggestedWindow is Boulder's RenewalInfoSimple: two thirds into the
// validity (half for certificates under ten days), plus or minus 1% of the
// validity, truncated to the second.
func suggestedWindow(issued, expires int64) (start, end int64) {
	validity := expires + int64(time.Second) - issued
	offset := validity / 3
	if validity < int64(10*24*time.Hour) {
		offset = validity / 2
	}
	ideal := expires - offset
	margin := validity / 100
	trunc := func(t int64) int64 {
		return time.Unix(0, t).Truncate(time.Second).UnixNano()
	}
	return trunc(ideal - margin), trunc(ideal + margin)
}

// claim finds a certificate the order can replace and marks it replaced.
func (s *ariState) claim(o *Prepared, now int64) bool {
	var best *ariCert
	for _, n := range o.Names {
		for _, c := range s.byName[n] {
			if c.replaced || now < c.windowStart || now >= c.windowEnd {
				continue
			}
			if best == nil || c.issued < best.issued {
				best = c
			}
		}
	}
	if best == nil {
		return false
	}
	best.replaced = true
	return true
}

// issued records a new certificate that a later order may replace.
func (s *ariState) issued(o *Prepared) {
	if o.NotAfter == 0 || o.NotAfter <= o.IssuedAt {
		return
	}
	start, end := suggestedWindow(o.IssuedAt, o.NotAfter)
	c := &ariCert{issued: o.IssuedAt, windowStart: start, windowEnd: end}
	for _, n := range o.Names {
		s.byName[n] = append(s.byName[n], c)
	}
}

// sweep drops replaced certificates and those whose window has passed.
func (s *ariState) sweep(now int64) int {
	live := 0
	for n, cs := range s.byName {
		kept := cs[:0]
		for _, c := range cs {
			if !c.replaced && now < c.windowEnd {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(s.byName, n)
		} else {
			s.byName[n] = kept
			live += len(kept)
		}
	}
	return live
}

// SuggestedWindow is Boulder's ARI suggested renewal window
// (core.RenewalInfoSimple) of a certificate issued at issued that expires
// at expires (Unix ns): [start, end). wfe2 computes it from the
// certificate's issued time (its row in the certificates table), not its
// backdated NotBefore, and so does the model.
func SuggestedWindow(issued, expires int64) (start, end int64) {
	return suggestedWindow(issued, expires)
}
