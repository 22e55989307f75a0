package replay

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// digestVersion names the canonical encoding Digest hashes; a change to
// the encoding (or to what a decision depends on) must change it. v2 added
// DenialFirstSince: every v1 digest was of a policy that applied the
// current batch rule at all times, which decides orders before 2026-03-26
// otherwise, so no v1 state may be resumed.
const digestVersion = "ctlimits-policy-digest-v2\n"

// Digest is a hex SHA-256 over everything in the policy that can change a
// decision, in a canonical order: the name, the model, every default
// limit, every override (per domain, per account, per exact set), the
// renewal window and when it took effect, when the batch rule changed
// (DenialFirstSince), CountRenewals and AssumeARI.
// Two policies with the same digest decide every order alike, so a
// replay state written under one may be resumed under the other
// (ReadState compares digests).
func (p *Policy) Digest() string {
	d := p.digestBytes()
	return hex.EncodeToString(d[:])
}

func (p *Policy) digestBytes() [32]byte {
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(v int64) { b = binary.AppendVarint(b, v) }
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	limit := func(l Limit) { num(l.Burst); num(l.Count); num(int64(l.Period)) }
	// instant encodes a dated rule's start: zero (always) or the instant.
	instant := func(t time.Time) {
		flag(!t.IsZero())
		if !t.IsZero() {
			num(t.Unix())
			num(int64(t.Nanosecond()))
		}
	}

	b = append(b, digestVersion...)
	str(p.Name)
	num(int64(p.Model))
	num(int64(numLimits))
	for _, l := range p.Limits {
		limit(l)
	}
	keys := make([]OverrideKey, 0, len(p.Overrides))
	for k := range p.Overrides {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b OverrideKey) int {
		return cmp.Or(cmp.Compare(a.Limit, b.Limit), strings.Compare(a.ID, b.ID))
	})
	num(int64(len(keys)))
	for _, k := range keys {
		num(int64(k.Limit))
		str(k.ID)
		limit(p.Overrides[k])
	}
	sets := make([]SetHash, 0, len(p.SetOverrides))
	for h := range p.SetOverrides {
		sets = append(sets, h)
	}
	slices.SortFunc(sets, func(a, b SetHash) int { return bytes.Compare(a[:], b[:]) })
	num(int64(len(sets)))
	for _, h := range sets {
		b = append(b, h[:]...)
		limit(p.SetOverrides[h])
	}
	num(int64(p.RenewalWindow))
	instant(p.RenewalWindowSince)
	instant(p.DenialFirstSince)
	flag(p.CountRenewals)
	flag(p.AssumeARI)
	return sha256.Sum256(b)
}
