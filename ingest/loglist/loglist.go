// Package loglist names the CT logs ctlimits can ingest: it reads a CT log
// list v3 JSON (the format of https://www.gstatic.com/ct/log_list/v3/log_list.json)
// and resolves what a user types (a log ID, a description or a unique part of
// it, or a URL) to one log.
//
// A snapshot of the list ships embedded (log_list.json, see Snapshot). It is
// a snapshot, not the live list: logs are added and retired every few months,
// so point --log-list (CTLIMITS_LOG_LIST) at a fresh copy for production use.
package loglist

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/certificate-transparency-go/loglist3"
)

// snapshot is the embedded list. It was assembled from the public log list
// v3 (version 89.30) for Let's Encrypt, Google, Cloudflare, DigiCert and
// Sectigo logs; every key in it hashes to its log_id (TestSnapshotKeysMatchLogIDs).
//
//go:embed log_list.json
var snapshot []byte

// SnapshotVersion describes the embedded list, for `ctlimits logs`.
const SnapshotVersion = "embedded snapshot of log list v3 version 89.30 (2026-08); use --log-list for a current list"

// Kind is the monitoring protocol of a log.
type Kind string

const (
	// Static logs serve the C2SP static-ct-api: checkpoint and tiles.
	Static Kind = "static"
	// RFC6962 logs serve get-sth and get-entries.
	RFC6962 Kind = "rfc6962"
)

// Log is one log, flattened from the list's operators.
type Log struct {
	Operator    string
	Description string
	Kind        Kind
	// LogID is SHA-256 of Key, the DER SubjectPublicKeyInfo.
	LogID [32]byte
	Key   []byte
	// URL is where entries are read: the RFC 6962 base URL or the static
	// monitoring prefix (https://, http:// or file://). It ends with "/".
	URL string
	// SubmissionURL is the static log's submission prefix; its schemeless
	// form is the checkpoint origin line. Empty for RFC 6962 logs.
	SubmissionURL string
	State         string // usable, qualified, readonly, retired, rejected, pending, or ""
	// Interval is the NotAfter range the log accepts; zero if unbounded.
	Start, End time.Time
	MMD        time.Duration
}

// ID is the log ID in standard base64, as the log list writes it.
func (l *Log) ID() string { return base64.StdEncoding.EncodeToString(l.LogID[:]) }

// DirName is the log ID in URL-safe base64 without padding, safe as a
// file and directory name on every platform we care about.
func (l *Log) DirName() string { return base64.RawURLEncoding.EncodeToString(l.LogID[:]) }

// Origin is the checkpoint origin of a static log: the submission prefix
// without scheme and trailing slashes (C2SP static-ct-api, "Checkpoints").
func (l *Log) Origin() string {
	s := l.SubmissionURL
	if s == "" {
		s = l.URL
	}
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	return strings.TrimRight(s, "/")
}

// List is a parsed log list.
type List struct {
	Version string
	Logs    []Log
}

// Snapshot returns the embedded list.
func Snapshot() *List {
	l, err := Parse(snapshot)
	if err != nil {
		panic("loglist: embedded snapshot does not parse: " + err.Error())
	}
	return l
}

// Load reads a list from a file, or returns the snapshot if path is "".
func Load(path string) (*List, error) {
	if path == "" {
		return Snapshot(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read log list: %w", err)
	}
	l, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log list %s: %w", path, err)
	}
	return l, nil
}

// Parse parses a CT log list v3 JSON document. Logs whose key does not hash
// to their log_id are refused: the key is what every signature is checked
// with.
func Parse(b []byte) (*List, error) {
	ll, err := loglist3.NewFromJSON(b)
	if err != nil {
		return nil, err
	}
	out := &List{Version: ll.Version}
	for _, op := range ll.Operators {
		for _, g := range op.Logs {
			l := Log{Operator: op.Name, Description: g.Description, Kind: RFC6962, Key: g.Key,
				URL: slash(g.URL), MMD: time.Duration(g.MMD) * time.Second}
			fill(&l, g.LogID, g.State, g.TemporalInterval)
			if err := check(&l, g.LogID); err != nil {
				return nil, err
			}
			out.Logs = append(out.Logs, l)
		}
		for _, g := range op.TiledLogs {
			l := Log{Operator: op.Name, Description: g.Description, Kind: Static, Key: g.Key,
				URL: slash(g.MonitoringURL), SubmissionURL: slash(g.SubmissionURL), MMD: time.Duration(g.MMD) * time.Second}
			fill(&l, g.LogID, g.State, g.TemporalInterval)
			if err := check(&l, g.LogID); err != nil {
				return nil, err
			}
			out.Logs = append(out.Logs, l)
		}
	}
	sort.SliceStable(out.Logs, func(i, j int) bool {
		if out.Logs[i].Operator != out.Logs[j].Operator {
			return out.Logs[i].Operator < out.Logs[j].Operator
		}
		return out.Logs[i].Description < out.Logs[j].Description
	})
	return out, nil
}

func slash(u string) string {
	if u == "" || strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}

func fill(l *Log, id []byte, st *loglist3.LogStates, ti *loglist3.TemporalInterval) {
	copy(l.LogID[:], id)
	if st != nil {
		switch {
		case st.Usable != nil:
			l.State = "usable"
		case st.Qualified != nil:
			l.State = "qualified"
		case st.ReadOnly != nil:
			l.State = "readonly"
		case st.Retired != nil:
			l.State = "retired"
		case st.Rejected != nil:
			l.State = "rejected"
		case st.Pending != nil:
			l.State = "pending"
		}
	}
	if ti != nil {
		l.Start, l.End = ti.StartInclusive, ti.EndExclusive
	}
}

func check(l *Log, id []byte) error {
	if len(l.Key) == 0 {
		return fmt.Errorf("log %q has no key", l.Description)
	}
	if sum := sha256.Sum256(l.Key); len(id) != 32 || sum != l.LogID {
		return fmt.Errorf("log %q: log_id %s is not SHA-256 of its key", l.Description, base64.StdEncoding.EncodeToString(id))
	}
	return nil
}

// ErrNotFound and ErrAmbiguous are returned by Find.
var (
	ErrNotFound  = errors.New("no such log")
	ErrAmbiguous = errors.New("more than one log matches")
)

// Find resolves a log by its base64 log ID (standard or URL-safe), its URL
// (monitoring, submission or RFC 6962 URL, with or without trailing slash),
// its exact description, or a case-insensitive part of its description that
// only one log has.
func (ll *List) Find(q string) (*Log, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil, fmt.Errorf("%w: empty name", ErrNotFound)
	}
	for i := range ll.Logs {
		l := &ll.Logs[i]
		if q == l.ID() || q == l.DirName() || strings.TrimRight(q, "=") == strings.TrimRight(base64.URLEncoding.EncodeToString(l.LogID[:]), "=") {
			return l, nil
		}
		if u := slash(q); strings.Contains(q, "://") && (u == l.URL || u == l.SubmissionURL) {
			return l, nil
		}
		if strings.EqualFold(q, l.Description) {
			return l, nil
		}
	}
	if strings.Contains(q, "://") {
		return nil, fmt.Errorf("%w: no log in the list has URL %s", ErrNotFound, q)
	}
	var hits []*Log
	lq := strings.ToLower(q)
	for i := range ll.Logs {
		if strings.Contains(strings.ToLower(ll.Logs[i].Description), lq) {
			hits = append(hits, &ll.Logs[i])
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("%w: nothing matches %q; run 'ctlimits logs' for the list", ErrNotFound, q)
	case 1:
		return hits[0], nil
	}
	var names []string
	for _, h := range hits {
		names = append(names, h.Description)
	}
	return nil, fmt.Errorf("%w: %q matches %s", ErrAmbiguous, q, strings.Join(names, ", "))
}

// Custom describes a log that is not in the list, from its URL and its key
// (DER SubjectPublicKeyInfo). For a static log, origin is the checkpoint
// origin line; if empty it is derived from the URL.
func Custom(rawURL string, kind Kind, key []byte, origin string) (*Log, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "file") {
		return nil, fmt.Errorf("log URL %q: want https://, http:// or file://", rawURL)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("log %s is not in the log list: give its public key with --key", rawURL)
	}
	l := &Log{Description: rawURL, Kind: kind, Key: key, URL: slash(rawURL), LogID: sha256.Sum256(key)}
	if origin != "" {
		l.SubmissionURL = "https://" + strings.TrimRight(origin, "/") + "/"
	}
	return l, nil
}
