// Package boulderdiff drives Boulder's own rate limiter (the ratelimits
// package of github.com/letsencrypt/boulder) the way Boulder's WFE and RA
// drive it, so that ctlimits' replay model can be compared with it order by
// order and measured against it. It is a separate module so that Boulder's
// dependencies never enter ctlimits' go.mod.
//
// For one order at instant now, as Boulder does:
//
//  1. The identifiers are normalized (identifier.Normalize) and must be well
//     formed (policy.WellFormedIdentifiers).
//  2. Renewal: the SA's FQDNSetTimestampsForWindow, an issued certificate
//     with the same exact set (core.HashIdentifiers) whose NotBefore is
//     strictly after now - 120 days. Boulder keeps the fqdnSets table; here
//     it is a map.
//  3. The WFE's checkNewOrderLimits: NewOrderLimitTransactions, one
//     BatchSpend, Decision.Result(now). (Before it, with CheckMasking,
//     each transaction is also checked on its own, which stores nothing,
//     to tell the orders the two batch rules decide differently:
//     Outcome.Masking.)
//  4. If allowed, the RA's countCertificateIssued at issuance:
//     CertificatesPerDomainSpendOnlyTransactions (unless a renewal) and
//     CertificatesPerFQDNSetSpendOnlyTransaction in one BatchSpend; the
//     certificate's NotBefore goes into fqdnSets.
//
// The limiter runs over NewInmemSource with a fake clock set to each
// order's instant.
package boulderdiff

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jmhodges/clock"
	"github.com/letsencrypt/boulder/core"
	berrors "github.com/letsencrypt/boulder/errors"
	"github.com/letsencrypt/boulder/identifier"
	blog "github.com/letsencrypt/boulder/log"
	"github.com/letsencrypt/boulder/policy"
	"github.com/letsencrypt/boulder/ratelimits"
	"github.com/prometheus/client_golang/prometheus"
)

// renewalWindow is the lookback of Boulder's renewal query (wfe2 NewOrder,
// ra issueCertificateOuter).
const renewalWindow = 120 * 24 * time.Hour

// Boulder is one Boulder rate limiter with its fqdnSets table.
type Boulder struct {
	Builder *ratelimits.TransactionBuilder
	Limiter *ratelimits.Limiter
	Source  ratelimits.Source
	Clock   clock.FakeClock

	// CheckMasking makes Order check each new-order transaction on its
	// own first, to fill Outcome.Masking. The differential test sets it;
	// the benchmarks leave it off, as Boulder does no such checks.
	CheckMasking bool

	// fqdnSets holds the NotBefore of every issued certificate per exact
	// set, oldest first, as the SA's fqdnSets table does.
	fqdnSets map[[32]byte][]time.Time
	stop     context.CancelFunc
}

// New loads Boulder's defaults YAML and, if overridesPath is not empty, its
// overrides YAML, the way Boulder's WFE and RA do
// (NewTransactionBuilderFromFiles, then the refresher that loads overrides in
// the background), and waits until the overrides are loaded.
func New(defaultsPath, overridesPath string) (*Boulder, error) {
	stats := prometheus.NewRegistry()
	builder, err := ratelimits.NewTransactionBuilderFromFiles(defaultsPath, overridesPath, stats, blog.NewMock())
	if err != nil {
		return nil, fmt.Errorf("boulderdiff: couldn't load limits: %w", err)
	}
	stop, err := loadOverrides(builder)
	if err != nil {
		return nil, fmt.Errorf("boulderdiff: overrides from %s: %w", overridesPath, err)
	}
	clk := clock.NewFake()
	source := ratelimits.NewInmemSource()
	limiter, err := ratelimits.NewLimiter(clk, source, stats)
	if err != nil {
		stop()
		return nil, fmt.Errorf("boulderdiff: couldn't make a limiter: %w", err)
	}
	return &Boulder{
		Builder:  builder,
		Limiter:  limiter,
		Source:   source,
		Clock:    clk,
		fqdnSets: make(map[[32]byte][]time.Time),
		stop:     stop,
	}, nil
}

// loadOverrides starts the builder's refresher, which loads the overrides
// in the background as in Boulder, and returns once they are loaded.
// Boulder since v0.20260720.0 calls back when they are (OnHealthy);
// v0.20260309.0 only reports it (Ready), which is then watched, yielding
// to the loader in between: no sleep, and the load is of one small file.
func loadOverrides(builder *ratelimits.TransactionBuilder) (stop context.CancelFunc, err error) {
	const wait = 30 * time.Second
	type onHealthy interface{ OnHealthy(func()) }
	h, callback := any(builder).(onHealthy)
	loaded := make(chan struct{})
	if callback {
		h.OnHealthy(func() { close(loaded) })
	}
	stop = builder.NewRefresher(time.Hour)
	if callback {
		select {
		case <-loaded:
			return stop, nil
		case <-time.After(wait):
			stop()
			return nil, fmt.Errorf("not loaded after %s", wait)
		}
	}
	deadline := time.Now().Add(wait)
	for !builder.Ready() {
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not loaded after %s", wait)
		}
		runtime.Gosched()
	}
	return stop, nil
}

// Close stops the overrides refresher.
func (b *Boulder) Close() { b.stop() }

// Idents turns an order's raw names into Boulder's normalized identifiers:
// one trailing dot stripped (as ctlimits' ingest does for names from CT;
// Boulder would refuse it), then identifier.FromString and
// identifier.Normalize. With validate, it also applies the WFE's
// policy.WellFormedIdentifiers.
func Idents(names []string, validate bool) (identifier.ACMEIdentifiers, error) {
	idents := make(identifier.ACMEIdentifiers, 0, len(names))
	for _, n := range names {
		idents = append(idents, identifier.FromString(strings.TrimSuffix(n, ".")))
	}
	idents = identifier.Normalize(idents)
	if len(idents) > 100 {
		return nil, fmt.Errorf("boulderdiff: %d identifiers, Boulder takes at most 100", len(idents))
	}
	if validate {
		if err := policy.WellFormedIdentifiers(idents); err != nil {
			return nil, fmt.Errorf("boulderdiff: Boulder would refuse %v: %w", idents, err)
		}
	}
	return idents, nil
}

// Outcome is Boulder's decision on one order.
type Outcome struct {
	Allowed bool
	// Renewal: the exact set was issued within the renewal window.
	Renewal bool
	// Bucket is the reported (strictest) denial's bucket in ctlimits'
	// BucketRef.ID format ("CertificatesPerDomain:example.com"); empty
	// when allowed.
	Bucket string
	// RetryIn and Remaining are the reported denial's, exact (read from
	// the Decision), without jitter.
	RetryIn   time.Duration
	Remaining int64
	// Err is Decision.Result(now): Boulder's error for the subscriber, its
	// text and RetryAfter carrying 0-3% jitter.
	Err *berrors.BoulderError

	// Masking: the two batch rules decide the order differently. A check
	// denied it, and an allowed check outranks every denial by the rule
	// before boulder PR 8674 (the longer retryIn, then the fewer
	// remaining, the later check on a full tie): Boulder v0.20260309.0
	// issues such an order, the current release limits it. It is read
	// from each new-order transaction's own Check before the batch, so
	// it says what either rule would do whichever Boulder runs. Only
	// with Boulder.CheckMasking.
	Masking bool
	// Masked is, when Masking, the denial the current rule reports.
	Masked Check
}

// Check is one transaction's decision, read from Boulder's Decision.
type Check struct {
	Allowed   bool
	Bucket    string // in BucketRef.ID format
	RetryIn   time.Duration
	Remaining int64
}

// Order decides one order at now for account regID, and records the
// issuance (with notBefore) if it is allowed. Orders must come in time
// order. idents must come from Idents.
func (b *Boulder) Order(now, notBefore time.Time, regID int64, idents identifier.ACMEIdentifiers) (Outcome, error) {
	ctx := context.Background()
	b.Clock.Set(now)
	hash := [32]byte(core.HashIdentifiers(idents))
	out := Outcome{Renewal: b.issuedSince(hash, now.Add(-renewalWindow))}

	// WFE NewOrder: checkNewOrderLimits.
	txns, err := b.Builder.NewOrderLimitTransactions(regID, idents, out.Renewal)
	if err != nil {
		return out, fmt.Errorf("boulderdiff: building new-order transactions: %w", err)
	}
	if b.CheckMasking {
		if out.Masking, out.Masked, err = b.masking(ctx, txns); err != nil {
			return out, err
		}
	}
	d, err := b.Limiter.BatchSpend(ctx, txns)
	if err != nil {
		return out, fmt.Errorf("boulderdiff: new-order BatchSpend: %w", err)
	}
	if rerr := d.Result(now); rerr != nil {
		var berr *berrors.BoulderError
		if !errors.As(rerr, &berr) || berr.Type != berrors.RateLimit {
			return out, fmt.Errorf("boulderdiff: new-order decision: %w", rerr)
		}
		out.Err = berr
		out.Bucket, out.RetryIn, out.Remaining = inspect(d)
		return out, nil
	}
	out.Allowed = true

	// RA issueCertificateOuter: countCertificateIssued, then the SA's
	// AddCertificate adds the fqdnSets row with the certificate's NotBefore.
	var spend []ratelimits.Transaction
	if !out.Renewal {
		spend, err = b.Builder.CertificatesPerDomainSpendOnlyTransactions(regID, idents)
		if err != nil {
			return out, fmt.Errorf("boulderdiff: building spend transactions: %w", err)
		}
	}
	txn, err := b.Builder.CertificatesPerFQDNSetSpendOnlyTransaction(idents)
	if err != nil {
		return out, fmt.Errorf("boulderdiff: building spend transaction: %w", err)
	}
	if _, err := b.Limiter.BatchSpend(ctx, append(spend, txn)); err != nil {
		return out, fmt.Errorf("boulderdiff: issuance BatchSpend: %w", err)
	}
	b.fqdnSets[hash] = append(b.fqdnSets[hash], notBefore)
	return out, nil
}

// masking checks each transaction of a new-order batch on its own (Check
// stores nothing) and folds the decisions by both batch rules: it reports
// whether the rule before PR 8674 allows a batch that a check denies, and
// the denial the current rule reports.
func (b *Boulder) masking(ctx context.Context, txns []ratelimits.Transaction) (bool, Check, error) {
	var old, denied Check
	var checked, anyDenied bool
	for _, txn := range txns {
		d, err := b.Limiter.Check(ctx, txn)
		if err != nil {
			return false, Check{}, fmt.Errorf("boulderdiff: new-order Check: %w", err)
		}
		c := readCheck(d)
		// Before PR 8674: the longer retryIn; on a tie the earlier only
		// with strictly fewer remaining.
		if !checked || c.RetryIn > old.RetryIn || c.RetryIn == old.RetryIn && c.Remaining <= old.Remaining {
			old, checked = c, true
		}
		// Now, among denials: the same order.
		if !c.Allowed && (!anyDenied || c.RetryIn > denied.RetryIn || c.RetryIn == denied.RetryIn && c.Remaining <= denied.Remaining) {
			denied, anyDenied = c, true
		}
	}
	if anyDenied && old.Allowed {
		return true, denied, nil
	}
	return false, Check{}, nil
}

// readCheck reads a Decision's unexported fields (reflect may read them).
func readCheck(d *ratelimits.Decision) Check {
	v := reflect.ValueOf(d).Elem()
	return Check{
		Allowed:   v.FieldByName("allowed").Bool(),
		Bucket:    BucketID(v.FieldByName("transaction").FieldByName("bucketKey").String()),
		RetryIn:   time.Duration(v.FieldByName("retryIn").Int()),
		Remaining: v.FieldByName("remaining").Int(),
	}
}

// issuedSince is FQDNSetTimestampsForWindow with Limit 1: is there a row
// with issued > cutoff? Rows are appended in time order, so the newest is
// last.
func (b *Boulder) issuedSince(hash [32]byte, cutoff time.Time) bool {
	rows := b.fqdnSets[hash]
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].After(cutoff) {
			return true
		}
	}
	return false
}

// inspect reads the reported denial from a Decision, whose fields Boulder
// keeps unexported (reflect may read them, not write them).
func inspect(d *ratelimits.Decision) (bucket string, retryIn time.Duration, remaining int64) {
	c := readCheck(d)
	return c.Bucket, c.RetryIn, c.Remaining
}

// BucketID turns a Boulder bucket key ("5:example.com", enum:id) into
// ctlimits' BucketRef.ID format ("CertificatesPerDomain:example.com").
func BucketID(key string) string {
	enum, id, ok := strings.Cut(key, ":")
	n, err := strconv.Atoi(enum)
	if !ok || err != nil {
		return key
	}
	return ratelimits.Name(n).String() + ":" + id
}

// BucketKey is the inverse of BucketID.
func BucketKey(id string) string {
	name, rest, ok := strings.Cut(id, ":")
	if !ok {
		return id
	}
	n, ok := ratelimits.StringToName[name]
	if !ok {
		return id
	}
	return n.EnumString() + ":" + rest
}

// TAT returns the stored TAT of a bucket (by Boulder key), and whether the
// bucket exists.
func (b *Boulder) TAT(key string) (time.Time, bool) {
	tat, err := b.Source.Get(context.Background(), key)
	if err != nil {
		return time.Time{}, false
	}
	return tat, true
}
