package replay

// Renews reports whether an earlier issuance of an exact set, with
// NotBefore notBefore (Unix ns), makes an order of that set at now (Unix
// ns) a renewal under p: notBefore strictly after now minus the renewal
// window (Boulder's query is "issued > now - window"), or any earlier
// issuance when no window applies (none set, or now before
// RenewalWindowSince).
//
// It is the model's renewal rule for callers outside the replay (the
// report's headroom forecast), so that the rule lives only here.
func (p *Policy) Renews(notBefore, now int64) bool {
	cutoff, windowed := p.renewalCutoff(now)
	return !windowed || notBefore > cutoff
}
