package ctreplay

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// A plan over DATA: "what if we move 500 sites next week", starting from
// today's real buckets and renewal history. The planned orders and the
// certificates of DATA go through one Replayer, merged in time order, so
// a planned order finds the buckets real issuance left and renews a
// certificate CT shows was issued.
//
// Only the history that can change a planned order's decision is read:
// the connected components of the plan's registered domains (component.go;
// nothing outside a component can change a decision inside it), replayed
// whole, so the result is exact whatever states DATA saved. The decisions
// (history and plan, in time order; the plan's with issuer_group "plan")
// go to Config.Out, never into DATA: a what-if must not replace DATA's
// decisions. 'ctlimits report --decisions OUT' reads them, and, having the
// history that shaped the buckets, can size and retry the plan exactly.

// Plan is planned orders to lay over the stream's history.
type Plan struct {
	// Name is the plan as the user named it, for messages.
	Name string
	// Orders are the planned orders, any order (sorted here, stably).
	Orders []orderio.Record
}

// PlanGroup is the issuer_group of a planned order's decision.
const PlanGroup = "plan"

// replayPlan replays the plan over the history of its components into
// Config.Out.
func (e *engine) replayPlan(ctx context.Context, st Stream, where string, args []any) (StreamResult, error) {
	res := StreamResult{Stream: st}
	plan := slices.Clone(e.cfg.Plan.Orders)
	slices.SortStableFunc(plan, func(a, b orderio.Record) int { return a.Order.IssuedAt.Compare(b.Order.IssuedAt) })
	var namer replay.Namer
	domains := slices.Clone(e.cfg.Domains)
	for i := range plan {
		p, err := namer.Prepare(&plan[i].Order)
		if err != nil {
			return res, &orderio.InputError{File: e.cfg.Plan.Name, Line: plan[i].Line, Unit: "order", Err: err}
		}
		domains = append(domains, p.Domains...)
		plan[i].Cert = &orderio.CertRef{IssuerGroup: PlanGroup}
	}
	if len(plan) == 0 {
		return res, fmt.Errorf("the plan %s has no orders", e.cfg.Plan.Name)
	}
	slices.Sort(domains)
	e.cfg.Domains = slices.Compact(domains)
	sel, err := e.component(ctx, where, args)
	if err != nil {
		return res, err
	}
	from := strings.Replace(orderio.CertTableQuery, "FROM certificates", "FROM certificates c "+sel, 1)
	rows, err := e.db.DB().QueryContext(ctx, from+" WHERE "+where, args...)
	if err != nil {
		return res, fmt.Errorf("couldn't read certificates from %s: %w", e.cfg.Data, err)
	}
	tbl, err := orderio.LoadCertTable(ctx, e.cfg.Data+" certificates", rows)
	if err != nil {
		return res, err
	}
	tbl.Sort()
	e.logf("%s: %d planned orders from %s over %d certificates of their %d registered domains' components", st.Label, len(plan), e.cfg.Plan.Name, tbl.Len(), len(e.cfg.Domains))
	in := &mergeReader{name: e.cfg.Plan.Name + " over " + e.cfg.Data, history: tbl.Reader(), plan: plan}
	skip := func(rec *orderio.Record, err error) {
		if res.Skipped++; res.Skipped <= 3 {
			e.logf("skipping certificate %s serial %s: %v", rec.Cert.Issuer, rec.Cert.Serial, err)
		}
	}
	write := func(w io.Writer) error {
		out, err := orderio.NewWriterWith(e.cfg.Format, w, orderio.WriterOptions{CT: true, Policy: st.Policy.Name, Group: PlanGroup})
		if err != nil {
			return err
		}
		split := &planSplit{Writer: out}
		opt := orderio.Options{Skip: func(rec *orderio.Record, err error) {
			if rec.Cert != nil && rec.Cert.IssuerGroup == PlanGroup {
				// Prepared above: cannot happen, but a plan order is
				// never skipped silently.
				err = fmt.Errorf("planned order: %w", err)
			}
			skip(rec, err)
		}, Done: func(r *replay.Replayer) { res.replayers = []*replay.Replayer{r} }}
		filtered := &sinceWriter{Writer: split, since: math.MinInt64}
		if _, err := orderio.Stream(ctx, in, st.Policy, filtered, opt); err != nil {
			return err
		}
		res.Counts, res.Plan = filtered.counts, split.plan
		res.OverModel = res.Counts.Limited - res.Plan.Limited
		return out.Close()
	}
	res.Dest = e.cfg.Out
	if e.cfg.Out == "-" {
		res.Dest = "stdout"
		err = write(e.cfg.Stdout)
	} else {
		err = datadir.Write(e.cfg.Out, write)
	}
	return res, err
}

// planSplit counts the planned orders' decisions apart.
type planSplit struct {
	orderio.Writer
	plan orderio.Counts
}

func (p *planSplit) Write(r *orderio.Row) error {
	if r.Cert != nil && r.Cert.IssuerGroup == PlanGroup {
		p.plan.Add(r.Result)
	}
	return p.Writer.Write(r)
}

// mergeReader merges history (in time order) and the plan (sorted) by
// issued_at; at one instant history goes first: CT's certificates were
// issued before anyone planned beside them.
type mergeReader struct {
	name    string
	history orderio.Reader
	plan    []orderio.Record
	buf     []orderio.Record
	done    bool
}

func (m *mergeReader) Name() string { return m.name }
func (m *mergeReader) Close() error { return m.history.Close() }

func (m *mergeReader) Read(out []orderio.Record) (int, error) {
	n := 0
	for n < len(out) {
		if len(m.buf) == 0 && !m.done {
			b := make([]orderio.Record, 1024)
			k, err := m.history.Read(b)
			m.buf = b[:k]
			if err == io.EOF {
				m.done = true
			} else if err != nil {
				return n, err
			}
			if k == 0 && !m.done {
				continue
			}
		}
		switch {
		case len(m.buf) > 0 && (len(m.plan) == 0 || !m.plan[0].Order.IssuedAt.Before(m.buf[0].Order.IssuedAt)):
			out[n], m.buf = m.buf[0], m.buf[1:]
		case len(m.plan) > 0:
			out[n], m.plan = m.plan[0], m.plan[1:]
		default:
			return n, io.EOF
		}
		n++
	}
	return n, nil
}
