// Package shard replays CT history past one machine. Orders in different
// connected components of registered domains are independent (see
// replay.Components), so 'ctlimits shard --data DATA --shards N' (the
// DuckDB step, replay/ctreplay) writes DATA's deduplicated certificates
// as N Parquet files of whole components, and each worker replays one:
// 'ctlimits replay --data DATA --shard I/N', this package, in pure Go (no
// DuckDB, no cgo), on any machine that sees DATA. The last worker to
// finish publishes every shard's decisions as DATA's current decisions,
// so the decisions view and the reports read them all; their union is,
// order for order, what one 'ctlimits replay --data DATA' writes.
//
// The layout, under DATA (sql/datadir owns DATA; every file here is
// written through it, atomically):
//
//	shards/<N>/manifest.json                      the sharding: shard count, the entries it was made from
//	shards/<N>/shard=<I>/orders.parquet           shard I's certificates as orders, in time order
//	shards/<N>/decisions/<key>/policy=<p>/<stream>-shard-<I>.parquet
//	                                              worker I's decisions; key names the streams and policies
//	shards.lock                                   one sharding at a time
package shard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/sql/datadir"
)

// ManifestFormat names the manifest's format; a change to the orders
// files' columns or meaning must change it.
const ManifestFormat = "ctlimits-shards 1"

// Lock is the lock file (in DATA) a sharding holds.
const Lock = "shards.lock"

// Manifest describes one sharding. It is policy-independent: any policy,
// limits and --issuers set can be replayed from the same shards.
type Manifest struct {
	Format string `json:"format"`
	// Shards is N.
	Shards int `json:"shards"`
	// EntriesDigest is a SHA-256 over the entries files the shards were
	// made from (their paths and sizes: ingest never rewrites one), so a
	// worker refuses shards made before newer entries were ingested.
	EntriesDigest string `json:"entries_digest"`
	EntriesFiles  int    `json:"entries_files"`
	// Certificates counts the deduplicated certificates, Orders those of
	// each shard.
	Certificates int64   `json:"certificates"`
	Orders       []int64 `json:"orders"`
	// Components counts the connected components of registered domains;
	// Largest is the certificates of the largest.
	Components int64 `json:"components"`
	Largest    int64 `json:"largest"`
	// Own lists the shards that hold one component bigger than
	// Certificates/Shards, alone.
	Own []int `json:"own,omitempty"`
	// Rounds is how many rounds of label propagation found the
	// components.
	Rounds  int       `json:"rounds"`
	Created time.Time `json:"created"`
	Seconds float64   `json:"seconds"`
}

// Dir is where the sharding into n shards lives.
func Dir(dd *datadir.Dir, n int) string { return dd.Path("shards", strconv.Itoa(n)) }

// OrdersFile is shard i's orders file in a sharding directory.
func OrdersFile(dir string, i int) string {
	return filepath.Join(dir, "shard="+strconv.Itoa(i), "orders.parquet")
}

// ManifestFile is the manifest of a sharding directory.
func ManifestFile(dir string) string { return filepath.Join(dir, "manifest.json") }

// WriteManifest writes m into dir, durably.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return datadir.WriteFile(ManifestFile(dir), append(b, '\n'))
}

// ReadManifest reads the manifest of dir, which must be a sharding into n.
func ReadManifest(dir string, n int) (*Manifest, error) {
	b, err := os.ReadFile(ManifestFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no sharding into %d in %s: run 'ctlimits shard --data DATA --shards %d' first", n, filepath.Dir(dir), n)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the sharding manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a sharding manifest (%v): run 'ctlimits shard --shards %d' again", ManifestFile(dir), err, n)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %q, this ctlimits reads %q: run 'ctlimits shard --shards %d' again", ManifestFile(dir), m.Format, ManifestFormat, n)
	}
	if m.Shards != n || len(m.Orders) != n {
		return nil, fmt.Errorf("%s describes %d shards, not %d: run 'ctlimits shard --shards %d' again", ManifestFile(dir), m.Shards, n, n)
	}
	return &m, nil
}

// EntriesDigest digests DATA's entries files (their paths under
// DATA/entries and sizes, in name order) and counts them. Entries files
// are immutable: ingest only adds files, so a new digest means new
// entries.
func EntriesDigest(dd *datadir.Dir) (digest string, files int, err error) {
	sizes, err := dd.EntriesFiles()
	if err != nil {
		return "", 0, err
	}
	list := make([]string, 0, len(sizes))
	for rel, size := range sizes {
		list = append(list, fmt.Sprintf("%s\x00%d\n", rel, size))
	}
	slices.Sort(list)
	h := sha256.New()
	h.Write([]byte("ctlimits-entries-digest-v1\n"))
	for _, l := range list {
		h.Write([]byte(l))
	}
	return hex.EncodeToString(h.Sum(nil)), len(list), nil
}

// ParseSpec parses a shard spec "I/N": shard I (from 0) of N.
func ParseSpec(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			n, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want I/N, shard I (0 to N-1) of N shards, like 3/8", s)
	}
	return i, n, nil
}
