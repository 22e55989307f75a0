package ctlogtest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	ct "github.com/google/certificate-transparency-go"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// Server options shared by both protocols.
type Server struct {
	Log *Log
	// Size is the tree size served; it may be changed between runs
	// (with SetSize) to model a growing log.
	size atomic.Int64
	// Before, if set, sees every request first and may answer it itself
	// (return true): the place for injected faults.
	Before func(w http.ResponseWriter, r *http.Request) bool
	// Gzip makes data tiles go out with Content-Encoding: gzip.
	Gzip bool
	// MaxBatch caps get-entries answers (RFC 6962); 0 means 1024.
	MaxBatch int
	// Align makes capped answers stop at the next multiple of MaxBatch,
	// like Trillian-based logs.
	Align bool
	// Mutate, if set, may change a response body before it is sent
	// (tampering tests). path is the request path with query.
	Mutate func(path string, body []byte) []byte

	mu       sync.Mutex
	Requests map[string]int // by first path element after the prefix kind
}

// NewServer serves l at tree size n.
func NewServer(l *Log, n int64) *Server {
	s := &Server{Log: l, Requests: map[string]int{}}
	s.size.Store(n)
	return s
}

// SetSize changes the served tree size.
func (s *Server) SetSize(n int64) { s.size.Store(n) }

// Count returns how many requests of a kind were served ("checkpoint",
// "tile", "data", "issuer", "get-sth", "get-entries", "get-sth-consistency").
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Requests[kind]
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.Requests[kind]++
	s.mu.Unlock()
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, b []byte, gz bool) {
	if s.Mutate != nil {
		b = s.Mutate(r.URL.RequestURI(), b)
	}
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		b = buf.Bytes()
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// Static is an http.Handler for the static-ct-api monitoring prefix "/".
func (s *Server) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Before != nil && s.Before(w, r) {
			return
		}
		n := s.size.Load()
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "checkpoint":
			s.count("checkpoint")
			s.send(w, r, s.Log.Checkpoint(n), false)
		case strings.HasPrefix(p, "issuer/"):
			s.count("issuer")
			der, ok := s.Log.Issuers[strings.TrimPrefix(p, "issuer/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			s.send(w, r, der, false)
		case strings.HasPrefix(p, "tile/"):
			// tlog parses "tile/H/L/..." paths; static-ct-api drops H.
			t, err := tlog.ParseTilePath("tile/8/" + strings.TrimPrefix(p, "tile/"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			// Serve only tiles that exist for a tree of size n: full
			// tiles inside it and the partial tiles of its right edge.
			lvl := max(t.L, 0)
			width := n >> (8 * lvl)
			if t.N*256+int64(t.W) > width || (t.W < 256 && t.N*256+int64(t.W) != width) {
				http.NotFound(w, r)
				return
			}
			b, err := s.Log.TileData(t, n)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if t.L == -1 {
				s.count("data")
			} else {
				s.count("tile")
			}
			s.send(w, r, b, s.Gzip && t.L == -1)
		default:
			http.NotFound(w, r)
		}
	})
}

// RFC6962 is an http.Handler for an RFC 6962 log at "/".
func (s *Server) RFC6962() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Before != nil && s.Before(w, r) {
			return
		}
		n := s.size.Load()
		q := r.URL.Query()
		switch strings.TrimPrefix(r.URL.Path, "/") {
		case "ct/v1/get-sth":
			s.count("get-sth")
			s.send(w, r, s.Log.STH(n), false)
		case "ct/v1/get-entries":
			s.count("get-entries")
			start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
			end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
			if err1 != nil || err2 != nil || start < 0 || end < start || start >= n {
				http.Error(w, "bad range", http.StatusBadRequest)
				return
			}
			end = min(end, n-1)
			mb := int64(s.MaxBatch)
			if mb <= 0 {
				mb = 1024
			}
			if end-start+1 > mb {
				end = start + mb - 1
			}
			if s.Align {
				end = min(end, (start/mb+1)*mb-1)
			}
			var resp ct.GetEntriesResponse
			for i := start; i <= end; i++ {
				e := s.Log.Entries[i]
				resp.Entries = append(resp.Entries, ct.LeafEntry{LeafInput: e.LeafInput, ExtraData: e.ExtraData})
			}
			b, _ := json.Marshal(resp)
			s.send(w, r, b, false)
		case "ct/v1/get-sth-consistency":
			s.count("get-sth-consistency")
			first, err1 := strconv.ParseInt(q.Get("first"), 10, 64)
			second, err2 := strconv.ParseInt(q.Get("second"), 10, 64)
			if err1 != nil || err2 != nil || first <= 0 || first > second || second > n {
				http.Error(w, "bad sizes", http.StatusBadRequest)
				return
			}
			p, err := s.Log.ConsistencyProof(first, second)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			b, _ := json.Marshal(ct.GetSTHConsistencyResponse{Consistency: p})
			s.send(w, r, b, false)
		case "ct/v1/get-proof-by-hash":
			s.count("get-proof-by-hash")
			size, err := strconv.ParseInt(q.Get("tree_size"), 10, 64)
			hash, err2 := base64.StdEncoding.DecodeString(q.Get("hash"))
			if err != nil || err2 != nil || size <= 0 || size > n {
				http.Error(w, "bad hash or tree_size", http.StatusBadRequest)
				return
			}
			for i := int64(0); i < size; i++ {
				if lh := s.Log.Entries[i].LeafHash; bytes.Equal(lh[:], hash) {
					p, err := s.Log.InclusionProof(i, size)
					if err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					b, _ := json.Marshal(ct.GetProofByHashResponse{LeafIndex: i, AuditPath: p})
					s.send(w, r, b, false)
					return
				}
			}
			http.Error(w, "no such leaf", http.StatusNotFound)
		default:
			http.NotFound(w, r)
		}
	})
}

// InclusionProof is the RFC 6962 audit path of leaf index in a tree of size.
func (l *Log) InclusionProof(index, size int64) ([][]byte, error) {
	nodes, err := proof.Inclusion(uint64(index), uint64(size))
	if err != nil {
		return nil, err
	}
	return l.proofHashes(nodes, size)
}

// proofHashes reads a proof's nodes from the tree of size and rehashes
// its ephemeral part, as a log serves it.
func (l *Log) proofHashes(nodes proof.Nodes, size int64) ([][]byte, error) {
	hr := l.HashReader(size)
	idx := make([]int64, len(nodes.IDs))
	for i, id := range nodes.IDs {
		idx[i] = tlog.StoredHashIndex(int(id.Level), int64(id.Index))
	}
	hs, err := hr.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("couldn't read proof nodes: %w", err)
	}
	raw := make([][]byte, len(hs))
	for i := range hs {
		raw[i] = append([]byte(nil), hs[i][:]...)
	}
	return nodes.Rehash(raw, rfc6962.DefaultHasher.HashChildren)
}

// ConsistencyProof is the RFC 6962 consistency proof between two sizes.
func (l *Log) ConsistencyProof(first, second int64) ([][]byte, error) {
	nodes, err := proof.Consistency(uint64(first), uint64(second))
	if err != nil {
		return nil, err
	}
	return l.proofHashes(nodes, second)
}
