package replay

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func addTestdataSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseLimits: any input is a limits table or an error naming the
// file, never a panic; every limit it returns is valid.
func FuzzParseLimits(f *testing.F) {
	addTestdataSeeds(f, "*.yml")
	f.Add([]byte("CertificatesPerDomain: {burst: 1_000_000, count: 0x32, period: 168h}\n"))
	f.Add([]byte("a: &x {burst: 1, count: 1, period: 1s}\nb: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		limits, err := ParseLimits(data, "f.yml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name, l := range limits {
			if l.Enabled() {
				if _, err := NewLimit(l.Burst, l.Count, l.Period); err != nil || l.emission <= 0 {
					t.Fatalf("%s: accepted an invalid limit %s", Name(name), l)
				}
			}
		}
	})
}

// FuzzParseOverrides: as FuzzParseLimits, for overrides files.
func FuzzParseOverrides(f *testing.F) {
	addTestdataSeeds(f, "*overrides*.yml")
	addTestdataSeeds(f, "busted_override*.yml")
	f.Add([]byte("- CertificatesPerDomain: {burst: 1, count: 1, period: 1s, ids: [{id: bücher.example}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := LookupPolicy("letsencrypt")
		err := p.ParseOverrides(data, "o.yml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "o.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for k, l := range p.Overrides {
			if !l.Enabled() || l.emission <= 0 || k.ID == "" {
				t.Fatalf("accepted override %v: %s", k, l)
			}
		}
	})
}

// FuzzNormalizeNames: the names that come out are lowercase printable
// ASCII (or canonical IP addresses), sorted DNS-first then bytewise,
// without duplicates, and normalizing them again changes nothing.
func FuzzNormalizeNames(f *testing.F) {
	for _, s := range []string{"Example.COM www.example.com.", "bücher.example xn--bcher-kva.example", "192.0.2.1 2001:DB8::1 a.example",
		"*.example.com example.com", "a\u202eb.example", "1.2.3.4.", "ｅxample.com", "xn--ab-qa.example", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		names := strings.Split(in, " ")
		out, err := NormalizeNames(names)
		if err != nil {
			return
		}
		ids := make([]ident, len(out))
		for i, n := range out {
			if n == "" {
				t.Fatalf("%q: empty name", in)
			}
			for j := 0; j < len(n); j++ {
				if c := n[j]; c <= ' ' || c >= 0x7f || ('A' <= c && c <= 'Z') {
					t.Fatalf("%q: output name %q has byte %#x", in, n, c)
				}
			}
			id, err := normalizeName(n)
			if first, _ := normalizeName(rawFor(names, n)); err != nil || id != first {
				t.Fatalf("%q: output name %q normalizes to %q, %v", in, n, id.value, err)
			}
			ids[i] = id
		}
		if !slices.IsSortedFunc(ids, compareIdent) || len(slices.CompactFunc(slices.Clone(ids), func(a, b ident) bool { return a == b })) != len(ids) {
			t.Fatalf("%q: output %q is not sorted and distinct", in, out)
		}
		again, err := NormalizeNames(out)
		if err != nil || !slices.Equal(again, out) {
			t.Fatalf("%q: normalizing %q again gave %q, %v", in, out, again, err)
		}
	})
}

// rawFor returns the input name that normalized to n.
func rawFor(names []string, n string) string {
	for _, r := range names {
		if id, err := normalizeName(r); err == nil && id.value == n {
			return r
		}
	}
	return n
}
