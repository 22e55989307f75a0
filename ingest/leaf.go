package ingest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strings"

	stdx509 "crypto/x509"

	ctx509 "github.com/google/certificate-transparency-go/x509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Entry types as RFC 6962 numbers them (LogEntryType).
const (
	x509Entry    = 0
	precertEntry = 1
)

// entry is one log entry as decoded from a data tile or a get-entries
// response, before its certificate is parsed.
type entry struct {
	index     int64
	leafHash  [32]byte
	timestamp uint64 // ms since the epoch, from the TimestampedEntry
	typ       uint16
	// der is the X.509 certificate for x509 entries and the TBSCertificate
	// for precert entries: exactly what the leaf hash covers.
	der []byte
	// issuerKeyHash is SHA-256 of the issuer's SubjectPublicKeyInfo: in the
	// leaf for precerts, looked up from the chain for x509 entries. Nil when
	// unknown.
	issuerKeyHash []byte
	// chain0 identifies the first chain element: its SHA-256 fingerprint in
	// static logs, its DER in RFC 6962 logs. Only x509 entries use it.
	chain0 []byte
	// decodeErr is set when the leaf framing itself is malformed (RFC 6962
	// only: a tile that does not decode is refused outright).
	decodeErr error
}

// readTimestampedEntry reads RFC 6962's TimestampedEntry into e.
func readTimestampedEntry(s *cryptobyte.String, e *entry) error {
	var ext cryptobyte.String
	if !s.ReadUint64(&e.timestamp) || !s.ReadUint16(&e.typ) {
		return errors.New("truncated TimestampedEntry")
	}
	switch e.typ {
	case x509Entry:
		var cert cryptobyte.String
		if !s.ReadUint24LengthPrefixed(&cert) {
			return errors.New("truncated certificate")
		}
		e.der = cert
	case precertEntry:
		var ikh, tbs cryptobyte.String
		if !s.ReadBytes((*[]byte)(&ikh), 32) || !s.ReadUint24LengthPrefixed(&tbs) {
			return errors.New("truncated PreCert")
		}
		e.issuerKeyHash, e.der = ikh, tbs
	default:
		return fmt.Errorf("unknown entry type %d", e.typ)
	}
	if !s.ReadUint16LengthPrefixed(&ext) {
		return errors.New("truncated extensions")
	}
	return nil
}

// leafHashOfTimestampedEntry is the RFC 6962 leaf hash: SHA-256 of 0x00
// (leaf prefix), version v1 (0), leaf type timestamped_entry (0), then the
// TimestampedEntry bytes.
func leafHashOfTimestampedEntry(te []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0, 0, 0})
	h.Write(te)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// decodeTileLeaf reads one TileLeaf (C2SP static-ct-api) from s.
func decodeTileLeaf(s *cryptobyte.String, e *entry) error {
	start := *s
	if err := readTimestampedEntry(s, e); err != nil {
		return err
	}
	te := start[:len(start)-len(*s)]
	e.leafHash = leafHashOfTimestampedEntry(te)
	if e.typ == precertEntry {
		var pre cryptobyte.String
		if !s.ReadUint24LengthPrefixed(&pre) {
			return errors.New("truncated pre_certificate")
		}
	}
	var chain cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&chain) || len(chain)%32 != 0 {
		return errors.New("bad certificate_chain")
	}
	if len(chain) >= 32 {
		e.chain0 = chain[:32]
	}
	return nil
}

// decodeMerkleLeaf reads an RFC 6962 get-entries leaf. The leaf hash is
// computed over leaf_input whatever it holds; framing errors are recorded in
// e.decodeErr so that the entry still counts towards the tree and gets a row.
func decodeMerkleLeaf(leafInput, extraData []byte, e *entry) {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leafInput)
	h.Sum(e.leafHash[:0])
	s := cryptobyte.String(leafInput)
	var version, leafType uint8
	if !s.ReadUint8(&version) || !s.ReadUint8(&leafType) || version != 0 || leafType != 0 {
		e.decodeErr = errors.New("MerkleTreeLeaf is not v1 timestamped_entry")
		return
	}
	if err := readTimestampedEntry(&s, e); err != nil {
		e.decodeErr = err
		return
	}
	if !s.Empty() {
		e.decodeErr = errors.New("trailing bytes after MerkleTreeLeaf")
		return
	}
	if e.typ == x509Entry {
		// extra_data is ASN.1Cert certificate_chain<0..2^24-1>.
		x := cryptobyte.String(extraData)
		var chain, first cryptobyte.String
		if x.ReadUint24LengthPrefixed(&chain) && chain.ReadUint24LengthPrefixed(&first) {
			e.chain0 = first
		}
	}
}

// Row is one row of the entries table; see docs/schema.md.
type Row struct {
	Index         int64
	LoggedAt      int64 // ms since the epoch, UTC
	Precert       bool
	Issuer        string
	IssuerKeyHash []byte // nil if unknown
	Serial        string
	NotBefore     int64 // ms since the epoch, UTC
	NotAfter      int64
	DNSNames      []string
	IPAddresses   []string
	CommonName    string
	LeafHash      [32]byte
	// ParseError is set when the certificate could not be parsed at all; the
	// certificate columns are then null. ctx509's non-fatal errors (lax
	// encodings common in real certificates) do not set it.
	ParseError string
}

// parseEntry turns a decoded entry into a row.
func parseEntry(e *entry) Row {
	r := Row{Index: e.index, LoggedAt: int64(e.timestamp), Precert: e.typ == precertEntry,
		LeafHash: e.leafHash, IssuerKeyHash: e.issuerKeyHash}
	if e.decodeErr != nil {
		r.ParseError = "couldn't decode leaf: " + e.decodeErr.Error()
		return r
	}
	if fastParse(&r, e) {
		return r
	}
	c := parseWithCTGo(e)
	c.Index, c.LoggedAt, c.LeafHash, c.IssuerKeyHash = r.Index, r.LoggedAt, r.LeafHash, r.IssuerKeyHash
	return c
}

// parseWithCTGo fills the certificate columns with ct-go's parser.
func parseWithCTGo(e *entry) Row {
	r := Row{Precert: e.typ == precertEntry}
	var c *ctx509.Certificate
	var err error
	if r.Precert {
		c, err = ctx509.ParseTBSCertificate(e.der)
	} else {
		c, err = ctx509.ParseCertificate(e.der)
	}
	if c == nil || ctx509.IsFatal(err) {
		if err == nil {
			err = errors.New("no certificate")
		}
		r.ParseError = err.Error()
		return r
	}
	r.Issuer = c.Issuer.String()
	r.Serial = serialHex(c.SerialNumber)
	r.NotBefore = c.NotBefore.UnixMilli()
	r.NotAfter = c.NotAfter.UnixMilli()
	r.DNSNames = c.DNSNames
	if len(c.IPAddresses) > 0 {
		r.IPAddresses = make([]string, len(c.IPAddresses))
		for i, ip := range c.IPAddresses {
			r.IPAddresses[i] = ip.String()
		}
	}
	r.CommonName = c.Subject.CommonName
	return r
}

// serialHex is the serial number as lowercase hex of its magnitude, with an
// even number of digits and a "-" for the (invalid but logged) negative ones.
func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	b := n.Bytes()
	const digits = "0123456789abcdef"
	var sb strings.Builder
	if n.Sign() < 0 {
		sb.WriteByte('-')
	}
	if len(b) == 0 {
		return "00"
	}
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}

// spkiHash is SHA-256 of a certificate's SubjectPublicKeyInfo, the value
// RFC 6962 calls issuer_key_hash.
func spkiHash(der []byte) ([]byte, error) {
	c, err := ctx509.ParseCertificate(der)
	if c == nil || ctx509.IsFatal(err) {
		return nil, fmt.Errorf("couldn't parse issuer certificate: %w", err)
	}
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return h[:], nil
}

// fastParse fills r with the standard library's X.509 parser, which is
// several times faster than ct-go's reflection-based one, and reports
// whether it could. Anything it refuses (lax encodings, negative serials,
// and so on) goes to ct-go's parser, whose semantics (fatal versus
// non-fatal errors) define the parse_error column. A precert's
// TBSCertificate is wrapped in a Certificate with an empty signature, which
// the standard library accepts because it never checks signatures here.
func fastParse(r *Row, e *entry) bool {
	der := e.der
	if r.Precert {
		der = wrapTBS(e.der)
		if der == nil {
			return false
		}
	}
	c, err := stdx509.ParseCertificate(der)
	if err != nil {
		return false
	}
	r.Issuer = c.Issuer.String()
	r.Serial = serialHex(c.SerialNumber)
	r.NotBefore = c.NotBefore.UnixMilli()
	r.NotAfter = c.NotAfter.UnixMilli()
	r.DNSNames = c.DNSNames
	if len(c.IPAddresses) > 0 {
		r.IPAddresses = make([]string, len(c.IPAddresses))
		for i, ip := range c.IPAddresses {
			r.IPAddresses[i] = ip.String()
		}
	}
	r.CommonName = c.Subject.CommonName
	return true
}

// wrapTBS builds Certificate ::= SEQUENCE { tbs, the TBS's own signature
// AlgorithmIdentifier, BIT STRING {} } around a TBSCertificate.
func wrapTBS(tbs []byte) []byte {
	in := cryptobyte.String(tbs)
	var body, alg cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() {
		return nil
	}
	if !body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !body.SkipASN1(cbasn1.INTEGER) ||
		!body.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1BitString(nil)
	})
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}
