package ctreplay

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// dayWriter writes a stream's decisions into one Parquet file per UTC day
// of issued_at (<slug>-<YYYY-MM-DD>.parquet): a later replay that resumes
// from a saved state rewrites only the days it replays again, and keeps
// the earlier days' files as they are. Rows arrive in time order.
type dayWriter struct {
	dir, slug, policy string

	day  string
	file *datadir.File
	out  orderio.Writer
}

func (d *dayWriter) Write(r *orderio.Row) error {
	day := time.Unix(0, r.Result.IssuedAt).UTC().Format(time.DateOnly)
	if day != d.day {
		if err := d.Close(); err != nil {
			return err
		}
		f, err := datadir.NewFile(filepath.Join(d.dir, fmt.Sprintf("%s-%s.parquet", datadir.SafeName(d.slug), day)))
		if err != nil {
			return err
		}
		out, err := orderio.NewWriterWith("parquet", f, orderio.WriterOptions{CT: true, Policy: d.policy})
		if err != nil {
			f.Abort()
			return err
		}
		d.day, d.file, d.out = day, f, out
	}
	return d.out.Write(r)
}

// Close finishes the current day's file.
func (d *dayWriter) Close() error {
	if d.file == nil {
		return nil
	}
	f, out := d.file, d.out
	d.file, d.out, d.day = nil, nil, ""
	if err := out.Close(); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// Abort drops the unfinished day.
func (d *dayWriter) Abort() {
	if d.file != nil {
		d.file.Abort()
		d.file, d.out = nil, nil
	}
}
