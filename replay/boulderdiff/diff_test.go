package boulderdiff

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

type scenario struct {
	name                string
	defaults, overrides string
	streams             []synth.Config
	// limits are the limits that must each deny many orders of every
	// stream (minLimited at least), so that the comparison covers their
	// denials and not only allowed orders.
	limits []replay.Name
}

// minLimited is how many orders of a stream each of its scenario's limits
// must deny. The streams' least-exercised limits deny a few dozen orders
// (NewOrdersPerAccount 38, CertificatesPerDomainPerAccount 61) and the
// others hundreds to thousands, each compared with Boulder in full
// (bucket, retry, tokens left, message).
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

// scenarios compare about 250,000 orders in all.
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
		streams:   []synth.Config{withAccounts(synth.Adversarial(6, 40000), 6)},
		limits: []replay.Name{replay.CertificatesPerDomain, replay.CertificatesPerFQDNSet,
			replay.NewOrdersPerAccount, replay.CertificatesPerDomainPerAccount},
	},
}

func TestDecisionsMatchBoulder(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for i, c := range sc.streams {
				t.Run(fmt.Sprintf("stream %d seed %d", i, c.Seed), func(t *testing.T) {
					d := newDiffer(t, sc)
					s := d.run(synth.Orders(c))
					t.Logf("%d orders agree: %d new, %d renewal, %d limited; denied by %v",
						s.orders, s.kinds[replay.New], s.kinds[replay.Renewal], s.kinds[replay.Limited], s.deniedBy)
					if s.orders != c.Orders {
						t.Errorf("compared %d orders of %d", s.orders, c.Orders)
					}
					for _, l := range sc.limits {
						if n := s.deniedBy[l.String()]; n < minLimited {
							t.Errorf("%s denied %d orders, want at least %d: the stream no longer exercises it", l, n, minLimited)
						}
					}
				})
			}
		})
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
	kinds  map[replay.Kind]int
	// deniedBy counts, per limit, the orders one of its buckets denied
	// (an order denied by two limits counts under both).
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
		s.kinds[res.Kind]++
		var seen []replay.Name
		for _, dn := range res.Denials {
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
	fmt.Fprintf(&b, "  Boulder:  allowed=%t renewal=%t bucket=%s retryIn=%s remaining=%d", bo.Allowed, bo.Renewal, bo.Bucket, bo.RetryIn, bo.Remaining)
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
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
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
