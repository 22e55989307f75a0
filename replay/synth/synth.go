// Package synth generates synthetic certificate order streams for testing
// and measuring the replay model: deterministic (a seed fixes the stream),
// in non-decreasing IssuedAt, with knobs for the shapes that matter to
// Let's Encrypt's rate limits: how orders spread over registered domains
// (heavy-tailed), how many names an order carries and of which kinds, how
// often an exact set comes back (renewals, duplicates), how many orders span
// several registered domains, and how time advances (bursts at one instant,
// tiny steps, and long gaps that cross bucket refills and the 120-day
// renewal window edge).
//
// Every name it produces is one Boulder would accept at new-order time
// (policy.WellFormedIdentifiers) once lowercased and stripped of a trailing
// dot, on public suffixes on which golang.org/x/net/publicsuffix and
// Boulder's github.com/weppos/publicsuffix-go agree, and no order carries
// more than 100 names (Boulder's cap). Raw names still vary in case, order,
// duplicates, trailing dots and IPv6 spelling, so that normalization is
// exercised too.
//
// Two presets cover the common uses: Adversarial hammers a few domains so
// that many orders are limited (differential tests), Realistic is mostly
// renewals over many small domains (benchmarks).
package synth

import (
	"iter"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// MaxNames is the most names an order may carry: Boulder refuses more than
// 100 identifiers in one order.
const MaxNames = 100

// Config describes a stream. The zero value of every field but Orders takes
// the stated default; fractions are probabilities per order (or per name,
// where stated) in [0, 1].
type Config struct {
	// Seed fixes the stream: the same Config yields the same orders.
	Seed uint64
	// Orders is how many orders the stream has. Required.
	Orders int
	// Start is the first order's instant. Default 2026-01-05 00:00 UTC
	// (after the renewal window took effect on 2025-01-06).
	Start time.Time

	// Domains is the number of registered domains orders draw from.
	// Default 1000.
	Domains int
	// Skew shapes how orders spread over domains: domain index
	// floor(Domains * u^Skew) for uniform u, so 1 is uniform and larger
	// values concentrate orders on few domains while most domains see few
	// orders (with Skew 3, 10% of orders go to 0.1% of the domains).
	// Default 1.
	Skew float64
	// Hosts is how many distinct host labels (apex, www, api, ...) a domain
	// draws its names from; more hosts mean more distinct exact sets per
	// domain. Default 8.
	Hosts int

	// MaxNames caps the names per order, duplicates included, at most
	// MaxNames (the package constant). Default 10.
	MaxNames int
	// MoreNames is the chance that an order has one more name than it has
	// so far (a geometric tail: 1 name with probability 1-MoreNames, ...).
	// Default 0.4.
	MoreNames float64
	// FullOrders is the chance that an order has exactly MaxNames names.
	FullOrders float64

	// Wildcard is the chance, per DNS name, that it is a wildcard.
	Wildcard float64
	// MixedCase is the chance, per name, that it is spelled in mixed or
	// upper case.
	MixedCase float64
	// TrailingDot is the chance, per DNS name, that it ends in a dot.
	TrailingDot float64
	// Duplicate is the chance that an order repeats one of its names
	// (possibly in another case).
	Duplicate float64
	// IP is the chance that an order carries an IP address identifier
	// (alone or besides names); a third of them are IPv6.
	IP float64
	// IPs is how many distinct IPv4 addresses and IPv6 /64s (four
	// addresses each) IP draws from, at most 4096. Default 256.
	IPs int
	// PrivateSuffix is the chance that an order carries a name that is
	// itself a public suffix of the PSL's private section ("github.io"),
	// which Boulder keys as its own registered domain.
	PrivateSuffix float64
	// MultiDomain is the chance that an order spans 2 to 4 registered
	// domains.
	MultiDomain float64

	// Repeat is the chance that an order asks again for the exact set of
	// an earlier order (a renewal, or a duplicate when soon), spelled
	// afresh (other name order, case, duplicates).
	Repeat float64
	// RepeatWindow is how many recent distinct sets a repeat draws from,
	// uniformly. Default 4096.
	RepeatWindow int

	// MeanStep is the mean of the exponential time step between orders.
	// Default 1 minute.
	MeanStep time.Duration
	// Burst is the chance that an order comes at the same instant as the
	// one before it.
	Burst float64
	// Tiny is the chance of a step of 1ns to 1ms.
	Tiny float64
	// LongGap is the chance of a long gap: half of them uniform in 1 to
	// 130 days, half exactly on the renewal window edge (RenewalWindow -
	// Backdate, minus 1ns, exactly, or plus 1ns), followed by a repeat of
	// the previous order's set.
	LongGap float64
	// RenewalWindow is the renewal lookback LongGap aims at. Default 120
	// days.
	RenewalWindow time.Duration
	// Backdate is how far NotBefore precedes IssuedAt (Let's Encrypt
	// backdates by about an hour). Default 0.
	Backdate time.Duration

	// Accounts, when positive, gives every order an ACME account: a
	// decimal registration ID in 1..Accounts, skewed like domains. A
	// repeat keeps its first account 80% of the time.
	Accounts int
}

// Adversarial returns a stream that hammers few domains with many distinct
// and repeated sets at short steps, with every kind of name and time step,
// so that many orders are limited under default and small custom limits.
func Adversarial(seed uint64, orders int) Config {
	return Config{
		Seed: seed, Orders: orders,
		Domains: 40, Skew: 2, Hosts: 60,
		MaxNames: MaxNames, MoreNames: 0.45, FullOrders: 0.002,
		Wildcard: 0.1, MixedCase: 0.1, TrailingDot: 0.05, Duplicate: 0.1,
		IP: 0.05, PrivateSuffix: 0.02, MultiDomain: 0.2,
		Repeat: 0.45, RepeatWindow: 64,
		MeanStep: 2 * time.Minute, Burst: 0.15, Tiny: 0.1, LongGap: 0.0005,
		Backdate: time.Hour,
	}
}

// Realistic returns a stream shaped like Let's Encrypt's issuance: mostly
// renewals, most domains small with a heavy tail, one or two names per
// order. Orders come every 2 seconds on average and a repeat draws from
// the last million fresh sets, so 10 million orders span about 8 months
// and a set comes back about once a month: renewals, rarely limited.
func Realistic(seed uint64, orders int) Config {
	return Config{
		Seed: seed, Orders: orders,
		Domains: max(1000, orders/4), Skew: 3, Hosts: 4,
		MaxNames: MaxNames, MoreNames: 0.3, FullOrders: 0.0005,
		Wildcard: 0.05, MixedCase: 0.01, Duplicate: 0.01,
		IP: 0.001, MultiDomain: 0.03,
		Repeat: 0.7, RepeatWindow: 1 << 20,
		MeanStep: 2 * time.Second, Burst: 0.05,
		Backdate: time.Hour,
	}
}

func (c *Config) defaults() {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	if c.Domains <= 0 {
		c.Domains = 1000
	}
	if c.Skew < 1 {
		c.Skew = 1
	}
	if c.Hosts <= 0 {
		c.Hosts = 8
	}
	if c.MaxNames <= 0 {
		c.MaxNames = 10
	}
	c.MaxNames = min(c.MaxNames, MaxNames)
	if c.MoreNames == 0 {
		c.MoreNames = 0.4
	}
	if c.IPs <= 0 {
		c.IPs = 256
	}
	c.IPs = min(c.IPs, 4096)
	if c.RepeatWindow <= 0 {
		c.RepeatWindow = 4096
	}
	if c.MeanStep <= 0 {
		c.MeanStep = time.Minute
	}
	if c.RenewalWindow <= 0 {
		c.RenewalWindow = 120 * 24 * time.Hour
	}
}

// suffixes are the public suffixes generated domains sit under: ICANN ones
// of one and two labels, and private-section ones whose registered domains
// have three labels. x/net/publicsuffix and publicsuffix-go agree on all.
var suffixes = []string{
	"com", "net", "org", "io", "de", "fr", "dev", "app",
	"co.uk", "org.uk", "com.au", "co.jp", "com.br",
	"github.io", "netlify.app", "herokuapp.com", "pages.dev",
}

// privateSuffixes are names that are themselves public suffixes of the
// PSL's private section but not ICANN TLDs, so Boulder accepts them.
var privateSuffixes = []string{"github.io", "netlify.app", "herokuapp.com", "pages.dev"}

// hostLabels name a domain's hosts; "" is the apex. Past the list, hosts
// are "h<n>".
var hostLabels = []string{"", "www", "api", "mail", "shop", "cdn", "blog", "app"}

// Generator yields the orders of one Config. It is not safe for
// concurrent use.
type Generator struct {
	c   Config
	r   *rand.Rand
	i   int   // orders yielded
	now int64 // Unix ns of the last order

	// recent is a ring of the last RepeatWindow sets, as name keys.
	recent [][]nameKey
	next   int
	// prev is the previous order's set, for the repeat after an edge gap.
	prev     []nameKey
	prevAcct int
	forceRep bool

	keys   []nameKey // scratch
	intern map[nameKey]string
	accts  []string
}

// nameKey identifies one spelled name: entity, host and spelling.
type nameKey struct {
	kind   uint8 // kindDNS, kindPrivate, kindIPv4, kindIPv6
	domain uint32
	host   uint16
	// spelling: bit 0 wildcard, bit 1 trailing dot, bits 2-3 case,
	// bit 4 non-canonical IPv6.
	spell uint8
}

const (
	kindDNS uint8 = iota
	kindPrivate
	kindIPv4
	kindIPv6
)

const (
	spellWildcard = 1 << 0
	spellDot      = 1 << 1
	spellCase     = 3 << 2
	spellLongIPv6 = 1 << 4
	// canonical bits: those that change the normalized name.
	canonical = spellWildcard
)

// maxIntern bounds the interned names; past it the table starts over. A
// larger table saves allocations but costs more in cache misses than it
// saves (1<<20 entries: 2µs an order; 1<<16: 0.8µs).
const maxIntern = 1 << 16

// New returns a Generator for c.
func New(c Config) *Generator {
	c.defaults()
	g := &Generator{
		c:      c,
		r:      rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)),
		now:    c.Start.UnixNano(),
		recent: make([][]nameKey, 0, min(c.RepeatWindow, 1<<16)),
		intern: make(map[nameKey]string),
	}
	if c.Accounts > 0 {
		g.accts = make([]string, c.Accounts)
		for i := range g.accts {
			g.accts[i] = strconv.Itoa(i + 1)
		}
	}
	return g
}

// Config returns the Config the Generator runs, defaults filled in.
func (g *Generator) Config() Config { return g.c }

// Next fills o with the next order and reports whether there was one. It
// reuses o.Names' backing array and shares name strings between orders, so
// it allocates only to render a name it has not rendered lately. Copy
// o.Names to keep them past the next call.
func (g *Generator) Next(o *replay.Order) bool {
	if g.i >= g.c.Orders {
		return false
	}
	g.i++
	g.step()
	set, acct := g.pickSet()
	names := o.Names[:0]
	for _, k := range set {
		names = append(names, g.name(g.respell(k)))
	}
	if len(names) < g.c.MaxNames && g.chance(g.c.Duplicate) {
		k := set[g.r.IntN(len(set))]
		names = append(names, g.name(g.respell(k)))
	}
	// Shuffle: the raw order of names must not matter.
	for i := len(names) - 1; i > 0; i-- {
		j := g.r.IntN(i + 1)
		names[i], names[j] = names[j], names[i]
	}
	issued := time.Unix(0, g.now).UTC()
	*o = replay.Order{IssuedAt: issued, Names: names, NotBefore: issued.Add(-g.c.Backdate)}
	if acct > 0 {
		o.Account = g.accts[acct-1]
	}
	return true
}

// All yields the remaining orders with their 0-based positions; each order
// has its own Names slice.
func (g *Generator) All() iter.Seq2[int, replay.Order] {
	return func(yield func(int, replay.Order) bool) {
		var o replay.Order
		for {
			i := g.i
			if !g.Next(&o) {
				return
			}
			out := o
			out.Names = append([]string(nil), o.Names...)
			if !yield(i, out) {
				return
			}
		}
	}
}

// Orders returns the whole stream of c.
func Orders(c Config) []replay.Order {
	out := make([]replay.Order, 0, c.Orders)
	for _, o := range New(c).All() {
		out = append(out, o)
	}
	return out
}

func (g *Generator) chance(p float64) bool { return p > 0 && g.r.Float64() < p }

// step advances the clock to the next order's instant.
func (g *Generator) step() {
	if g.i == 1 {
		return
	}
	c := &g.c
	switch u := g.r.Float64(); {
	case u < c.Burst:
		// same instant
	case u < c.Burst+c.Tiny:
		g.now += 1 + g.r.Int64N(int64(time.Millisecond))
	case u < c.Burst+c.Tiny+c.LongGap:
		if g.r.IntN(2) == 0 {
			g.now += int64(24*time.Hour) + g.r.Int64N(int64(129*24*time.Hour))
		} else {
			g.now += int64(c.RenewalWindow-c.Backdate) + g.r.Int64N(3) - 1
			g.forceRep = g.prev != nil
		}
	default:
		g.now += int64(g.r.ExpFloat64() * float64(c.MeanStep))
	}
}

// pickSet returns the order's set as name keys in canonical spelling, and
// its account (0: none).
func (g *Generator) pickSet() ([]nameKey, int) {
	c := &g.c
	if g.forceRep {
		g.forceRep = false
		return g.prev, g.prevAcct
	}
	if len(g.recent) > 0 && g.chance(c.Repeat) {
		set := g.recent[g.r.IntN(len(g.recent))]
		acct := g.account()
		if acct > 0 && g.r.IntN(5) != 0 {
			// Keep the account the set was first ordered with.
			acct = 1 + int(set[0].domain^uint32(set[0].host))%c.Accounts
		}
		g.prev, g.prevAcct = set, acct
		return set, acct
	}

	keys := g.keys[:0]
	n := 1
	if c.FullOrders > 0 && g.chance(c.FullOrders) {
		n = c.MaxNames
	} else {
		for n < c.MaxNames && g.r.Float64() < c.MoreNames {
			n++
		}
	}
	if g.chance(c.Duplicate) && n > 1 {
		n-- // leave room for a duplicate spelling
	}
	doms := 1
	if g.chance(c.MultiDomain) {
		doms = 2 + g.r.IntN(3)
	}
	var domains [4]uint32
	for i := range doms {
		domains[i] = g.domain()
	}
	if g.chance(c.IP) {
		keys = append(keys, g.ip())
	}
	if g.chance(c.PrivateSuffix) {
		k := nameKey{kind: kindPrivate, domain: uint32(g.r.IntN(len(privateSuffixes)))}
		if g.chance(c.Wildcard) {
			k.spell = spellWildcard
		}
		keys = append(keys, k)
	}
	for tries := 0; len(keys) < n && tries < 4*n; tries++ {
		k := nameKey{kind: kindDNS, domain: domains[len(keys)%doms], host: g.host()}
		if g.chance(c.Wildcard) {
			k.spell = spellWildcard
		}
		if !containsKey(keys, k) {
			keys = append(keys, k)
		}
	}
	g.keys = keys
	var set []nameKey
	if len(g.recent) < g.c.RepeatWindow {
		set = append([]nameKey(nil), keys...)
		g.recent = append(g.recent, set)
	} else {
		// Reuse the evicted set's array, when it is not much larger than
		// needed: once the ring is full, most fresh sets cost no
		// allocation. (Reusing every array whatever its size made each
		// slot keep the largest set it ever held, so the ring grew with
		// the stream, toward 100 names a slot.)
		set = g.recent[g.next]
		if cap(set) < len(keys) || cap(set) > 2*len(keys) {
			set = nil
		}
		set = append(set[:0], keys...)
		g.recent[g.next] = set
		g.next = (g.next + 1) % len(g.recent)
	}
	acct := 0
	if c.Accounts > 0 {
		acct = 1 + int(set[0].domain^uint32(set[0].host))%c.Accounts
		if g.r.IntN(5) == 0 {
			acct = g.account()
		}
	}
	g.prev, g.prevAcct = set, acct
	return set, acct
}

func containsKey(ks []nameKey, k nameKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// domain draws a registered domain index, heavy-tailed by Skew.
func (g *Generator) domain() uint32 {
	u := g.r.Float64()
	if g.c.Skew != 1 {
		u = math.Pow(u, g.c.Skew)
	}
	return uint32(min(int(u*float64(g.c.Domains)), g.c.Domains-1))
}

// host draws a host label index: the first few hosts are the most common.
func (g *Generator) host() uint16 {
	u := g.r.Float64()
	return uint16(min(int(u*u*float64(g.c.Hosts)), g.c.Hosts-1))
}

func (g *Generator) account() int {
	if g.c.Accounts <= 0 {
		return 0
	}
	u := g.r.Float64()
	u = u * u
	return 1 + min(int(u*float64(g.c.Accounts)), g.c.Accounts-1)
}

// ip draws an IP identifier: addresses of a few hundred hosts, IPv6 ones
// packed several to a /64.
func (g *Generator) ip() nameKey {
	k := nameKey{kind: kindIPv4, domain: uint32(g.r.IntN(g.c.IPs))}
	if g.r.IntN(3) == 0 {
		k.kind = kindIPv6
		k.host = uint16(g.r.IntN(4))
	}
	return k
}

// respell picks a spelling for a name: case, trailing dot, long IPv6.
// The wildcard bit is part of the name and kept.
func (g *Generator) respell(k nameKey) nameKey {
	k.spell &= canonical
	if g.chance(g.c.MixedCase) {
		k.spell |= uint8(1+g.r.IntN(3)) << 2
	}
	switch k.kind {
	case kindDNS, kindPrivate:
		if g.chance(g.c.TrailingDot) {
			k.spell |= spellDot
		}
	case kindIPv6:
		if g.r.IntN(4) == 0 {
			k.spell |= spellLongIPv6
		}
	}
	return k
}

// name renders a key, interned.
func (g *Generator) name(k nameKey) string {
	if s, ok := g.intern[k]; ok {
		return s
	}
	s := render(k)
	if len(g.intern) >= maxIntern {
		clear(g.intern)
	}
	g.intern[k] = s
	return s
}

func render(k nameKey) string {
	var b []byte
	switch k.kind {
	case kindDNS:
		if k.spell&spellWildcard != 0 {
			b = append(b, "*."...)
		}
		if int(k.host) < len(hostLabels) {
			if h := hostLabels[k.host]; h != "" {
				b = append(b, h...)
				b = append(b, '.')
			}
		} else {
			b = append(b, 'h')
			b = strconv.AppendUint(b, uint64(k.host), 10)
			b = append(b, '.')
		}
		b = append(b, "site"...)
		b = strconv.AppendUint(b, uint64(k.domain), 36)
		b = append(b, '.')
		b = append(b, suffixes[int(k.domain)%len(suffixes)]...)
	case kindPrivate:
		if k.spell&spellWildcard != 0 {
			b = append(b, "*."...)
		}
		b = append(b, privateSuffixes[k.domain]...)
	case kindIPv4:
		// 23.0.0.0/8 and 104.16.0.0/12 are public unicast space.
		b = append(b, "23.45."...)
		b = strconv.AppendUint(b, uint64(k.domain/16), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(1+k.domain%16), 10)
	case kindIPv6:
		// 2606:4700::/32 is public unicast space; four addresses per /64.
		if k.spell&spellLongIPv6 != 0 {
			b = append(b, "2606:4700:00"...)
			b = strconv.AppendUint(b, uint64(k.domain), 16)
			b = append(b, ":0:0:0:0:"...)
		} else {
			b = append(b, "2606:4700:"...)
			b = strconv.AppendUint(b, uint64(k.domain), 16)
			b = append(b, "::"...)
		}
		b = append(b, "a"...)
		b = strconv.AppendUint(b, uint64(k.host), 16)
	}
	switch (k.spell & spellCase) >> 2 {
	case 1: // all upper
		for i, c := range b {
			if 'a' <= c && c <= 'z' {
				b[i] = c - 'a' + 'A'
			}
		}
	case 2: // first letter of each label upper
		up := true
		for i, c := range b {
			if up && 'a' <= c && c <= 'z' {
				b[i] = c - 'a' + 'A'
			}
			up = c == '.' || c == ':'
		}
	case 3: // alternate
		for i, c := range b {
			if i%2 == 0 && 'a' <= c && c <= 'z' {
				b[i] = c - 'a' + 'A'
			}
		}
	}
	if k.spell&spellDot != 0 {
		b = append(b, '.')
	}
	return string(b)
}
