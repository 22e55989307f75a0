package ingest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is fixed by static-ct-api: every tile is 2^8 hashes wide.
const tileHeight = 8

const tileWidth = 1 << tileHeight

// staticSource reads a C2SP static-ct-api log: checkpoint, data tiles, hash
// tiles and issuers, over HTTP(S) or from a file:// directory.
type staticSource struct {
	log      *loglist.Log
	f        *fetcher
	verifier note.Verifier

	mu      sync.Mutex
	tiles   map[tlog.Tile][]byte // verified hash tiles (immutable once verified)
	issuers map[[32]byte]*issuerResult
}

type issuerResult struct {
	once sync.Once
	cert *issuerCert
	err  error
}

func newStaticSource(log *loglist.Log, cfg HTTPConfig) (*staticSource, error) {
	f, err := newFetcher(log.URL, log.Description, cfg)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(log.Key)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the key of %s: %w", log.Description, err)
	}
	vkey, err := fnote.RFC6962VerifierString("https://"+log.Origin(), pub)
	if err != nil {
		return nil, fmt.Errorf("couldn't make a checkpoint verifier for origin %q: %w", log.Origin(), err)
	}
	v, err := fnote.NewRFC6962Verifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("couldn't make a checkpoint verifier for origin %q: %w", log.Origin(), err)
	}
	return &staticSource{log: log, f: f, verifier: v,
		tiles: map[tlog.Tile][]byte{}, issuers: map[[32]byte]*issuerResult{}}, nil
}

func (s *staticSource) retries() int64 { return s.f.retries.Load() }

// tilePath is the static-ct-api path of a tile: tlog's layout without the
// height element ("tile/0/x001/234", "tile/data/000.p/7").
func tilePath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

func (s *staticSource) latest(ctx context.Context) (treeHead, error) {
	b, err := s.f.get(ctx, "checkpoint")
	if err != nil {
		return treeHead{}, err
	}
	th, err := s.parseHead(b)
	if err != nil {
		return treeHead{}, fmt.Errorf("couldn't verify checkpoint of %s: %w", s.log.Description, err)
	}
	return th, nil
}

func (s *staticSource) parseHead(b []byte) (treeHead, error) {
	return parseCheckpoint(b, s.verifier, s.log.Origin())
}

// parseCheckpoint opens a signed checkpoint: the log's RFC 6962 note
// signature must verify and the origin line must be the log's origin.
func parseCheckpoint(b []byte, v note.Verifier, origin string) (treeHead, error) {
	n, err := note.Open(b, note.VerifierList(v))
	if err != nil {
		return treeHead{}, fmt.Errorf("signature: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return treeHead{}, errors.New("checkpoint has fewer than three lines")
	}
	if lines[0] != origin {
		return treeHead{}, fmt.Errorf("checkpoint origin %q, want %q", lines[0], origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || size > maxTreeSize {
		return treeHead{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return treeHead{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	th := treeHead{Size: size, Raw: string(b)}
	copy(th.Root[:], root)
	// The RFC 6962 note signature is key hash (4 bytes), then the STH
	// timestamp in ms (8 bytes), then the TLS signature.
	if sig, err := base64.StdEncoding.DecodeString(n.Sigs[0].Base64); err == nil && len(sig) >= 12 {
		th.Timestamp = binary.BigEndian.Uint64(sig[4:12])
	}
	return th, nil
}

// jobs cuts [start, end) into one job per data tile.
func (s *staticSource) jobs(start, end int64) []job {
	var js []job
	for n := start / tileWidth; n*tileWidth < end; n++ {
		js = append(js, job{start: max(start, n*tileWidth), end: min(end, (n+1)*tileWidth)})
	}
	return js
}

// fetch reads the data tile holding job j and decodes its entries.
func (s *staticSource) fetch(ctx context.Context, j job, th treeHead) ([]entry, error) {
	n := j.start / tileWidth
	w := int(min(th.Size-n*tileWidth, tileWidth))
	t := tlog.Tile{H: tileHeight, L: -1, N: n, W: w}
	data, err := s.readTile(ctx, t)
	if err != nil {
		return nil, err
	}
	str := cryptobyte.String(data)
	out := make([]entry, 0, j.end-j.start)
	for i := n * tileWidth; i < j.end; i++ {
		var e entry
		if err := decodeTileLeaf(&str, &e); err != nil {
			return nil, fmt.Errorf("couldn't decode entry %d in %s: %w", i, tilePath(t), err)
		}
		if i < j.start {
			continue
		}
		e.index = i
		if e.typ == x509Entry && e.chain0 != nil {
			if e.issuer, err = s.issuerCert(ctx, e.chain0); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// readTile fetches a tile. A partial tile may already have been replaced by
// its full tile (static-ct-api lets logs drop partial tiles then), so a 404
// on a partial tile falls back to the full one, cut to width.
func (s *staticSource) readTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	b, err := s.f.get(ctx, tilePath(t))
	if err == nil || t.W == tileWidth || !errors.Is(err, errNotFound) {
		return b, err
	}
	full := t
	full.W = tileWidth
	b, ferr := s.f.get(ctx, tilePath(full))
	if ferr != nil {
		return nil, err
	}
	if t.L < 0 {
		return b, nil // the decoder stops after W entries
	}
	if len(b) < t.W*tlog.HashSize {
		return nil, fmt.Errorf("couldn't use %s for %s: too short", tilePath(full), tilePath(t))
	}
	return b[:t.W*tlog.HashSize], nil
}

// issuerCert fetches the issuer certificate with fingerprint fp, once per
// fingerprint.
func (s *staticSource) issuerCert(ctx context.Context, fp []byte) (*issuerCert, error) {
	var key [32]byte
	copy(key[:], fp)
	s.mu.Lock()
	r := s.issuers[key]
	if r == nil {
		r = &issuerResult{}
		s.issuers[key] = r
	}
	s.mu.Unlock()
	r.once.Do(func() {
		path := "issuer/" + hex.EncodeToString(fp)
		der, err := s.f.get(ctx, path)
		if err != nil {
			r.err = err
			return
		}
		if sum := sha256Sum(der); !bytes.Equal(sum[:], fp) {
			r.err = fmt.Errorf("couldn't use %s: content does not hash to its fingerprint", path)
			return
		}
		r.cert, r.err = newIssuerCert(der)
		if r.err != nil {
			r.err = fmt.Errorf("%s: %w", path, r.err)
		}
	})
	if r.err != nil {
		// Forget failures, so a later entry can try again after a
		// transient error rather than inheriting it.
		s.mu.Lock()
		if s.issuers[key] == r {
			delete(s.issuers, key)
		}
		s.mu.Unlock()
	}
	return r.cert, r.err
}

// hashReader returns a tlog.HashReader over this log's hash tiles that
// authenticates every tile it reads against th.
func (s *staticSource) hashReader(ctx context.Context, th treeHead) tlog.HashReader {
	return tlog.TileHashReader(tlog.Tree{N: th.Size, Hash: tlog.Hash(th.Root)}, &tileReader{ctx: ctx, s: s})
}

// prove checks that root is the Merkle tree hash of the first size entries
// of the tree th, with a consistency proof built from hash tiles.
func (s *staticSource) prove(ctx context.Context, th treeHead, size int64, root [32]byte) error {
	if size == th.Size {
		if root != th.Root {
			return fmt.Errorf("entries [0, %d) hash to %s, the checkpoint says %s", size, b64(root[:]), b64(th.Root[:]))
		}
		return nil
	}
	if size == 0 {
		return nil
	}
	p, err := tlog.ProveTree(th.Size, size, s.hashReader(ctx, th))
	if err != nil {
		return fmt.Errorf("couldn't build consistency proof %d -> %d from hash tiles: %w", size, th.Size, err)
	}
	if err := tlog.CheckTree(p, th.Size, tlog.Hash(th.Root), size, tlog.Hash(root)); err != nil {
		return fmt.Errorf("entries [0, %d) are not a prefix of the tree of size %d: %w", size, th.Size, err)
	}
	return nil
}

// frontier reads the compact range [0, size) from hash tiles, so that an
// ingest can start in the middle of a log.
func (s *staticSource) frontier(ctx context.Context, th treeHead, size int64) ([][]byte, error) {
	ids := compact.RangeNodes(0, uint64(size), nil)
	idx := make([]int64, len(ids))
	for i, id := range ids {
		idx[i] = tlog.StoredHashIndex(int(id.Level), int64(id.Index))
	}
	hs, err := s.hashReader(ctx, th).ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the Merkle frontier at %d from hash tiles: %w", size, err)
	}
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out, nil
}

// tileReader adapts the fetcher to tlog.TileReader, caching tiles once
// tlog has authenticated them.
type tileReader struct {
	ctx context.Context
	s   *staticSource
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		r.s.mu.Lock()
		b, ok := r.s.tiles[t]
		r.s.mu.Unlock()
		if ok {
			out[i] = b
			continue
		}
		b, err := r.s.readTile(r.ctx, t)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for i, t := range tiles {
		// Level-0 tiles are only read at the edges; keeping them would
		// grow the cache with the log for no reuse.
		if t.L > 0 || t.W < tileWidth {
			r.s.tiles[t] = data[i]
		}
	}
}
