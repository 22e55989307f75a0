package replay_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// TestDigestCoversEveryPolicyField: a new Policy field must be added to
// Digest (if it can change a decision) and to this list, or a state
// written under one setting would resume under another.
func TestDigestCoversEveryPolicyField(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{"Name": true, "Model": true, "Limits": true, "Overrides": true, "SetOverrides": true,
		"RenewalWindow": true, "RenewalWindowSince": true, "CountRenewals": true, "AssumeARI": true, "DenialFirstSince": true}
	for f := range reflect.TypeFor[replay.Policy]().Fields() {
		if !covered[f.Name] {
			t.Errorf("Policy.%s is not in Policy.Digest", f.Name)
		}
	}
	base := mustPolicy(t, "letsencrypt").Digest()
	if again := mustPolicy(t, "letsencrypt").Digest(); again != base || len(base) != 64 {
		t.Fatalf("the same policy digests to %s and %s", base, again)
	}
	for what, change := range map[string]func(*replay.Policy){
		"name":    func(p *replay.Policy) { p.Name = "custom" },
		"model":   func(p *replay.Policy) { p.Model = replay.SlidingWindow },
		"a limit": func(p *replay.Policy) { p.Limits[replay.CertificatesPerDomain] = mustLimit(t, 50, 50, 169*time.Hour) },
		"an override": func(p *replay.Policy) {
			p.AddOverride(replay.CertificatesPerDomain, "example.com", mustLimit(t, 1, 1, time.Hour))
		},
		"a set": func(p *replay.Policy) {
			p.AddOverride(replay.CertificatesPerFQDNSet, "a.example.com", mustLimit(t, 1, 1, time.Hour))
		},
		"an account": func(p *replay.Policy) {
			p.AddOverride(replay.CertificatesPerDomainPerAccount, "7", mustLimit(t, 1, 1, time.Hour))
		},
		"the window": func(p *replay.Policy) { p.RenewalWindow-- },
		"its start":  func(p *replay.Policy) { p.RenewalWindowSince = p.RenewalWindowSince.Add(time.Nanosecond) },
		"renewals":   func(p *replay.Policy) { p.CountRenewals = true },
		"the batch rule's date": func(p *replay.Policy) {
			p.DenialFirstSince = p.DenialFirstSince.Add(time.Nanosecond)
		},
		"the batch rule made undated": func(p *replay.Policy) { p.DenialFirstSince = time.Time{} },
		"ARI":                         func(p *replay.Policy) { p.AssumeARI = true },
	} {
		if d := mustPolicy(t, "letsencrypt", change).Digest(); d == base {
			t.Errorf("changing %s leaves the digest as it was", what)
		}
	}
}
