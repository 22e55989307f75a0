package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	ct "github.com/google/certificate-transparency-go"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// rfcSource reads an RFC 6962 log with get-sth, get-entries and
// get-sth-consistency. Requests go through our fetcher (not ct-go's
// scanner.Fetcher, which retries 429s without waiting); the response types
// and the STH signature check are ct-go's.
type rfcSource struct {
	log      *loglist.Log
	f        *fetcher
	verifier *ct.SignatureVerifier
	// batch is the number of entries asked for per request, discovered
	// from the server's first answer (see discoverBatch); requests are
	// aligned to it because servers that cap batches also align them.
	batch int64

	issuers sync.Map  // [32]byte fingerprint -> *issuerCert
	bodies  sync.Pool // *[]byte for get-entries bodies
}

// maxPooledBody is the largest get-entries body buffer kept for reuse.
const maxPooledBody = 8 << 20

// maxBatch is the most entries ever asked for in one get-entries request.
const maxBatch = 1024

func newRFCSource(log *loglist.Log, cfg HTTPConfig, batch int64) (*rfcSource, error) {
	f, err := newFetcher(log.URL, log.Description, cfg)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(log.Key)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse the key of %s: %w", log.Description, err)
	}
	v, err := ct.NewSignatureVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("couldn't use the key of %s: %w", log.Description, err)
	}
	return &rfcSource{log: log, f: f, verifier: v, batch: batch}, nil
}

func (s *rfcSource) retries() int64 { return s.f.retries.Load() }

func (s *rfcSource) latest(ctx context.Context) (treeHead, error) {
	b, err := s.f.get(ctx, "ct/v1/get-sth")
	if err != nil {
		return treeHead{}, err
	}
	th, err := s.parseHead(b)
	if err != nil {
		return treeHead{}, fmt.Errorf("couldn't verify get-sth of %s: %w", s.log.Description, err)
	}
	return th, nil
}

// parseHead parses and verifies a get-sth response.
func (s *rfcSource) parseHead(b []byte) (treeHead, error) {
	var resp ct.GetSTHResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return treeHead{}, fmt.Errorf("couldn't parse: %w", err)
	}
	sth, err := resp.ToSignedTreeHead()
	if err != nil {
		return treeHead{}, fmt.Errorf("couldn't parse: %w", err)
	}
	if err := s.verifier.VerifySTHSignature(*sth); err != nil {
		return treeHead{}, fmt.Errorf("signature: %w", err)
	}
	if sth.TreeSize > maxTreeSize {
		return treeHead{}, fmt.Errorf("absurd tree size %d", sth.TreeSize)
	}
	return treeHead{Size: int64(sth.TreeSize), Root: sth.SHA256RootHash, Timestamp: sth.Timestamp, Raw: string(b)}, nil
}

// getEntries asks for [start, end) and returns what the server sent, which
// may be fewer entries (RFC 6962 4.6 lets logs cap batches) but never more.
func (s *rfcSource) getEntries(ctx context.Context, start, end int64) ([]ct.LeafEntry, error) {
	path := fmt.Sprintf("ct/v1/get-entries?start=%d&end=%d", start, end-1)
	// The body is only read here: decodeGetEntries copies the entries out,
	// so the buffer goes back to the pool.
	buf, _ := s.bodies.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer func() {
		if cap(*buf) <= maxPooledBody {
			s.bodies.Put(buf)
		}
	}()
	b, err := s.f.getInto(ctx, path, buf)
	if err != nil {
		return nil, err
	}
	es, err := decodeGetEntries(b)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse %s: %w", path, err)
	}
	if int64(len(es)) > end-start {
		return nil, fmt.Errorf("%s returned %d entries, more than the %d asked for", path, len(es), end-start)
	}
	return es, nil
}

// discoverBatch learns the server's batch cap with one request at start.
// A server that caps at k and aligns to k answers a request at start with
// k - start%k entries, so the cap is taken as the smallest power of two
// that is at least the answer — exact for every cap in the wild (32 to
// 1024, all powers of two), and harmless otherwise because short answers
// are followed up anyway.
func (s *rfcSource) discoverBatch(ctx context.Context, start, end int64) error {
	if s.batch > 0 || start >= end {
		return nil
	}
	es, err := s.getEntries(ctx, start, min(end, start+maxBatch))
	if err != nil {
		return err
	}
	k := int64(1)
	for k < int64(len(es)) {
		k <<= 1
	}
	s.batch = min(k, maxBatch)
	return nil
}

// jobs cuts [start, end) at multiples of the batch size.
func (s *rfcSource) jobs(start, end int64) []job {
	b := s.batch
	if b <= 0 {
		b = maxBatch
	}
	var js []job
	for i := start; i < end; {
		next := min(end, (i/b+1)*b)
		js = append(js, job{start: i, end: next})
		i = next
	}
	return js
}

// fetch gets exactly [j.start, j.end), following up short answers.
func (s *rfcSource) fetch(ctx context.Context, j job, _ treeHead) ([]entry, error) {
	out := make([]entry, 0, j.end-j.start)
	empty := 0
	for i := j.start; i < j.end; {
		les, err := s.getEntries(ctx, i, j.end)
		if err != nil {
			return nil, err
		}
		if len(les) == 0 {
			// An empty answer inside the tree is a server hiccup (its
			// backend lagging behind its STH); give it the retry budget.
			empty++
			if empty > s.f.cfg.MaxRetries {
				return nil, fmt.Errorf("couldn't fetch entries from %d: the log keeps returning none", i)
			}
			if err := s.f.cfg.Sleep(ctx, s.f.backoff(empty)); err != nil {
				return nil, err
			}
			continue
		}
		for _, le := range les {
			e := entry{index: i}
			decodeMerkleLeaf(le.LeafInput, le.ExtraData, &e)
			if e.typ == x509Entry && e.chain0 != nil && e.decodeErr == nil {
				e.issuer = s.issuerCert(e.chain0)
			}
			out = append(out, e)
			i++
		}
	}
	return out, nil
}

// issuerCert parses an x509 entry's first chain certificate, caching by
// fingerprint: a log has few issuers and many entries. Nil if it does not
// parse (the entry's issuer key hash is then unknown).
func (s *rfcSource) issuerCert(der []byte) *issuerCert {
	fp := sha256.Sum256(der)
	if is, ok := s.issuers.Load(fp); ok {
		return is.(*issuerCert)
	}
	is, err := newIssuerCert(der)
	if err != nil {
		return nil
	}
	s.issuers.Store(fp, is)
	return is
}

func (s *rfcSource) prove(ctx context.Context, th treeHead, size int64, root [32]byte) error {
	if size == th.Size {
		if root != th.Root {
			return fmt.Errorf("entries [0, %d) hash to %s, the STH says %s", size, b64(root[:]), b64(th.Root[:]))
		}
		return nil
	}
	if size == 0 {
		return nil
	}
	path := fmt.Sprintf("ct/v1/get-sth-consistency?first=%d&second=%d", size, th.Size)
	b, err := s.f.get(ctx, path)
	if err != nil {
		return err
	}
	var resp ct.GetSTHConsistencyResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("couldn't parse %s: %w", path, err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(size), uint64(th.Size), resp.Consistency, root[:], th.Root[:]); err != nil {
		return fmt.Errorf("entries [0, %d) are not a prefix of the tree of size %d: %w", size, th.Size, readableProofError(err))
	}
	return nil
}

// frontier builds the compact range [0, size) of an RFC 6962 log, so an
// ingest can start in the middle of it. RFC 6962 has no way to ask for
// interior nodes, but an audit path carries them: every left sibling on
// the path of leaf size-1 is a perfect subtree left of it, and together
// they are exactly the compact range [0, size-1). So: fetch that leaf,
// get-proof-by-hash it in the signed tree, verify the proof against the
// signed root, keep the left siblings, and append the leaf. Everything
// ingested afterwards is verified against later roots through this range,
// so a wrong node could never go unnoticed.
func (s *rfcSource) frontier(ctx context.Context, th treeHead, size int64) ([][]byte, error) {
	if size == 0 {
		return nil, nil
	}
	idx := size - 1
	es, err := s.getEntries(ctx, idx, size)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("couldn't start at %d: the log returned no entry %d", size, idx)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(es[0].LeafInput)
	path := fmt.Sprintf("ct/v1/get-proof-by-hash?hash=%s&tree_size=%d", url.QueryEscape(base64.StdEncoding.EncodeToString(leaf)), th.Size)
	b, err := s.f.get(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("couldn't start at %d: %w", size, err)
	}
	var resp ct.GetProofByHashResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("couldn't parse %s: %w", path, err)
	}
	if resp.LeafIndex != idx {
		return nil, fmt.Errorf("couldn't start at %d: the log proves entry %d's leaf at index %d (an identical leaf); choose another --from", size, idx, resp.LeafIndex)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(idx), uint64(th.Size), leaf, resp.AuditPath, th.Root[:]); err != nil {
		return nil, fmt.Errorf("couldn't start at %d: the inclusion proof of entry %d does not verify against the signed tree head: %w", size, idx, readableProofError(err))
	}
	nodes, err := proof.Inclusion(uint64(idx), uint64(th.Size))
	if err != nil {
		return nil, err
	}
	// The served path has the ephemeral nodes IDs[begin:end] rehashed into
	// one hash; they lie right of the leaf, so no left sibling is among them.
	_, begin, end := nodes.Ephem()
	left := map[compact.NodeID][]byte{}
	for i, p := 0, 0; i < len(nodes.IDs) && p < len(resp.AuditPath); p++ {
		if i >= begin && i < end {
			i = end
			continue
		}
		if id := nodes.IDs[i]; (id.Index+1)<<id.Level <= uint64(idx) {
			left[id] = resp.AuditPath[p]
		}
		i++
	}
	ids := compact.RangeNodes(0, uint64(idx), nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := left[id]
		if !ok {
			return nil, fmt.Errorf("couldn't start at %d: the audit path lacks node %+v", size, id)
		}
		hashes[i] = h
	}
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	cr, err := rf.NewRange(0, uint64(idx), hashes)
	if err != nil {
		return nil, err
	}
	if err := cr.Append(leaf, nil); err != nil {
		return nil, err
	}
	return cr.Hashes(), nil
}

// readableProofError rewrites transparency-dev/merkle's root mismatch,
// which prints both hashes as Go byte slices over several lines, into one
// line with base64 hashes (as log lists and ct-go show them).
func readableProofError(err error) error {
	var rm proof.RootMismatchError
	if errors.As(err, &rm) {
		return fmt.Errorf("the proof leads to root %s, not %s", b64(rm.CalculatedRoot), b64(rm.ExpectedRoot))
	}
	return err
}
