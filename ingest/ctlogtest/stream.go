package ctlogtest

import (
	"bytes"
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// StreamWriter writes a static-ct-api tile directory entry by entry, for
// logs too large to hold: data tiles go to disk as they fill, and only the
// leaf hashes stay in memory (32 bytes an entry, plus the Merkle tree's
// stored hashes when the hash tiles are written at Close).
type StreamWriter struct {
	dir string
	l   *Log // Entries hold only LeafHash
	buf bytes.Buffer
}

// NewStreamWriter starts a tile directory in dir (created if needed) for a
// log with this origin, signing key and issuers (fingerprint -> DER).
func NewStreamWriter(dir, origin string, key *ecdsa.PrivateKey, issuers map[string][]byte) (*StreamWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &StreamWriter{dir: dir, l: &Log{Origin: origin, Key: key, Issuers: issuers}}, nil
}

func (w *StreamWriter) write(p string, b []byte) error {
	p = filepath.Join(w.dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// Add appends the next entry (built with BuildEntry for index Len()).
func (w *StreamWriter) Add(e Entry) error {
	w.buf.Write(e.TileLeaf)
	w.l.Entries = append(w.l.Entries, Entry{LeafHash: e.LeafHash})
	if n := int64(len(w.l.Entries)); n%256 == 0 {
		return w.flush(n)
	}
	return nil
}

// Len is the number of entries added.
func (w *StreamWriter) Len() int64 { return int64(len(w.l.Entries)) }

func (w *StreamWriter) flush(n int64) error {
	if w.buf.Len() == 0 {
		return nil
	}
	width := int((n-1)%256) + 1
	if err := w.write(TilePath(tlog.Tile{H: 8, L: -1, N: (n - 1) / 256, W: width}), w.buf.Bytes()); err != nil {
		return fmt.Errorf("couldn't write a data tile: %w", err)
	}
	w.buf.Reset()
	return nil
}

// Close writes the last partial data tile, the hash tiles, the issuers,
// a checkpoint signed at treeTime, and log.json.
func (w *StreamWriter) Close(treeTime time.Time) error {
	n := w.Len()
	if n == 0 {
		return fmt.Errorf("ctlogtest: an empty log")
	}
	if err := w.flush(n); err != nil {
		return err
	}
	w.l.Time = treeTime
	for _, t := range tlog.NewTiles(8, 0, n) {
		if t.L < 0 {
			continue
		}
		b, err := w.l.TileData(t, n)
		if err != nil {
			return err
		}
		if err := w.write(TilePath(t), b); err != nil {
			return err
		}
	}
	for fp, der := range w.l.Issuers {
		if err := w.write("issuer/"+fp, der); err != nil {
			return err
		}
	}
	if err := w.write("checkpoint", w.l.Checkpoint(n)); err != nil {
		return err
	}
	return w.l.writeKeyFile(w.dir, n)
}
