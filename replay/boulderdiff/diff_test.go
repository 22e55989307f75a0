package boulderdiff

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/boulder/core"
	"github.com/letsencrypt/boulder/identifier"
	"github.com/letsencrypt/boulder/ratelimits"
	"gopkg.in/yaml.v3"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// The limits of each scenario are Boulder-format YAML files; Boulder and
// ctlimits each load the same files with their own loaders.

const productionDefaults = `
CertificatesPerDomain:
  burst: 50
  count: 50
  period: 168h
CertificatesPerFQDNSet:
  burst: 5
  count: 5
  period: 168h
`

const smallDefaults = `
CertificatesPerDomain:
  burst: 3
  count: 2
  period: 1h
CertificatesPerFQDNSet:
  burst: 2
  count: 1
  period: 10m
`

const domainOverrides = `
- CertificatesPerDomain:
    burst: 300
    count: 300
    period: 168h
    ids:
      - id: site0.com
        comment: busiest domain, approved tier
- CertificatesPerDomain:
    burst: 2
    count: 1
    period: 1h
    ids:
      - id: site1.net
      - id: 23.45.0.1
      - id: "2606:4700::"
- CertificatesPerFQDNSet:
    burst: 10
    count: 10
    period: 24h
    ids:
      - id: site0.com
- CertificatesPerFQDNSet:
    burst: 1
    count: 1
    period: 1h
    ids:
      - id: www.site0.com,site0.com
`

const accountDefaults = productionDefaults + `
NewOrdersPerAccount:
  burst: 30
  count: 30
  period: 3h
`

const accountOverrides = `
- CertificatesPerDomainPerAccount:
    burst: 20
    count: 20
    period: 24h
    ids:
      - id: "1"
        comment: hosting provider
- CertificatesPerDomainPerAccount:
    burst: 2
    count: 1
    period: 1h
    ids:
      - id: "2"
- NewOrdersPerAccount:
    burst: 5
    count: 5
    period: 1h
    ids:
      - id: "3"
`

// maskingDefaults make the two batch rules differ often: an account's
// last new order of the day (an allowed check that leaves its bucket
// short, with up to 6h to the next token) outranks a registered domain's
// denial (at most 30m), so before PR 8674 Boulder issued such an order.
const maskingDefaults = `
CertificatesPerDomain:
  burst: 2
  count: 2
  period: 1h
CertificatesPerFQDNSet:
  burst: 3
  count: 3
  period: 6h
NewOrdersPerAccount:
  burst: 4
  count: 4
  period: 24h
`

type scenario struct {
	name                string
	defaults, overrides string
	streams             []synth.Config
	// limits are the limits that must each deny many orders of the
	// scenario's streams (minLimited at least), so that the comparison
	// covers their denials and not only allowed orders.
	limits []replay.Name
}

// minLimited is how many orders of a scenario's streams each of its limits
// must deny. The least-exercised limits deny about two hundred orders
// (CertificatesPerDomainPerAccount, NewOrdersPerAccount before the
// cut-over, where the streams have fewer long gaps to refill the domains)
// and the others hundreds to thousands, each compared with Boulder in
// full (bucket, retry, tokens left, message).
const minLimited = 25

func withIPs(c synth.Config, ip float64, ips int) synth.Config {
	c.IP, c.IPs = ip, ips
	return c
}

func withDomains(c synth.Config, n int) synth.Config {
	c.Domains = n
	return c
}

func withAccounts(c synth.Config, n int) synth.Config {
	c.Accounts = n
	return c
}

// eraSpec is which batch rule the Boulder this test is built with applies
// (era_current_test.go, era_20260309_test.go). Each era's orders lie in
// the letsencrypt policy's span for that rule, so that ctlimits' dated
// policy must pick the rule Boulder applies.
type eraSpec struct {
	name string
	// denialFirst: the current rule, boulder PR 8674 and after.
	denialFirst bool
}

// span is the instants the era's orders lie in, [start, end), zero end
// for none: from the policy's batch-rule cut-over on for the current
// rule; before it for the old one, from the start of the 120-day renewal
// window (before which the policy renews on any earlier issuance, and
// Boulder here always looks back 120 days).
func (e eraSpec) span(t testing.TB) (start, end time.Time) {
	t.Helper()
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	if p.DenialFirstSince.IsZero() || p.RenewalWindowSince.IsZero() || !p.RenewalWindowSince.Before(p.DenialFirstSince) {
		t.Fatalf("the letsencrypt policy no longer dates its batch rule (%s) after its renewal window (%s): update the eras", p.DenialFirstSince, p.RenewalWindowSince)
	}
	if e.denialFirst {
		return p.DenialFirstSince, time.Time{}
	}
	return p.RenewalWindowSince, p.DenialFirstSince
}

// orders generates a stream from the era's start and keeps the orders
// before its end. The streams' long gaps (1 to 130 days, or on the
// renewal window's edge) take them over years, and the era before the
// cut-over lasts 444 days: there they come a tenth as often, so that
// most of each stream fits, long gaps and all.
func (e eraSpec) orders(t testing.TB, c synth.Config) []replay.Order {
	start, end := e.span(t)
	c.Start = start
	if !end.IsZero() {
		c.LongGap /= 10
	}
	orders := synth.Orders(c)
	if !end.IsZero() {
		n, _ := slices.BinarySearchFunc(orders, end, func(o replay.Order, end time.Time) int { return o.IssuedAt.Compare(end) })
		orders = orders[:n]
	}
	return orders
}

// scenarios compare 300,000 orders in all in the current rule's era, and
// about 275,000 before the cut-over.
var scenarios = []scenario{
	{
		name:     "production limits",
		defaults: productionDefaults,
		streams: []synth.Config{
			synth.Adversarial(1, 60000),
			withDomains(synth.Adversarial(2, 30000), 400),
		},
		limits: []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet},
	},
	{
		name:     "small custom limits",
		defaults: smallDefaults,
		streams: []synth.Config{
			synth.Adversarial(3, 60000),
			withIPs(synth.Adversarial(4, 20000), 0.6, 6),
		},
		limits: []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet},
	},
	{
		name:      "domain, IP and exact-set overrides",
		defaults:  productionDefaults,
		overrides: domainOverrides,
		streams:   []synth.Config{withIPs(synth.Adversarial(5, 40000), 0.1, 4)},
		limits:    []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet},
	},
	{
		name:      "accounts with NewOrdersPerAccount and per-account overrides",
		defaults:  accountDefaults,
		overrides: accountOverrides,
		// The second stream's three accounts all have overrides, and each
		// orders a third of the time: their limits deny often without
		// waiting for long gaps to refill the domains.
		streams: []synth.Config{withAccounts(synth.Adversarial(6, 40000), 6), withAccounts(synth.Adversarial(7, 30000), 3)},
		limits: []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet,
			replay.NewOrdersPerAccount, replay.CertificatesPerDomainPerAccount},
	},
	{
		name:     "a slow account limit over fast domain limits (the two batch rules)",
		defaults: maskingDefaults,
		streams:  []synth.Config{withAccounts(synth.Adversarial(8, 20000), 20)},
		limits:   []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet, replay.NewOrdersPerAccount},
	},
}

// minMasking is how many orders of the era's scenarios the two batch
// rules must decide differently (Outcome.Masking), so that each era's
// comparison covers the rule it dates and cannot pass without it: issued
// by Boulder and ctlimits alike before the cut-over, limited alike after
// it. Each era has about 200 to 300; most come from the last scenario.
const minMasking = 50

func TestDecisionsMatchBoulder(t *testing.T) {
	t.Parallel()
	t.Logf("era: %s", era.name)
	var masking atomic.Int64
	t.Run("scenarios", func(t *testing.T) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				// The streams run one after another.
				deniedBy := map[string]int{}
				for i, c := range sc.streams {
					t.Run(fmt.Sprintf("stream %d seed %d", i, c.Seed), func(t *testing.T) {
						d := newDiffer(t, sc)
						orders := era.orders(t, c)
						s := d.run(orders)
						t.Logf("%d orders agree: %d new, %d renewal, %d limited; denied by %v; %d decided otherwise by the other batch rule",
							s.orders, s.kinds[replay.New], s.kinds[replay.Renewal], s.kinds[replay.Limited], s.deniedBy, s.masking)
						if s.orders != len(orders) {
							t.Errorf("compared %d orders of %d", s.orders, len(orders))
						}
						for l, n := range s.deniedBy {
							deniedBy[l] += n
						}
						masking.Add(int64(s.masking))
					})
				}
				for _, l := range sc.limits {
					if n := deniedBy[l.String()]; n < minLimited {
						t.Errorf("%s denied %d orders, want at least %d: the streams no longer exercise it", l, n, minLimited)
					}
				}
			})
		}
	})
	if n := masking.Load(); n < minMasking {
		t.Errorf("%d orders the two batch rules decide differently, want at least %d: the era's rule is not exercised", n, minMasking)
	} else {
		t.Logf("%d orders the two batch rules decide differently", n)
	}
}

// TestBoulderAppliesTheEraRule: the smallest order the two batch rules
// decide differently (example.com emptied a minute before it, example.org
// left one token, both named in it) is issued by this Boulder before the
// cut-over and limited after it, as the era says and as ctlimits decides.
func TestBoulderAppliesTheEraRule(t *testing.T) {
	t.Parallel()
	start, _ := era.span(t)
	at := start.Add(time.Hour)
	var orders []replay.Order
	for i := range 50 {
		orders = append(orders, replay.Order{IssuedAt: at.Add(-time.Minute), Names: []string{fmt.Sprintf("a%d.example.com", i)}})
	}
	for i := range 49 {
		orders = append(orders, replay.Order{IssuedAt: at, Names: []string{fmt.Sprintf("b%d.example.org", i)}})
	}
	orders = append(orders, replay.Order{IssuedAt: at, Names: []string{"c.example.com", "c.example.org"}})
	for i := range orders {
		orders[i].NotBefore = orders[i].IssuedAt
	}
	d := newDiffer(t, scenario{defaults: productionDefaults})
	s := d.run(orders)
	if s.masking != 1 {
		t.Fatalf("%d orders decided otherwise by the other batch rule, want the last one", s.masking)
	}
	if want := replay.Limited; era.denialFirst && s.kinds[want] != 1 || !era.denialFirst && s.kinds[want] != 0 {
		t.Fatalf("%s: %d limited, want the last order limited only under the current rule", era.name, s.kinds[want])
	}
}

// The built-in production policy is the production YAML.
func TestBuiltinPolicyIsProductionYAML(t *testing.T) {
	t.Parallel()
	builtin, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := replay.ParseLimits([]byte(productionDefaults+"NewOrdersPerAccount: {burst: 300, count: 300, period: 3h}\n"), "production")
	if err != nil {
		t.Fatal(err)
	}
	if builtin.Limits != parsed {
		t.Errorf("built-in letsencrypt limits %v, production YAML %v", builtin.Limits, parsed)
	}
}

// differ replays one stream through ctlimits and Boulder side by side.
type differ struct {
	t        *testing.T
	b        *Boulder
	r        *replay.Replayer
	namer    replay.Namer
	defaults ratelimits.LimitConfigs
	override ratelimits.Limits

	orders  []replay.Order
	results []string // one line per order decided so far, for context
}

type summary struct {
	orders int
	// masking counts the orders the two batch rules decide differently.
	masking int
	kinds   map[replay.Kind]int
	// deniedBy counts, per limit, the orders one of its buckets denied
	// (an order denied by two limits counts under both; a masked order
	// under the limit of its masked denial).
	deniedBy map[string]int
}

func newDiffer(t *testing.T, sc scenario) *differ {
	t.Helper()
	dir := t.TempDir()
	defaultsPath := filepath.Join(dir, "defaults.yml")
	if err := os.WriteFile(defaultsPath, []byte(sc.defaults), 0o644); err != nil {
		t.Fatal(err)
	}
	var overridesPath string
	if sc.overrides != "" {
		overridesPath = filepath.Join(dir, "overrides.yml")
		if err := os.WriteFile(overridesPath, []byte(sc.overrides), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := New(defaultsPath, overridesPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	b.CheckMasking = true

	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	if p.Limits, err = replay.ParseLimits([]byte(sc.defaults), "defaults.yml"); err != nil {
		t.Fatal(err)
	}
	d := &differ{t: t, b: b, r: replay.NewReplayer(p)}
	if sc.overrides != "" {
		if err := p.ParseOverrides([]byte(sc.overrides), "overrides.yml"); err != nil {
			t.Fatal(err)
		}
		if d.override, err = ratelimits.LoadOverridesByBucketKey(overridesPath); err != nil {
			t.Fatal(err)
		}
	}
	if err := yaml.Unmarshal([]byte(sc.defaults), &d.defaults); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *differ) run(orders []replay.Order) summary {
	d.t.Helper()
	d.orders = orders
	s := summary{kinds: map[replay.Kind]int{}, deniedBy: map[string]int{}}
	var res replay.Result
	for i := range orders {
		o := &orders[i]
		p, err := d.namer.Prepare(o)
		if err != nil {
			d.t.Fatalf("order %d %q: ctlimits: %v", i, o.Names, err)
		}
		if err := d.r.Decide(&p, &res); err != nil {
			d.t.Fatalf("order %d %q: ctlimits: %v", i, o.Names, err)
		}
		idents, err := Idents(o.Names, true)
		if err != nil {
			d.t.Fatalf("order %d: %v", i, err)
		}
		regID := int64(1) // Boulder always has an account; without one ctlimits checks no account limit
		if o.Account != "" {
			if regID, err = strconv.ParseInt(o.Account, 10, 64); err != nil {
				d.t.Fatalf("order %d: account %q is not a registration ID", i, o.Account)
			}
		}
		bo, err := d.b.Order(o.IssuedAt, o.NotBefore, regID, idents)
		if err != nil {
			d.t.Fatalf("order %d %q: %v", i, o.Names, err)
		}
		if problems := d.compare(&p, idents, &res, bo); len(problems) > 0 {
			d.t.Fatal(d.divergence(i, &p, &res, bo, problems))
		}
		d.results = append(d.results, describe(&res))
		s.orders++
		if bo.Masking {
			s.masking++
		}
		s.kinds[res.Kind]++
		var seen []replay.Name
		denials := res.Denials
		if res.Masked() {
			// Before the cut-over a denial may be masked (most of an
			// account's, by a registered domain's last token): it was
			// compared with Boulder all the same.
			denials = []replay.Denial{res.MaskedDenial}
		}
		for _, dn := range denials {
			if !slices.Contains(seen, dn.Bucket.Limit) {
				seen = append(seen, dn.Bucket.Limit)
				s.deniedBy[dn.Bucket.Limit.String()]++
			}
		}
	}
	return s
}

// compare lists every way ctlimits' decision differs from Boulder's.
func (d *differ) compare(p *replay.Prepared, idents identifier.ACMEIdentifiers, res *replay.Result, bo Outcome) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// Names, exact set and registered domains.
	values := make([]string, len(idents))
	for i, id := range idents {
		values[i] = id.Value
	}
	if !slices.Equal(p.Names, values) {
		add("normalized names: ctlimits %q, Boulder %q", p.Names, values)
	}
	if h := core.HashIdentifiers(idents); string(h) != string(p.Set[:]) {
		add("exact set: ctlimits %s, Boulder %x", p.Set, h)
	}
	var covers []string
	for _, id := range idents {
		k, err := ratelimits.BuildBucketKey(ratelimits.CertificatesPerDomain, 0, id, nil, netip.Addr{})
		if err != nil {
			add("registered domain of %q: Boulder: %v", id.Value, err)
			continue
		}
		covers = append(covers, strings.TrimPrefix(k, ratelimits.CertificatesPerDomain.EnumString()+":"))
	}
	slices.Sort(covers)
	covers = slices.Compact(covers)
	if !slices.Equal(p.Domains, covers) {
		add("registered domains: ctlimits %q, Boulder %q", p.Domains, covers)
	}

	// The decision.
	if res.Renewal != bo.Renewal {
		add("renewal: ctlimits %t, Boulder %t", res.Renewal, bo.Renewal)
	}
	limited := res.Kind == replay.Limited
	if limited == bo.Allowed {
		add("decision: ctlimits %s, Boulder allowed=%t", res.Kind, bo.Allowed)
	}
	// The batch rule: an order the two rules decide differently is issued
	// before the cut-over and limited after it, by Boulder as by ctlimits.
	if bo.Masking && bo.Allowed == era.denialFirst {
		add("Boulder (%s) allowed=%t an order the two batch rules decide differently: it does not apply the era's rule", era.name, bo.Allowed)
	}
	if m := bo.Masking && bo.Allowed; res.Masked() != m {
		add("masked: ctlimits %t, Boulder %t", res.Masked(), m)
	} else if m {
		md := res.MaskedDenial
		if md.Bucket.ID() != bo.Masked.Bucket || md.RetryIn != bo.Masked.RetryIn || md.Remaining != bo.Masked.Remaining {
			add("masked denial: ctlimits %s in %s, %d left; Boulder %s in %s, %d left",
				md.Bucket.ID(), md.RetryIn, md.Remaining, bo.Masked.Bucket, bo.Masked.RetryIn, bo.Masked.Remaining)
		}
	}
	if r, ok := res.Reason(); ok && !bo.Allowed {
		if got := r.Bucket.ID(); got != bo.Bucket {
			add("reported bucket: ctlimits %s, Boulder %s", got, bo.Bucket)
		}
		if r.RetryIn != bo.RetryIn {
			add("retryIn: ctlimits %s, Boulder %s", r.RetryIn, bo.RetryIn)
		}
		if r.Remaining != bo.Remaining {
			add("remaining: ctlimits %d, Boulder %d", r.Remaining, bo.Remaining)
		}
		now := time.Unix(0, res.IssuedAt)
		if want := now.Add(bo.RetryIn); !res.RetryAfter().Equal(want) {
			add("RetryAfter: ctlimits %s, Boulder now+retryIn %s", res.RetryAfter(), want)
		}
		// Boulder's Retry-After carries 0-3%% jitter over the exact retryIn.
		if j := bo.Err.RetryAfter; j < bo.RetryIn || float64(j) > float64(bo.RetryIn)*1.03+1 {
			add("Boulder's jittered Retry-After %s is outside [%s, +3%%]", j, bo.RetryIn)
		}
		if pr := compareMessages(res.Message(), bo.Err.Detail, bo.RetryIn); pr != "" {
			add("%s", pr)
		}
	}

	// Every bucket the order touched is at the same level in both.
	for _, tok := range res.Tokens {
		key := BucketKey(tok.Bucket.ID())
		if want := d.level(key, res.IssuedAt); tok.Remaining != want {
			add("tokens after the order in %s: ctlimits %d, Boulder %d", tok.Bucket.ID(), tok.Remaining, want)
		}
	}
	return problems
}

// splitMessage splits a rate-limit message into the text before ", retry
// after ", the time, and what follows it (Boulder's ": see <docs URL>").
func splitMessage(msg string) (head, at, tail string) {
	head, rest, _ := strings.Cut(msg, ", retry after ")
	if len(rest) >= len("2006-01-02 15:04:05 UTC") {
		at, tail = rest[:len("2006-01-02 15:04:05 UTC")], rest[len("2006-01-02 15:04:05 UTC"):]
	}
	return head, at, tail
}

// compareMessages compares ctlimits' message with Boulder's error detail:
// the same text exactly, but for the retry time, which Boulder jitters by
// 0-3% (so its time may be later by that much, and a second for the
// truncation).
func compareMessages(cm, bm string, retryIn time.Duration) string {
	ch, cat, ctail := splitMessage(cm)
	bh, bat, btail := splitMessage(bm)
	if ch != bh || ctail != btail {
		return fmt.Sprintf("message: ctlimits %q, Boulder %q", cm, bm)
	}
	ct, err1 := time.Parse("2006-01-02 15:04:05 MST", cat)
	bt, err2 := time.Parse("2006-01-02 15:04:05 MST", bat)
	if err1 != nil || err2 != nil || bt.Before(ct) || bt.Sub(ct) > time.Duration(float64(retryIn)*0.03)+time.Second {
		return fmt.Sprintf("message retry time: ctlimits %q, Boulder %q (jitter at most %s)", cat, bat, time.Duration(float64(retryIn)*0.03))
	}
	return ""
}

// level is a Boulder bucket's whole tokens at now (Unix ns), from its
// stored TAT and its limit: what a cost-0 check would report.
func (d *differ) level(key string, now int64) int64 {
	l := d.limit(key)
	if l == nil {
		return -1
	}
	tat, ok := d.b.TAT(key)
	if !ok || tat.UnixNano() <= now {
		return l.Burst
	}
	ei := l.Period.Nanoseconds() / l.Count
	return min(l.Burst, (now-(tat.UnixNano()-ei*l.Burst))/ei)
}

// limit is the limit Boulder applies to a bucket key: its override (by
// the key, or by "enum:regId" for the per-account limits), else the
// default.
func (d *differ) limit(key string) *ratelimits.LimitConfig {
	enum, rest, _ := strings.Cut(key, ":")
	if l, ok := d.override[key]; ok {
		return &ratelimits.LimitConfig{Burst: l.Burst, Count: l.Count, Period: l.Period}
	}
	if acct, _, ok := strings.Cut(rest, ":"); ok {
		if l, ok := d.override[enum+":"+acct]; ok {
			return &ratelimits.LimitConfig{Burst: l.Burst, Count: l.Count, Period: l.Period}
		}
	}
	n, _ := strconv.Atoi(enum)
	return d.defaults[ratelimits.Name(n).String()]
}

func describe(res *replay.Result) string {
	s := res.Kind.String()
	if res.Renewal {
		s += " (renewal)"
	}
	if r, ok := res.Reason(); ok {
		s += fmt.Sprintf(" by %s, retry in %s, %d left; %d denials", r.Bucket.ID(), r.RetryIn, r.Remaining, len(res.Denials))
	}
	if res.Masked() {
		s += fmt.Sprintf(" (masked denial by %s, retry in %s)", res.MaskedDenial.Bucket.ID(), res.MaskedDenial.RetryIn)
	}
	return s
}

// divergence renders the first divergence with what is needed to debug
// it: the order, both decisions, and the earlier orders that touched the
// same registered domains or exact set.
func (d *differ) divergence(i int, p *replay.Prepared, res *replay.Result, bo Outcome, problems []string) string {
	var b strings.Builder
	o := &d.orders[i]
	fmt.Fprintf(&b, "order %d diverges from Boulder at %s (NotBefore %s, account %q)\n",
		i, o.IssuedAt.Format(time.RFC3339Nano), o.NotBefore.Format(time.RFC3339Nano), o.Account)
	fmt.Fprintf(&b, "  raw names:  %q\n  normalized: %q\n  domains:    %q\n  set:        %s\n", o.Names, p.Names, p.Domains, p.Set)
	for _, pr := range problems {
		fmt.Fprintf(&b, "  - %s\n", pr)
	}
	fmt.Fprintf(&b, "  ctlimits: %s, message %q\n", describe(res), res.Message())
	for _, dn := range res.Denials {
		fmt.Fprintf(&b, "    denial %s: retry in %s, %d left (limit %s)\n", dn.Bucket.ID(), dn.RetryIn, dn.Remaining, dn.Limit)
	}
	fmt.Fprintf(&b, "  Boulder (%s):  allowed=%t renewal=%t bucket=%s retryIn=%s remaining=%d masking=%t",
		era.name, bo.Allowed, bo.Renewal, bo.Bucket, bo.RetryIn, bo.Remaining, bo.Masking)
	if bo.Err != nil {
		fmt.Fprintf(&b, " message %q", bo.Err.Detail)
	}
	b.WriteString("\n  earlier orders on the same domains or set (newest first):\n")
	var n replay.Namer
	shown := 0
	for j := i - 1; j >= 0 && shown < 10; j-- {
		q, err := n.Prepare(&d.orders[j])
		if err != nil {
			continue
		}
		if q.Set != p.Set && !slices.ContainsFunc(q.Domains, func(s string) bool { return slices.Contains(p.Domains, s) }) {
			continue
		}
		fmt.Fprintf(&b, "    #%d %s %q account %q: %s\n", j, d.orders[j].IssuedAt.Format(time.RFC3339Nano), q.Names, d.orders[j].Account, d.results[j])
		shown++
	}
	return b.String()
}

// Minimal cases of two message differences ctlimits once had, fixed since:
// each must match Boulder's text exactly.
var messageCases = []struct {
	spec     string
	defaults string
	// two orders at one instant, for the same registered domain: the
	// second is denied.
	names [2][]string
}{
	{"an IPv6 /64 bucket is named by the text after the last colon of Boulder's key",
		"CertificatesPerDomain: {burst: 1, count: 1, period: 1h}\n", [2][]string{{"2606:4700::1"}, {"2606:4700::2"}}},
	{"Boulder's message ends with a link to the rate-limit docs",
		"CertificatesPerDomain: {burst: 1, count: 1, period: 1h}\n", [2][]string{{"example.com"}, {"www.example.com"}}},
}

func TestMessagesMatchBoulderWhereTheyOnceDiffered(t *testing.T) {
	t.Parallel()
	start, _ := era.span(t)
	now := start.Add(9 * time.Hour)
	for _, c := range messageCases {
		t.Run(c.spec, func(t *testing.T) {
			t.Parallel()
			d := newDiffer(t, scenario{defaults: c.defaults})
			var cm, bm string
			var retryIn time.Duration
			for i := range 2 { // the second order is denied
				o := replay.Order{IssuedAt: now, Names: c.names[i]}
				p, err := d.namer.Prepare(&o)
				if err != nil {
					t.Fatal(err)
				}
				var res replay.Result
				if err := d.r.Decide(&p, &res); err != nil {
					t.Fatal(err)
				}
				idents, err := Idents(o.Names, true)
				if err != nil {
					t.Fatal(err)
				}
				bo, err := d.b.Order(now, now, 1, idents)
				if err != nil {
					t.Fatal(err)
				}
				if i == 1 {
					if bo.Allowed || res.Kind != replay.Limited {
						t.Fatalf("second order: Boulder allowed=%t, ctlimits %s", bo.Allowed, res.Kind)
					}
					cm, bm, retryIn = res.Message(), bo.Err.Detail, bo.RetryIn
				}
			}
			if pr := compareMessages(cm, bm, retryIn); pr != "" {
				t.Fatal(pr)
			}
		})
	}
}
