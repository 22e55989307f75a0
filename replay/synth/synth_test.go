package synth

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

func TestSameSeedSameStream(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{Adversarial(7, 5000), Realistic(7, 5000)} {
		a, b := Orders(c), Orders(c)
		if len(a) != c.Orders || len(b) != c.Orders {
			t.Fatalf("got %d and %d orders, want %d", len(a), len(b), c.Orders)
		}
		for i := range a {
			if !a[i].IssuedAt.Equal(b[i].IssuedAt) || !slices.Equal(a[i].Names, b[i].Names) || a[i].Account != b[i].Account {
				t.Fatalf("order %d differs between two runs of one seed: %v / %v", i, a[i], b[i])
			}
		}
		c.Seed++
		d := Orders(c)
		same := 0
		for i := range a {
			if slices.Equal(a[i].Names, d[i].Names) {
				same++
			}
		}
		if same > len(a)/2 {
			t.Errorf("seeds %d and %d share %d of %d orders", c.Seed-1, c.Seed, same, len(a))
		}
	}
}

func TestNextMatchesAll(t *testing.T) {
	t.Parallel()
	c := Adversarial(3, 2000)
	want := Orders(c)
	g := New(c)
	var o replay.Order
	n := 0
	for ; g.Next(&o); n++ {
		if n >= len(want) {
			t.Fatalf("Next gives more orders than All's %d", len(want))
		}
		if !o.IssuedAt.Equal(want[n].IssuedAt) || !slices.Equal(o.Names, want[n].Names) {
			t.Fatalf("order %d: Next gives %v, All gives %v", n, o, want[n])
		}
	}
	if n != c.Orders || len(want) != c.Orders {
		t.Fatalf("Next gives %d orders, All %d, want %d", n, len(want), c.Orders)
	}
}

// Next allocates only to render a name it has not rendered before.
func TestNextDoesNotAllocateAfterWarmUp(t *testing.T) {
	c := Realistic(1, 1<<30)
	c.Domains, c.RepeatWindow = 2000, 4096
	g := New(c)
	var o replay.Order
	for range 400000 { // fill the repeat ring
		g.Next(&o)
	}
	allocs := testing.AllocsPerRun(10000, func() { g.Next(&o) })
	if allocs > 0.05 {
		t.Errorf("Next allocates %.3f times per order after warm-up", allocs)
	}
}

// Every stream is valid input: in time order, 1..MaxNames names, each of
// which normalizes and has a registered domain.
func TestStreamsAreValidOrders(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{Adversarial(11, 20000), Realistic(11, 20000), {Seed: 1, Orders: 5000, MaxNames: 100, FullOrders: 0.05, Hosts: 200}} {
		var n replay.Namer
		var last time.Time
		count := 0
		for i, o := range New(c).All() {
			count++
			if o.IssuedAt.Before(last) {
				t.Fatalf("order %d at %s is before the previous one at %s", i, o.IssuedAt, last)
			}
			last = o.IssuedAt
			if len(o.Names) == 0 || len(o.Names) > MaxNames {
				t.Fatalf("order %d has %d names", i, len(o.Names))
			}
			if _, err := n.Prepare(&o); err != nil {
				t.Fatalf("order %d %q: %v", i, o.Names, err)
			}
		}
		if count != c.Orders {
			t.Fatalf("the stream has %d orders, want %d", count, c.Orders)
		}
	}
}

// stats measures the shape of a stream.
type stats struct {
	orders, repeats, multiDomain, burst, ip, wildcard, trailingDot, mixedCase, accounts int
	maxNames                                                                            int
	topShare                                                                            float64 // share of orders on the busiest 1% of domains
	maxGap                                                                              time.Duration
	edgeGaps                                                                            int
	// Distinct registered domains (DNS), IPv4 addresses, IPv6 /64s and
	// accounts; the most distinct hosts under one registered domain.
	domains, ipv4, ipv6Nets, maxHosts int
	accountIDs                        map[string]bool
}

func measure(t *testing.T, c Config) stats {
	t.Helper()
	s := stats{accountIDs: map[string]bool{}}
	var n replay.Namer
	hosts := map[string]map[string]bool{}
	seen := map[replay.SetHash]bool{}
	perDomain := map[string]int{}
	var last time.Time
	g := New(c)
	for i, o := range g.All() {
		p, err := n.Prepare(&o)
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		s.orders++
		if seen[p.Set] {
			s.repeats++
		}
		seen[p.Set] = true
		dns := 0
		for _, d := range p.Domains {
			if !strings.Contains(d, "/") {
				dns++
			}
			perDomain[d]++
		}
		if dns > 1 {
			s.multiDomain++
		}
		if i > 0 {
			gap := o.IssuedAt.Sub(last)
			if gap == 0 {
				s.burst++
			}
			s.maxGap = max(s.maxGap, gap)
			if e := g.Config().RenewalWindow - g.Config().Backdate; gap >= e-1 && gap <= e+1 {
				s.edgeGaps++
			}
		}
		last = o.IssuedAt
		s.maxNames = max(s.maxNames, len(o.Names))
		hasIP := false
		for _, name := range o.Names {
			hasIP = hasIP || strings.Contains(name, ":") || strings.HasPrefix(name, "23.")
			if strings.HasPrefix(name, "*.") {
				s.wildcard++
			}
			if strings.HasSuffix(name, ".") {
				s.trailingDot++
			}
			if name != strings.ToLower(name) {
				s.mixedCase++
			}
		}
		if hasIP {
			s.ip++
		}
		if o.Account != "" {
			s.accounts++
			s.accountIDs[o.Account] = true
		}
		for _, name := range p.Names {
			name = strings.TrimPrefix(name, "*.")
			for _, d := range p.Domains {
				if name == d || strings.HasSuffix(name, "."+d) {
					if hosts[d] == nil {
						hosts[d] = map[string]bool{}
					}
					hosts[d][name] = true
				}
			}
		}
	}
	if s.orders != c.Orders {
		t.Fatalf("the stream has %d orders, want %d", s.orders, c.Orders)
	}
	for d := range perDomain {
		switch {
		case strings.HasSuffix(d, "/32"):
			s.ipv4++
		case strings.Contains(d, ":"):
			s.ipv6Nets++
		default:
			s.domains++
		}
	}
	for _, h := range hosts {
		s.maxHosts = max(s.maxHosts, len(h))
	}
	counts := make([]int, 0, len(perDomain))
	for _, v := range perDomain {
		counts = append(counts, v)
	}
	slices.Sort(counts)
	slices.Reverse(counts)
	top := 0
	for _, v := range counts[:max(1, len(counts)/100)] {
		top += v
	}
	s.topShare = float64(top) / float64(s.orders)
	return s
}

func frac(n, of int) float64 { return float64(n) / float64(of) }

var knobCases = []struct {
	spec   string
	config Config
	check  func(s stats) bool
}{
	{"no knobs: one name per order mostly, no repeats beyond chance, no accounts",
		Config{Seed: 1, Orders: 20000, Domains: 100000},
		func(s stats) bool {
			return frac(s.repeats, s.orders) < 0.1 && s.accounts == 0 && s.ip == 0 && s.wildcard == 0
		}},
	{"Repeat 0.6 makes about 60% of orders exact-set repeats",
		Config{Seed: 1, Orders: 20000, Domains: 100000, Repeat: 0.6},
		func(s stats) bool { r := frac(s.repeats, s.orders); return r > 0.55 && r < 0.7 }},
	{"MultiDomain 0.3 makes about 30% of orders span several registered domains",
		Config{Seed: 1, Orders: 20000, Domains: 100000, MultiDomain: 0.3, MoreNames: 0.9},
		func(s stats) bool { r := frac(s.multiDomain, s.orders); return r > 0.2 && r < 0.32 }},
	{"Burst 0.5 puts about half the orders at the instant of the one before",
		Config{Seed: 1, Orders: 20000, Burst: 0.5},
		func(s stats) bool { r := frac(s.burst, s.orders); return r > 0.45 && r < 0.55 }},
	{"IP 0.2 puts an IP address in about 20% of orders",
		Config{Seed: 1, Orders: 20000, IP: 0.2},
		func(s stats) bool { r := frac(s.ip, s.orders); return r > 0.17 && r < 0.23 }},
	{"Wildcard, TrailingDot and MixedCase spell names",
		Config{Seed: 1, Orders: 20000, Wildcard: 0.2, TrailingDot: 0.2, MixedCase: 0.2},
		func(s stats) bool {
			return frac(s.wildcard, s.orders) > 0.1 && frac(s.trailingDot, s.orders) > 0.1 && frac(s.mixedCase, s.orders) > 0.1
		}},
	{"Skew 1 spreads orders evenly over domains",
		Config{Seed: 1, Orders: 50000, Domains: 10000},
		func(s stats) bool { return s.topShare < 0.05 }},
	{"Skew 3 sends a large share of orders to the busiest 1% of domains",
		Config{Seed: 1, Orders: 50000, Domains: 10000, Skew: 3},
		func(s stats) bool { return s.topShare > 0.2 }},
	{"MaxNames and FullOrders reach but never pass 100 names",
		Config{Seed: 1, Orders: 5000, MaxNames: 500, FullOrders: 0.1, Hosts: 300, Duplicate: 0.5},
		func(s stats) bool { return s.maxNames == MaxNames }},
	{"LongGap crosses the renewal window and lands on its edge",
		Config{Seed: 1, Orders: 20000, LongGap: 0.01, Backdate: time.Hour},
		func(s stats) bool { return s.maxGap > 100*24*time.Hour && s.edgeGaps > 50 }},
	{"Accounts gives every order one of Accounts accounts, 1..Accounts",
		Config{Seed: 1, Orders: 5000, Accounts: 10},
		func(s stats) bool {
			for id := range s.accountIDs {
				if n, err := strconv.Atoi(id); err != nil || n < 1 || n > 10 {
					return false
				}
			}
			return s.accounts == s.orders && len(s.accountIDs) == 10
		}},
	{"Domains and Hosts bound the registered domains and the hosts under each",
		Config{Seed: 1, Orders: 50000, Domains: 1000, Hosts: 5},
		func(s stats) bool { return s.domains == 1000 && s.maxHosts == 5 }},
	{"IPs bounds the IPv4 addresses and IPv6 /64s",
		Config{Seed: 1, Orders: 20000, IP: 0.3, IPs: 100},
		func(s stats) bool { return s.ipv4 == 100 && s.ipv6Nets == 100 }},
}

func TestKnobs(t *testing.T) {
	t.Parallel()
	for _, c := range knobCases {
		t.Run(c.spec, func(t *testing.T) {
			t.Parallel()
			if s := measure(t, c.config); !c.check(s) {
				t.Errorf("stream shape %+v", s)
			}
		})
	}
}

func TestPresetsShape(t *testing.T) {
	t.Parallel()
	r := measure(t, Realistic(5, 50000))
	if f := frac(r.repeats, r.orders); f < 0.6 {
		t.Errorf("Realistic: %.2f of orders repeat a set, want mostly renewals", f)
	}
	a := measure(t, Adversarial(5, 50000))
	if a.ip == 0 || a.wildcard == 0 || a.trailingDot == 0 || a.mixedCase == 0 || a.multiDomain == 0 || a.burst == 0 || a.edgeGaps == 0 {
		t.Errorf("Adversarial lacks a kind of name or step: %+v", a)
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Realistic(1, 10_000_000))
	var o replay.Order
	b.ReportAllocs()
	for b.Loop() {
		if !g.Next(&o) {
			g = New(Realistic(1, 10_000_000))
		}
	}
}

// TestRepeatRingStaysSized: the ring of recent sets reuses evicted arrays,
// but not ones far larger than the set stored, so that its memory follows
// the sets it holds rather than the largest each slot ever held.
func TestRepeatRingStaysSized(t *testing.T) {
	t.Parallel()
	c := Realistic(1, 100_000)
	c.RepeatWindow = 256
	c.FullOrders = 0.02 // 100-name sets pass through every slot
	g := New(c)
	var o replay.Order
	for g.Next(&o) {
	}
	sizes, caps := 0, 0
	for _, s := range g.recent {
		sizes += len(s)
		caps += cap(s)
	}
	if caps > 2*sizes {
		t.Fatalf("the ring's %d sets hold %d names in arrays of %d", len(g.recent), sizes, caps)
	}
}
