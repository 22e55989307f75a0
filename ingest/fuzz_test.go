package ingest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/mod/sumdb/tlog"
)

// Fuzz tests for the parsers of untrusted input: data tiles, get-entries
// answers, checkpoints (from the log) and state files (from disk). Each
// must turn any input into rows or an error, never a panic. Seeds come
// from the sample log and, when present, the real fixtures.

// fixtureSeed reads a fixture file, cut to at most n bytes (the fuzzer is
// slow on large inputs), or nil when the fixtures are absent.
func fixtureSeed(name string, n int) []byte {
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		return nil
	}
	return b[:min(len(b), n)]
}

func FuzzDataTile(f *testing.F) {
	l := mustSample(f)
	var tile []byte
	for _, e := range l.Entries[:4] {
		tile = append(tile, e.TileLeaf...)
	}
	f.Add(tile)
	f.Add(l.Entries[1].TileLeaf)
	for _, name := range []string{"tesseract-example/data_tile", "navigli2025h2/tile/data/000"} {
		if b := fixtureSeed(name, 8<<10); b != nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := cryptobyte.String(b)
		var p parser
		for n := 0; !s.Empty(); n++ {
			before := len(s)
			var e entry
			if err := decodeTileLeaf(&s, &e); err != nil {
				if err.Error() == "" {
					t.Fatal("an empty error")
				}
				return
			}
			if len(s) >= before {
				t.Fatalf("entry %d decoded without consuming input", n)
			}
			// The leaf hash covers exactly the TimestampedEntry.
			if e.typ != x509Entry && e.typ != precertEntry {
				t.Fatalf("entry %d decoded with type %d", n, e.typ)
			}
			r := p.parse(&e)
			if r.ParseError == "" && r.Serial == "" {
				t.Fatalf("entry %d parsed without a serial: %+v", n, r)
			}
		}
	})
}

func FuzzGetEntriesLeaves(f *testing.F) {
	l := mustSample(f)
	resp := struct {
		Entries []map[string][]byte `json:"entries"`
	}{}
	for _, e := range l.Entries[:3] {
		resp.Entries = append(resp.Entries, map[string][]byte{"leaf_input": e.LeafInput, "extra_data": e.ExtraData})
	}
	b, _ := json.Marshal(resp)
	f.Add(b)
	if b := fixtureSeed("rfc6962-four-entries/get-entries-0-3.json", 1<<20); b != nil {
		f.Add(b)
	}
	f.Add([]byte(`{"entries":[{"leaf_input":"AAA=","extra_data":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeGetEntries(b)
		if err != nil {
			return
		}
		var p parser
		for i, le := range es {
			var e entry
			decodeMerkleLeaf(le.LeafInput, le.ExtraData, &e)
			if want := sha256.Sum256(append([]byte{0}, le.LeafInput...)); e.leafHash != want {
				t.Fatalf("entry %d: leaf hash %x, want %x", i, e.leafHash, want)
			}
			if e.typ == x509Entry && e.chain0 != nil && e.decodeErr == nil {
				e.issuer, _ = newIssuerCert(e.chain0)
			}
			r := p.parse(&e)
			if (e.decodeErr != nil) != strings.HasPrefix(r.ParseError, "couldn't decode leaf") {
				t.Fatalf("entry %d: decode error %v but parse error %q", i, e.decodeErr, r.ParseError)
			}
		}
	})
}

func FuzzCheckpoint(f *testing.F) {
	l := mustSample(f)
	v := mustStaticSource(f, l)
	f.Add(string(l.Checkpoint(1000)), false)
	f.Add(l.Origin+"\n1000\n"+b64(make([]byte, 32))+"\n", true)
	f.Add(l.Origin+"\n-1\nAAAA\n", true)
	f.Add(l.Origin+"\n99999999999999999999\n"+b64(make([]byte, 32))+"\nextra\n", true)
	f.Fuzz(func(t *testing.T, in string, sign bool) {
		b := []byte(in)
		if sign {
			// Signed by the log's key, the text reaches the parsing
			// after the signature check.
			if b = signText(l, in); b == nil {
				return
			}
		}
		th, err := v.parseHead(b)
		if err != nil {
			return
		}
		if th.Size < 0 || th.Size > maxTreeSize || th.Raw != string(b) {
			t.Fatalf("accepted %q as size %d", b, th.Size)
		}
		if !strings.HasPrefix(string(b), l.Origin+"\n") {
			t.Fatalf("accepted a checkpoint for another origin: %q", b)
		}
	})
}

// signText signs checkpoint text of the shape origin, size, root as the
// sample log, or returns nil for any other text.
func signText(l *ctlogtest.Log, text string) (signed []byte) {
	// note.Sign panics (in ctlogtest) on origins that are not valid key
	// names; those cannot be signed, so there is nothing to parse.
	defer func() {
		if recover() != nil {
			signed = nil
		}
	}()
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return nil
	}
	var size int64
	var root tlog.Hash
	if n, err := parseInt(lines[1]); err == nil {
		size = n
	} else {
		return nil
	}
	r, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(r) != 32 || lines[3] != "" {
		return nil
	}
	copy(root[:], r)
	return ctlogtest.SignedCheckpoint(l.Key, lines[0], size, root, time.UnixMilli(0))
}

func parseInt(s string) (int64, error) {
	var n int64
	if s == "" || len(s) > 19 {
		return 0, os.ErrInvalid
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, os.ErrInvalid
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func mustStaticSource(t testing.TB, l *ctlogtest.Log) *staticSource {
	s, err := newStaticSource(staticLog(l, "file:///nonexistent/"), HTTPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validStateJSON is a state at position n of a tree of size size whose
// leaves are the hashes of their indexes.
func validStateJSON(n, size int64) []byte {
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	cr := rf.NewEmptyRange(0)
	for i := int64(0); i < n; i++ {
		h := sha256.Sum256([]byte{byte(i)})
		cr.Append(h[:], nil)
	}
	root, _ := cr.GetRootHash(nil)
	if root == nil {
		root = hasher.EmptyRoot()
	}
	st := State{Format: 1, LogID: b64(make([]byte, 32)), Protocol: "static", Position: n, TreeSize: size,
		RootHash: root, TreeHead: "head", Frontier: cr.Hashes()}
	b, _ := json.Marshal(st)
	return b
}

func FuzzParseState(f *testing.F) {
	f.Add(validStateJSON(0, 0))
	f.Add(validStateJSON(5, 5))
	f.Add(validStateJSON(300, 300))
	f.Add(validStateJSON(7, 9))
	f.Add([]byte(`{"format":1,"position":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if s.Start < 0 || s.Start > s.Position || s.Position > s.TreeSize {
			t.Fatalf("accepted start %d position %d tree size %d", s.Start, s.Position, s.TreeSize)
		}
		if _, err := s.frontierRange(); err != nil {
			t.Fatalf("accepted a frontier that does not make a range: %v", err)
		}
		// What is accepted survives a save and load unchanged.
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := parseState(out)
		if err != nil {
			t.Fatalf("re-encoded state refused: %v", err)
		}
		if s2.Position != s.Position || s2.TreeSize != s.TreeSize || len(s2.Frontier) != len(s.Frontier) {
			t.Fatal("state changed in a round trip")
		}
	})
}
