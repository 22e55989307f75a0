package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/replay/synth"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

// WriteOrders writes the orders of c, one at a time from synth's
// Generator (memory does not grow with c.Orders), to path in the orders
// format `ctlimits replay --orders` reads, chosen by orderio.FormatOf:
// "-" is JSON lines on stdout, *.jsonl JSON lines, *.csv CSV, *.parquet
// Parquet. A file is written under a temporary name and renamed into
// place once complete. It returns how many orders it wrote.
func WriteOrders(path string, stdout io.Writer, c synth.Config) (int64, error) {
	format, err := orderio.FormatOf(path)
	if err != nil {
		return 0, err
	}
	if path == "-" {
		return writeOrdersTo(stdout, format, c)
	}
	var n int64
	err = datadir.Write(path, func(w io.Writer) (err error) {
		n, err = writeOrdersTo(w, format, c)
		return err
	})
	return n, err
}

func writeOrdersTo(w io.Writer, format orderio.Format, c synth.Config) (int64, error) {
	ow, err := orderio.NewOrderWriter(format, w)
	if err != nil {
		return 0, err
	}
	g := synth.New(c)
	var o replay.Order
	var n int64
	for g.Next(&o) {
		if err := ow.Write(&o); err != nil {
			return n, fmt.Errorf("couldn't write orders: %w", err)
		}
		n++
	}
	if err := ow.Close(); err != nil {
		return n, fmt.Errorf("couldn't write orders: %w", err)
	}
	return n, nil
}

// ordersOptions are the flags of `ctgen -orders`.
type ordersOptions struct {
	N      int
	Seed   uint64
	Out    string
	OutSet bool // -out given; otherwise the orders go to stdout
	// PerDay, when positive, sets the mean rate in orders a day.
	PerDay float64
	// LogFlags are the log-only flags given, an error here.
	LogFlags []string
}

// ordersMode runs `ctgen -orders N`: the log flags do not apply.
func ordersMode(o ordersOptions, stdout, stderr io.Writer) error {
	if len(o.LogFlags) > 0 {
		return fmt.Errorf("-%s: -orders writes orders, not a log; the log flags (-certs, -days, -start, -hosting, -serve) don't apply", strings.Join(o.LogFlags, ", -"))
	}
	if o.N <= 0 {
		return errors.New("-orders: want a positive number of orders")
	}
	out := o.Out
	if !o.OutSet {
		out = "-"
	}
	c := synth.Realistic(o.Seed, o.N)
	if o.PerDay < 0 || math.IsNaN(o.PerDay) || math.IsInf(o.PerDay, 0) {
		return fmt.Errorf("-per-day %v: want a positive rate", o.PerDay)
	}
	if o.PerDay > 0 {
		// Realistic's steps: Burst of them 0, the others exponential with
		// mean MeanStep.
		c.MeanStep = time.Duration(float64(24*time.Hour) / ((1 - c.Burst) * o.PerDay))
		if c.MeanStep <= 0 {
			return fmt.Errorf("-per-day %v: more than one order a nanosecond", o.PerDay)
		}
	}
	t0 := time.Now()
	written, err := WriteOrders(out, stdout, c)
	if err != nil {
		return err
	}
	dest := out
	if out == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(stderr, "ctgen: wrote %s orders (synth.Realistic, seed %d, mean step %s) to %s in %s\n",
		strconv.FormatInt(written, 10), o.Seed, c.MeanStep, dest, time.Since(t0).Round(time.Millisecond))
	return nil
}
