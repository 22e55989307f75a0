package orderio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// Options tune Stream.
type Options struct {
	// Sort reads every order first and replays them in issued_at order
	// (stable); rows are still written in input order. Without it, an
	// order earlier than the one before it is an error.
	Sort bool
	// Workers prepare orders (normalize names, hash, PSL) in parallel.
	// Optional; default GOMAXPROCS.
	Workers int
	// Progress, if set, is called now and then with the orders done.
	Progress func(done int64)
	// Skip, if set, makes an order the model rejects (a malformed name)
	// a skipped row instead of an error: Skip is called with it, in input
	// order, and no decision is written for it. CT holds every kind of
	// name; a planned-orders file should be fixed instead.
	Skip func(rec *Record, err error)
	// PositionFromLine numbers rows (Row.Order) Line-1 instead of by their
	// place in this input: for a reader that serves part of a larger
	// input (CertTable.Partition), whose Line is the row in the whole.
	PositionFromLine bool
	// Done, if set, is called with the Replayer after the last decision,
	// to read its final state (bucket levels). Not called on error.
	Done func(r *replay.Replayer)
	// Start, if set, is the Replayer to decide with: one restored from a
	// saved state (replay.ReadState), whose orders precede this input's.
	// Default a new Replayer (every bucket full, no history). Not with
	// Sort.
	Start *replay.Replayer
	// AtBoundary, if set, is called with the Replayer whenever the next
	// order is at or after Boundary (Unix ns), before it is decided: every
	// order before the boundary is decided, none after. It returns the
	// next boundary, after that order's instant. For saving the state at
	// day boundaries. Not with Sort.
	// line is the next order's Record.Line. Boundaries with no order
	// between them are each called in turn.
	AtBoundary func(r *replay.Replayer, boundary, line int64) (next int64, err error)
	Boundary   int64
}

// batchSize is the orders handed between pipeline stages at once: large
// enough to amortize channel costs, small enough to stay in cache.
const batchSize = 4096

type batch struct {
	seq      int64
	first    int64 // input position of recs[0]
	recs     []Record
	prepared []replay.Prepared
	results  []replay.Result // each keeps its own slices across reuse
	bad      []error         // with Options.Skip: why an order was skipped
	err      error
}

// Stream replays every order of in under p and writes one row per order to
// out, in input order. It returns the counts; on error nothing more is
// written (the caller discards out).
func Stream(ctx context.Context, in Reader, p *replay.Policy, out Writer, opt Options) (Counts, error) {
	if opt.Sort && (opt.Start != nil || opt.AtBoundary != nil) {
		return Counts{}, errors.New("orderio: Sort cannot start from a saved state or stop at boundaries")
	}
	if opt.Sort {
		return streamSorted(ctx, in, p, out, opt)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	pool := sync.Pool{New: func() any {
		return &batch{recs: make([]Record, batchSize), prepared: make([]replay.Prepared, batchSize),
			results: make([]replay.Result, batchSize), bad: make([]error, batchSize)}
	}}
	toPrepare := make(chan *batch, workers*2)
	prepared := make(chan *batch, workers*2)

	// Reader: one goroutine, file order.
	var readErr error
	go func() {
		defer close(toPrepare)
		var seq, pos int64
		for {
			b := pool.Get().(*batch)
			b.recs = b.recs[:batchSize]
			n, err := in.Read(b.recs)
			b.recs, b.seq, b.first, b.err = b.recs[:n], seq, pos, nil
			if err != nil && !errors.Is(err, io.EOF) {
				b.err = err
			}
			if n > 0 || b.err != nil {
				select {
				case toPrepare <- b:
				case <-ctx.Done():
					return
				}
				seq++
				pos += int64(n)
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
		}
	}()

	// Preparers: independent per order, so any worker takes any batch.
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var namer replay.Namer
			for b := range toPrepare {
				b.prepared = b.prepared[:len(b.recs)]
				clear(b.bad)
				for i := range b.recs {
					pr, err := namer.Prepare(&b.recs[i].Order)
					if err != nil && opt.Skip != nil {
						b.prepared[i], b.bad[i] = replay.Prepared{}, err
						continue
					}
					if err != nil {
						b.prepared = b.prepared[:i]
						b.err = inputErr(in.Name(), b.recs[i].Line, err)
						break
					}
					b.prepared[i] = pr
				}
				select {
				case prepared <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(prepared) }()

	// Writer: encodes rows on its own goroutine, so encoding overlaps
	// deciding.
	toWrite := make(chan *batch, 4)
	writeErr := make(chan error, 1)
	var counts Counts
	go func() {
		defer close(writeErr)
		var row Row
		for b := range toWrite {
			for i := range b.prepared {
				if b.bad[i] != nil {
					opt.Skip(&b.recs[i], b.bad[i])
					continue
				}
				row.Order, row.Prepared, row.Result, row.Cert = b.first+int64(i), &b.prepared[i], &b.results[i], b.recs[i].Cert
				if opt.PositionFromLine {
					row.Order = b.recs[i].Line - 1
				}
				if err := out.Write(&row); err != nil {
					writeErr <- fmt.Errorf("couldn't write decisions: %w", err)
					cancel()
					for range toWrite {
					}
					return
				}
				counts.Add(&b.results[i])
			}
			if opt.Progress != nil {
				opt.Progress(counts.Orders)
			}
			b.recs, b.prepared = b.recs[:cap(b.recs)], b.prepared[:cap(b.prepared)]
			clear(b.recs)
			pool.Put(b)
		}
	}()
	rep := opt.Start
	if rep == nil {
		rep = replay.NewReplayer(p)
	}
	bd := boundaries{next: opt.Boundary, at: opt.AtBoundary}
	err := decideInOrder(ctx, in.Name(), prepared, rep, toWrite, &bd)
	close(toWrite)
	if werr := <-writeErr; werr != nil {
		return counts, werr
	}
	if err != nil {
		return counts, err
	}
	if readErr != nil {
		return counts, readErr
	}
	if err := ctx.Err(); err != nil {
		return counts, err
	}
	if opt.Done != nil {
		opt.Done(rep)
	}
	return counts, nil
}

// decideInOrder restores file order among prepared batches, decides each
// order in sequence and hands the batches on to the writer. A batch that
// carries an error is decided up to the bad record, handed on, and its
// error returned.
// boundaries calls at before the first order at or after next.
type boundaries struct {
	next int64
	at   func(r *replay.Replayer, boundary, line int64) (int64, error)
}

// split returns how many of orders come before the boundary (all of them
// when there is none).
func (b *boundaries) split(orders []replay.Prepared) int {
	if b.at == nil {
		return len(orders)
	}
	for i := range orders {
		if orders[i].IssuedAt >= b.next {
			return i
		}
	}
	return len(orders)
}

func decideInOrder(ctx context.Context, name string, prepared <-chan *batch, r *replay.Replayer, toWrite chan<- *batch, bd *boundaries) error {
	pending := map[int64]*batch{}
	var next, prevLine, prevAt int64
	for b := range prepared {
		pending[b.seq] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			// Decide each run of orders between skipped ones as a batch.
			for lo := 0; lo < len(b.prepared); {
				if b.bad[lo] != nil {
					lo++
					continue
				}
				hi := lo + 1
				for hi < len(b.prepared) && b.bad[hi] == nil {
					hi++
				}
				for bd.at != nil && b.prepared[lo].IssuedAt >= bd.next {
					// Orders are in time order (DecideBatch checks): the
					// state now is the state at the boundary.
					next, err := bd.at(r, bd.next, b.recs[lo].Line)
					if err != nil {
						return err
					}
					if next <= bd.next {
						return fmt.Errorf("orderio: AtBoundary returned %s, not after %s", fmtTime(next), fmtTime(bd.next))
					}
					bd.next = next
				}
				hi = lo + bd.split(b.prepared[lo:hi])
				n, err := r.DecideBatch(b.prepared[lo:hi], b.results[lo:hi])
				if n > 0 {
					prevLine, prevAt = b.recs[lo+n-1].Line, b.prepared[lo+n-1].IssuedAt
				}
				if err != nil {
					i := lo + n
					if errors.Is(err, replay.ErrOutOfOrder) {
						err = fmt.Errorf("issued_at %s is earlier than the order before it (line %d, %s); sort the input by issued_at or pass --sort",
							fmtTime(b.prepared[i].IssuedAt), prevLine, fmtTime(prevAt))
					}
					line := b.recs[i].Line // b is the writer's once sent
					b.prepared = b.prepared[:i]
					toWrite <- b
					return inputErr(name, line, err)
				}
				lo = hi
			}
			toWrite <- b
			if b.err != nil {
				return b.err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func inputErr(file string, line int64, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	unit := "line"
	if f, _ := FormatOf(file); f == Parquet {
		unit = "row"
	}
	return &InputError{File: file, Line: line, Unit: unit, Err: err}
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// streamSorted reads everything, replays in time order (stable, so equal
// instants keep input order) and writes rows in input order.
func streamSorted(ctx context.Context, in Reader, p *replay.Policy, out Writer, opt Options) (Counts, error) {
	recs, err := ReadAll(ctx, in)
	if err != nil {
		return Counts{}, err
	}
	prepared := make([]replay.Prepared, 0, len(recs))
	var namer replay.Namer
	kept := recs[:0]
	for i := range recs {
		pr, err := namer.Prepare(&recs[i].Order)
		if err != nil && opt.Skip != nil {
			opt.Skip(&recs[i], err)
			continue
		}
		if err != nil {
			return Counts{}, inputErr(in.Name(), recs[i].Line, err)
		}
		prepared = append(prepared, pr)
		kept = append(kept, recs[i])
	}
	recs = kept
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return int(min(max(prepared[a].IssuedAt-prepared[b].IssuedAt, -1), 1))
	})
	results := make([]replay.Result, len(recs))
	r := replay.NewReplayer(p)
	var res replay.Result
	for _, i := range idx {
		if err := r.Decide(&prepared[i], &res); err != nil {
			return Counts{}, inputErr(in.Name(), recs[i].Line, err)
		}
		results[i] = res.Clone()
	}
	if opt.Done != nil {
		opt.Done(r)
	}
	var counts Counts
	for i := range recs {
		row := Row{Order: int64(i), Prepared: &prepared[i], Result: &results[i], Cert: recs[i].Cert}
		if err := out.Write(&row); err != nil {
			return counts, fmt.Errorf("couldn't write decisions: %w", err)
		}
		counts.Add(&results[i])
		if opt.Progress != nil && i%batchSize == 0 {
			opt.Progress(counts.Orders)
		}
	}
	return counts, nil
}

// ReadAll reads every record of in, for the callers that must see all
// orders before replaying any (sorting, connected components).
func ReadAll(ctx context.Context, in Reader) ([]Record, error) {
	var recs []Record
	buf := make([]Record, batchSize)
	for {
		n, err := in.Read(buf)
		recs = append(recs, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// SliceReader serves records already in memory.
type SliceReader struct {
	name string
	recs []Record
}

// NewSliceReader serves recs; name labels messages.
func NewSliceReader(name string, recs []Record) *SliceReader {
	return &SliceReader{name: name, recs: recs}
}

func (s *SliceReader) Name() string { return s.name }
func (s *SliceReader) Close() error { return nil }

func (s *SliceReader) Read(buf []Record) (int, error) {
	if len(s.recs) == 0 {
		return 0, io.EOF
	}
	n := copy(buf, s.recs)
	s.recs = s.recs[n:]
	return n, nil
}
