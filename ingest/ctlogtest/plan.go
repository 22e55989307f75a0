package ctlogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"sort"
	"time"
)

// A Plan describes a sample log certificate by certificate, for logs that
// must tell a story (the demo: new certificates, renewals, a domain over
// its rate limit) rather than exercise the parser.
type Plan struct {
	// Origin is the checkpoint origin.
	Origin string
	// Issuers are the intermediates' subjects; Cert.Issuer indexes them.
	Issuers []pkix.Name
	// Certs are the certificates, in any order.
	Certs []PlannedCert
	// Fast encodes leaves without signing them (Leaf.IssueFast), for
	// large logs; ingest reads them the same.
	Fast bool
}

// PlannedCert is one certificate: a precertificate logged at IssuedAt and,
// if Final, the certificate logged a second later.
type PlannedCert struct {
	Issuer   int
	DNSNames []string
	IPs      []net.IP
	IssuedAt time.Time
	// NotBefore defaults to IssuedAt minus an hour, as Let's Encrypt
	// backdates; Validity defaults to 90 days.
	NotBefore time.Time
	Validity  time.Duration
	Final     bool
}

// FromPlan signs the plan's certificates and builds the log: entries in
// timestamp order, the tree head at the last entry.
func FromPlan(p Plan) (*Log, error) {
	if len(p.Issuers) == 0 || len(p.Certs) == 0 {
		return nil, fmt.Errorf("ctlogtest: a plan needs issuers and certificates")
	}
	ca, err := NewCAWithSubjects(p.Issuers...)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	l := &Log{Origin: p.Origin, Key: key, Issuers: map[string][]byte{}}
	for _, is := range append([]*Issuer{ca.Root}, ca.Intermediates...) {
		fp := is.Fingerprint()
		l.Issuers[hex.EncodeToString(fp[:])] = is.Cert.Raw
	}
	type pending struct {
		ts      time.Time
		precert bool
		der     []byte
		tbs     []byte
		issuer  *Issuer
	}
	var entries []pending
	for i, c := range p.Certs {
		if c.Issuer < 0 || c.Issuer >= len(ca.Intermediates) {
			return nil, fmt.Errorf("ctlogtest: certificate %d: no issuer %d", i, c.Issuer)
		}
		is := ca.Intermediates[c.Issuer]
		nb := c.NotBefore
		if nb.IsZero() {
			nb = c.IssuedAt.Add(-time.Hour)
		}
		validity := c.Validity
		if validity == 0 {
			validity = 90*24*time.Hour - time.Second
		}
		cn := ""
		if len(c.DNSNames) > 0 {
			cn = c.DNSNames[0]
		}
		// Serials: 128 random-looking bits, as CAs use, derived from the
		// index so the plan stays reproducible in its shape.
		serial := new(big.Int).SetUint64(uint64(0x0400000000000000) + uint64(i)*104729)
		for _, final := range []bool{false, true} {
			if final && !c.Final {
				continue
			}
			lf := &Leaf{Issuer: is, Precert: !final, Serial: serial, DNSNames: c.DNSNames, IPs: c.IPs, CN: cn,
				NotBefore: nb.Truncate(time.Second), NotAfter: nb.Truncate(time.Second).Add(validity)}
			issue := lf.Issue
			if p.Fast {
				issue = lf.IssueFast
			}
			der, tbs, err := issue()
			if err != nil {
				return nil, err
			}
			ts := c.IssuedAt
			if final {
				ts = ts.Add(time.Second)
			}
			entries = append(entries, pending{ts, !final, der, tbs, is})
		}
	}
	sort.SliceStable(entries, func(a, b int) bool { return entries[a].ts.Before(entries[b].ts) })
	chains := map[*Issuer][][]byte{}
	for _, is := range ca.Intermediates {
		chains[is] = [][]byte{is.Cert.Raw, ca.Root.Cert.Raw}
	}
	for i, e := range entries {
		l.Entries = append(l.Entries, BuildEntry(int64(i), uint64(e.ts.UnixMilli()), e.precert, e.der, e.tbs, e.issuer.SPKIHash(), chains[e.issuer]))
	}
	l.Time = entries[len(entries)-1].ts.Add(time.Minute)
	return l, nil
}
