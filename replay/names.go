package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Identifier normalization follows Boulder's identifier.Normalize and
// core.HashIdentifiers; registered domains follow ratelimits'
// coveringIdentifier. See docs/semantics.md.

// SetHash is the SHA-256 of an order's normalized names joined by ",": the
// CertificatesPerFQDNSet bucket key and the renewal lookup key.
type SetHash [sha256.Size]byte

func (h SetHash) String() string { return hex.EncodeToString(h[:]) }

// HashNames returns the SetHash of names that are already normalized (see
// NormalizeNames).
func HashNames(names []string) SetHash {
	return sha256.Sum256(appendJoined(nil, names))
}

// appendJoined appends the names joined by ",", the bytes the set hash
// covers.
func appendJoined(buf []byte, names []string) []byte {
	for i, n := range names {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, n...)
	}
	return buf
}

// ErrBadName is wrapped by every error about a malformed identifier.
var ErrBadName = errors.New("malformed name")

// ident is one normalized identifier.
type ident struct {
	value string
	ip    bool
}

// normalizeName lowercases a DNS name and strips one trailing dot, or
// canonicalizes an IP address (RFC 5952 for IPv6, no zone). Wildcards stay
// verbatim: "*.example.com" and "example.com" are different names.
func normalizeName(raw string) (ident, error) {
	if mayBeIP(raw) {
		if addr, err := netip.ParseAddr(raw); err == nil {
			return ident{value: addr.WithZone("").String(), ip: true}, nil
		}
	}
	name := strings.TrimSuffix(raw, ".")
	if len(name) < len(raw) && mayBeIP(name) {
		if _, err := netip.ParseAddr(name); err == nil {
			// Neither a DNS name (all-numeric TLD) nor an IP address; as a
			// name it would not normalize to itself.
			return ident{}, fmt.Errorf("%w: %q is an IP address with a trailing dot", ErrBadName, raw)
		}
	}
	if !isASCII(name) {
		if !utf8.ValidString(name) {
			return ident{}, fmt.Errorf("%w: %q is not valid UTF-8", ErrBadName, raw)
		}
		var err error
		if name, err = toALabels(name); err != nil {
			return ident{}, fmt.Errorf("%w: %q is not a valid internationalized name (%v); give its A-label form (xn--...)", ErrBadName, raw, err)
		}
	}
	if name == "" {
		return ident{}, fmt.Errorf("%w: empty name %q", ErrBadName, raw)
	}
	if len(name) > 253 {
		return ident{}, fmt.Errorf("%w: %q is longer than 253 characters", ErrBadName, raw)
	}
	lower := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return ident{}, fmt.Errorf("%w: %q has a space or control character at byte %d", ErrBadName, raw, i)
		case c == ',':
			// A comma would make two different sets hash alike.
			return ident{}, fmt.Errorf("%w: %q has a comma", ErrBadName, raw)
		case c == ':' || c == '/':
			return ident{}, fmt.Errorf("%w: %q is neither a DNS name nor an IP address", ErrBadName, raw)
		case c == '.' && (i == 0 || name[i-1] == '.'):
			return ident{}, fmt.Errorf("%w: %q has an empty label", ErrBadName, raw)
		case 'A' <= c && c <= 'Z':
			lower = false
		}
	}
	if !lower {
		name = strings.ToLower(name)
	}
	if strings.Contains(name, "xn--") {
		if err := checkALabels(name); err != nil {
			return ident{}, fmt.Errorf("%w: %q: %v", ErrBadName, raw, err)
		}
	}
	return ident{value: name}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// toALabels converts a name with Unicode labels (U-labels) to the A-labels
// a certificate holds ("bücher.example" to "xn--bcher-kva.example"), with
// IDNA2008's lookup profile as browsers and ACME clients do: Boulder
// accepts only A-labels, so a planned order naming the U-label form is the
// certificate with the A-labels. Characters IDNA disallows (controls such
// as U+0085, U+2028, U+202E, and anything not valid in a name) are errors.
// A leading "*." stays: wildcards are not IDNA labels.
func toALabels(name string) (string, error) {
	prefix := ""
	if strings.HasPrefix(name, "*.") {
		prefix, name = "*.", name[2:]
	}
	a, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return "", err
	}
	if !isASCII(a) {
		return "", fmt.Errorf("no ASCII form")
	}
	return prefix + a, nil
}

// checkALabels refuses an A-label that is not valid Punycode, as Boulder's
// policy does (errMalformedIDN): no certificate can hold it.
func checkALabels(name string) error {
	for label := range strings.SplitSeq(name, ".") {
		if strings.HasPrefix(label, "xn--") {
			if _, err := idna.ToUnicode(label); err != nil {
				return fmt.Errorf("label %q is not valid Punycode", label)
			}
		}
	}
	return nil
}

// mayBeIP is a cheap test that rules out most DNS names before the costlier
// netip.ParseAddr: an IPv6 address has a colon, an IPv4 address ends in a
// digit (no public suffix is all digits).
func mayBeIP(s string) bool {
	if s == "" {
		return false
	}
	if c := s[len(s)-1]; '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte(s, ':') >= 0
}

// compareIdent orders DNS names before IP addresses, then bytewise, as
// Boulder's identifier.Normalize does.
func compareIdent(a, b ident) int {
	if a.ip != b.ip {
		if a.ip {
			return 1
		}
		return -1
	}
	return strings.Compare(a.value, b.value)
}

// NormalizeNames returns the order's identifiers lowercased, with one
// trailing dot stripped, deduplicated and sorted (DNS names before IP
// addresses, then bytewise). An empty set or a malformed name is an error.
func NormalizeNames(names []string) ([]string, error) {
	var n Namer
	p, err := n.prepare(names)
	if err != nil {
		return nil, err
	}
	return p.names, nil
}

// RegisteredDomain returns the CertificatesPerDomain key of one identifier:
// the eTLD+1 under the Public Suffix List including its private section
// ("foo.github.io"), the name itself when it is a public suffix ("co.uk"),
// "a.b.c.d/32" for an IPv4 address and the covering /64 for IPv6.
func RegisteredDomain(name string) (string, error) {
	id, err := normalizeName(name)
	if err != nil {
		return "", err
	}
	return registeredDomain(id)
}

func registeredDomain(id ident) (string, error) {
	if id.ip {
		addr, err := netip.ParseAddr(id.value)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadName, err)
		}
		bits := 64
		if addr.Is4() {
			bits = 32
		}
		p, err := addr.Prefix(bits)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadName, err)
		}
		return p.String(), nil
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(id.value)
	if err != nil {
		// Boulder keys a name that is itself a public suffix by the name.
		if ps, _ := publicsuffix.PublicSuffix(id.value); ps == id.value {
			return id.value, nil
		}
		return "", fmt.Errorf("%w: %q has no registered domain: %v", ErrBadName, id.value, err)
	}
	return d, nil
}

// Namer normalizes orders, reusing its scratch space from one order to the
// next. The zero Namer is ready to use; it is not safe for concurrent use
// (give each goroutine its own). It keeps no cache of registered domains:
// real traffic has too many distinct names for a cache to pay for its
// upkeep (profiles showed its map growth costing more than the Public
// Suffix List lookups it saved).
type Namer struct {
	ids []ident
	buf []byte
}

type preparedNames struct {
	names   []string
	ip      []bool
	domains []string
	hash    SetHash
}

func (n *Namer) prepare(raw []string) (preparedNames, error) {
	if len(raw) == 0 {
		return preparedNames{}, fmt.Errorf("%w: the order has no names", ErrBadName)
	}
	ids := n.ids[:0]
	for _, r := range raw {
		id, err := normalizeName(r)
		if err != nil {
			return preparedNames{}, err
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIdent)
	ids = slices.Compact(ids)
	n.ids = ids

	p := preparedNames{names: make([]string, len(ids))}
	hasIP := false
	for i, id := range ids {
		p.names[i] = id.value
		hasIP = hasIP || id.ip
	}
	if hasIP {
		p.ip = make([]bool, len(ids))
		for i, id := range ids {
			p.ip[i] = id.ip
		}
	}
	n.buf = appendJoined(n.buf[:0], p.names)
	p.hash = sha256.Sum256(n.buf)

	domains := make([]string, 0, 1)
	for _, id := range ids {
		d, err := registeredDomain(id)
		if err != nil {
			return preparedNames{}, err
		}
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	// Boulder's coveringIdentifiers sorts the keys bytewise; the order of
	// the per-domain checks decides which denial is reported on a tie.
	slices.Sort(domains)
	p.domains = domains
	return p, nil
}
