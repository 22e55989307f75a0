package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWhatifOnTheDemoData(t *testing.T) {
	data := t.TempDir()
	if code, stdout, stderr := run(t, "", "demo", "--log-dir", "../../testdata/demolog", "--data", data); code != exitOK {
		t.Fatalf("demo: exit %d: %s\n%s", code, stderr, stdout)
	}

	t.Run("45 days renewed at 2/3", func(t *testing.T) {
		code, stdout, stderr := run(t, "", "whatif", "--data", data, "--issuers", "all", "--lifetime", "45d", "--renew-at", "2/3")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{
			"WHAT-IF: 45d certificates renewed at 2/3 of their lifetime, 12 weeks from 2026-04-14 04:56 to 2026-07-07 04:56",
			"history: Let's Encrypt production and other CAs under letsencrypt, 433 orders (the state saved at 2026-04-14T00:00:00Z)",
			// The 26 new are sets the model limited in history (over the
			// model): it never counted them issued.
			"projected: 274 exact sets live; 649 orders: 26 new, 623 renewals, 0 limited, 0 refused",
			"No limit bites in 12 weeks. Closest: CertificatesPerDomain, down to 28 of 50 tokens.",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if !strings.Contains(stderr, "274 live certificates") {
			t.Errorf("progress: %s", stderr)
		}
	})

	// The state saved by the demo's replay and the history replayed from
	// scratch are the same state: the projections agree line for line.
	t.Run("saved state equals scratch", func(t *testing.T) {
		args := []string{"whatif", "--data", data, "--issuers", "all", "--lifetime", "45d", "--renew-at", "2/3", "--quiet"}
		_, saved, _ := run(t, "", args...)
		code, scratch, stderr := run(t, "", append(args, "--from-scratch")...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		drop := func(s string) string {
			var keep []string
			for _, l := range strings.Split(s, "\n") {
				if !strings.HasPrefix(l, "history: ") {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "\n")
		}
		if !strings.Contains(scratch, "433 orders (from scratch)") || drop(saved) != drop(scratch) {
			t.Fatalf("from a saved state:\n%s\nfrom scratch:\n%s", saved, scratch)
		}
	})

	t.Run("160 hours renewed daily", func(t *testing.T) {
		code, stdout, stderr := run(t, "", "whatif", "--data", data, "--issuers", "all", "--profile", "shortlived",
			"--renew-every", "1d", "--weeks", "4", "--format", "json", "--quiet")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r struct {
			Binding string `json:"binding"`
			Cadence string `json:"cadence"`
			Limits  []struct {
				Limit    string `json:"limit"`
				Bit      bool   `json:"bit"`
				Override *struct {
					Needed   int64 `json:"needed_per_week"`
					Verified bool  `json:"verified"`
				} `json:"override"`
			} `json:"limits"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if r.Binding != "CertificatesPerFQDNSet" || r.Cadence != "160h certificates (profile shortlived) renewed every 1d" {
			t.Fatalf("%+v", r)
		}
		for _, l := range r.Limits {
			if l.Limit == "CertificatesPerDomain" && l.Bit {
				t.Fatalf("renewals bit CertificatesPerDomain: %s", stdout)
			}
			if l.Limit == "CertificatesPerFQDNSet" && (l.Override == nil || l.Override.Needed != 6 || !l.Override.Verified) {
				t.Fatalf("override: %s", stdout)
			}
		}
	})

	t.Run("one domain, markdown", func(t *testing.T) {
		code, stdout, stderr := run(t, "", "whatif", "--data", data, "--issuers", "all", "--lifetime", "160h",
			"--domain", "www.hosting.example", "--weeks", "4", "--format", "markdown", "--quiet")
		if code != exitOK || !strings.Contains(stdout, "## What-if: 160h certificates renewed in Boulder's ARI window") ||
			!strings.Contains(stdout, "| CertificatesPerFQDNSet | no |") {
			t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
		}
	})

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--lifetime (45d, 160h, ...) or --profile is required"},
		{[]string{"--lifetime", "45d", "--renew-at", "2/3", "--renew-every", "30d"}, "give --renew-at or --renew-every, not both"},
		{[]string{"--profile", "modern"}, `--profile: unknown profile "modern"; Let's Encrypt's profiles are classic, tlsserver, shortlived`},
		{[]string{"--lifetime", "160h", "--renew-every", "3d..7d"}, "lets 160h certificates expire before their renewal"},
		{[]string{"--lifetime", "120d"}, "100 days or more"},
		{[]string{"--lifetime", "45d", "--renew-at", "two thirds"}, "want a fraction like 2/3"},
		{[]string{"--lifetime", "45x"}, `--lifetime "45x"`},
		{[]string{"--lifetime", "45d", "--issuers", "staging"}, "--issuers staging"},
		{[]string{"--lifetime", "45d", "--weeks", "0"}, "--weeks 0"},
	} {
		code, _, stderr := run(t, "", append([]string{"whatif", "--data", data, "--issuers", "all"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want a usage error with %q", c.args, code, stderr, c.want)
		}
	}
}
