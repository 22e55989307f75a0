// Package ingest downloads Certificate Transparency log entries into
// Parquet files, verifying every entry against a signed tree head first.
//
// The model: a log is a Merkle tree whose signed head (a static-ct-api
// checkpoint or an RFC 6962 STH) commits to its first N entries. Run keeps a
// compact range (the Merkle frontier) of every entry it has hashed since
// index 0. Before an entries file becomes visible, the root of that range at
// the file's end is proven consistent with the signed head: with hash tiles
// for static logs, with get-sth-consistency for RFC 6962 logs. So every row
// in DATA was in the log the signature speaks for, and a run that fails
// verification leaves nothing past the last verified file.
//
// Files are immutable and appear atomically; DATA/state/<log>.json records
// the verified position, tree head and frontier, and is written after the
// file it covers. A run picks up exactly where the state says; files past it
// (from a crash between the two writes) are removed and written again.
// See docs/ingest.md.
package ingest

//go:generate go run ./ctlogtest/gen -out ../testdata/ctlog
//go:generate go run ./ctlogtest/gen -demo -out ../testdata/demolog

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctlimits/ctlimits/ingest/loglist"
	"github.com/ctlimits/ctlimits/sql/datadir"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Config is one ingest run.
type Config struct {
	// Log is the log to read. Required.
	Log *loglist.Log
	// Data is the data directory (DATA). Required.
	Data string
	// From is the first entry index wanted when DATA has no state for the
	// log yet. Optional; default 0. With state, it must fall inside what
	// DATA already holds (the run continues from the state's position).
	From int64
	// FromEnd, if set, starts a log new to DATA this many entries before
	// the end of its signed tree instead of at From (certspotter's
	// start-at-end: a first run on a live log follows it from now on,
	// without its whole history). Optional; ignored once DATA has state.
	FromEnd int64
	// To is one past the last index wanted. Optional; default (0) the
	// size of the latest signed tree head. Larger values are cut to it.
	To int64
	// Workers is the number of requests in flight to the log, and the
	// number of goroutines decoding and parsing. Optional; default 4.
	Workers int
	// Issuer, if set, keeps only rows whose issuer name matches; the rest
	// are still downloaded and verified, and counted in the summary.
	// Rows whose certificate did not parse are always kept.
	Issuer *regexp.Regexp
	// FileEntries is how many log entries one Parquet file covers at most;
	// files start at multiples of it, so a resumed run names files as a
	// clean run does. Optional; default 262144. Must be a multiple of 256.
	FileEntries int64
	// BatchSize is the RFC 6962 get-entries batch size. Optional; default
	// discovered from the server's first answer.
	BatchSize int64
	// HTTP configures requests, retries and politeness.
	HTTP HTTPConfig
	// Progress, if set, is called after every batch from one goroutine.
	Progress func(Progress)
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Done, Total int64 // entries verified-and-processed in this run, and wanted
	Position    int64 // next index
	Rows        int64
	Retries     int64
	Elapsed     time.Duration
}

// Summary is what a run did.
type Summary struct {
	Log          string // description
	LogID        string
	Start, End   int64 // entries [Start, End) were processed in this run
	TreeSize     int64 // size of the verified tree head
	Entries      int64 // End - Start
	Rows         int64 // rows written
	Filtered     int64 // rows left out by Issuer
	ParseErrors  int64 // rows with parse_error set
	Files        int
	Bytes        int64
	Retries      int64
	Elapsed      time.Duration
	AlreadyAtEnd bool // nothing to do: DATA already held everything asked for
}

func (s *Summary) String() string {
	rate := ""
	if s.Elapsed > 0 && s.Entries > 0 {
		rate = fmt.Sprintf(", %.0f entries/s", float64(s.Entries)/s.Elapsed.Seconds())
	}
	return fmt.Sprintf("%s: %d entries [%d, %d) verified against tree size %d; %d rows (%d filtered out, %d parse errors) in %d files, %s; %d retries; %s%s",
		s.Log, s.Entries, s.Start, s.End, s.TreeSize, s.Rows, s.Filtered, s.ParseErrors, s.Files, humanBytes(s.Bytes), s.Retries, s.Elapsed.Round(time.Millisecond), rate)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// treeHead is a signed tree head whose signature has been checked.
type treeHead struct {
	Size      int64
	Root      [32]byte
	Timestamp uint64 // ms
	Raw       string
}

// job is a range of entries fetched as one unit: a data tile, or a
// get-entries batch.
type job struct{ start, end int64 }

// source is one log protocol.
type source interface {
	latest(ctx context.Context) (treeHead, error)
	// parseHead verifies a tree head as latest served it (treeHead.Raw).
	parseHead(raw []byte) (treeHead, error)
	jobs(start, end int64) []job
	fetch(ctx context.Context, j job, th treeHead) ([]entry, error)
	// prove checks that root is the hash of the first size entries of th.
	prove(ctx context.Context, th treeHead, size int64, root [32]byte) error
	frontier(ctx context.Context, th treeHead, size int64) ([][]byte, error)
	retries() int64
}

// EntriesDir is where a log's files live: DATA/entries/log=<id>/.
func EntriesDir(data string, l *loglist.Log) string {
	return filepath.Join(data, "entries", "log="+l.DirName())
}

// fileName names the file covering entries [first, last].
func fileName(first, last int64) string {
	return fmt.Sprintf("%010d-%010d.parquet", first, last)
}

var fileNameRE = regexp.MustCompile(`^(\d+)-(\d+)\.parquet$`)

// testHookAfterCommit, if set, runs after an entries file is renamed into
// place and before the state file records it: the window a crash can hit.
var testHookAfterCommit func(name string) error

var hasher = rfc6962.DefaultHasher

// Run ingests cfg.Log into cfg.Data.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	began := time.Now()
	if cfg.Log == nil || cfg.Data == "" {
		return nil, errors.New("ingest: a log and a data directory are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.FileEntries == 0 {
		cfg.FileEntries = 1 << 18
	}
	if cfg.FileEntries%tileWidth != 0 || cfg.FileEntries < 0 {
		return nil, fmt.Errorf("ingest: entries per file %d is not a positive multiple of 256", cfg.FileEntries)
	}
	if cfg.From < 0 || cfg.To < 0 || cfg.FromEnd < 0 {
		return nil, errors.New("ingest: --from and --to must not be negative")
	}
	l := cfg.Log
	dir := EntriesDir(cfg.Data, l)
	for _, d := range []string{dir, filepath.Join(cfg.Data, "state")} {
		if err := os.MkdirAll(d, 0o777); err != nil { // the umask decides
			return nil, fmt.Errorf("couldn't create %s: %w", d, err)
		}
	}
	unlock, err := Lock(filepath.Join(cfg.Data, "state", l.DirName()+".lock"))
	if err != nil {
		return nil, fmt.Errorf("ingest %s into %s: %w", l.Description, cfg.Data, err)
	}
	defer unlock()
	// What a killed ingest of this log left: its temporary entries files
	// and state file (the lock is held, so none is being written).
	if _, err := datadir.SweepTemp(dir); err != nil {
		return nil, err
	}
	if _, err := datadir.SweepTempOf(statePath(cfg.Data, l.DirName())); err != nil {
		return nil, err
	}

	var src source
	switch l.Kind {
	case loglist.Static:
		src, err = newStaticSource(l, cfg.HTTP)
	case loglist.RFC6962:
		src, err = newRFCSource(l, cfg.HTTP, cfg.BatchSize)
	default:
		err = fmt.Errorf("log %s has unknown protocol %q", l.Description, l.Kind)
	}
	if err != nil {
		return nil, err
	}

	spath := statePath(cfg.Data, l.DirName())
	st, err := loadState(spath)
	if err != nil {
		return nil, err
	}
	th, err := src.latest(ctx)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Log: l.Description, LogID: l.ID(), TreeSize: th.Size}

	var cr *compact.Range
	rf := &compact.RangeFactory{Hash: hasher.HashChildren}
	if st != nil {
		if err := checkState(spath, st, l, src); err != nil {
			return nil, err
		}
		// The new head must extend the one we verified against before;
		// anything else is a log that rewrote history (the old head's
		// signature was checked just now, so it is the log's word).
		if th.Size < st.TreeSize {
			return nil, fmt.Errorf("log %s shrank: its tree head has size %d, DATA was verified at size %d", l.Description, th.Size, st.TreeSize)
		}
		var oldRoot [32]byte
		copy(oldRoot[:], st.RootHash)
		if err := src.prove(ctx, th, st.TreeSize, oldRoot); st.TreeSize > 0 && err != nil {
			return nil, fmt.Errorf("log %s: new tree head is not consistent with the one DATA was verified against: %w", l.Description, err)
		}
		if cfg.From != 0 && (cfg.From < st.Start || cfg.From > st.Position) {
			return nil, fmt.Errorf("DATA holds entries [%d, %d) of %s; --from %d would leave a gap or re-read entries: use another --data directory for another range",
				st.Start, st.Position, l.Description, cfg.From)
		}
		if cr, err = st.frontierRange(); err != nil {
			return nil, badStateError(spath, "%v", err)
		}
		// At the tree size parseState checked the frontier against the
		// signed root. Short of it, prove it in the new head, which the
		// old one was just proven consistent with: a failure here is
		// the state file's, not the log's.
		if st.Position > 0 && st.Position < st.TreeSize {
			root, err := st.frontierRoot()
			if err == nil {
				err = src.prove(ctx, th, st.Position, root)
			}
			if err != nil {
				return nil, badStateError(spath, "its frontier at position %d is not part of the log's tree: %v", st.Position, err)
			}
		}
	} else {
		if cfg.FromEnd > 0 {
			cfg.From = max(0, th.Size-cfg.FromEnd)
		}
		if cfg.From > th.Size {
			return nil, fmt.Errorf("--from %d is past the end of %s (tree size %d)", cfg.From, l.Description, th.Size)
		}
		var fr [][]byte
		if cfg.From > 0 {
			if fr, err = src.frontier(ctx, th, cfg.From); err != nil {
				return nil, err
			}
		}
		if cr, err = rf.NewRange(0, uint64(cfg.From), fr); err != nil {
			return nil, err
		}
		st = &State{LogID: l.ID(), Description: l.Description, URL: l.URL, Protocol: string(l.Kind), Start: cfg.From, Position: cfg.From}
	}
	// From here on, st describes DATA; it gets the new head once the first
	// file verifies against it (or now, if there is nothing to write).
	pos := st.Position
	end := th.Size
	if cfg.To > 0 && cfg.To < end {
		end = cfg.To
	}
	sum.Start, sum.End = pos, max(pos, end)
	if err := removeUncommitted(dir, pos); err != nil {
		return nil, err
	}
	if pos >= end {
		sum.AlreadyAtEnd = true
		if err := adoptHead(spath, st, th, cr); err != nil {
			return nil, err
		}
		sum.Elapsed = time.Since(began)
		return sum, nil
	}
	if rs, ok := src.(*rfcSource); ok {
		if err := rs.discoverBatch(ctx, pos, end); err != nil {
			return nil, err
		}
	}

	r := &runner{cfg: cfg, src: src, th: th, dir: dir, spath: spath, st: st, cr: cr, sum: sum, began: began, total: end - pos, first: pos}
	err = r.run(ctx, pos, end)
	sum.Retries = src.retries()
	sum.Elapsed = time.Since(began)
	sum.End = r.st.Position
	sum.Entries = sum.End - sum.Start
	return sum, err
}

// adoptHead records a newer verified head in the state when nothing new
// was written (the frontier at Position is unchanged).
func adoptHead(spath string, st *State, th treeHead, cr *compact.Range) error {
	if st.TreeSize == th.Size && st.TreeHead != "" {
		return nil
	}
	setHead(st, th, cr)
	return saveState(spath, st)
}

func setHead(st *State, th treeHead, cr *compact.Range) {
	st.TreeSize, st.RootHash, st.TreeTimestamp, st.TreeHead = th.Size, th.Root[:], th.Timestamp, th.Raw
	st.Position = int64(cr.End())
	st.Frontier = cr.Hashes()
	st.UpdatedAt = time.Now().UTC()
}

// removeUncommitted deletes temporary files and files at or past pos: the
// state did not record them, so their entries will be fetched again.
func removeUncommitted(dir string, pos int64) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("couldn't list %s: %w", dir, err)
	}
	for _, de := range des {
		name := de.Name()
		remove := strings.HasSuffix(name, ".tmp")
		if m := fileNameRE.FindStringSubmatch(name); m != nil {
			last, _ := strconv.ParseInt(m[2], 10, 64)
			remove = last >= pos
		}
		if remove {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("couldn't remove uncommitted %s: %w", name, err)
			}
		}
	}
	return nil
}

type runner struct {
	cfg   Config
	src   source
	th    treeHead
	dir   string
	spath string
	st    *State
	cr    *compact.Range
	sum   *Summary
	began time.Time
	first int64
	total int64
}

type result struct {
	rows []Row
	keep []bool
	err  error
}

// run fetches and parses jobs with cfg.Workers goroutines and consumes the
// results in log order: hashing into the frontier, writing rows, and at
// each file boundary verifying and committing.
func (r *runner) run(ctx context.Context, pos, end int64) error {
	ctx, cancel := context.WithCancel(ctx)
	jobs := r.splitAtFiles(r.src.jobs(pos, end))

	type task struct {
		j   job
		out chan result
	}
	work := make(chan task)
	ordered := make(chan task, 4*r.cfg.Workers)
	var wg sync.WaitGroup
	for range r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p parser
			for t := range work {
				t.out <- r.process(ctx, t.j, &p)
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(work)
		for _, j := range jobs {
			t := task{j: j, out: make(chan result, 1)}
			select {
			case ordered <- t:
			case <-ctx.Done():
				return
			}
			select {
			case work <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stop the producer and workers before waiting for them: on an error
	// return they may be blocked handing over work nobody will take.
	defer func() { cancel(); wg.Wait() }()

	var fw *fileWriter
	defer func() {
		if fw != nil {
			fw.abort()
		}
	}()
	// The current file's counts reach the summary when it is committed: a
	// run stopped before that keeps none of its rows, and says so.
	var pend struct{ rows, filtered, parseErrors int64 }
	fileStart := pos
	for t := range ordered {
		var res result
		select {
		case res = <-t.out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.err != nil {
			return res.err
		}
		if fw == nil {
			var err error
			if fw, err = newFileWriter(r.dir, r.sum.LogID); err != nil {
				return err
			}
			fileStart = t.j.start
		}
		for i := range res.rows {
			row := &res.rows[i]
			if err := r.cr.Append(row.LeafHash[:], nil); err != nil {
				return err
			}
			if !res.keep[i] {
				pend.filtered++
				continue
			}
			if row.ParseError != "" {
				pend.parseErrors++
			}
			if err := fw.add(row); err != nil {
				return err
			}
			pend.rows++
		}
		if e := t.j.end; e == end || e%r.cfg.FileEntries == 0 {
			if err := r.commit(ctx, fw, fileStart, e); err != nil {
				fw = nil
				return err
			}
			fw = nil
			r.sum.Rows += pend.rows
			r.sum.Filtered += pend.filtered
			r.sum.ParseErrors += pend.parseErrors
			pend.rows, pend.filtered, pend.parseErrors = 0, 0, 0
		}
		if r.cfg.Progress != nil {
			r.cfg.Progress(Progress{Done: t.j.end - r.first, Total: r.total, Position: t.j.end,
				Rows: r.sum.Rows + pend.rows, Retries: r.src.retries(), Elapsed: time.Since(r.began)})
		}
	}
	return ctx.Err()
}

// splitAtFiles cuts jobs that straddle a file boundary (RFC 6962 batches
// that are not powers of two can).
func (r *runner) splitAtFiles(js []job) []job {
	var out []job
	for _, j := range js {
		for j.start < j.end {
			b := (j.start/r.cfg.FileEntries + 1) * r.cfg.FileEntries
			if b >= j.end {
				out = append(out, j)
				break
			}
			out = append(out, job{j.start, b})
			j.start = b
		}
	}
	return out
}

// commit verifies the frontier at e against the signed head, then makes the
// file visible and records it in the state, in that order.
func (r *runner) commit(ctx context.Context, fw *fileWriter, first, e int64) error {
	root, err := r.cr.GetRootHash(nil)
	if err != nil {
		fw.abort()
		return err
	}
	var rh [32]byte
	copy(rh[:], root)
	if err := r.src.prove(ctx, r.th, e, rh); err != nil {
		fw.abort()
		return fmt.Errorf("couldn't verify entries [%d, %d) of %s: %w; nothing from %d on was kept", first, e, r.sum.Log, err, first)
	}
	if fw.total == 0 {
		fw.abort() // every row filtered out: no file, but the position moves
	} else {
		name := fileName(first, e-1)
		n, err := fw.commit(r.dir, name)
		if err != nil {
			return err
		}
		r.sum.Files++
		r.sum.Bytes += n
		r.st.Files++
		if testHookAfterCommit != nil {
			if err := testHookAfterCommit(name); err != nil {
				return err
			}
		}
	}
	setHead(r.st, r.th, r.cr)
	return saveState(r.spath, r.st)
}

// process fetches one job and parses its entries.
func (r *runner) process(ctx context.Context, j job, p *parser) result {
	es, err := r.src.fetch(ctx, j, r.th)
	if err != nil {
		return result{err: err}
	}
	if int64(len(es)) != j.end-j.start {
		return result{err: fmt.Errorf("couldn't fetch entries [%d, %d): got %d", j.start, j.end, len(es))}
	}
	res := result{rows: make([]Row, len(es)), keep: make([]bool, len(es))}
	for i := range es {
		res.rows[i] = p.parse(&es[i])
		row := &res.rows[i]
		res.keep[i] = r.cfg.Issuer == nil || row.ParseError != "" || r.cfg.Issuer.MatchString(row.Issuer)
	}
	return res
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TreeSize fetches and verifies l's latest signed tree head and returns its
// size (for `ctlimits logs --size`).
func TreeSize(ctx context.Context, l *loglist.Log, cfg HTTPConfig) (int64, error) {
	var src source
	var err error
	if l.Kind == loglist.Static {
		src, err = newStaticSource(l, cfg)
	} else {
		src, err = newRFCSource(l, cfg, 0)
	}
	if err != nil {
		return 0, err
	}
	th, err := src.latest(ctx)
	return th.Size, err
}

// ParseFrom reads where a log new to DATA starts: an entry index ("N"), or
// "end-N", N ≥ 1 entries before the end of the log's signed tree. It
// returns From and FromEnd for a Config.
func ParseFrom(s string) (from, fromEnd int64, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	if rest, ok := strings.CutPrefix(s, "end"); ok {
		n, err := strconv.ParseInt(strings.TrimPrefix(rest, "-"), 10, 64)
		if err != nil || !strings.HasPrefix(rest, "-") || n < 1 {
			return 0, 0, fmt.Errorf("from %q: want an entry index (12345) or end-N (end-1000000)", s)
		}
		return 0, n, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("from %q: want an entry index (12345) or end-N (end-1000000)", s)
	}
	return n, 0, nil
}
