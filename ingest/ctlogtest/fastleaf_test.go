package ctlogtest

import (
	"bytes"
	"crypto/x509"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"
)

// TestIssueFastParsesLikeIssue checks that an unsigned fast leaf reads, in
// the standard parser, exactly like the signed one: same serial, names,
// validity, issuer and (for precertificates) the same RFC 6962 TBS shape.
func TestIssueFastParsesLikeIssue(t *testing.T) {
	ca, err := NewCA("Fast Test R1")
	if err != nil {
		t.Fatal(err)
	}
	nb := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, precert := range []bool{false, true} {
		l := &Leaf{Issuer: ca.Intermediates[0], Precert: precert, Serial: big.NewInt(0x0312345678),
			DNSNames: []string{"www.example.com", "example.com", "*.apps.example.com"},
			IPs:      []net.IP{net.ParseIP("192.0.2.7"), net.ParseIP("2001:db8::1")},
			CN:       "www.example.com", NotBefore: nb, NotAfter: nb.Add(90 * 24 * time.Hour)}
		fast, fastTBS, err := l.IssueFast()
		if err != nil {
			t.Fatal(err)
		}
		slow, slowTBS, err := l.Issue()
		if err != nil {
			t.Fatal(err)
		}
		fc, err := x509.ParseCertificate(fast)
		if err != nil {
			t.Fatalf("precert=%v: the fast certificate does not parse: %v", precert, err)
		}
		sc, _ := x509.ParseCertificate(slow)
		if fc.SerialNumber.Cmp(sc.SerialNumber) != 0 || !slices.Equal(fc.DNSNames, sc.DNSNames) ||
			len(fc.IPAddresses) != 2 || !fc.IPAddresses[0].Equal(sc.IPAddresses[0]) || !fc.IPAddresses[1].Equal(sc.IPAddresses[1]) ||
			!fc.NotBefore.Equal(sc.NotBefore) || !fc.NotAfter.Equal(sc.NotAfter) ||
			fc.Subject.CommonName != sc.Subject.CommonName || !bytes.Equal(fc.RawIssuer, sc.RawIssuer) {
			t.Fatalf("precert=%v: fast %+v differs from signed %+v", precert, fc, sc)
		}
		if precert {
			if _, err := x509.ParseCertificate(append([]byte(nil), fastTBS...)); err == nil {
				t.Fatal("a TBS must not parse as a certificate")
			}
			if bytes.Equal(fastTBS, fast) || len(fastTBS) >= len(fast) || len(slowTBS) == 0 {
				t.Fatal("the precert TBS must be the TBS without the poison")
			}
		}
	}
}
