package replay

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestInferProfile(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		nb       string
		lifetime time.Duration // NotAfter = NotBefore + lifetime - 1s
		names    int
		want     Profile
	}{
		{"2026-05-01T00:00:00Z", 90 * day, 1, Classic},
		{"2026-05-01T00:00:00Z", 90 * day, 100, Classic},
		{"2026-05-01T00:00:00Z", 90*day + time.Second, 3, Classic}, // a generator that forgot the inclusive second
		{"2026-05-01T00:00:00Z", 45 * day, 25, TLSServer},
		{"2026-05-01T00:00:00Z", 45 * day, 26, UnknownProfile}, // tlsserver caps at 25, classic is 90 days then
		{"2026-05-01T00:00:00Z", 160 * time.Hour, 2, ShortLived},
		{"2026-05-01T00:00:00Z", 64 * day, 2, UnknownProfile}, // classic is not 64 days yet
		{"2027-02-09T23:59:59Z", 90 * day, 2, Classic},
		{"2027-02-10T00:00:00Z", 90 * day, 2, UnknownProfile},
		{"2027-02-10T00:00:00Z", 64 * day, 2, Classic},
		{"2027-06-01T00:00:00Z", 45 * day, 2, TLSServer},
		{"2028-02-16T00:00:00Z", 45 * day, 2, Classic}, // classic and tlsserver alike: the default
		{"2028-02-16T00:00:00Z", 45 * day, 60, Classic},
		{"2028-02-16T00:00:00Z", 64 * day, 2, UnknownProfile},
		{"2026-05-01T00:00:00Z", 397 * day, 2, UnknownProfile}, // another CA's year
		{"2026-05-01T00:00:00Z", 90*day + 2*time.Hour, 2, UnknownProfile},
	}
	for _, c := range cases {
		nb := at(c.nb)
		na := nb.Add(c.lifetime - time.Second)
		if got := InferProfile(nb.UnixNano(), na.UnixNano(), c.names); got != c.want {
			t.Errorf("%s + %s, %d names: %s, want %s", c.nb, c.lifetime, c.names, got, c.want)
		}
	}
}

func TestParseProfile(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]Profile{"": NoProfile, "classic": Classic, " TLSServer ": TLSServer, "shortlived": ShortLived} {
		if got, err := ParseProfile(s); err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %s, %v; want %s", s, got, err, want)
		}
	}
	for _, s := range []string{"unknown", "short-lived", "modern", "default"} {
		_, err := ParseProfile(s)
		if err == nil || !strings.Contains(err.Error(), "classic, tlsserver, shortlived") {
			t.Errorf("ParseProfile(%q): %v, want an error listing the profiles", s, err)
		}
	}
}

func TestPrepareResolvesProfile(t *testing.T) {
	t.Parallel()
	var n Namer
	for _, c := range []struct {
		o    Order
		want Profile
	}{
		{Order{IssuedAt: t0, Names: []string{"a.example"}}, Classic}, // none named, no lifetime: Boulder's default
		{Order{IssuedAt: t0, Names: []string{"a.example"}, Profile: ShortLived}, ShortLived},
		{Order{IssuedAt: t0, Names: []string{"a.example"}, NotAfter: t0.Add(160*time.Hour - time.Second)}, ShortLived},
		// A named profile wins over the lifetime.
		{Order{IssuedAt: t0, Names: []string{"a.example"}, NotAfter: t0.Add(160*time.Hour - time.Second), Profile: Classic}, Classic},
	} {
		p, err := n.Prepare(&c.o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Profile != c.want {
			t.Errorf("%+v: %s, want %s", c.o, p.Profile, c.want)
		}
	}
}

func namesOf(domain string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d.%s", i, domain)
	}
	return out
}

func TestNamesCapRefusesWithoutSpending(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"letsencrypt", "letsencrypt-2019"} {
		h := newHarness(t, policy)
		// 26 names under tlsserver: refused, with Boulder's text.
		res := h.order(Order{IssuedAt: t0, Names: namesOf("cap.example", 26), Profile: TLSServer})
		h.expect(res, Refused, "26 names under tlsserver")
		if got, want := res.Message(), "Order cannot contain more than 25 identifiers"; got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
		if res.Renewal || len(res.Denials) > 0 || len(res.Tokens) > 0 || !res.RetryAfter().IsZero() {
			t.Fatalf("a refused order consults no bucket: %+v", res)
		}
		// 101 names under classic (and a duplicate does not count).
		names := append(namesOf("cap.example", 100), "N0.cap.example")
		h.expect(h.order(Order{IssuedAt: t0, Names: names}), New, "100 distinct names under classic")
		h.expect(h.order(Order{IssuedAt: t0, Names: namesOf("cap2.example", 101)}), Refused, "101 names under classic")
		h.expect(h.order(Order{IssuedAt: t0, Names: namesOf("cap2.example", 25), Profile: ShortLived}), New, "25 names under shortlived")
		// Nothing was spent by the refusals: the exact set of 26 names
		// is still new, and cap2.example has 49 of its 50 left.
		h.fill(t0, "cap2.example", 49)
		h.expect(h.at(t0, "last.cap2.example"), Limited, "cap2.example's 51st certificate")
		// Refused orders are never counted as issued: five refused
		// copies of one set leave its CertificatesPerFQDNSet bucket full.
		set := namesOf("cap3.example", 30)
		for i := 0; i < 6; i++ {
			h.expect(h.order(Order{IssuedAt: t0, Names: set, Profile: TLSServer}), Refused, "30 names under tlsserver")
		}
		for i := 0; i < 5; i++ {
			h.expect(h.order(Order{IssuedAt: t0, Names: set}), []Kind{New, Renewal, Renewal, Renewal, Renewal}[i], "the same set under classic")
		}
	}
}

// The suggested windows of 90-day, 45-day and 160-hour certificates,
// computed by hand from Boulder's RenewalInfoSimple (core/objects.go):
// validity = NotAfter + 1s - NotBefore; the ideal renewal is validity/3
// before NotAfter (validity/2 under ten days); the window is the ideal
// plus or minus validity/100, truncated to the second.
func TestSuggestedWindowByLifetime(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		lifetime   time.Duration
		start, end string
	}{
		// 90d: ideal 03-31T23:59:59 - 30d = 03-01T23:59:59, margin 21h36m.
		{90 * day, "2026-03-01T02:23:59Z", "2026-03-02T21:35:59Z"},
		// 45d: ideal 02-14T23:59:59 - 15d = 01-30T23:59:59, margin 10h48m.
		{45 * day, "2026-01-30T13:11:59Z", "2026-01-31T10:47:59Z"},
		// 160h: under ten days, ideal 01-07T15:59:59 - 80h = 01-04T07:59:59, margin 1h36m.
		{160 * time.Hour, "2026-01-04T06:23:59Z", "2026-01-04T09:35:59Z"},
	} {
		notAfter := issued.Add(c.lifetime - time.Second)
		s, e := suggestedWindow(issued.UnixNano(), notAfter.UnixNano())
		gs, ge := time.Unix(0, s).UTC().Format(time.RFC3339), time.Unix(0, e).UTC().Format(time.RFC3339)
		if gs != c.start || ge != c.end {
			t.Errorf("%s: window [%s, %s), want [%s, %s)", c.lifetime, gs, ge, c.start, c.end)
		}
		// The replay honors exactly that window: an order sharing a name
		// one second before it is checked, one at its start is exempt.
		h := newHarness(t, "letsencrypt", func(p *Policy) { p.AssumeARI = true })
		h.order(Order{IssuedAt: issued, NotAfter: notAfter, Names: []string{"w.ari.example"}})
		before := time.Unix(0, s).UTC().Add(-time.Second)
		h.fill(before, "ari.example", 50)
		h.expect(h.at(before, "w.ari.example", "x.ari.example"), Limited, c.lifetime.String()+" before the window")
		res := h.at(time.Unix(0, s).UTC(), "w.ari.example", "x.ari.example")
		h.expect(res, Renewal, c.lifetime.String()+" at the window's start")
		if !res.ARI {
			t.Errorf("%s: not taken as an ARI replacement", c.lifetime)
		}
	}
}
