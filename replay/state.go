package replay

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/ctlimits/ctlimits/replay/internal/table"
)

// A Replayer's state can be saved (WriteState) and restored (ReadState),
// so that a replay can stop after any order and go on later, on another
// run, from exactly where it stopped: every later decision is the one an
// uninterrupted replay makes. docs/semantics.md ("Replay state and
// resuming") gives the format and why what it keeps is enough.

// StateVersion is the state format WriteState writes and ReadState reads.
const StateVersion = 1

const stateMagic = "CTLSTATE"

var (
	// ErrStateDamaged is wrapped by the errors about a state that is
	// truncated, fails its checksum or is not a valid encoding.
	ErrStateDamaged = errors.New("the replay state is damaged")
	// ErrStateMismatch is wrapped by the errors about a valid state that
	// this replay cannot continue: another format version or another
	// policy.
	ErrStateMismatch = errors.New("the replay state does not match this replay")
)

// StateInfo describes a saved replay state.
type StateInfo struct {
	Version      int    // format version
	Policy       string // the policy's name
	PolicyDigest string // Policy.Digest of the policy it was written under
	// Started reports that at least one order was decided; Watermark is
	// then the last decided order's IssuedAt (Unix ns): a resumed replay
	// takes orders from that instant on.
	Started   bool
	Watermark int64
	// What the state holds: token buckets that are not full, exact sets
	// (remembered for their bucket or for renewals; under a
	// sliding-window policy, every set ever issued), sliding windows that
	// still count a certificate, and certificates an ARI replacement may
	// still claim.
	DomainBuckets, AccountBuckets, Sets, LegacyWindows, ARICerts int
	// Bytes is the encoded size.
	Bytes int64
}

// Limits on what one state holds, checked before anything is built from
// a count; nothing is allocated in proportion to a count, only to the
// entries actually read.
const (
	maxStateEntries = 1 << 40
	maxDomainBytes  = 1024    // registered domains are at most 253 bytes
	maxAccountBytes = 1 << 16 // accounts are registration IDs in practice
	maxNameBytes    = 1024
	maxPolicyName   = 1024
	reserveAtMost   = 1 << 20 // table slots reserved up front, at most
)

const (
	flagStarted = 1 << iota
)

// Set entry header byte: the length of the prefix shared with the
// previous hash in the low 5 bits, then flags.
const (
	setShared    = 0x1f
	setLive      = 0x20 // a TAT after now follows
	setNBSeconds = 0x40 // the NotBefore is in whole seconds from the base
)

// liveSet reports whether a token-bucket set can still change a
// decision: its bucket is not full, or its last issuance can still make
// an order a renewal. Under no window (and before the window takes
// effect) any earlier issuance renews, so every set stays.
func (r *Replayer) liveSet(s *table.SetState) bool {
	if s.TAT > r.now {
		return true
	}
	cutoff, windowed := r.p.renewalCutoff(r.now)
	return !windowed || s.LastNB > cutoff
}

// WriteState writes the Replayer's complete live state to w: everything
// that can change a later decision, and nothing that cannot. The same
// state always encodes to the same bytes. It does not change the
// Replayer, which may go on deciding.
func (r *Replayer) WriteState(w io.Writer) (StateInfo, error) {
	now := r.now
	info := StateInfo{Version: StateVersion, Policy: r.p.Name, PolicyDigest: r.p.Digest(), Started: r.started, Watermark: now}
	liveTAT := func(tat int64) bool { return tat > now }
	info.DomainBuckets = r.domainTAT.Count(liveTAT)
	accounts := make([]accountKey, 0, len(r.accountTAT))
	for k, tat := range r.accountTAT {
		if tat > now {
			accounts = append(accounts, k)
		}
	}
	slices.SortFunc(accounts, func(a, b accountKey) int {
		return cmp.Or(strings.Compare(a.account, b.account), strings.Compare(a.domain, b.domain))
	})
	info.AccountBuckets = len(accounts)
	info.Sets = r.sets.Count(r.liveSet)

	var lg legacyOut
	if r.legacy != nil {
		lg = r.legacyLive()
		info.Sets = len(lg.sets)
		info.LegacyWindows = len(lg.domains) + lg.setWindows
	}
	var ari ariOut
	if r.ari != nil {
		ari = r.ari.live(now)
		info.ARICerts = len(ari.certs)
	}

	e := newEncoder(w)
	e.bytes([]byte(stateMagic))
	e.uvarint(StateVersion)
	var flags uint64
	if r.started {
		flags |= flagStarted
	}
	e.uvarint(flags)
	e.str(r.p.Name)
	digest := r.p.digestBytes()
	e.bytes(digest[:])
	e.varint(now)
	for _, n := range []int{info.DomainBuckets, info.AccountBuckets, info.Sets, len(lg.domains), len(ari.certs), len(ari.names)} {
		e.uvarint(uint64(n))
	}
	e.checksum()

	// Domain buckets: sorted, prefix-compressed, TAT after now.
	var prev []byte
	_ = r.domainTAT.Sorted(liveTAT, func(d []byte, tat int64) error {
		e.key(prev, d)
		e.uvarint(uint64(tat - now))
		prev = append(prev[:0], d...)
		return nil
	})
	// Account buckets, sorted by account then domain.
	prev = prev[:0]
	for _, k := range accounts {
		e.key(prev, []byte(k.account))
		e.str(k.domain)
		e.uvarint(uint64(r.accountTAT[k] - now))
		prev = append(prev[:0], k.account...)
	}
	// Exact sets, sorted by hash.
	base := floorSecond(now)
	var prevHash [32]byte
	first := true
	_ = r.sets.Sorted(r.liveSet, func(h *[32]byte, st table.SetState) error {
		hdr := byte(sharedPrefix(&prevHash, h, first))
		if st.TAT > now {
			hdr |= setLive
		}
		d := int64(uint64(st.LastNB) - uint64(base)) // wraps: exact for every value
		if d%1e9 == 0 {
			hdr |= setNBSeconds
			d /= 1e9
		}
		e.byte(hdr)
		e.bytes(h[hdr&setShared:])
		if st.TAT > now {
			e.uvarint(uint64(st.TAT - now))
		}
		e.varint(d)
		prevHash, first = *h, false
		return nil
	})
	// Sliding windows: the ever-issued sets with their windows, then the
	// domains' windows.
	if r.legacy != nil {
		first = true
		for i := range lg.sets {
			h := &lg.sets[i]
			shared := sharedPrefix(&prevHash, (*[32]byte)(h), first)
			e.byte(byte(shared))
			e.bytes(h[shared:])
			e.window(r.legacy.sets[*h], now, lg.setCut[i])
			prevHash, first = *h, false
		}
		prev = prev[:0]
		for i, d := range lg.domains {
			e.key(prev, []byte(d))
			e.window(r.legacy.domains[d], now, lg.domainCut[i])
			prev = append(prev[:0], d...)
		}
	}
	// ARI: the certificates, then each name's list of them, in order.
	for _, c := range ari.certs {
		e.varint(int64(uint64(c.issued) - uint64(now)))
		e.varint(int64(uint64(c.windowStart) - uint64(c.issued)))
		e.varint(int64(uint64(c.windowEnd) - uint64(c.windowStart)))
	}
	prev = prev[:0]
	for _, n := range ari.names {
		e.key(prev, []byte(n.name))
		e.uvarint(uint64(len(n.refs)))
		for _, id := range n.refs {
			e.uvarint(uint64(id))
		}
		prev = append(prev[:0], n.name...)
	}
	e.checksum()
	info.Bytes = e.n
	if e.err != nil {
		return info, fmt.Errorf("couldn't write the replay state: %w", e.err)
	}
	return info, nil
}

// window writes the NotBefores of a sorted sliding window from index cut
// on: the count, the first relative to now, the rest as increments.
func (e *encoder) window(w []int64, now int64, cut int) {
	w = w[cut:]
	e.uvarint(uint64(len(w)))
	for i, v := range w {
		if i == 0 {
			e.varint(int64(uint64(v) - uint64(now)))
		} else {
			e.uvarint(uint64(v) - uint64(w[i-1]))
		}
	}
}

func floorSecond(t int64) int64 {
	return t - ((t%1e9)+1e9)%1e9
}

// sharedPrefix is how many leading bytes h shares with prev (0 for the
// first hash); distinct hashes share at most 31.
func sharedPrefix(prev, h *[32]byte, first bool) int {
	if first {
		return 0
	}
	n := 0
	for n < 31 && prev[n] == h[n] {
		n++
	}
	return n
}

// legacyOut is the live sliding-window state, sorted.
type legacyOut struct {
	sets       []SetHash // every set ever issued
	setCut     []int     // per set: the first NotBefore still in its window
	setWindows int       // sets with a NotBefore still in the window
	domains    []string  // domains with a NotBefore still in the window
	domainCut  []int
}

// legacyLive returns the sliding-window state that can change a decision:
// every set ever issued (a renewal is any earlier issuance), and the
// NotBefores still inside their window, (now-period, ...]: as now only
// grows, an older one is never counted again.
func (r *Replayer) legacyLive() legacyOut {
	s, now := r.legacy, r.now
	var out legacyOut
	out.sets = make([]SetHash, 0, len(s.ever))
	for h := range s.ever {
		out.sets = append(out.sets, h)
	}
	slices.SortFunc(out.sets, func(a, b SetHash) int { return bytes.Compare(a[:], b[:]) })
	out.setCut = make([]int, len(out.sets))
	for i, h := range out.sets {
		w := s.sets[h]
		out.setCut[i], _ = slices.BinarySearch(w, now-int64(r.p.setLimit(h).Period)+1)
		if out.setCut[i] < len(w) {
			out.setWindows++
		}
	}
	for d, w := range s.domains {
		cut, _ := slices.BinarySearch(w, now-int64(r.p.limitFor(CertificatesPerDomain, d).Period)+1)
		if cut < len(w) {
			out.domains = append(out.domains, d)
		}
	}
	slices.Sort(out.domains)
	for _, d := range out.domains {
		cut, _ := slices.BinarySearch(s.domains[d], now-int64(r.p.limitFor(CertificatesPerDomain, d).Period)+1)
		out.domainCut = append(out.domainCut, cut)
	}
	return out
}

// ariOut is the live ARI state in its canonical order: names sorted, and
// certificates numbered by first appearance in the names' lists.
type ariOut struct {
	certs []*ariCert
	names []ariName
}

type ariName struct {
	name string
	refs []int
}

// live returns the certificates a later order may still claim: not
// replaced, and their window not yet over (now only grows). Each name's
// list keeps its order, which decides ties on the issue instant.
func (s *ariState) live(now int64) ariOut {
	var out ariOut
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	ids := map[*ariCert]int{}
	for _, n := range names {
		var refs []int
		for _, c := range s.byName[n] {
			if c.replaced || now >= c.windowEnd {
				continue
			}
			id, ok := ids[c]
			if !ok {
				id = len(out.certs)
				ids[c] = id
				out.certs = append(out.certs, c)
			}
			refs = append(refs, id)
		}
		if len(refs) > 0 {
			out.names = append(out.names, ariName{n, refs})
		}
	}
	return out
}

// ReadState restores a Replayer from a state WriteState wrote, to decide
// the orders after it under p. It refuses a state of another format
// version or written under another policy (wrapping ErrStateMismatch),
// and a truncated or damaged one (wrapping ErrStateDamaged). It may read
// past the end of the state: give it a reader that holds the state alone.
func ReadState(p *Policy, rd io.Reader) (*Replayer, StateInfo, error) {
	d := newDecoder(rd)
	var info StateInfo
	if magic := d.bytes(len(stateMagic)); d.err != nil || string(magic) != stateMagic {
		if d.err != nil {
			return nil, info, fmt.Errorf("not a ctlimits replay state: %w", d.err)
		}
		return nil, info, fmt.Errorf("%w: not a ctlimits replay state (it begins %q, not %q)", ErrStateDamaged, magic, stateMagic)
	}
	version := d.uvarint()
	if d.err == nil && version != StateVersion {
		return nil, info, fmt.Errorf("%w: the state is format version %d, this ctlimits reads version %d: replay from scratch (--from-scratch)",
			ErrStateMismatch, version, StateVersion)
	}
	info.Version = int(version)
	flags := d.uvarint()
	info.Policy = d.str("policy name", maxPolicyName)
	var digest [32]byte
	copy(digest[:], d.bytes(32))
	info.PolicyDigest = fmt.Sprintf("%x", digest)
	now := d.varint()
	var counts [6]int
	for i := range counts {
		counts[i] = d.count("entries", maxStateEntries)
	}
	d.checkCRC("header")
	if d.err != nil {
		return nil, info, d.err
	}
	if flags&^flagStarted != 0 {
		return nil, info, fmt.Errorf("%w: unknown flags %#x", ErrStateDamaged, flags)
	}
	info.Started, info.Watermark = flags&flagStarted != 0, now
	if want := p.digestBytes(); digest != want {
		// The same name with another digest: other limits, overrides or
		// options, or a state from a ctlimits whose built-in policy has
		// changed since (a dated rule added), which resuming would mix.
		same := ""
		if info.Policy == p.Name {
			same = " (the same name, defined differently: other limits, overrides or options, or a built-in policy changed since the state was written)"
		}
		return nil, info, fmt.Errorf("%w: state was written under policy %s (digest %.12s), this replay uses %s (%.12s)%s: replay from scratch with --from-scratch or use the same policy/limits/overrides",
			ErrStateMismatch, info.Policy, info.PolicyDigest, p.Name, p.Digest(), same)
	}
	nDomains, nAccounts, nSets, nLegacyDomains, nCerts, nNames := counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
	info.DomainBuckets, info.AccountBuckets, info.Sets, info.ARICerts = nDomains, nAccounts, nSets, nCerts
	r := NewReplayer(p)
	r.started, r.now = info.Started, now
	if !info.Started && (nDomains|nAccounts|nSets|nLegacyDomains|nCerts|nNames) != 0 {
		return nil, info, fmt.Errorf("%w: a state with entries but no order decided", ErrStateDamaged)
	}
	if r.legacy == nil && nLegacyDomains != 0 || r.ari == nil && (nCerts|nNames) != 0 {
		return nil, info, fmt.Errorf("%w: state for a model the policy does not use", ErrStateDamaged)
	}

	var key, prev []byte
	r.domainTAT.Reserve(min(nDomains, reserveAtMost))
	for i := 0; i < nDomains && d.err == nil; i++ {
		key = d.key(key, prev, i == 0, "domain", maxDomainBytes)
		tat := d.after(now, d.uvarint(), "a TAT")
		if d.err == nil && len(key) == 0 {
			d.fail("an empty domain")
		}
		if d.err == nil {
			r.domainTAT.Set(string(key), tat)
		}
		key, prev = prev, key
	}
	prev = prev[:0]
	var prevKey accountKey
	for i := 0; i < nAccounts && d.err == nil; i++ {
		acct := d.key(key, prev, true, "account", maxAccountBytes)
		k := accountKey{account: string(acct)}
		k.domain = d.str("domain", maxDomainBytes)
		tat := d.after(now, d.uvarint(), "a TAT")
		if d.err == nil && i > 0 && cmp.Or(strings.Compare(k.account, prevKey.account), strings.Compare(k.domain, prevKey.domain)) <= 0 {
			d.fail("account bucket %q/%q does not sort after %q/%q", k.account, k.domain, prevKey.account, prevKey.domain)
		}
		if d.err == nil {
			r.accountTAT[k] = tat
		}
		prevKey = k
		key, prev = prev, acct
	}
	var prevHash [32]byte
	base := floorSecond(now)
	if r.legacy == nil {
		r.sets.Reserve(min(nSets, reserveAtMost))
	}
	for i := 0; i < nSets && d.err == nil; i++ {
		h := d.hash(&prevHash, i == 0)
		if r.legacy != nil {
			if d.err == nil && d.lastHeader&^setShared != 0 {
				d.fail("a set entry header %#x", d.lastHeader)
			}
			r.legacy.ever[SetHash(h)] = struct{}{}
			if w := d.window(now); len(w) > 0 {
				r.legacy.sets[SetHash(h)] = w
				info.LegacyWindows++
			}
			prevHash = h
			continue
		}
		hdr := d.lastHeader
		if d.err == nil && hdr&^(setShared|setLive|setNBSeconds) != 0 {
			d.fail("a set entry header %#x", hdr)
		}
		var st table.SetState
		st.TAT = now
		if hdr&setLive != 0 {
			st.TAT = d.after(now, d.uvarint(), "a TAT")
		}
		v := d.varint()
		if hdr&setNBSeconds != 0 {
			if v > math.MaxInt64/int64(1e9) || v < math.MinInt64/int64(1e9) {
				d.fail("a NotBefore %d s from the watermark is out of range", v)
			}
			v *= 1e9
		}
		st.LastNB = int64(uint64(base) + uint64(v))
		if d.err == nil {
			k := table.KeyOf(&h)
			r.sets.Put(&k, st)
		}
		prevHash = h
	}
	prev = prev[:0]
	for i := 0; i < nLegacyDomains && d.err == nil; i++ {
		key = d.key(key, prev, i == 0, "domain", maxDomainBytes)
		w := d.window(now)
		if d.err == nil && len(w) == 0 {
			d.fail("an empty window")
		}
		if d.err == nil {
			r.legacy.domains[string(key)] = w
			info.LegacyWindows++
		}
		key, prev = prev, key
	}
	certs := make([]*ariCert, 0, min(nCerts, 1<<16))
	for i := 0; i < nCerts && d.err == nil; i++ {
		c := &ariCert{}
		c.issued = int64(uint64(now) + uint64(d.varint()))
		c.windowStart = int64(uint64(c.issued) + uint64(d.varint()))
		c.windowEnd = int64(uint64(c.windowStart) + uint64(d.varint()))
		certs = append(certs, c)
	}
	prev = prev[:0]
	seen := 0 // certificates numbered so far, in order of first appearance
	for i := 0; i < nNames && d.err == nil; i++ {
		key = d.key(key, prev, i == 0, "name", maxNameBytes)
		n := d.count("certificates", uint64(nCerts))
		if d.err == nil && n == 0 {
			d.fail("a name without certificates")
		}
		var list []*ariCert
		for j := 0; j < n && d.err == nil; j++ {
			id := d.uvarint()
			switch {
			case id > uint64(seen) || id >= uint64(nCerts):
				d.fail("certificate %d out of order (%d seen, %d in all)", id, seen, nCerts)
			case slices.Contains(list, certs[id]):
				d.fail("certificate %d twice for one name", id)
			default:
				if id == uint64(seen) {
					seen++
				}
				list = append(list, certs[id])
			}
		}
		if d.err == nil {
			r.ari.byName[string(key)] = list
		}
		key, prev = prev, key
	}
	if d.err == nil && seen != nCerts {
		d.fail("%d certificates, %d named", nCerts, seen)
	}
	d.checkCRC("state")
	if d.err != nil {
		return nil, info, d.err
	}
	info.Bytes = d.offset()
	live := r.domainTAT.Len() + r.sets.Len() + len(r.accountTAT) + nCerts
	if r.legacy != nil {
		live += len(r.legacy.ever) + info.LegacyWindows
	}
	r.gcBudget = max(minGCBudget, live)
	return r, info, nil
}

// hash reads a set entry's header byte (kept in lastHeader) and its hash,
// prefix-compressed against prev, and checks that it sorts after prev.
func (d *decoder) hash(prev *[32]byte, first bool) [32]byte {
	var h [32]byte
	hdr := d.byte()
	d.lastHeader = hdr
	shared := int(hdr & setShared)
	if d.err == nil && (hdr&0x80 != 0 || first && shared != 0) {
		d.fail("a set entry header %#x", hdr)
	}
	if d.err != nil {
		return h
	}
	copy(h[:shared], prev[:shared])
	copy(h[shared:], d.bytes(32-shared))
	if d.err == nil && !first && bytes.Compare(h[:], prev[:]) <= 0 {
		d.fail("set %x does not sort after %x", h, *prev)
	}
	return h
}

// window reads a sliding window written by encoder.window.
func (d *decoder) window(now int64) []int64 {
	n := d.count("NotBefores", maxStateEntries)
	var w []int64
	for i := 0; i < n && d.err == nil; i++ {
		if i == 0 {
			w = append(w, int64(uint64(now)+uint64(d.varint())))
			continue
		}
		step := d.uvarint()
		v := int64(uint64(w[i-1]) + step)
		if d.err == nil && (step > math.MaxInt64 || v < w[i-1]) {
			d.fail("a window out of order")
		}
		w = append(w, v)
	}
	return w
}
