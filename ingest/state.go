package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// State is DATA/state/<log>.json: how far a log has been ingested into DATA.
// Entries [Start, Position) are in DATA/entries/log=<log>/ and were verified
// against the tree head recorded here; nothing at or past Position is.
type State struct {
	// Format is the state file format, 1.
	Format      int    `json:"format"`
	LogID       string `json:"log_id"` // standard base64
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
	Protocol    string `json:"protocol"` // "static" or "rfc6962"
	Start       int64  `json:"start"`
	Position    int64  `json:"position"`
	// TreeSize, RootHash and TreeTimestamp are the signed tree head every
	// stored entry was verified against; TreeHead is the checkpoint text
	// (static) or the get-sth JSON (RFC 6962) as served, so the signature
	// can be checked again later.
	TreeSize      int64  `json:"tree_size"`
	RootHash      []byte `json:"root_hash"`
	TreeTimestamp uint64 `json:"tree_timestamp_ms"`
	TreeHead      string `json:"tree_head"`
	// Frontier is the compact range [0, Position): the roots of the perfect
	// subtrees left of Position, largest first. With it the next run can
	// hash on from Position without reading earlier entries.
	Frontier [][]byte `json:"frontier"`
	// Files counts the entries files written so far.
	Files     int       `json:"files"`
	UpdatedAt time.Time `json:"updated_at"`
}

func statePath(data, dirName string) string {
	return filepath.Join(data, "state", dirName+".json")
}

// loadState returns nil, nil when there is no state file yet.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("couldn't parse state file %s: %w (move it away to start over)", path, err)
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("state file %s has format %d, this ctlimits reads format 1", path, s.Format)
	}
	return &s, nil
}

// saveState replaces the state file atomically and durably.
func saveState(path string, s *State) error {
	s.Format = 1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := createTemp(dir, ".state-", ".tmp")
	if err != nil {
		return fmt.Errorf("couldn't write state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("couldn't write state %s: %w", path, err)
	}
	return syncDir(dir)
}

// ErrLocked is returned when another ingest holds the log's lock in DATA.
var ErrLocked = errors.New("another ctlimits ingest is running for this log in this data directory")

// createTemp is os.CreateTemp with mode 0666 before the umask instead of
// 0600, so that DATA's files are as readable as the user's umask makes
// any other new file (DuckDB run by another user, a backup job). Like
// os.CreateTemp it creates exclusively, never through a symbolic link.
func createTemp(dir, prefix, suffix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("couldn't create a temporary file in %s: too many collisions", dir)
}
