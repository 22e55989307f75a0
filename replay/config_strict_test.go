package replay

import (
	"strings"
	"testing"
	"time"
)

// Boulder reads its rate-limit files with strictyaml (yaml.v3 with
// KnownFields, one document, not empty); ctlimits must refuse everything
// Boulder refuses, naming file and line.
func TestLimitsFilesAreAsStrictAsBoulder(t *testing.T) {
	t.Parallel()
	const limit = "  burst: 50\n  count: 50\n  period: 168h\n"
	for _, c := range []struct {
		spec, yaml string
		override   bool
		want       string
	}{
		{"duplicate limit", "CertificatesPerDomain:\n" + limit + "CertificatesPerDomain:\n" + limit, false,
			`limits.yml:5: "CertificatesPerDomain" given twice (first at line 1)`},
		{"duplicate field", "CertificatesPerDomain:\n  burst: 50\n  burst: 60\n  count: 50\n  period: 168h\n", false,
			`limits.yml:3: "burst" given twice (first at line 2)`},
		{"second document", "CertificatesPerDomain:\n" + limit + "---\nCertificatesPerFQDNSet:\n" + limit, false,
			"limits.yml:5: a second YAML document"},
		{"empty", "", false, "limits.yml: the file is empty"},
		{"comments only", "# nothing\n", false, "limits.yml: the file is empty"},
		{"quoted burst", "CertificatesPerDomain:\n  burst: \"50\"\n  count: 50\n  period: 168h\n", false,
			`limits.yml:1: limit CertificatesPerDomain: line 2: burst: "50" is not a whole number`},
		{"fractional count", "CertificatesPerDomain:\n  burst: 50\n  count: 2.5\n  period: 168h\n", false,
			`count: 2.5 is not a whole number (Boulder would truncate it to 2)`},
		{"list period", "CertificatesPerDomain:\n  burst: 50\n  count: 50\n  period: [168h]\n", false,
			"period: expected a duration"},
		{"merge key", "CertificatesPerDomain: &b\n" + limit + "CertificatesPerFQDNSet:\n  <<: *b\n", false, "limits.yml:6: merge keys (<<) are not supported"},
		{"syntax", "CertificatesPerDomain:\n  burst: 50\n count: 50\n", false, "limits.yml:2: did not find expected key"},
		{"override duplicate id field", "- CertificatesPerDomain:\n" + "    burst: 1\n    count: 1\n    period: 1h\n    ids:\n      - id: example.com\n        id: example.org\n", true,
			`limits.yml:7: "id" given twice (first at line 6)`},
		{"override unknown id field", "- CertificatesPerDomain:\n" + "    burst: 1\n    count: 1\n    period: 1h\n    ids:\n      - id: example.com\n        note: x\n", true,
			`line 7: unknown field "note" (expected id, comment)`},
		{"override list comment", "- CertificatesPerDomain:\n" + "    burst: 1\n    count: 1\n    period: 1h\n    ids:\n      - id: example.com\n        comment: [a, b]\n", true,
			"limits.yml:7: cannot unmarshal !!seq into string"},
		{"override second document", "- CertificatesPerDomain:\n    burst: 1\n    count: 1\n    period: 1h\n    ids: [{id: example.com}]\n---\n[]\n", true,
			"limits.yml:6: a second YAML document"},
		{"override empty", "", true, "limits.yml: the file is empty"},
	} {
		var err error
		if c.override {
			p, _ := LookupPolicy("letsencrypt")
			err = p.ParseOverrides([]byte(c.yaml), "limits.yml")
		} else {
			_, err = ParseLimits([]byte(c.yaml), "limits.yml")
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.spec, err, c.want)
		}
	}
}

// What Boulder's loader accepts loads here too.
func TestLimitsFilesBoulderAccepts(t *testing.T) {
	t.Parallel()
	l, err := ParseLimits([]byte("CertificatesPerDomain:\n  burst: 1_000_000\n  count: 0x32\n  period: 168h\nNewOrdersPerAccount:\n  burst: 3e2\n  count: 300\n  period: 3h\nCertificatesPerFQDNSet: {burst: 5, count: 5, period: 168h}\n"), "limits.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := l[CertificatesPerDomain]; got.Burst != 1_000_000 || got.Count != 50 || got.Period != 168*time.Hour {
		t.Fatalf("CertificatesPerDomain = %s", got)
	}
	if got := l[NewOrdersPerAccount]; got.Burst != 300 {
		t.Fatalf("NewOrdersPerAccount = %s", got)
	}
	if _, err := ParseLimits([]byte("{}\n"), "limits.yml"); err != nil {
		t.Fatalf("{}: %v", err)
	}
	// One overrides item may name several limits, and an id may be a
	// number (Boulder decodes it into a string).
	p, _ := LookupPolicy("letsencrypt")
	err = p.ParseOverrides([]byte(`- CertificatesPerDomain:
    burst: 300
    count: 300
    period: 168h
    ids:
      - id: example.com
  CertificatesPerDomainPerAccount:
    burst: 7
    count: 7
    period: 168h
    ids:
      - id: 13371338
`), "overrides.yml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Overrides[OverrideKey{CertificatesPerDomain, "example.com"}].Burst != 300 ||
		p.Overrides[OverrideKey{CertificatesPerDomainPerAccount, "13371338"}].Burst != 7 {
		t.Fatalf("overrides %v", p.Overrides)
	}
	if err := p.ParseOverrides([]byte("[]\n"), "overrides.yml"); err != nil {
		t.Fatalf("[]: %v", err)
	}
}
