package ctreplay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
)

// State is the model's state after a stream's history up to an instant,
// for callers that go on from there (the lifetime what-if).
type State struct {
	// Replayer holds the state; decide later orders with it.
	Replayer *replay.Replayer
	// Orders counts the orders of history decided; Skipped those whose
	// names the model rejects.
	Orders, Skipped int64
	// From says where the replay started: a saved state or scratch.
	From string
}

// StateAt replays st's certificates issued at or before at and returns the
// Replayer's state, writing nothing into DATA. It reads history as Run
// does: with cfg.Domains only those domains' connected components (exact
// for them); otherwise from the latest state a replay into DATA saved
// (DATA/replay, resume.go) that still holds for the current entries and is
// at or before at, else a NotBefore slice at a time from scratch. Only
// Data, Domains, Workers, Chunks and Resume.FromScratch of cfg are used.
func StateAt(ctx context.Context, cfg Config, st Stream, at time.Time) (*State, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	e, err := openEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.db.Close()
	dd, db := e.dd, e.db
	where := "(" + st.Where + ") AND issued_at <= ?"
	args := append(slices.Clone(st.Args), at)
	out := &State{From: "from scratch"}
	var in orderio.Reader
	var start *replay.Replayer
	switch {
	case len(cfg.Domains) > 0:
		sel, err := e.component(ctx, where, args)
		if err != nil {
			return nil, err
		}
		q := strings.Replace(orderio.CertTableQuery, "FROM certificates", "FROM certificates c "+sel, 1)
		rows, err := db.DB().QueryContext(ctx, q+" WHERE "+where, args...)
		if err != nil {
			return nil, fmt.Errorf("couldn't read certificates from %s: %w", cfg.Data, err)
		}
		tbl, err := orderio.LoadCertTable(ctx, cfg.Data+" certificates", rows)
		if err != nil {
			return nil, err
		}
		tbl.Sort()
		in = tbl.Reader()
		out.From = "the connected components of " + strings.Join(cfg.Domains, ", ") + ", from scratch"
	default:
		var rp resumePoint
		if !cfg.Resume.FromScratch {
			files, err := dd.EntriesFiles()
			if err != nil {
				return nil, err
			}
			if rp, err = e.findResume(ctx, st, resumeDir(dd, st), files); err != nil {
				return nil, err
			}
		}
		if rp.rep != nil && !rp.at.After(at) {
			if in, _, err = e.newResumeReader(ctx, where, args, rp.at, rp.orders); err != nil {
				return nil, err
			}
			start, out.Orders = rp.rep, rp.orders
			out.From = "the state saved at " + rp.at.Format(time.RFC3339)
			break
		}
		chunks, err := newChunkReader(ctx, db, cfg.Data+" certificates", where, args, e.cfg.Chunks)
		if err != nil {
			return nil, err
		}
		if chunks == nil {
			return nil, fmt.Errorf("%w in %s for %s issued by %s", errNoOrders, cfg.Data, st.Label, at.UTC().Format(time.RFC3339))
		}
		in = chunks
	}
	opt := orderio.Options{Workers: cfg.Workers, Start: start,
		Skip: func(*orderio.Record, error) { out.Skipped++ },
		Done: func(r *replay.Replayer) { out.Replayer = r }}
	counts, err := orderio.Stream(ctx, in, st.Policy, discard{}, opt)
	if err != nil {
		return nil, err
	}
	out.Orders += counts.Orders
	if out.Replayer == nil {
		if start == nil {
			return nil, errors.New("the replay decided nothing")
		}
		out.Replayer = start
	}
	return out, nil
}

// discard drops decisions: StateAt wants the state, not the rows.
type discard struct{}

func (discard) Write(*orderio.Row) error { return nil }
func (discard) Close() error             { return nil }
