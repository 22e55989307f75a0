// Package ctlogtest builds sample Certificate Transparency logs for tests
// and benchmarks: a test CA issuing real X.509 certificates and
// precertificates, a log signing key, static-ct-api tiles and checkpoints,
// and in-process HTTP servers speaking static-ct-api and RFC 6962 with
// injectable faults. Nothing here is trusted by anything: every key is
// generated for tests.
package ctlogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"time"

	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Issuer is a test CA certificate and its key.
type Issuer struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// SPKIHash is RFC 6962's issuer_key_hash.
func (i *Issuer) SPKIHash() [32]byte { return sha256.Sum256(i.Cert.RawSubjectPublicKeyInfo) }

// Fingerprint is SHA-256 of the certificate, the static-ct-api issuer name.
func (i *Issuer) Fingerprint() [32]byte { return sha256.Sum256(i.Cert.Raw) }

// CA is a root and the intermediates that issue leaves.
type CA struct {
	Root          *Issuer
	Intermediates []*Issuer
}

// NewCA makes a root and one intermediate per name.
func NewCA(names ...string) (*CA, error) {
	subjects := make([]pkix.Name, len(names))
	for i, n := range names {
		subjects[i] = pkix.Name{Country: []string{"US"}, Organization: []string{"ctlimits test"}, CommonName: n}
	}
	return NewCAWithSubjects(subjects...)
}

// NewCAWithSubjects makes a root and one intermediate per subject, for
// sample logs whose issuers must look like real CAs' (Let's Encrypt's R10,
// its staging "(STAGING)" names, other CAs).
func NewCAWithSubjects(subjects ...pkix.Name) (*CA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	nb := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rt := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"ctlimits test"}, CommonName: "ctlimits Test Root X1"},
		NotBefore:             nb,
		NotAfter:              nb.AddDate(20, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rt, rt, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	rc, _ := x509.ParseCertificate(der)
	ca := &CA{Root: &Issuer{rc, rootKey}}
	for i, subject := range subjects {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		t := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(100 + i)),
			Subject:               subject,
			NotBefore:             nb,
			NotAfter:              nb.AddDate(10, 0, 0),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, t, rc, &k.PublicKey, rootKey)
		if err != nil {
			return nil, err
		}
		c, _ := x509.ParseCertificate(der)
		ca.Intermediates = append(ca.Intermediates, &Issuer{c, k})
	}
	return ca, nil
}

// Leaf describes a certificate to issue.
type Leaf struct {
	Issuer    *Issuer
	Precert   bool
	Serial    *big.Int
	DNSNames  []string
	IPs       []net.IP
	CN        string
	NotBefore time.Time
	NotAfter  time.Time
}

var oidPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

// leafKey is shared by every leaf: the subject key plays no part in what
// ingest reads, and generating one per leaf would dominate test time.
var leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

// Issue signs the leaf. For a precertificate it returns the precertificate
// (with the critical poison extension) and the TBSCertificate without the
// poison that RFC 6962 logs hash; for a certificate, the DER twice.
func (l *Leaf) Issue() (certOrPrecert, tbs []byte, err error) {
	t := &x509.Certificate{
		SerialNumber: l.Serial,
		Subject:      pkix.Name{CommonName: l.CN},
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if l.Precert {
		t.ExtraExtensions = []pkix.Extension{{Id: oidPoison, Critical: true, Value: []byte{0x05, 0x00}}}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, l.Issuer.Cert, &leafKey.PublicKey, l.Issuer.Key)
	if err != nil {
		return nil, nil, err
	}
	if !l.Precert {
		return der, der, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	tbs, err = ctx509.RemoveCTPoison(c.RawTBSCertificate)
	if err != nil {
		return nil, nil, fmt.Errorf("couldn't remove poison: %w", err)
	}
	return der, tbs, nil
}
