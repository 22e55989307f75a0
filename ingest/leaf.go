package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

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
	// issuerKeyHash is SHA-256 of the issuer's SubjectPublicKeyInfo, for
	// precerts, whose leaf (so the Merkle tree) carries it.
	issuerKeyHash []byte
	// issuer is the first chain certificate of an x509 entry, if any. The
	// chain is outside the Merkle leaf, so it is only believed if its key
	// signed the leaf certificate (see parser.parse).
	issuer *issuerCert
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

// parser parses entries into rows. It caches what repeats across entries
// (issuer names) and reuses a scratch buffer, so each worker has its own;
// the zero value is ready to use.
type parser struct {
	// issuers maps an issuer Name's DER to its string form: a log has few
	// issuers, and formatting the name was a fifth of parsing.
	issuers map[string]string
	// wrap is scratch space for wrapTBS; nothing parsed keeps it.
	wrap []byte
}

// maxCachedIssuers bounds parser.issuers (it is cleared when full).
const maxCachedIssuers = 4096

// parseEntry turns a decoded entry into a row.
func parseEntry(e *entry) Row {
	var p parser
	return p.parse(e)
}

// parse turns a decoded entry into a row. A precert's issuer key hash is
// the one its leaf carries; an x509 entry's is its first chain
// certificate's, and only if that certificate's key signed the entry's
// certificate (otherwise nothing binds the chain to the leaf, and the
// column is null).
func (p *parser) parse(e *entry) Row {
	r := Row{Index: e.index, LoggedAt: int64(e.timestamp), Precert: e.typ == precertEntry,
		LeafHash: e.leafHash, IssuerKeyHash: e.issuerKeyHash}
	if e.decodeErr != nil {
		r.ParseError = "couldn't decode leaf: " + e.decodeErr.Error()
		return r
	}
	if p.fastParse(&r, e) {
		return r
	}
	c := parseWithCTGo(e)
	c.Index, c.LoggedAt, c.LeafHash = r.Index, r.LoggedAt, r.LeafHash
	if c.Precert {
		c.IssuerKeyHash = r.IssuerKeyHash
	}
	return c
}

// issuerCert is an x509 entry's first chain certificate, parsed once per
// log for all the entries it claims to have issued.
type issuerCert struct {
	keyHash []byte               // SHA-256 of its SubjectPublicKeyInfo
	std     *stdx509.Certificate // nil if the standard library refuses it
	ct      *ctx509.Certificate
}

func newIssuerCert(der []byte) (*issuerCert, error) {
	c, err := ctx509.ParseCertificate(der)
	if c == nil || ctx509.IsFatal(err) {
		if err == nil {
			err = errors.New("no certificate")
		}
		return nil, fmt.Errorf("couldn't parse issuer certificate: %w", err)
	}
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	is := &issuerCert{keyHash: h[:], ct: c}
	is.std, _ = stdx509.ParseCertificate(der)
	return is, nil
}

// signedStd reports whether is's key signed leaf (parsed by the standard
// library). Signature checks allow SHA-1, which CT's older entries use:
// the question is who signed, not whether the signature is still strong.
func (is *issuerCert) signedStd(leaf *stdx509.Certificate) bool {
	if is.std == nil {
		return is.signedCT(leaf.Raw)
	}
	return is.std.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
}

// signedCT is signedStd for a leaf only ct-go's parser accepts.
func (is *issuerCert) signedCT(der []byte) bool {
	c, err := ctx509.ParseCertificate(der)
	if c == nil || ctx509.IsFatal(err) {
		return false
	}
	return is.ct.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
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
	if !r.Precert && e.issuer != nil && e.issuer.ct.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
		r.IssuerKeyHash = e.issuer.keyHash
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
	var buf [64]byte
	var b []byte
	if l := (n.BitLen() + 7) / 8; l <= len(buf) {
		b = n.FillBytes(buf[:l]) // the magnitude, as Bytes, without allocating
	} else {
		b = n.Bytes()
	}
	if len(b) == 0 {
		return "00"
	}
	out := make([]byte, 0, 1+2*len(b))
	if n.Sign() < 0 {
		out = append(out, '-')
	}
	return string(hex.AppendEncode(out, b))
}

// fastParse fills r with the standard library's X.509 parser, which is
// several times faster than ct-go's reflection-based one, and reports
// whether it could. Anything it refuses (lax encodings, negative serials,
// and so on) goes to ct-go's parser, whose semantics (fatal versus
// non-fatal errors) define the parse_error column. A precert's
// TBSCertificate is wrapped in a Certificate with an empty signature, which
// the standard library accepts because it never checks signatures here.
func fastParse(r *Row, e *entry) bool {
	var p parser
	return p.fastParse(r, e)
}

func (p *parser) fastParse(r *Row, e *entry) bool {
	der := e.der
	if r.Precert {
		p.wrap = appendWrappedTBS(p.wrap[:0], e.der)
		if p.wrap == nil {
			return false
		}
		der = p.wrap
	}
	// The certificate's raw fields alias der (and so p.wrap): everything
	// kept below is copied out (strings, serialHex, ip.String).
	c, err := stdx509.ParseCertificate(der)
	if err != nil {
		return false
	}
	if !r.Precert {
		r.IssuerKeyHash = nil
		if e.issuer != nil && e.issuer.signedStd(c) {
			r.IssuerKeyHash = e.issuer.keyHash
		}
	}
	r.Issuer = p.issuerString(c)
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

// issuerString is c.Issuer.String(), cached by the issuer's DER (from
// which the standard library derives c.Issuer, so equal DER gives an
// equal string).
func (p *parser) issuerString(c *stdx509.Certificate) string {
	if s, ok := p.issuers[string(c.RawIssuer)]; ok {
		return s
	}
	s := c.Issuer.String()
	if p.issuers == nil || len(p.issuers) >= maxCachedIssuers {
		p.issuers = make(map[string]string)
	}
	p.issuers[string(c.RawIssuer)] = s
	return s
}

// wrapTBS builds Certificate ::= SEQUENCE { tbs, the TBS's own signature
// AlgorithmIdentifier, BIT STRING {} } around a TBSCertificate, or returns
// nil if tbs is not a SEQUENCE holding one.
func wrapTBS(tbs []byte) []byte {
	return appendWrappedTBS(nil, tbs)
}

// appendWrappedTBS appends wrapTBS(tbs) to dst, or returns nil.
func appendWrappedTBS(dst, tbs []byte) []byte {
	in := cryptobyte.String(tbs)
	var body, alg cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !in.Empty() {
		return nil
	}
	if !body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !body.SkipASN1(cbasn1.INTEGER) ||
		!body.ReadASN1Element(&alg, cbasn1.SEQUENCE) {
		return nil
	}
	// Content: the TBS, the algorithm, and an empty BIT STRING (03 01 00).
	n := len(tbs) + len(alg) + 3
	if n >= 1<<24 {
		return nil
	}
	dst = append(dst, 0x30) // SEQUENCE
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 1<<8:
		dst = append(dst, 0x81, byte(n))
	case n < 1<<16:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	dst = append(dst, tbs...)
	dst = append(dst, alg...)
	return append(dst, 0x03, 0x01, 0x00)
}
