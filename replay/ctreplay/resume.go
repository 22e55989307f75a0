package ctreplay

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// Replaying only what is new.
//
// A full replay into DATA saves the replayer's state (replay.WriteState)
// at the first UTC midnights of the last KeepDays days of history, in
// DATA/replay/<stream>-<key>/, with a record (resume.json) of the entries
// files it read. The next replay finds the files that are new since then,
// and the earliest log timestamp T among their entries. No order issued
// before T can have changed: a new entry either adds a certificate, issued
// at or after T, or moves an existing certificate's issue time to its own
// log timestamp, at or after T. Each decision depends only on the orders
// before it. So the state saved at the latest midnight at or before T is
// the state a from-scratch replay would reach there; the replay restores
// it, reads the certificates logged from that midnight on (a logged_at
// range, which DuckDB prunes with the files' statistics), leaves out those
// with an earlier entry (they were replayed before), and replays only
// them. The earlier days' decision files are kept as they were (hard
// links into the new generation). Nightly cost follows the new entries.
//
// The key binds the state to the stream's issuers and to the policy's
// digest (its limits and overrides): another policy or --limits file
// finds no state and replays from scratch.

// ResumeOptions control saved states.
type ResumeOptions struct {
	// FromScratch ignores saved states (they are rewritten).
	FromScratch bool
	// KeepDays is how many days of daily states are kept: a later run can
	// resume from any of them, so entries that arrive up to KeepDays late
	// (a log ingested late, a certificate logged late) cost a replay of
	// KeepDays, not of all history. Optional; default 3.
	KeepDays int
	// Lateness is how far behind the newest entry of the least advanced
	// log the decisions become provisional: certificates are logged up
	// to the logs' maximum merge delay after issuance. Optional; default
	// 24h.
	Lateness time.Duration
}

func (o *ResumeOptions) fill() {
	if o.KeepDays <= 0 {
		o.KeepDays = 3
	}
	if o.Lateness <= 0 {
		o.Lateness = 24 * time.Hour
	}
}

const resumeFormat = 1

// resumeRecord is DATA/replay/<stream>-<key>/resume.json.
type resumeRecord struct {
	Format int    `json:"format"`
	Policy string `json:"policy"`
	Digest string `json:"policy_digest"`
	Where  string `json:"issuers_condition"`
	// Files are the entries files the replay read, with their sizes
	// (entries files are immutable: a new or changed size is new data).
	Files map[string]int64 `json:"entries_files"`
	// States are the saved states, oldest first.
	States []savedState `json:"states"`
	// Watermark: decisions of orders from here on are provisional.
	Watermark time.Time `json:"watermark"`
	// LogNewest is each log's newest entry.
	LogNewest map[string]time.Time `json:"log_newest"`
	// Generation is the decisions generation the replay wrote: a resume
	// keeps its files for the days before the state, so the record holds
	// only while it is still the current generation.
	Generation string `json:"generation"`
	// Replayed is when the replay that wrote this record ran.
	Replayed time.Time `json:"replayed"`
}

type pendingResume struct {
	dir  string
	keep int
	rec  resumeRecord
}

type savedState struct {
	// At is the midnight the state is at: every order before it decided.
	At time.Time `json:"at"`
	// File is the state file's name in the directory.
	File string `json:"file"`
	// Orders is how many orders came before At (the next order's
	// position).
	Orders int64 `json:"orders"`
	// Counts are the decisions before At, by kind.
	Counts orderio.Counts `json:"counts"`
	Bytes  int64          `json:"bytes"`
	Sets   int            `json:"live_sets"`
	// Buckets counts the live domain and account buckets.
	Buckets int `json:"live_buckets"`
}

// resumeDir is where one stream's states live.
func resumeDir(dd *datadir.Dir, st Stream) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v", st.Policy.Digest(), st.Where, st.Args)
	return dd.Path("replay", datadir.SafeName(st.Slug)+"-"+hex.EncodeToString(h.Sum(nil))[:16])
}

func readResumeRecord(dir string) (*resumeRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, "resume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the replay state record: %w", err)
	}
	var r resumeRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Format != resumeFormat {
		return nil, fmt.Errorf("replay state record %s is damaged or of another format (%v): remove the directory %s or replay with --from-scratch", filepath.Join(dir, "resume.json"), err, dir)
	}
	return &r, nil
}

// resumePoint is where a replay starts.
type resumePoint struct {
	rep    *replay.Replayer // nil: from scratch
	at     time.Time        // the saved state's midnight
	orders int64            // orders before at
	why    string           // for the progress line
	late   int64            // new entries logged before the previous watermark
	keep   []savedState     // states still valid (at or before at)
	counts orderio.Counts   // decisions before at
	rec    *resumeRecord    // the last replay's record, if it holds
	added  []string         // entries files new since it
}

// findResume picks the saved state to start from.
func (e *engine) findResume(ctx context.Context, st Stream, dir string, files map[string]int64) (resumePoint, error) {
	if e.cfg.Resume.FromScratch {
		return resumePoint{why: "from scratch (--from-scratch)"}, nil
	}
	rec, err := readResumeRecord(dir)
	if err != nil || rec == nil {
		return resumePoint{why: "from scratch (no saved state)"}, err
	}
	if cur, _, err := e.dd.CurrentGeneration(); err != nil {
		return resumePoint{}, err
	} else if cur != rec.Generation {
		return resumePoint{why: "from scratch (the current decisions are another replay's)"}, nil
	}
	var added []string
	for f, size := range files {
		if old, ok := rec.Files[f]; !ok || old != size {
			added = append(added, filepath.Join(e.cfg.Data, "entries", filepath.FromSlash(f)))
		}
	}
	changed := time.Unix(1<<62, 0) // nothing new: resume from the last state
	var late int64
	if len(added) > 0 {
		slices.Sort(added)
		var t *time.Time
		list, err := sql.FileList(added)
		if err != nil {
			return resumePoint{}, err
		}
		q := fmt.Sprintf(`SELECT min(logged_at), count(*) FILTER (WHERE logged_at < %s) FROM %s`,
			tsLiteral(rec.Watermark), readEntries(list))
		if err := e.db.DB().QueryRowContext(ctx, q).Scan(&t, &late); err != nil {
			return resumePoint{}, fmt.Errorf("couldn't read the new entries: %w", e.db.Explain(err))
		}
		if t != nil {
			changed = t.UTC()
		}
	}
	var pick *savedState
	var keep []savedState
	for i := range rec.States {
		if !rec.States[i].At.After(changed) {
			pick = &rec.States[i]
			keep = append(keep, rec.States[i])
		}
	}
	if pick == nil {
		return resumePoint{why: fmt.Sprintf("from scratch (the new entries reach back to %s, before the oldest saved state)", changed.Format(time.RFC3339)), late: late}, nil
	}
	path := filepath.Join(dir, pick.File)
	f, err := os.Open(path)
	if err != nil {
		return resumePoint{}, fmt.Errorf("couldn't open the replay state: %w (replay with --from-scratch to rebuild it)", err)
	}
	defer f.Close()
	rep, _, err := replay.ReadState(st.Policy, bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return resumePoint{}, fmt.Errorf("replay state %s: %w; replay with --from-scratch to rebuild it", path, err)
	}
	return resumePoint{rep: rep, at: pick.At, orders: pick.Orders, counts: pick.Counts, late: late, keep: keep, rec: rec, added: added,
		why: fmt.Sprintf("from the state saved at %s (%d new entries files)", pick.At.Format(time.RFC3339), len(added))}, nil
}

// newResumeReader reads the stream's certificates first logged at or
// after at, in time order, numbered from orders.
func (e *engine) newResumeReader(ctx context.Context, where string, args []any, at time.Time, orders int64) (orderio.Reader, int, error) {
	lit := tsLiteral(at)
	// The candidates: certificates with an entry logged from at on.
	var lo *time.Time
	if err := e.db.DB().QueryRowContext(ctx, fmt.Sprintf(`SELECT min(not_before) FROM entries
		WHERE logged_at >= %s AND parse_error IS NULL`, lit)).Scan(&lo); err != nil {
		return nil, 0, fmt.Errorf("couldn't read the new certificates: %w", e.db.Explain(err))
	}
	if lo == nil {
		return orderio.NewSliceReader(e.cfg.Data+" certificates", nil), 0, nil
	}
	// Left out: those with an entry before at (replayed already). Every
	// entry of a certificate is logged after its NotBefore less Skew, so
	// the earlier entries lie in [earliest NotBefore - Skew, at).
	skew := e.cfg.Chunks.Skew
	q := strings.Replace(orderio.CertTableQuery, "FROM certificates",
		fmt.Sprintf(`FROM certificates_between(NULL, NULL, %s) c
		WHERE NOT EXISTS (SELECT 1 FROM entries x WHERE x.logged_at < %s AND x.logged_at >= %s
		  AND x.issuer = c.issuer AND x.serial = c.serial)`, lit, lit, tsLiteral(lo.Add(-skew))), 1)
	rows, err := e.db.DB().QueryContext(ctx, q+" AND "+where, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't read the new certificates: %w", e.db.Explain(err))
	}
	tbl, err := orderio.LoadCertTable(ctx, e.cfg.Data+" certificates", rows)
	if err != nil {
		return nil, 0, err
	}
	tbl.Sort()
	return &offsetReader{Reader: tbl.Reader(), base: orders}, tbl.Len(), nil
}

// offsetReader numbers records after base.
type offsetReader struct {
	orderio.Reader
	base int64
}

func (r *offsetReader) Read(buf []orderio.Record) (int, error) {
	n, err := r.Reader.Read(buf)
	for i := range n {
		buf[i].Line += r.base
	}
	return n, err
}

// stateSaver saves the replayer's state at the midnights from first on.
type stateSaver struct {
	dir    string
	first  time.Time // no state before this midnight is kept
	states []savedState
}

func (s *stateSaver) at(r *replay.Replayer, boundary, line int64) (int64, error) {
	at := time.Unix(0, boundary).UTC()
	// Before the first order there is nothing to resume from.
	if !at.Before(s.first) && line > 1 {
		name := at.Format("20060102") + ".state"
		var info replay.StateInfo
		err := datadir.Write(filepath.Join(s.dir, name), func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 1<<20)
			var err error
			if info, err = r.WriteState(bw); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return 0, fmt.Errorf("couldn't save the replay state: %w", err)
		}
		s.states = append(s.states, savedState{At: at, File: name, Orders: line - 1, Bytes: info.Bytes,
			Sets: info.Sets, Buckets: info.DomainBuckets + info.AccountBuckets})
	}
	return boundary + int64(24*time.Hour), nil
}

// writeResumeRecord records the replay, keeping the states of the last
// keep days and removing the other state files.
func writeResumeRecord(dir string, rec resumeRecord, keep int) error {
	if n := len(rec.States); n > keep {
		rec.States = rec.States[n-keep:]
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := datadir.WriteFile(filepath.Join(dir, "resume.json"), append(b, '\n')); err != nil {
		return err
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".state") && !slices.ContainsFunc(rec.States, func(s savedState) bool { return s.File == e.Name() }) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// readEntries reads a list of entries files as the entries view does
// (sql/views/010_entries.sql): not as hive partitions, whose log=
// directory names (URL-safe base64) would replace the files' own log
// column (standard base64) and make one log two.
func readEntries(list string) string {
	return "read_parquet(" + list + ", hive_partitioning = false, union_by_name = true)"
}

// logNewest is each log's newest entry: the last replay's record updated
// with the new files, or a scan of every file's logged_at.
func (e *engine) logNewest(ctx context.Context, rp resumePoint) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	from := "entries"
	if rp.rec != nil {
		for l, t := range rp.rec.LogNewest {
			// Records written before readEntries also hold the
			// log under its directory's name: fold it back.
			if id, err := base64.RawURLEncoding.DecodeString(l); err == nil && len(id) == 32 {
				l = base64.StdEncoding.EncodeToString(id)
			}
			if t.After(out[l]) {
				out[l] = t
			}
		}
		if len(rp.added) == 0 {
			return out, nil
		}
		list, err := sql.FileList(rp.added)
		if err != nil {
			return nil, err
		}
		from = readEntries(list)
	}
	rows, err := e.db.DB().QueryContext(ctx, `SELECT log, max(logged_at) FROM `+from+` GROUP BY log`)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the logs' newest entries: %w", e.db.Explain(err))
	}
	defer rows.Close()
	for rows.Next() {
		var log string
		var t time.Time
		if err := rows.Scan(&log, &t); err != nil {
			return nil, err
		}
		if t.UTC().After(out[log]) {
			out[log] = t.UTC()
		}
	}
	return out, rows.Err()
}

// keepDays puts the current generation's decision files of this stream
// for the days before at into the new generation, unchanged.
func (e *engine) keepDays(st Stream, policyDir string, at time.Time) error {
	files, _, err := e.dd.Decisions()
	if err != nil {
		return err
	}
	prefix := datadir.SafeName(st.Slug) + "-"
	want := filepath.Base(policyDir)
	for _, f := range files {
		base := filepath.Base(f)
		if filepath.Base(filepath.Dir(f)) != want || !strings.HasPrefix(base, prefix) {
			continue
		}
		day, err := time.Parse(time.DateOnly, strings.TrimSuffix(strings.TrimPrefix(base, prefix), ".parquet"))
		if err != nil || !day.Before(at) {
			continue
		}
		if err := e.gen.Keep(f, policyDir); err != nil {
			return err
		}
	}
	return nil
}
