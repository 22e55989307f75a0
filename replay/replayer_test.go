package replay

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness replays orders and keeps copies of the results.
type harness struct {
	t *testing.T
	r *Replayer
	n Namer
}

func newHarness(t *testing.T, policy string, adjust ...func(*Policy)) *harness {
	t.Helper()
	p, err := LookupPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range adjust {
		f(p)
	}
	return &harness{t: t, r: NewReplayer(p)}
}

func (h *harness) order(o Order) Result {
	h.t.Helper()
	p, err := h.n.Prepare(&o)
	if err != nil {
		h.t.Fatal(err)
	}
	var res Result
	if err := h.r.Decide(&p, &res); err != nil {
		h.t.Fatal(err)
	}
	res.Denials = append([]Denial(nil), res.Denials...)
	res.Tokens = append([]Tokens(nil), res.Tokens...)
	return res
}

func (h *harness) at(t time.Time, names ...string) Result {
	h.t.Helper()
	return h.order(Order{IssuedAt: t, Names: names})
}

func (h *harness) expect(res Result, want Kind, what string) {
	h.t.Helper()
	if res.Kind != want {
		h.t.Fatalf("%s: got %s (%s), want %s", what, res.Kind, res.Message(), want)
	}
}

// fill issues n new certificates for domain at t, each with its own set.
func (h *harness) fill(t time.Time, domain string, n int) {
	h.t.Helper()
	for i := 0; i < n; i++ {
		h.expect(h.at(t, fmt.Sprintf("h%d.%s", i, domain)), New, fmt.Sprintf("filling %s, order %d", domain, i))
	}
}

func TestFiftyNewCertificatesThenLimitedWithBoulderMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	h.fill(t0, "example.com", 50)
	res := h.at(t0, "www.example.com")
	h.expect(res, Limited, "the 51st new certificate")
	d, _ := res.Reason()
	if d.Bucket.ID() != "CertificatesPerDomain:example.com" || d.RetryIn != 201*time.Minute+36*time.Second {
		t.Fatalf("reported %s retry in %s", d.Bucket.ID(), d.RetryIn)
	}
	want := `too many certificates (50) already issued for "example.com" in the last 168h0m0s, retry after 2026-03-02 12:21:36 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-registered-domain`
	if res.Message() != want {
		t.Fatalf("message\n got %s\nwant %s", res.Message(), want)
	}
	if got := res.RetryAfter(); !got.Equal(t0.Add(d.RetryIn)) {
		t.Fatalf("retry after %s", got)
	}
	h.expect(h.at(t0.Add(d.RetryIn-1), "www.example.com"), Limited, "1ns before the retry time")
	h.expect(h.at(t0.Add(d.RetryIn), "www.example.com"), New, "at the retry time")
}

func TestTwoDomainOrderDeniedByOneSpendsNothingInEither(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	// The set was issued long ago (past the renewal window, so the order
	// below is not a renewal), so its bucket is known and full.
	set := []string{"a.full.example", "a.other.example"}
	h.expect(h.at(t0.Add(-200*24*time.Hour), set...), New, "the set, 200 days earlier")
	h.fill(t0, "full.example", 50)
	res := h.at(t0, set...)
	h.expect(res, Limited, "order touching a full domain")
	if len(res.Denials) != 1 || res.Denials[0].Bucket.Key != "full.example" {
		t.Fatalf("denials %+v", res.Denials)
	}
	// other.example kept all 50 tokens, and the set bucket was not spent:
	// the same set is allowed again five times later.
	h.fill(t0, "other.example", 50)
	stats := h.r.Stats()
	if stats.Sets != 101 {
		t.Fatalf("a limited order must not be recorded as issued: %d sets", stats.Sets)
	}
	// One emission interval later both domains have a token back (the
	// set's bucket would have regained a fifth of one): one new
	// certificate, then four renewals, then the set is limited.
	later := t0.Add(201*time.Minute + 36*time.Second)
	for i := range 5 {
		h.expect(h.at(later, set...), map[bool]Kind{true: New, false: Renewal}[i == 0], fmt.Sprintf("the set again, order %d of 5", i+1))
	}
	res = h.at(later, set...)
	h.expect(res, Limited, "the set a sixth time")
	if d, _ := res.Reason(); d.Bucket.Limit != CertificatesPerFQDNSet {
		t.Fatalf("the sixth order was limited by %s, want the exact set's bucket", d.Bucket.ID())
	}
}

func TestRenewalsSkipPerDomainButNotExactSet(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	h.expect(h.at(t0, "example.com", "www.example.com"), New, "first issuance")
	h.fill(t0, "example.com", 49) // the domain is now empty
	h.expect(h.at(t0, "other.example.com"), Limited, "a new set on the empty domain")
	for i := 0; i < 4; i++ {
		res := h.at(t0.Add(time.Duration(i)*time.Minute), "WWW.example.com", "example.com")
		h.expect(res, Renewal, fmt.Sprintf("renewal %d", i+1))
		if !res.Renewal {
			t.Fatal("Renewal flag unset")
		}
	}
	res := h.at(t0.Add(time.Hour), "example.com", "www.example.com")
	h.expect(res, Limited, "the sixth certificate for one exact set in a week")
	if d, _ := res.Reason(); d.Bucket.Limit != CertificatesPerFQDNSet || !strings.Contains(res.Message(), "this exact set of identifiers in the last 168h0m0s") {
		t.Fatalf("reported %s: %s", d.Bucket.ID(), res.Message())
	}
}

func TestRenewalWindowIs120DaysExclusive(t *testing.T) {
	t.Parallel()
	const window = 120 * 24 * time.Hour
	nb := t0.Add(-time.Hour) // Let's Encrypt backdates NotBefore
	for _, c := range []struct {
		spec    string
		at      time.Time
		renewal bool
	}{
		{"1ns inside the window", nb.Add(window - 1), true},
		{"exactly 120 days after NotBefore", nb.Add(window), false},
		{"after the window", nb.Add(window + time.Hour), false},
	} {
		h := newHarness(t, "letsencrypt")
		h.order(Order{IssuedAt: t0, NotBefore: nb, Names: []string{"example.net"}})
		if res := h.at(c.at, "example.net"); res.Renewal != c.renewal {
			t.Errorf("%s: renewal = %v, want %v", c.spec, res.Renewal, c.renewal)
		}
	}
}

func TestBeforeJanuary2025AnyEarlierIssuanceRenews(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h.at(old, "legacy.example")
	h.expect(h.at(time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), "legacy.example"), Renewal, "a year later, before the window rule")
	h.expect(h.at(time.Date(2025, 1, 7, 0, 0, 0, 0, time.UTC), "legacy.example"), Renewal, "renewed a week ago")
	h.expect(h.at(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), "legacy.example"), New, "over 120 days after the last issuance")
}

func TestLimitedOrderDoesNotMakeLaterOrdersRenewals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	h.fill(t0, "example.org", 50)
	h.expect(h.at(t0, "x.example.org"), Limited, "on a full domain")
	h.expect(h.at(t0.Add(4*time.Hour), "x.example.org"), New, "the same set later is still new")
}

func TestReportedDenialHasLargestRetryIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	// a.example empties at t0; b.example empties an hour later, so its
	// token comes back an hour later: b's denial has the longer wait.
	h.fill(t0, "a.example", 50)
	h.fill(t0.Add(time.Hour), "b.example", 50)
	res := h.at(t0.Add(time.Hour), "x.a.example", "x.b.example")
	h.expect(res, Limited, "both domains empty")
	if len(res.Denials) != 2 {
		t.Fatalf("want both denials listed, got %+v", res.Denials)
	}
	if d, _ := res.Reason(); d.Bucket.Key != "b.example" {
		t.Fatalf("reported %s, want b.example (the longer retry)", d.Bucket.Key)
	}
	// A tie goes to the bucket checked last, as in Boulder's stricter().
	h2 := newHarness(t, "letsencrypt")
	h2.fill(t0, "a.example", 50)
	h2.fill(t0, "b.example", 50)
	res = h2.at(t0, "y.a.example", "y.b.example")
	if d, _ := res.Reason(); d.Bucket.Key != "b.example" {
		t.Fatalf("tie reported %s, want b.example", d.Bucket.Key)
	}
}

func TestOverrideRaisesOneDomain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt", func(p *Policy) {
		if err := p.AddOverride(CertificatesPerDomain, "Big.Example", mustLimit(300, 300, week)); err != nil {
			t.Fatal(err)
		}
	})
	h.fill(t0, "big.example", 300)
	res := h.at(t0, "one-more.big.example")
	h.expect(res, Limited, "the 301st")
	if !strings.HasPrefix(res.Message(), `too many certificates (300) already issued for "big.example"`) {
		t.Fatal(res.Message())
	}
	h.fill(t0, "small.example", 50)
	h.expect(h.at(t0, "x.small.example"), Limited, "others keep the default")
}

func TestOverrideForASubdomainIsRefused(t *testing.T) {
	t.Parallel()
	p, _ := LookupPolicy("letsencrypt")
	err := p.AddOverride(CertificatesPerDomain, "www.example.com", mustLimit(300, 300, week))
	if err == nil || !strings.Contains(err.Error(), `registered domain of "www.example.com" is "example.com"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSetOverrideAppliesToTheExactSetOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt", func(p *Policy) {
		if err := p.AddOverride(CertificatesPerFQDNSet, "www.example.com,EXAMPLE.com", mustLimit(10, 10, week)); err != nil {
			t.Fatal(err)
		}
	})
	for i := 0; i < 10; i++ {
		h.expect(h.at(t0, "example.com", "www.example.com"), map[bool]Kind{true: New, false: Renewal}[i == 0], "within the override")
	}
	h.expect(h.at(t0, "example.com", "www.example.com"), Limited, "the 11th")
}

func TestNewOrdersPerAccountWhenTheAccountIsKnown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt", func(p *Policy) {
		p.Limits[NewOrdersPerAccount] = mustLimit(3, 3, time.Hour)
	})
	for i := 0; i < 3; i++ {
		h.expect(h.order(Order{IssuedAt: t0, Account: "42", Names: []string{fmt.Sprintf("s%d.example", i)}}), New, "within the account limit")
	}
	res := h.order(Order{IssuedAt: t0, Account: "42", Names: []string{"s9.example"}})
	h.expect(res, Limited, "the fourth order in the hour")
	if d, _ := res.Reason(); d.Bucket.ID() != "NewOrdersPerAccount:42" || !strings.HasPrefix(res.Message(), "too many new orders (3) from this account in the last 1h0m0s") {
		t.Fatalf("%s: %s", d.Bucket.ID(), res.Message())
	}
	h.expect(h.order(Order{IssuedAt: t0, Account: "7", Names: []string{"s9.example"}}), New, "another account")
	h.expect(h.order(Order{IssuedAt: t0, Names: []string{"s10.example"}}), New, "an order with no account")
	h.expect(h.order(Order{IssuedAt: t0, Account: "42", Names: []string{"s0.example"}}), Renewal, "renewals are exempt")
}

func TestPerAccountOverrideSpendsTheSharedBucketButNeverBelowEmpty(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt", func(p *Policy) {
		if err := p.AddOverride(CertificatesPerDomainPerAccount, "hoster", mustLimit(1000, 1000, week)); err != nil {
			t.Fatal(err)
		}
	})
	for i := 0; i < 60; i++ {
		h.expect(h.order(Order{IssuedAt: t0, Account: "hoster", Names: []string{fmt.Sprintf("c%d.shared.example", i)}}), New, "the hoster's per-account bucket")
	}
	// The hoster's issuance emptied the shared bucket (50), and the ten
	// beyond it were dropped, not borrowed: one emission interval later a
	// token is back for everybody else.
	h.expect(h.at(t0, "z.shared.example"), Limited, "the shared bucket is empty")
	h.expect(h.at(t0.Add(201*time.Minute+36*time.Second), "z.shared.example"), New, "one emission interval later")
}

func TestOutOfOrderIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	h.at(t0, "a.example")
	var n Namer
	p, _ := n.Prepare(&Order{IssuedAt: t0.Add(-time.Second), Names: []string{"b.example"}})
	var res Result
	if err := h.r.Decide(&p, &res); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("err = %v", err)
	}
	if h.r.Stats().Sets != 1 {
		t.Fatal("a refused order changed the state")
	}
}

func TestTokensReportTheLevelAfterTheOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	res := h.at(t0, "a.example", "b.example")
	want := map[string]int64{"CertificatesPerDomain:a.example": 49, "CertificatesPerDomain:b.example": 49}
	for _, tk := range res.Tokens {
		if tk.Bucket.Limit == CertificatesPerFQDNSet {
			if tk.Remaining != 4 {
				t.Errorf("set tokens %d, want 4", tk.Remaining)
			}
			continue
		}
		if want[tk.Bucket.ID()] != tk.Remaining {
			t.Errorf("%s: %d tokens, want %d", tk.Bucket.ID(), tk.Remaining, want[tk.Bucket.ID()])
		}
	}
	if len(res.Tokens) != 3 {
		t.Fatalf("tokens %+v", res.Tokens)
	}
}

func TestStateShrinksOnceBucketsRefill(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	for i := 0; i < 3*minGCBudget; i++ {
		// A new domain every day: each bucket is full again within
		// hours, and each set leaves the renewal window after 120 days.
		h.at(t0.Add(time.Duration(i)*24*time.Hour), fmt.Sprintf("d%d.example", i))
	}
	s := h.r.Stats()
	if s.DomainBuckets > minGCBudget || s.Sets > minGCBudget {
		t.Fatalf("state grows with history: %+v", s)
	}
}

func TestStagingPolicyAllowsThousands(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt-staging")
	h.fill(t0, "staging.example", 1000)
	for i := 0; i < 5; i++ {
		h.expect(h.at(t0, "same.staging.example"), map[bool]Kind{true: New, false: Renewal}[i == 0], "exact set under staging")
	}
}

func TestIPv6MessageNamesTheKeyAsBoulderDoes(t *testing.T) {
	t.Parallel()
	// Boulder names the text after the last colon of its bucket key, so a
	// /64 reads "/64" in its message; ctlimits keeps that text and the
	// full prefix in the bucket ID.
	h := newHarness(t, "letsencrypt")
	for i := 1; i <= 50; i++ {
		h.at(t0, fmt.Sprintf("2001:db8::%x", i))
	}
	res := h.at(t0, "2001:db8::ffff")
	d, _ := res.Reason()
	if d.Bucket.ID() != "CertificatesPerDomain:2001:db8::/64" || !strings.Contains(res.Message(), `already issued for "/64" in the last`) {
		t.Fatalf("%s: %s", d.Bucket.ID(), res.Message())
	}
}

func TestLevelReadsTheBucketWithoutChangingIt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	h.fill(t0, "lvl.example", 10)
	ei := 201*time.Minute + 36*time.Second
	rem, burst, full := h.r.Level("lvl.example", t0.Add(ei).UnixNano())
	if rem != 41 || burst != 50 || full != t0.Add(10*ei).UnixNano() {
		t.Fatalf("remaining %d burst %d full at %s", rem, burst, time.Unix(0, full).UTC())
	}
	if rem, _, _ := h.r.Level("untouched.example", t0.UnixNano()); rem != 50 {
		t.Fatalf("an untouched domain has %d tokens", rem)
	}
}
