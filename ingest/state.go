package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/sql/datadir"
	"github.com/transparency-dev/merkle/compact"
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

// badStateError is a state file that cannot be used. The log is not to
// blame, so the message names the file and what to do about it.
func badStateError(path string, format string, args ...any) error {
	return fmt.Errorf("state file %s: %s: move it away to start over, or restore it", path, fmt.Sprintf(format, args...))
}

// loadState returns nil, nil when there is no state file yet. It checks
// everything the file can say about itself (see parseState); what needs
// the log (the tree head's signature) is checkState's.
func loadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read state file: %w", err)
	}
	s, err := parseState(b)
	if errors.Is(err, errStateFormat) {
		return nil, fmt.Errorf("state file %s: %w (written by another ctlimits version)", path, err)
	}
	if err != nil {
		return nil, badStateError(path, "%v", err)
	}
	return s, nil
}

var errStateFormat = errors.New("unknown format")

// maxTreeSize bounds sizes in state files (and tree heads), far beyond
// any log, so that index arithmetic cannot overflow.
const maxTreeSize = 1 << 62

// parseState decodes a state file and checks that it is consistent in
// itself: sizes in order, 32-byte hashes, and a frontier of the right
// shape for the position — whose root must be the recorded root when the
// position is the tree size.
func parseState(b []byte) (*State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("couldn't parse it: %w", err)
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("%w %d, this ctlimits reads format 1", errStateFormat, s.Format)
	}
	if id, err := base64.StdEncoding.DecodeString(s.LogID); err != nil || len(id) != 32 {
		return nil, fmt.Errorf("log_id %q is not a base64 log ID", s.LogID)
	}
	if s.Protocol != "static" && s.Protocol != "rfc6962" {
		return nil, fmt.Errorf("protocol %q is neither static nor rfc6962", s.Protocol)
	}
	if s.Start < 0 || s.Start > s.Position || s.Position > s.TreeSize || s.TreeSize > maxTreeSize {
		return nil, fmt.Errorf("start %d, position %d and tree_size %d are not in order (0 <= start <= position <= tree_size)", s.Start, s.Position, s.TreeSize)
	}
	if s.Files < 0 {
		return nil, fmt.Errorf("files %d is negative", s.Files)
	}
	if len(s.RootHash) != 32 {
		return nil, fmt.Errorf("root_hash has %d bytes, not 32", len(s.RootHash))
	}
	if s.TreeHead == "" {
		return nil, errors.New("tree_head is missing")
	}
	want := len(compact.RangeNodes(0, uint64(s.Position), nil))
	if len(s.Frontier) != want {
		return nil, fmt.Errorf("frontier has %d hashes; position %d needs %d", len(s.Frontier), s.Position, want)
	}
	for i, h := range s.Frontier {
		if len(h) != 32 {
			return nil, fmt.Errorf("frontier hash %d has %d bytes, not 32", i, len(h))
		}
	}
	if s.Position == s.TreeSize {
		root, err := s.frontierRoot()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(root[:], s.RootHash) {
			return nil, fmt.Errorf("frontier hashes to %s at position %d, not to the root_hash %s of that tree size", b64(root[:]), s.Position, b64(s.RootHash))
		}
	}
	return &s, nil
}

// frontierRoot is the Merkle root of entries [0, Position) per Frontier.
func (s *State) frontierRoot() ([32]byte, error) {
	var root [32]byte
	cr, err := s.frontierRange()
	if err != nil {
		return root, err
	}
	h, err := cr.GetRootHash(nil)
	if err != nil {
		return root, fmt.Errorf("frontier: %w", err)
	}
	if h == nil {
		h = hasher.EmptyRoot() // position 0
	}
	copy(root[:], h)
	return root, nil
}

func (s *State) frontierRange() (*compact.Range, error) {
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	cr, err := rf.NewRange(0, uint64(s.Position), s.Frontier)
	if err != nil {
		return nil, fmt.Errorf("frontier: %w", err)
	}
	return cr, nil
}

// checkState checks what a state needs the log for: it is this log's,
// over this protocol, and its tree head carries the log's signature over
// the recorded size and root. A state that passes records a head the log
// really signed, so a later inconsistency is the log's doing.
func checkState(path string, s *State, l *loglist.Log, src source) error {
	if s.LogID != l.ID() {
		return badStateError(path, "it is for log %s, not %s (%s)", s.LogID, l.ID(), l.Description)
	}
	if s.Protocol != string(l.Kind) {
		return badStateError(path, "it is for the %s protocol, %s is %s", s.Protocol, l.Description, l.Kind)
	}
	th, err := src.parseHead([]byte(s.TreeHead))
	if err != nil {
		return badStateError(path, "its tree_head does not verify with the key of %s: %v", l.Description, err)
	}
	if th.Size != s.TreeSize || !bytes.Equal(th.Root[:], s.RootHash) {
		return badStateError(path, "its tree_head signs size %d and root %s, but it records size %d and root %s",
			th.Size, b64(th.Root[:]), s.TreeSize, b64(s.RootHash))
	}
	return nil
}

// saveState replaces the state file atomically and durably.
func saveState(path string, s *State) error {
	s.Format = 1
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	// datadir's durable write: its temporary file is ".<log>.json<random>"
	// beside path, which the next ingest of the log sweeps if a crash
	// leaves it.
	return datadir.WriteFile(path, append(b, '\n'))
}

// ErrLocked is returned when another ingest holds the log's lock in DATA.
var ErrLocked = datadir.ErrLocked

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
