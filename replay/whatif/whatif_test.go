package whatif

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// history replays one certificate per set at t0 (lifetime l) under p
// and returns the live certificates and the Replayer.
func history(t *testing.T, p *replay.Policy, l time.Duration, sets [][]string) ([]Cert, *replay.Replayer) {
	t.Helper()
	r := replay.NewReplayer(p)
	var n replay.Namer
	var certs []Cert
	var res replay.Result
	for i, names := range sets {
		at := t0.Add(time.Duration(i) * time.Second)
		o := replay.Order{IssuedAt: at, NotBefore: at, NotAfter: at.Add(l - time.Second), Names: names}
		pr, err := n.Prepare(&o)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&pr, &res); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, Cert{Names: names, IssuedAt: at, NotBefore: at, NotAfter: o.NotAfter})
	}
	return certs, r
}

func policy(t *testing.T, ari bool) *replay.Policy {
	t.Helper()
	p, err := replay.LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	p.AssumeARI = ari
	return p
}

func sites(n int) [][]string {
	out := make([][]string, n)
	for i := range out {
		out[i] = []string{fmt.Sprintf("site%d.host.example", i)}
	}
	return out
}

func limit(o *Outcome, name string) *LimitOutcome {
	for i := range o.Limits {
		if o.Limits[i].Limit == name {
			return &o.Limits[i]
		}
	}
	return nil
}

// Short-lived certificates renewed daily: 40 sites of one registered
// domain issue 280 certificates a week, far over its 50, yet renewals are
// exempt from CertificatesPerDomain; each exact set's 7 a week are over
// its 5, so CertificatesPerFQDNSet is the binding limit, and an override
// of 6 a week covers four weeks.
func TestShortLivedMakesTheExactSetLimitBinding(t *testing.T) {
	t.Parallel()
	p := policy(t, false)
	plan := &Plan{Cadence: Cadence{Lifetime: 160 * time.Hour, EveryMin: 24 * time.Hour, EveryMax: 24 * time.Hour},
		Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 4*week)}
	start := func(q *replay.Policy) (*replay.Replayer, error) {
		certs, r := history(t, q, 160*time.Hour, sites(40))
		plan.Certs = certs
		return r, nil
	}
	rep, _ := start(p)
	out, err := Simulate(rep, plan)
	if err != nil {
		t.Fatal(err)
	}
	if out.Binding != "CertificatesPerFQDNSet" {
		t.Fatalf("binding %q, want CertificatesPerFQDNSet: %+v", out.Binding, out.Limits)
	}
	cpd := limit(out, "CertificatesPerDomain")
	if cpd != nil && cpd.Bit {
		t.Fatalf("CertificatesPerDomain bit renewals: %+v", cpd)
	}
	set := limit(out, "CertificatesPerFQDNSet")
	if set.Buckets != 40 || set.Orders == 0 || out.New != 0 || out.Refused != 0 {
		t.Fatalf("%+v\n%+v", out, set)
	}
	// The model's GCRA: 5 a week refill one per 33.6h, and the k-th order
	// of a set (the certificate of t0 the first, then one a day) is
	// allowed while k*33.6h - (k-1)*24h <= 168h: up to k = 15, so the
	// 16th, on day 15, is the first denied.
	if want := t0.Add(15 * 24 * time.Hour); !set.First.Equal(want) {
		t.Fatalf("first bite %s, want %s", set.First, want)
	}
	ov, err := SizeOverride(start, p, plan, set)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Needed != 6 || !ov.Verified || ov.Key != set.FirstBucket || ov.Limit != "CertificatesPerFQDNSet" {
		t.Fatalf("override %+v", ov)
	}
}

// In Boulder's ARI window (half-way through a 160h certificate, under ten
// days) the same sets renew about twice a week: nothing bites, and with
// the ARI assumption every renewal is an ARI replacement.
func TestShortLivedInTheARIWindow(t *testing.T) {
	t.Parallel()
	for _, ari := range []bool{false, true} {
		certs, rep := history(t, policy(t, ari), 160*time.Hour, sites(40))
		out, err := Simulate(rep, &Plan{Cadence: Cadence{Lifetime: 160 * time.Hour, ARIWindow: true},
			Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 4*week), Certs: certs})
		if err != nil {
			t.Fatal(err)
		}
		if out.Binding != "" || out.Limited != 0 || out.Renewals != out.Orders {
			t.Fatalf("ari=%v: %+v", ari, out)
		}
		// 80h apart: 8 renewals of each set in four weeks, give or take
		// the window's jitter.
		if out.Orders < 40*8 || out.Orders > 40*9 {
			t.Fatalf("ari=%v: %d orders", ari, out.Orders)
		}
		if wantARI := map[bool]int64{false: 0, true: out.Orders}[ari]; out.ARI != wantARI {
			t.Fatalf("ari=%v: %d ARI replacements, want %d", ari, out.ARI, wantARI)
		}
	}
}

// Live 90-day certificates are first renewed where the cadence puts them
// for their own lifetime; later ones are 45-day certificates.
func TestFirstRenewalFollowsTheLiveCertificate(t *testing.T) {
	t.Parallel()
	certs, rep := history(t, policy(t, false), 90*24*time.Hour, [][]string{{"a.example"}})
	out, err := Simulate(rep, &Plan{Cadence: Cadence{Lifetime: 45 * day, RenewAt: 2.0 / 3},
		Start: t0.Add(time.Hour), End: t0.Add(20 * week), Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	// At 60 days, then every 30: days 60, 90, 120 before week 20 (day 140).
	if out.Orders != 3 || out.Renewals != 3 || out.Binding != "" {
		t.Fatalf("%+v", out)
	}
	if got := limit(out, "CertificatesPerFQDNSet").Fewest; got != 4 {
		t.Fatalf("fewest exact-set tokens %d, want 4", got)
	}
}

// A 45-day certificate is tlsserver until 2028-02-16: one with 30 names
// is refused (and not retried); from then on classic takes it.
func TestNamesCapBitesUnderTheProfileOfTheLifetime(t *testing.T) {
	t.Parallel()
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprintf("n%d.big.example", i)
	}
	certs, rep := history(t, policy(t, false), 90*24*time.Hour, [][]string{names})
	out, err := Simulate(rep, &Plan{Cadence: Cadence{Lifetime: 45 * day, RenewAt: 2.0 / 3},
		Start: t0.Add(time.Hour), End: t0.Add(20 * week), Certs: certs})
	if err != nil {
		t.Fatal(err)
	}
	cap := limit(out, NamesCap)
	if out.Binding != NamesCap || out.Refused != 1 || out.Orders != 1 || cap.Burst != 25 ||
		!strings.Contains(cap.FirstBucket, "profile tlsserver allows 25") {
		t.Fatalf("%+v %+v", out, cap)
	}
	if ov, err := SizeOverride(nil, nil, nil, cap); ov != nil || err != nil {
		t.Fatalf("the names cap has no override: %+v %v", ov, err)
	}

	late := time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)
	r := replay.NewReplayer(policy(t, false))
	out, err = Simulate(r, &Plan{Cadence: Cadence{Lifetime: 45 * day, RenewAt: 2.0 / 3},
		Start: late, End: late.Add(10 * week), Certs: []Cert{{Names: names, IssuedAt: late.Add(-day), NotBefore: late.Add(-day), NotAfter: late.Add(44 * day)}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Refused != 0 || out.Binding != "" || out.New != 1 {
		// The first is new: the model never saw the set issued.
		t.Fatalf("%+v", out)
	}
}

func TestSimulateIsDeterministic(t *testing.T) {
	t.Parallel()
	run := func() *Outcome {
		certs, rep := history(t, policy(t, false), 160*time.Hour, sites(20))
		out, err := Simulate(rep, &Plan{Cadence: Cadence{Lifetime: 160 * time.Hour, EveryMin: 24 * time.Hour, EveryMax: 3 * 24 * time.Hour},
			Start: t0.Add(time.Hour), End: t0.Add(time.Hour + 6*week), Certs: certs})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	for k := 0; k < 1000; k++ {
		if u := jitter(replay.SetHash{byte(k)}, k); u < 0 || u >= 1 {
			t.Fatalf("jitter %g out of [0, 1)", u)
		}
	}
}

func TestCadenceValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		c    Cadence
		want string
	}{
		{Cadence{Lifetime: 45 * day}, "choose one renewal rule"},
		{Cadence{Lifetime: 45 * day, RenewAt: 2.0 / 3, ARIWindow: true}, "choose one renewal rule"},
		{Cadence{Lifetime: 45 * day, RenewAt: 1.5}, "between 0 and 1"},
		{Cadence{Lifetime: 100 * day, RenewAt: 0.5}, "100 days or more"},
		{Cadence{Lifetime: 160 * time.Hour, EveryMin: 3 * day, EveryMax: 7 * day}, "expire before their renewal"},
		{Cadence{Lifetime: 160 * time.Hour, EveryMin: 3 * day, EveryMax: 2 * day}, "1m <= min <= max"},
		{Cadence{Lifetime: 160 * time.Hour, EveryMin: time.Second, EveryMax: time.Second}, "1m <= min <= max"},
		{Cadence{Lifetime: 160 * time.Hour, RenewAt: 1e-9}, "within a minute"},
		{Cadence{Lifetime: time.Minute, ARIWindow: true}, "under an hour"},
	} {
		if err := c.c.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.want)
		}
	}
	c := Cadence{Lifetime: 45 * day, RenewAt: 2.0 / 3}
	if got := c.String(); got != "45d certificates renewed at 2/3 of their lifetime" {
		t.Errorf("%q", got)
	}
	c = Cadence{Lifetime: 160 * time.Hour, EveryMin: 2 * day, EveryMax: 3 * day}
	if got := c.String(); got != "160h certificates renewed every 2d to 3d" {
		t.Errorf("%q", got)
	}
}
