package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
)

var registeredDomainCases = []struct {
	name, want string
}{
	{"example.com", "example.com"},
	{"www.example.com", "example.com"},
	{"a.b.c.example.com", "example.com"},
	{"WWW.Example.COM", "example.com"},
	{"www.example.com.", "example.com"},
	{"*.example.com", "example.com"},
	{"example.co.uk", "example.co.uk"},
	{"www.example.co.uk", "example.co.uk"},
	{"co.uk", "co.uk"},                 // a public suffix keys itself
	{"com", "com"},                     // so does a TLD
	{"foo.github.io", "foo.github.io"}, // PSL private section
	{"bar.foo.github.io", "foo.github.io"},
	{"github.io", "github.io"},
	{"192.0.2.1", "192.0.2.1/32"},
	{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	{"2001:DB8::1", "2001:db8::/64"},
}

func TestRegisteredDomain(t *testing.T) {
	t.Parallel()
	for _, c := range registeredDomainCases {
		got, err := RegisteredDomain(c.name)
		if err != nil || got != c.want {
			t.Errorf("RegisteredDomain(%q) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

var normalizeCases = []struct {
	spec string
	in   []string
	want []string
}{
	{"lowercases", []string{"WWW.Example.com"}, []string{"www.example.com"}},
	{"removes duplicates after lowercasing", []string{"a.example", "A.EXAMPLE", "a.example"}, []string{"a.example"}},
	{"strips one trailing dot", []string{"example.com."}, []string{"example.com"}},
	{"sorts bytewise", []string{"www.example.com", "example.com", "api.example.com"}, []string{"api.example.com", "example.com", "www.example.com"}},
	{"keeps wildcards verbatim and apart", []string{"example.com", "*.example.com"}, []string{"*.example.com", "example.com"}},
	{"puts DNS names before IPs", []string{"192.0.2.1", "zzz.example", "2001:db8::1"}, []string{"zzz.example", "192.0.2.1", "2001:db8::1"}},
	{"canonicalizes IPv6", []string{"2001:0DB8:0000::0001"}, []string{"2001:db8::1"}},
}

func TestNormalizeNames(t *testing.T) {
	t.Parallel()
	for _, c := range normalizeCases {
		got, err := NormalizeNames(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: NormalizeNames(%q) = %q, %v; want %q", c.spec, c.in, got, err, c.want)
		}
	}
}

func TestMalformedNamesAreErrors(t *testing.T) {
	t.Parallel()
	for _, in := range [][]string{
		nil, {}, {""}, {"."}, {"a..example.com"}, {".example.com"}, {"exa mple.com"},
		{"a,b.example"}, {"example.com:443"}, {"http://example.com"}, {"ok.example", "bad\x00.example"},
	} {
		if _, err := NormalizeNames(in); !errors.Is(err, ErrBadName) {
			t.Errorf("NormalizeNames(%q) = %v, want ErrBadName", in, err)
		}
	}
}

func TestSetHashIsSHA256OfCommaJoinedNames(t *testing.T) {
	t.Parallel()
	names, err := NormalizeNames([]string{"WWW.example.com", "example.com", "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("example.com,www.example.com"))
	if got, want := HashNames(names).String(), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("set hash %s, want %s", got, want)
	}
}

func TestPrepareCollectsDistinctRegisteredDomainsSorted(t *testing.T) {
	t.Parallel()
	var n Namer
	o := Order{IssuedAt: t0, Names: []string{"b.example.org", "www.a.example", "a.example", "x.example.org", "192.0.2.7"}}
	p, err := n.Prepare(&o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"192.0.2.7/32", "a.example", "example.org"}
	if !slices.Equal(p.Domains, want) {
		t.Fatalf("domains %q, want %q", p.Domains, want)
	}
	if p.NotBefore != p.IssuedAt {
		t.Fatal("NotBefore must default to IssuedAt")
	}
}
