package orderio

import (
	"bytes"
	"cmp"
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/ctlimits/ctlimits/replay"
)

// Replaying CT history needs the certificates in time order. DuckDB can
// sort them, but its ORDER BY carries every certificate's name list
// through the sort: on a day of 8M certificates the sort cost more than
// the whole rest of the replay (64 s against 28 s for the same query
// unsorted, and 6 GB against 2.5 GB). A CertTable instead holds the
// unsorted rows in Go, packed into one byte arena (about 190 bytes per
// certificate with its names), and sorts them there by the same key.

// CertTableQuery selects what LoadCertTable reads from the certificates
// view, without ORDER BY; the caller appends WHERE. Names arrive as one
// JSON array per row: scanning a DuckDB list through database/sql costs
// an allocation per element, a string one per row.
const CertTableQuery = `SELECT epoch_ns(issued_at), CAST(to_json(names) AS VARCHAR), epoch_ns(not_before), epoch_ns(not_after), issuer, serial, issuer_group FROM certificates`

// noTime marks a missing timestamp (NULL) in a CertTable.
const noTime = math.MinInt64

// CertTable holds certificates from the certificates view in memory,
// compactly, in time order once sorted.
type CertTable struct {
	name string
	rows chunked[certRow]
	// Interned issuers and their issuer_group.
	issuers, groups []string
	issuerIDs       map[string]uint32
	// spans locate strings in arena: chunk<<50 | offset<<24 | length.
	// Everything grows by fixed chunks: growing slices copied gigabytes
	// and faulted in fresh pages each time (a sixth of the replay's CPU).
	spans chunked[uint64]
	arena [][]byte
	// order is the sorted permutation of rows (nil until Sort).
	order []uint32
}

// certRow is one certificate; times are Unix ns or noTime.
type certRow struct {
	issued, notBefore, notAfter int64
	issuer                      uint32 // index into issuers
	first                       uint32 // index into spans: serial, then names
}

// chunked is an append-only vector in fixed-size chunks: growing it never
// copies.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

const vecBits = 16

func (v *chunked[T]) push(x T) {
	if v.n>>vecBits == len(v.chunks) {
		v.chunks = append(v.chunks, make([]T, 1<<vecBits))
	}
	v.chunks[v.n>>vecBits][v.n&(1<<vecBits-1)] = x
	v.n++
}

func (v *chunked[T]) at(i int) *T { return &v.chunks[i>>vecBits][i&(1<<vecBits-1)] }

const (
	spanLenBits = 24
	maxSpanLen  = 1<<spanLenBits - 1
	chunkBits   = 26 // 64 MiB chunks
	chunkSize   = 1 << chunkBits
)

// LoadCertTable reads every row of a CertTableQuery; name labels
// messages ("DATA certificates"). It closes rows.
func LoadCertTable(ctx context.Context, name string, rows *dbsql.Rows) (*CertTable, error) {
	defer rows.Close()
	t := &CertTable{name: name, issuerIDs: map[string]uint32{}}
	var (
		issued, nb, na        dbsql.NullInt64
		names                 dbsql.RawBytes
		issuer, serial, group dbsql.RawBytes
		line                  int64
	)
	for rows.Next() {
		line++
		if line%65536 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := rows.Scan(&issued, &names, &nb, &na, &issuer, &serial, &group); err != nil {
			return nil, &InputError{File: name, Line: line, Unit: "row", Err: err}
		}
		if err := t.add(issued, nb, na, names, issuer, serial, group); err != nil {
			return nil, &InputError{File: name, Line: line, Unit: "row", Err: err}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("couldn't read %s after row %d: %w", name, line, err)
	}
	return t, nil
}

func orNoTime(v dbsql.NullInt64) int64 {
	if !v.Valid {
		return noTime
	}
	return v.Int64
}

func (t *CertTable) add(issued, nb, na dbsql.NullInt64, names, issuer, serial, group []byte) error {
	if t.rows.n == math.MaxUint32 || t.spans.n >= math.MaxUint32-1<<16 {
		return fmt.Errorf("more than %d certificates: replay a shorter range (--since, --until)", math.MaxUint32)
	}
	id, ok := t.issuerIDs[string(issuer)]
	if !ok {
		id = uint32(len(t.issuers))
		t.issuers = append(t.issuers, string(issuer))
		t.groups = append(t.groups, string(group))
		t.issuerIDs[string(issuer)] = id
	}
	t.rows.push(certRow{orNoTime(issued), orNoTime(nb), orNoTime(na), id, uint32(t.spans.n)})
	if err := t.addString(serial); err != nil {
		return err
	}
	if names == nil { // NULL: an order without names, which the replay skips
		return nil
	}
	return t.addNames(names)
}

func (t *CertTable) addString(s []byte) error {
	if len(s) > maxSpanLen {
		return fmt.Errorf("a %d-byte string is too long", len(s))
	}
	if len(t.arena) == 0 || len(t.arena[len(t.arena)-1])+len(s) > chunkSize {
		t.arena = append(t.arena, make([]byte, 0, chunkSize))
	}
	c := len(t.arena) - 1
	t.spans.push(uint64(c)<<(chunkBits+spanLenBits) | uint64(len(t.arena[c]))<<spanLenBits | uint64(len(s)))
	t.arena[c] = append(t.arena[c], s...)
	return nil
}

// addNames appends the strings of a JSON array as DuckDB's to_json writes
// it. Strings without escapes (nearly all names) are copied as they are;
// others, and any other shape, go through encoding/json. null elements
// are dropped, as the replay ignores them.
func (t *CertTable) addNames(js []byte) error {
	rest := js
	if len(rest) < 2 || rest[0] != '[' || rest[len(rest)-1] != ']' {
		return t.addNamesSlow(js)
	}
	rest = rest[1 : len(rest)-1]
	for len(rest) > 0 {
		if bytes.HasPrefix(rest, []byte("null")) {
			rest = rest[4:]
		} else {
			if rest[0] != '"' {
				return t.addNamesSlow(js)
			}
			end := bytes.IndexByte(rest[1:], '"')
			if end < 0 {
				return t.addNamesSlow(js)
			}
			s := rest[1 : 1+end]
			if bytes.IndexByte(s, '\\') >= 0 {
				return t.addNamesSlow(js)
			}
			if err := t.addString(s); err != nil {
				return err
			}
			rest = rest[end+2:]
		}
		if len(rest) > 0 {
			if rest[0] != ',' {
				return t.addNamesSlow(js)
			}
			rest = rest[1:]
		}
	}
	return nil
}

func (t *CertTable) addNamesSlow(js []byte) error {
	// Undo whatever the fast path appended for this row.
	start := int(t.rows.at(t.rows.n-1).first) + 1
	if start < t.spans.n {
		c, off, _ := splitSpan(*t.spans.at(start))
		t.arena = t.arena[:c+1]
		t.arena[c] = t.arena[c][:off]
		t.spans.n = start
	}
	var names []*string
	if err := json.Unmarshal(js, &names); err != nil {
		return fmt.Errorf("names %.60q: %w", js, err)
	}
	for _, n := range names {
		if n != nil {
			if err := t.addString([]byte(*n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Len is the number of certificates.
func (t *CertTable) Len() int { return t.rows.n }

// str returns span i as a string sharing the arena, which is never
// written again once loaded.
func (t *CertTable) str(i uint32) string {
	c, off, n := splitSpan(*t.spans.at(int(i)))
	if n == 0 {
		return ""
	}
	return unsafe.String(&t.arena[c][off], n)
}

func splitSpan(sp uint64) (chunk, off, n int) {
	return int(sp >> (chunkBits + spanLenBits)), int(sp >> spanLenBits & (chunkSize - 1)), int(sp & maxSpanLen)
}

func (t *CertTable) spanEnd(row uint32) uint32 {
	if int(row)+1 < t.rows.n {
		return t.rows.at(int(row) + 1).first
	}
	return uint32(t.spans.n)
}

// Sort puts the certificates in the replay's order: issued_at, then
// issuer and serial (bytewise, as DuckDB compares them) so ties are
// deterministic. It sorts on all cores.
func (t *CertTable) Sort() {
	// Issuers compare by rank, computed once.
	rank := make([]uint32, len(t.issuers))
	byName := make([]uint32, len(t.issuers))
	for i := range byName {
		byName[i] = uint32(i)
	}
	slices.SortFunc(byName, func(a, b uint32) int { return cmp.Compare(t.issuers[a], t.issuers[b]) })
	for r, id := range byName {
		rank[id] = uint32(r)
	}
	less := func(a, b uint32) int {
		ra, rb := t.rows.at(int(a)), t.rows.at(int(b))
		if c := cmp.Compare(ra.issued, rb.issued); c != 0 {
			return c
		}
		if c := cmp.Compare(rank[ra.issuer], rank[rb.issuer]); c != 0 {
			return c
		}
		return cmp.Compare(t.str(ra.first), t.str(rb.first))
	}
	order := make([]uint32, t.Len())
	for i := range order {
		order[i] = uint32(i)
	}
	// Sort chunks in parallel, then merge pairwise.
	chunks := runtime.GOMAXPROCS(0)
	if len(order) < 1<<16 {
		chunks = 1
	}
	bounds := make([]int, chunks+1)
	for i := range bounds {
		bounds[i] = len(order) * i / chunks
	}
	var wg sync.WaitGroup
	for i := 0; i < chunks; i++ {
		wg.Add(1)
		go func(part []uint32) {
			defer wg.Done()
			slices.SortFunc(part, less)
		}(order[bounds[i]:bounds[i+1]])
	}
	wg.Wait()
	tmp := make([]uint32, len(order))
	for width := 1; width < chunks; width *= 2 {
		var wg sync.WaitGroup
		for i := 0; i+width < chunks; i += 2 * width {
			lo, mid, hi := bounds[i], bounds[i+width], bounds[min(i+2*width, chunks)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				merge(tmp[lo:hi], order[lo:mid], order[mid:hi], less)
				copy(order[lo:hi], tmp[lo:hi])
			}()
		}
		wg.Wait()
	}
	t.order = order
}

// merge merges sorted a and b into dst, a first on ties (stable).
func merge(dst, a, b []uint32, less func(a, b uint32) int) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if less(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}

// record fills rec with the certificate at sorted position pos (0-based;
// Line is pos+1), its names appended to names. ref receives the
// certificate's identity.
func (t *CertTable) record(pos int, rec *Record, ref *CertRef, names []string) []string {
	row := t.row(pos)
	start := len(names)
	cr := t.rows.at(int(row))
	first, end := cr.first, t.spanEnd(row)
	for s := first + 1; s < end; s++ {
		names = append(names, t.str(s))
	}
	rec.Order = replay.Order{
		IssuedAt:  fromNs(cr.issued),
		NotBefore: fromNs(cr.notBefore),
		NotAfter:  fromNs(cr.notAfter),
		Names:     names[start:len(names):len(names)],
	}
	*ref = CertRef{Issuer: t.issuers[cr.issuer], Serial: t.str(first), IssuerGroup: t.groups[cr.issuer]}
	rec.Line, rec.Cert = int64(pos)+1, ref
	return names
}

// row is the table row at sorted position pos.
func (t *CertTable) row(pos int) uint32 {
	if t.order != nil {
		return t.order[pos]
	}
	return uint32(pos)
}

func fromNs(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Reader serves the certificates in sorted order (table order before
// Sort). Records share the table's memory: the table must outlive them.
func (t *CertTable) Reader() Reader { return &tableReader{t: t, all: true} }

// positions serves the certificates at the given sorted positions, in
// that order.
func (t *CertTable) positions(pos []uint32) *tableReader {
	return &tableReader{t: t, pos: pos}
}

type tableReader struct {
	t    *CertTable
	pos  []uint32
	all  bool
	next int
}

func (r *tableReader) Name() string { return r.t.name }
func (r *tableReader) Close() error { return nil }

func (r *tableReader) Read(buf []Record) (int, error) {
	total := len(r.pos)
	if r.all {
		total = r.t.Len()
	}
	n := min(len(buf), total-r.next)
	if n == 0 {
		return 0, io.EOF
	}
	// One allocation each per batch: rows keep pointers into them.
	refs := make([]CertRef, n)
	count := 0
	for i := 0; i < n; i++ {
		row := r.t.row(r.at(r.next + i))
		count += int(r.t.spanEnd(row) - r.t.rows.at(int(row)).first - 1)
	}
	names := make([]string, 0, count)
	for i := 0; i < n; i++ {
		names = r.t.record(r.at(r.next+i), &buf[i], &refs[i], names)
	}
	r.next += n
	return n, nil
}

func (r *tableReader) at(i int) int {
	if r.all {
		return i
	}
	return int(r.pos[i])
}

// Partition splits the certificates (sorted) into at most workers readers
// that can be replayed apart: each holds whole connected components of
// registered domains (replay.Components), in time order, so replaying
// each on its own Replayer decides every order as one serial replay does.
// Finding the components prepares every order once (in parallel);
// orders the model rejects are passed to skip, in order, and left out
// (without skip they are an error).
func (t *CertTable) Partition(ctx context.Context, workers int, skip func(*Record, error)) ([]Reader, PartitionStats, error) {
	workers = max(1, workers)
	const chunk = 1 << 16
	type work struct {
		n        int
		recs     []Record
		prepared []replay.Prepared
		bad      []error
	}
	// Chunks are prepared on every core while the previous one joins the
	// components (a union-find, serial).
	free := make(chan *work, 2)
	for range cap(free) {
		free <- &work{recs: make([]Record, chunk), prepared: make([]replay.Prepared, chunk), bad: make([]error, chunk)}
	}
	ready := make(chan *work, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ready)
		namers := make([]replay.Namer, workers)
		in := t.Reader()
		for {
			var w *work
			select {
			case w = <-free:
			case <-ctx.Done():
				return
			}
			n, err := in.Read(w.recs)
			if err == io.EOF {
				return
			}
			w.n = n
			var wg sync.WaitGroup
			for k := range workers {
				wg.Add(1)
				go func(lo, hi int, namer *replay.Namer) {
					defer wg.Done()
					for i := lo; i < hi; i++ {
						w.prepared[i], w.bad[i] = namer.Prepare(&w.recs[i].Order)
					}
				}(n*k/workers, n*(k+1)/workers, &namers[k])
			}
			wg.Wait()
			select {
			case ready <- w:
			case <-ctx.Done():
				return
			}
		}
	}()
	var comps replay.Components
	kept := make([]uint32, 0, t.Len()) // sorted positions, in the order added to comps
	for w := range ready {
		for i := 0; i < w.n; i++ {
			if w.bad[i] != nil {
				if skip == nil {
					return nil, PartitionStats{}, inputErr(t.name, w.recs[i].Line, w.bad[i])
				}
				skip(&w.recs[i], w.bad[i])
				continue
			}
			comps.Add(&w.prepared[i])
			kept = append(kept, uint32(w.recs[i].Line-1))
		}
		free <- w
	}
	if err := ctx.Err(); err != nil {
		return nil, PartitionStats{}, err
	}
	a := comps.Assign(workers)
	parts := make([][]uint32, a.Workers)
	for i, w := range a.Worker {
		parts[w] = append(parts[w], kept[i])
	}
	readers := make([]Reader, a.Workers)
	st := PartitionStats{Orders: len(kept), Skipped: t.Len() - len(kept), Components: a.Components, Largest: a.Largest}
	for w := range parts {
		readers[w] = t.positions(parts[w])
		st.PerWorker = append(st.PerWorker, len(parts[w]))
	}
	return readers, st, nil
}

// PartitionStats describe a partition, for progress messages.
type PartitionStats struct {
	Orders, Skipped     int
	Components, Largest int   // connected components, and the orders of the largest
	PerWorker           []int // orders per part
}
