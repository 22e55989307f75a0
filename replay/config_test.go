package replay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWorkingDefaults(t *testing.T) {
	t.Parallel()
	limits, err := ParseLimits(readTestdata(t, "working_defaults.yml"), "working_defaults.yml")
	if err != nil {
		t.Fatal(err)
	}
	if l := limits[CertificatesPerDomain]; l.Burst != 3 || l.Count != 2 || l.Period != time.Hour || l.EmissionInterval() != 30*time.Minute {
		t.Fatalf("CertificatesPerDomain = %s", l)
	}
	if l := limits[CertificatesPerFQDNSet]; l.Burst != 2 || l.Period != 10*time.Minute {
		t.Fatalf("CertificatesPerFQDNSet = %s", l)
	}
	if !limits[NewOrdersPerAccount].Enabled() {
		t.Fatal("NewOrdersPerAccount not loaded")
	}
}

func TestParseWorkingOverrides(t *testing.T) {
	t.Parallel()
	p, _ := LookupPolicy("letsencrypt")
	if err := p.ParseOverrides(readTestdata(t, "working_overrides.yml"), "working_overrides.yml"); err != nil {
		t.Fatal(err)
	}
	if l := p.limitFor(CertificatesPerDomain, "example.com"); l.Burst != 300 {
		t.Fatalf("example.com: %s", l)
	}
	if l := p.limitFor(CertificatesPerDomain, "192.0.2.1/32"); l.Burst != 300 {
		t.Fatalf("an IP override keys by its prefix: %s", l)
	}
	names, _ := NormalizeNames([]string{"www.example.net", "example.net"})
	if l := p.setLimit(HashNames(names)); l.Burst != 20 {
		t.Fatalf("set override: %s", l)
	}
	if l := p.perAccount("12345"); l.Burst != 10000 {
		t.Fatalf("per-account override: %s", l)
	}
}

func (p *Policy) perAccount(a string) Limit {
	return p.Overrides[OverrideKey{CertificatesPerDomainPerAccount, a}]
}

func TestBustedConfigsNameFileLineAndProblem(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file     string
		override bool
		want     string
	}{
		{"busted_unknown_limit.yml", false, `busted_unknown_limit.yml:5: unknown default limit "CertificatesPerName"`},
		{"busted_burst.yml", false, "busted_burst.yml:1: limit CertificatesPerDomain: line 2: invalid burst 0, must be > 0"},
		{"busted_period.yml", false, `busted_period.yml:1: limit CertificatesPerFQDNSet: line 4: period: time: invalid duration "a week"`},
		{"busted_field.yml", false, `line 5: unknown field "window"`},
		{"busted_override_subdomain.yml", true, `busted_override_subdomain.yml:7: override CertificatesPerDomain:www.example.com would never apply`},
		{"busted_override_no_ids.yml", true, "busted_override_no_ids.yml:1: override CertificatesPerDomain has no ids"},
		{"working_overrides.yml", false, "expected a map of limit names"},
		{"working_defaults.yml", true, "expected a list of overrides"},
	} {
		var err error
		if c.override {
			p, _ := LookupPolicy("letsencrypt")
			err = p.ParseOverrides(readTestdata(t, c.file), c.file)
		} else {
			_, err = ParseLimits(readTestdata(t, c.file), c.file)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.file, err, c.want)
		}
	}
}
