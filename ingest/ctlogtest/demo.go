package ctlogtest

import (
	"crypto/x509/pkix"
	"fmt"
	"math/rand/v2"
	"time"
)

// DemoPlan is the sample log behind `ctlimits demo` (testdata/demolog): a
// hundred days of issuance shaped to show every kind of decision.
//
//   - 150 small sites under Let's Encrypt's production issuers, each issued
//     once in the first 40 days and renewed every 60 days or so: new
//     certificates, then renewals.
//   - A hosting provider onboarding 90 customer sites under hosting.example
//     in two days (days 50-51): past the 50-a-week limit, so the model
//     limits some; CT shows they were issued (over the model).
//   - A CI job re-issuing ci.example.org eight times in two days: the
//     exact-set limit (5 a week) applies to renewals too.
//   - 40 staging certificates and 40 from another CA, which a production
//     replay leaves out.
//
// The plan is deterministic; the keys FromPlan makes are not, so
// regenerating changes the bytes but not the story.
func DemoPlan() Plan {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rng := rand.New(rand.NewPCG(2026, 1))
	at := func(d float64) time.Time {
		return start.Add(time.Duration(d * float64(day))).Truncate(time.Second)
	}
	p := Plan{
		Origin: "demo.ctlimits.example/2026",
		Issuers: []pkix.Name{
			{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "R10"},
			{Country: []string{"US"}, Organization: []string{"Let's Encrypt"}, CommonName: "E5"},
			{Country: []string{"US"}, Organization: []string{"(STAGING) Let's Encrypt"}, CommonName: "(STAGING) Counterfeit Cashew R10"},
			{Country: []string{"GB"}, Organization: []string{"Example Other CA"}, CommonName: "Example Other CA DV R36"},
		},
	}
	add := func(issuer int, when time.Time, names ...string) {
		p.Certs = append(p.Certs, PlannedCert{Issuer: issuer, DNSNames: names, IssuedAt: when, Final: rng.IntN(2) == 0})
	}
	for i := 0; i < 150; i++ {
		d := fmt.Sprintf("shop%03d.example", i)
		if i%3 == 1 {
			d = fmt.Sprintf("blog%03d.example.net", i)
		}
		issuer := rng.IntN(2)
		for t := rng.Float64() * 40; t < 100; t += 58 + rng.Float64()*6 {
			add(issuer, at(t), d, "www."+d)
		}
	}
	for i := 0; i < 90; i++ {
		add(0, at(50+float64(i)*2/90), fmt.Sprintf("site%02d.hosting.example", i))
	}
	for i := 0; i < 8; i++ {
		add(0, at(70+float64(i)/4), "ci.example.org")
	}
	for i := 0; i < 40; i++ {
		add(2, at(10+rng.Float64()*2), fmt.Sprintf("test%02d.staging-test.example", i))
		add(3, at(rng.Float64()*100), fmt.Sprintf("corp%02d.example.com", i), fmt.Sprintf("www.corp%02d.example.com", i))
	}
	return p
}
