package ctlogtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Entry is one log entry in both encodings.
type Entry struct {
	// TileLeaf is the static-ct-api encoding.
	TileLeaf []byte
	// LeafInput and ExtraData are the RFC 6962 get-entries encoding.
	LeafInput, ExtraData []byte
	LeafHash             tlog.Hash
}

// Log is a sample log: entries, issuers and the log's signing key.
type Log struct {
	// Origin is the checkpoint origin (submission prefix without scheme).
	Origin string
	Key    *ecdsa.PrivateKey
	// Issuers maps lowercase hex SHA-256 fingerprints to DER certificates.
	Issuers map[string][]byte
	Entries []Entry
	// Time is the tree head timestamp.
	Time time.Time

	mu     sync.Mutex
	stored []tlog.Hash // tlog stored hashes for Entries[:storedN]
	n      int64

	// distinct certificates and their chains, kept by Generate so that
	// WriteLargeTileDir can build more entries from them.
	distinct []issued
	chains   map[*Issuer][][]byte
}

type issued struct {
	precert bool
	der     []byte // cert or precert
	tbs     []byte
	issuer  *Issuer
}

// PublicKeyDER is the log key as the log list carries it.
func (l *Log) PublicKeyDER() []byte {
	b, _ := x509.MarshalPKIXPublicKey(&l.Key.PublicKey)
	return b
}

// LogID is SHA-256 of the public key.
func (l *Log) LogID() [32]byte { return sha256.Sum256(l.PublicKeyDER()) }

// Options shape a generated log.
type Options struct {
	// Entries is the log size. Required.
	Entries int
	// Distinct caps the number of distinct certificates signed; entries
	// beyond it reuse them with new timestamps (and so new leaf hashes).
	// Signing dominates generation time for big benchmark logs. Default:
	// Entries.
	Distinct int
	// Origin defaults to "ct.example.test/sample".
	Origin string
	// Start is the first entry's timestamp; default 2026-03-01T00:00:00Z.
	Start time.Time
}

// Generate builds a log of Options.Entries entries from a fresh test CA:
// two issuers ("ctlimits Test Encrypt R1", "Other Test CA G2"), alternating
// precertificates and certificates, with DNS names, some IP addresses and
// some names shared between entries like renewals.
func Generate(o Options) (*Log, error) {
	if o.Distinct <= 0 || o.Distinct > o.Entries {
		o.Distinct = o.Entries
	}
	if o.Origin == "" {
		o.Origin = "ct.example.test/sample"
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	ca, err := NewCA("ctlimits Test Encrypt R1", "Other Test CA G2")
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	l := &Log{Origin: o.Origin, Key: key, Issuers: map[string][]byte{}, Time: o.Start.Add(time.Duration(o.Entries+1) * time.Second)}
	for _, is := range append([]*Issuer{ca.Root}, ca.Intermediates...) {
		fp := is.Fingerprint()
		l.Issuers[hex.EncodeToString(fp[:])] = is.Cert.Raw
	}
	distinct := make([]issued, o.Distinct)
	for i := range distinct {
		is := ca.Intermediates[0]
		if i%5 == 4 {
			is = ca.Intermediates[1]
		}
		// Pairs of precert and final certificate share names, like
		// real issuance; every 7th name set repeats an earlier one, like
		// a renewal.
		site := i / 2
		if site%7 == 6 {
			site -= 6
		}
		names := []string{fmt.Sprintf("www.site%d.example", site), fmt.Sprintf("site%d.example", site)}
		if site%3 == 0 {
			names = append(names, fmt.Sprintf("*.apps%d.example.org", site))
		}
		var ips []net.IP
		if site%11 == 0 {
			ips = []net.IP{net.IPv4(192, 0, 2, byte(site%250+1)), net.ParseIP("2001:db8::" + strconv.Itoa(site%9999))}
		}
		nb := o.Start.Add(time.Duration(i) * time.Second).Truncate(time.Second)
		lf := &Leaf{Issuer: is, Precert: i%2 == 0, Serial: new(big.Int).SetUint64(uint64(0x0300000000000000) + uint64(i)*7919),
			DNSNames: names, IPs: ips, CN: names[0], NotBefore: nb, NotAfter: nb.Add(90 * 24 * time.Hour)}
		der, tbs, err := lf.Issue()
		if err != nil {
			return nil, err
		}
		distinct[i] = issued{lf.Precert, der, tbs, is}
	}
	l.distinct = distinct
	l.chains = map[*Issuer][][]byte{}
	for _, is := range ca.Intermediates {
		l.chains[is] = [][]byte{is.Cert.Raw, ca.Root.Cert.Raw}
	}
	for i := 0; i < o.Entries; i++ {
		l.Entries = append(l.Entries, l.entry(int64(i), o.Start))
	}
	return l, nil
}

// BuildEntry encodes one entry for both protocols. For a precert, der is
// the precertificate and tbs the poison-free TBSCertificate.
func BuildEntry(index int64, ts uint64, precert bool, der, tbs []byte, issuerKeyHash [32]byte, chain [][]byte) Entry {
	var te cryptobyte.Builder
	te.AddUint64(ts)
	if precert {
		te.AddUint16(1)
		te.AddBytes(issuerKeyHash[:])
		te.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(tbs) })
	} else {
		te.AddUint16(0)
		te.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
	}
	// CtExtensions with the leaf_index extension static-ct-api requires.
	te.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddBytes([]byte{byte(index >> 32), byte(index >> 24), byte(index >> 16), byte(index >> 8), byte(index)})
		})
	})
	teb := te.BytesOrPanic()

	var tl cryptobyte.Builder
	tl.AddBytes(teb)
	if precert {
		tl.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
	}
	tl.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, c := range chain {
			fp := sha256.Sum256(c)
			b.AddBytes(fp[:])
		}
	})

	leafInput := append([]byte{0, 0}, teb...)
	var ex cryptobyte.Builder
	if precert {
		ex.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(der) })
	}
	ex.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, c := range chain {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
		}
	})
	return Entry{TileLeaf: tl.BytesOrPanic(), LeafInput: leafInput, ExtraData: ex.BytesOrPanic(), LeafHash: tlog.RecordHash(leafInput)}
}

// storedHashes returns tlog's stored hashes covering the first n entries.
func (l *Log) storedHashes(n int64) []tlog.Hash {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = l.stored[x]
		}
		return out, nil
	})
	for ; l.n < n; l.n++ {
		hs, err := tlog.StoredHashesForRecordHash(l.n, l.Entries[l.n].LeafHash, r)
		if err != nil {
			panic(err)
		}
		l.stored = append(l.stored, hs...)
	}
	return l.stored[:tlog.StoredHashCount(n)]
}

// HashReader reads stored hashes of the first n entries.
func (l *Log) HashReader(n int64) tlog.HashReader {
	st := l.storedHashes(n)
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(st)) {
				return nil, errors.New("hash index out of range")
			}
			out[i] = st[x]
		}
		return out, nil
	})
}

// Root is the Merkle tree hash of the first n entries.
func (l *Log) Root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, l.HashReader(n))
	if err != nil {
		panic(err)
	}
	return h
}

func (l *Log) keyHash() uint32 {
	id := l.LogID()
	h := sha256.New()
	h.Write([]byte(l.Origin))
	h.Write([]byte{0x0A, 0x05})
	h.Write(id[:])
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// signTreeHead signs RFC 6962's TreeHeadSignature and returns the TLS
// DigitallySigned bytes.
func (l *Log) signTreeHead(ts uint64, size int64, root tlog.Hash) []byte {
	var m [50]byte
	m[0], m[1] = 0, 1 // v1, tree_hash
	binary.BigEndian.PutUint64(m[2:], ts)
	binary.BigEndian.PutUint64(m[10:], uint64(size))
	copy(m[18:], root[:])
	d := sha256.Sum256(m[:])
	sig, err := ecdsa.SignASN1(rand.Reader, l.Key, d[:])
	if err != nil {
		panic(err)
	}
	ds, err := tls.Marshal(ct.DigitallySigned{Algorithm: tls.SignatureAndHashAlgorithm{Hash: tls.SHA256, Signature: tls.ECDSA}, Signature: sig})
	if err != nil {
		panic(err)
	}
	return ds
}

type noteSigner struct {
	l  *Log
	ts uint64
}

func (s noteSigner) Name() string    { return s.l.Origin }
func (s noteSigner) KeyHash() uint32 { return s.l.keyHash() }
func (s noteSigner) Sign(msg []byte) ([]byte, error) {
	lines := strings.Split(string(msg), "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	root, _ := base64.StdEncoding.DecodeString(lines[2])
	var h tlog.Hash
	copy(h[:], root)
	return append(binary.BigEndian.AppendUint64(nil, s.ts), s.l.signTreeHead(s.ts, size, h)...), nil
}

// Checkpoint is a signed static-ct-api checkpoint for the first n entries.
func (l *Log) Checkpoint(n int64) []byte {
	root := l.Root(n)
	text := fmt.Sprintf("%s\n%d\n%s\n", l.Origin, n, base64.StdEncoding.EncodeToString(root[:]))
	b, err := note.Sign(&note.Note{Text: text}, noteSigner{l, uint64(l.Time.UnixMilli())})
	if err != nil {
		panic(err)
	}
	return b
}

// STH is a signed get-sth response for the first n entries.
func (l *Log) STH(n int64) []byte {
	root := l.Root(n)
	ts := uint64(l.Time.UnixMilli())
	b, _ := json.Marshal(ct.GetSTHResponse{TreeSize: uint64(n), Timestamp: ts, SHA256RootHash: root[:], TreeHeadSignature: l.signTreeHead(ts, n, root)})
	return b
}

// TilePath is the static-ct-api path of t.
func TilePath(t tlog.Tile) string { return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/") }

// TileData is the content of tile t (a hash tile, or a data tile if t.L
// is -1) for a tree of n entries.
func (l *Log) TileData(t tlog.Tile, n int64) ([]byte, error) {
	if t.L == -1 {
		first := t.N * 256
		if first+int64(t.W) > int64(len(l.Entries)) {
			return nil, errors.New("data tile past the end")
		}
		var b bytes.Buffer
		for i := first; i < first+int64(t.W); i++ {
			b.Write(l.Entries[i].TileLeaf)
		}
		return b.Bytes(), nil
	}
	return tlog.ReadTileData(t, l.HashReader(n))
}

// WriteTiles writes the tile directory of the first n entries: the
// checkpoint, every hash and data tile (full and the partial ones the
// checkpoint needs), and the issuers.
func (l *Log) WriteTiles(dir string, n int64) error {
	write := func(p string, b []byte) error {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	for _, t := range tlog.NewTiles(8, 0, n) {
		b, err := l.TileData(t, n)
		if err != nil {
			return err
		}
		if err := write(TilePath(t), b); err != nil {
			return err
		}
		if t.L == 0 {
			dt := t
			dt.L = -1
			b, err := l.TileData(dt, n)
			if err != nil {
				return err
			}
			if err := write(TilePath(dt), b); err != nil {
				return err
			}
		}
	}
	for fp, der := range l.Issuers {
		if err := write("issuer/"+fp, der); err != nil {
			return err
		}
	}
	return write("checkpoint", l.Checkpoint(n))
}

// keyFile is log.json in a sample log directory.
type keyFile struct {
	Comment    string `json:"comment"`
	Origin     string `json:"origin"`
	PublicKey  []byte `json:"public_key"`
	PrivateKey string `json:"private_key_pem"`
	Time       int64  `json:"time_ms"`
	Entries    int    `json:"entries"`
}

// Save writes the tile directory for all entries and log.json, which holds
// the test log's keys so tests can sign other tree heads.
func (l *Log) Save(dir string) error {
	if err := l.WriteTiles(dir, int64(len(l.Entries))); err != nil {
		return err
	}
	return l.writeKeyFile(dir, int64(len(l.Entries)))
}

// writeKeyFile writes log.json for a log of n entries.
func (l *Log) writeKeyFile(dir string, n int64) error {
	kb, err := x509.MarshalECPrivateKey(l.Key)
	if err != nil {
		return err
	}
	kf := keyFile{
		Comment:    "Test log key for ctlimits tests. Not secret, trusted by nothing.",
		Origin:     l.Origin,
		PublicKey:  l.PublicKeyDER(),
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})),
		Time:       l.Time.UnixMilli(),
		Entries:    int(n),
	}
	b, _ := json.MarshalIndent(kf, "", "  ")
	return os.WriteFile(filepath.Join(dir, "log.json"), append(b, '\n'), 0o644)
}

// Load reads a sample log written by Save, rebuilding both encodings of
// every entry from its data tiles and issuers.
func Load(dir string) (*Log, error) {
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, err
	}
	blk, _ := pem.Decode([]byte(kf.PrivateKey))
	if blk == nil {
		return nil, errors.New("log.json: no private key")
	}
	key, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	l := &Log{Origin: kf.Origin, Key: key, Issuers: map[string][]byte{}, Time: time.UnixMilli(kf.Time).UTC()}
	des, err := os.ReadDir(filepath.Join(dir, "issuer"))
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		der, err := os.ReadFile(filepath.Join(dir, "issuer", de.Name()))
		if err != nil {
			return nil, err
		}
		l.Issuers[de.Name()] = der
	}
	n := int64(kf.Entries)
	for tn := int64(0); tn*256 < n; tn++ {
		w := int(min(256, n-tn*256))
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(TilePath(tlog.Tile{H: 8, L: -1, N: tn, W: w}))))
		if err != nil {
			return nil, err
		}
		s := cryptobyte.String(data)
		for i := 0; i < w; i++ {
			e, err := l.entryFromTileLeaf(&s)
			if err != nil {
				return nil, fmt.Errorf("tile %d entry %d: %w", tn, i, err)
			}
			l.Entries = append(l.Entries, e)
		}
	}
	return l, nil
}

func (l *Log) entryFromTileLeaf(s *cryptobyte.String) (Entry, error) {
	start := *s
	var ts uint64
	var typ uint16
	var cert, tbs, ext, pre, chain cryptobyte.String
	var ikh []byte
	if !s.ReadUint64(&ts) || !s.ReadUint16(&typ) {
		return Entry{}, errors.New("truncated")
	}
	if typ == 0 {
		if !s.ReadUint24LengthPrefixed(&cert) {
			return Entry{}, errors.New("truncated cert")
		}
	} else if !s.ReadBytes(&ikh, 32) || !s.ReadUint24LengthPrefixed(&tbs) {
		return Entry{}, errors.New("truncated precert")
	}
	if !s.ReadUint16LengthPrefixed(&ext) {
		return Entry{}, errors.New("truncated extensions")
	}
	te := start[:len(start)-len(*s)]
	if typ == 1 && !s.ReadUint24LengthPrefixed(&pre) {
		return Entry{}, errors.New("truncated pre_certificate")
	}
	if !s.ReadUint16LengthPrefixed(&chain) {
		return Entry{}, errors.New("truncated chain")
	}
	var certs [][]byte
	for len(chain) >= 32 {
		der, ok := l.Issuers[hex.EncodeToString(chain[:32])]
		if !ok {
			return Entry{}, errors.New("unknown issuer")
		}
		certs = append(certs, der)
		chain = chain[32:]
	}
	tl := start[:len(start)-len(*s)]
	leafInput := append([]byte{0, 0}, te...)
	var ex cryptobyte.Builder
	if typ == 1 {
		ex.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(pre) })
	}
	ex.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, c := range certs {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
		}
	})
	return Entry{TileLeaf: append([]byte(nil), tl...), LeafInput: leafInput, ExtraData: ex.BytesOrPanic(), LeafHash: tlog.RecordHash(leafInput)}, nil
}

// SignedCheckpoint signs a checkpoint for any tree head with key, as a
// static-ct-api log with that origin would.
func SignedCheckpoint(key *ecdsa.PrivateKey, origin string, size int64, root tlog.Hash, ts time.Time) []byte {
	l := &Log{Origin: origin, Key: key}
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
	b, err := note.Sign(&note.Note{Text: text}, noteSigner{l, uint64(ts.UnixMilli())})
	if err != nil {
		panic(err)
	}
	return b
}

// SignedSTH signs a get-sth response for any tree head with key.
func SignedSTH(key *ecdsa.PrivateKey, size int64, root tlog.Hash, ts time.Time) []byte {
	l := &Log{Key: key}
	t := uint64(ts.UnixMilli())
	b, _ := json.Marshal(ct.GetSTHResponse{TreeSize: uint64(size), Timestamp: t, SHA256RootHash: root[:], TreeHeadSignature: l.signTreeHead(t, size, root)})
	return b
}

func (l *Log) entry(i int64, start time.Time) Entry {
	d := l.distinct[i%int64(len(l.distinct))]
	ts := uint64(start.UnixMilli()) + uint64(i)*37
	return BuildEntry(i, ts, d.precert, d.der, d.tbs, d.issuer.SPKIHash(), l.chains[d.issuer])
}

// WriteLargeTileDir writes a tile directory of n entries built from the
// log's distinct certificates (cycled, each with its own timestamp and so
// its own leaf hash), streaming: only leaf hashes stay in memory. It is for
// benchmarks; l.Entries is not extended.
func (l *Log) WriteLargeTileDir(dir string, n int64, start time.Time) error {
	big := &Log{Origin: l.Origin, Key: l.Key, Issuers: l.Issuers, Time: l.Time}
	write := func(p string, b []byte) error {
		p = filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	var buf bytes.Buffer
	for i := int64(0); i < n; i++ {
		e := l.entry(i, start)
		buf.Write(e.TileLeaf)
		big.Entries = append(big.Entries, Entry{LeafHash: e.LeafHash})
		if (i+1)%256 == 0 || i == n-1 {
			w := int((i % 256) + 1)
			t := tlog.Tile{H: 8, L: -1, N: i / 256, W: w}
			if err := write(TilePath(t), buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
		}
	}
	for _, t := range tlog.NewTiles(8, 0, n) {
		b, err := big.TileData(t, n)
		if err != nil {
			return err
		}
		if err := write(TilePath(t), b); err != nil {
			return err
		}
	}
	for fp, der := range l.Issuers {
		if err := write("issuer/"+fp, der); err != nil {
			return err
		}
	}
	return write("checkpoint", big.Checkpoint(n))
}
