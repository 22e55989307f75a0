package ctlogtest

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// IssueFast encodes the leaf without signing it: the DER is a well-formed
// certificate (or precertificate) whose signature is filler of the right
// shape. Ingest parses certificates but does not check their signatures
// (the log's signature over the tree is what it verifies), so for a
// generator that must make millions of distinct certificates, this is
// what Issue would give at a fraction of the cost: signing with
// x509.CreateCertificate, which also verifies its own signature, takes
// ~100 µs a certificate.
func (l *Leaf) IssueFast() (certOrPrecert, tbs []byte, err error) {
	full, err := l.tbs(l.Precert)
	if err != nil {
		return nil, nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(full)
		b.AddBytes(ecdsaSHA256)
		b.AddASN1BitString(fillerSignature)
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	if !l.Precert {
		return der, der, nil
	}
	// RFC 6962's precertificate TBS is the same TBSCertificate without the
	// poison extension.
	tbs, err = l.tbs(false)
	return der, tbs, err
}

var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCN  = asn1.ObjectIdentifier{2, 5, 4, 3}
	// ecdsaSHA256 is the DER AlgorithmIdentifier of ecdsa-with-SHA256.
	ecdsaSHA256 = []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	// fillerSignature has the shape of a DER ECDSA P-256 signature.
	fillerSignature = append([]byte{0x30, 0x44, 0x02, 0x20, 0x11}, append(make([]byte, 31), append([]byte{0x02, 0x20, 0x22}, make([]byte, 31)...)...)...)

	leafSPKIOnce sync.Once
	leafSPKI     []byte
)

func (l *Leaf) tbs(poison bool) ([]byte, error) {
	leafSPKIOnce.Do(func() { leafSPKI, _ = x509.MarshalPKIXPublicKey(&leafKey.PublicKey) })
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(2) })
		b.AddASN1BigInt(l.Serial)
		b.AddBytes(ecdsaSHA256)
		b.AddBytes(l.Issuer.Cert.RawSubject)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, l.NotBefore)
			addTime(b, l.NotAfter)
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if l.CN == "" {
				return
			}
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidCN)
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(l.CN)) })
				})
			})
		})
		b.AddBytes(leafSPKI)
		b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidSAN)
					b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							for _, n := range l.DNSNames {
								b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(n)) })
							}
							for _, ip := range l.IPs {
								if v4 := ip.To4(); v4 != nil {
									ip = v4
								}
								b.AddASN1(cbasn1.Tag(7).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(ip) })
							}
						})
					})
				})
				if poison {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier(oidPoison))
						b.AddASN1Boolean(true)
						b.AddASN1OctetString([]byte{0x05, 0x00})
					})
				}
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("couldn't encode the certificate for %v: %w", l.DNSNames, err)
	}
	return out, nil
}

// addTime encodes a certificate time: UTCTime through 2049, then
// GeneralizedTime (RFC 5280 4.1.2.5).
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC()
	if t.Year() < 2050 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}
