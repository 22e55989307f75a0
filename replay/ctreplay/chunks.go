package ctreplay

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql"
)

// Reading history a slice at a time, in bounded memory.
//
// Orders must reach the replayer in time order (issued_at, the earliest log
// timestamp of a certificate's entries), but issued_at is an aggregate over
// a certificate's entries: DuckDB can only filter on it after grouping all
// of history. NotBefore is different: every entry of a certificate (its
// precertificate and final certificate, in every log) carries the same
// NotBefore, so a NotBefore range holds whole certificates, deduplicates
// exactly on its own, and its filter reaches the Parquet scan
// (sql's certificates_between).
//
// So chunks are NotBefore ranges, read in order. A certificate is logged
// after its NotBefore less some skew (Let's Encrypt backdates NotBefore by
// about an hour, so its certificates are logged after it): once every
// NotBefore below H is read, every certificate issued before H - Skew is
// known, and those are handed on in time order; the rest wait for the next
// chunk. A certificate logged more than Skew before its NotBefore would
// arrive after later orders were replayed: that is an error naming it and
// the setting to raise, never a silently wrong replay.

// ChunkOptions shape the slices.
type ChunkOptions struct {
	// Span is the NotBefore range read at once. Memory follows the
	// certificates of Span + Skew. Optional; default 6h.
	Span time.Duration
	// Skew is how long before its NotBefore a certificate may be logged.
	// Optional; default 24h.
	Skew time.Duration
}

func (o *ChunkOptions) fill() {
	if o.Span <= 0 {
		o.Span = 6 * time.Hour
	}
	if o.Skew <= 0 {
		o.Skew = 24 * time.Hour
	}
}

// chunkReader is an orderio.Reader over the certificates of one stream,
// read a NotBefore slice at a time.
type chunkReader struct {
	ctx   context.Context
	db    *sql.DB
	name  string
	where string // the stream's condition and the time bounds, on certificates_between
	args  []any
	opt   ChunkOptions

	next, last time.Time // the next slice starts at next; the last NotBefore is last
	done       bool      // every slice read

	pending []orderio.Record // read, sorted by (issued_at, issuer, serial), not yet handed on
	emitted int64            // records handed on
	prev    recordKey        // the last record handed on

	// Stats for progress lines.
	Chunks   int
	ReadTime time.Duration // in DuckDB and loading
	MaxBuf   int           // the most certificates held at once
}

type recordKey struct {
	issued         int64
	issuer, serial string
}

func keyOf(r *orderio.Record) recordKey {
	return recordKey{r.Order.IssuedAt.UnixNano(), r.Cert.Issuer, r.Cert.Serial}
}

func (a recordKey) compare(b recordKey) int {
	if c := cmp.Compare(a.issued, b.issued); c != 0 {
		return c
	}
	if c := cmp.Compare(a.issuer, b.issuer); c != 0 {
		return c
	}
	return cmp.Compare(a.serial, b.serial)
}

// newChunkReader reads the certificates matching where (a condition on the
// certificates view's columns, with args) in NotBefore slices. It returns
// nil when no certificate has a NotBefore.
func newChunkReader(ctx context.Context, db *sql.DB, name, where string, args []any, opt ChunkOptions) (*chunkReader, error) {
	opt.fill()
	var lo, hi *time.Time
	err := db.DB().QueryRowContext(ctx, `SELECT min(not_before), max(not_before) FROM entries
		WHERE parse_error IS NULL AND serial IS NOT NULL AND issuer IS NOT NULL`).Scan(&lo, &hi)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the NotBefore range of %s: %w", name, err)
	}
	if lo == nil {
		return nil, nil
	}
	return &chunkReader{ctx: ctx, db: db, name: name, where: where, args: args, opt: opt,
		next: lo.UTC().Truncate(opt.Span), last: hi.UTC()}, nil
}

func (c *chunkReader) Name() string { return c.name }
func (c *chunkReader) Close() error { return nil }

// Read hands on the pending certificates issued before the frontier,
// reading slices until there are some or history ends.
func (c *chunkReader) Read(buf []orderio.Record) (int, error) {
	for {
		ready := len(c.pending)
		if !c.done {
			frontier := c.next.Add(-c.opt.Skew).UnixNano()
			ready, _ = slices.BinarySearchFunc(c.pending, frontier, func(r orderio.Record, t int64) int {
				return cmp.Compare(r.Order.IssuedAt.UnixNano(), t)
			})
		}
		if ready > 0 {
			n := min(ready, len(buf))
			for i := range n {
				buf[i] = c.pending[i]
				c.emitted++
				buf[i].Line = c.emitted
			}
			c.prev = keyOf(&buf[n-1])
			// Drop what was handed on without keeping the backing array's
			// prefix alive forever: copy down when it is mostly spent.
			c.pending = c.pending[n:]
			if cap(c.pending) > 4*len(c.pending)+1024 {
				c.pending = slices.Clone(c.pending)
			}
			return n, nil
		}
		if c.done {
			return 0, io.EOF
		}
		if err := c.readSlice(); err != nil {
			return 0, err
		}
	}
}

// readSlice reads the certificates with NotBefore in [next, next+Span)
// and merges them into pending.
func (c *chunkReader) readSlice() error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	lo, hi := c.next, c.next.Add(c.opt.Span)
	c.next = hi
	c.done = hi.After(c.last)
	start := time.Now()
	// The bounds are literals, not parameters, so that DuckDB's planner
	// sees them and pushes the NotBefore filter into the Parquet scan.
	q := strings.Replace(orderio.CertTableQuery, "FROM certificates",
		fmt.Sprintf("FROM certificates_between(%s, %s, NULL)", tsLiteral(lo), tsLiteral(hi)), 1)
	rows, err := c.db.DB().QueryContext(c.ctx, q+" WHERE "+c.where, c.args...)
	if err != nil {
		return fmt.Errorf("couldn't read certificates from %s: %w", c.name, err)
	}
	tbl, err := orderio.LoadCertTable(c.ctx, c.name, rows)
	if err != nil {
		return err
	}
	tbl.Sort()
	recs, err := orderio.ReadAll(c.ctx, tbl.Reader())
	if err != nil {
		return err
	}
	c.ReadTime += time.Since(start)
	c.Chunks++
	if len(recs) == 0 {
		return nil
	}
	if keyOf(&recs[0]).compare(c.prev) < 0 && c.emitted > 0 {
		late := &recs[0]
		return fmt.Errorf("%s: certificate %s serial %s was logged at %s, %s before its NotBefore %s, after later orders were replayed: replay again with a larger --nb-skew (now %s)",
			c.name, late.Cert.Issuer, late.Cert.Serial, late.Order.IssuedAt.Format(time.RFC3339), late.Order.NotBefore.Sub(late.Order.IssuedAt),
			late.Order.NotBefore.Format(time.RFC3339), c.opt.Skew)
	}
	c.pending = mergeRecords(c.pending, recs)
	c.MaxBuf = max(c.MaxBuf, len(c.pending))
	return nil
}

// mergeRecords merges two sorted runs; a's records come first on ties
// (none: (issued_at, issuer, serial) is unique).
func mergeRecords(a, b []orderio.Record) []orderio.Record {
	if len(a) == 0 {
		return b
	}
	out := make([]orderio.Record, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if keyOf(&b[j]).compare(keyOf(&a[i])) < 0 {
			out = append(out, b[j])
			j++
		} else {
			out = append(out, a[i])
			i++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// tsLiteral is t as a DuckDB TIMESTAMP literal (UTC, microseconds: the
// entries' resolution).
func tsLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "'"
}
