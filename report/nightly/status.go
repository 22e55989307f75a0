package nightly

import (
	"fmt"
	"time"
)

// Exit statuses follow the monitoring plugin convention (Nagios, Icinga,
// Sensu).
const (
	OK      = 0 // every watched domain has headroom
	Warn    = 1 // a watched domain has fewer tokens left than its threshold
	Crit    = 2 // a watched domain had an order limited since the last run
	Unknown = 3 // stale or incomplete data, or an error
)

// StatusName is the word for an exit status.
func StatusName(code int) string {
	if code < OK || code > Unknown {
		return "UNKNOWN"
	}
	return [...]string{"OK", "WARN", "CRIT", "UNKNOWN"}[code]
}

// Facts are what a run found, the only input of the status rules.
type Facts struct {
	// Problems make the data incomplete: a log that failed (with its
	// reason), a stage that failed, no certificates at all.
	Problems []string
	// Newest is the newest certificate's issue time (zero: none); Now and
	// StaleAfter decide whether the data is stale.
	Newest     time.Time
	Now        time.Time
	StaleAfter time.Duration
	// Watch are the watched domains as measured.
	Watch []WatchResult
}

// Judge applies the status rules. Each watched domain is CRIT when one of
// its orders was limited since the last run, WARN when it has fewer tokens
// than its threshold, else OK (with a note when it has no issuance yet).
// The run is CRIT if any domain is (a limited order found in partial data
// is real), else UNKNOWN if the data is incomplete or stale (WARN and OK
// could be wrong on it), else the worst domain status. It returns the
// run's status, the reasons in the order a reader needs them (what went
// wrong first, then the domains, then staleness), notes that do not
// change the status, and each watched domain with its status filled in.
func Judge(f Facts) (code int, reasons, notes []string, watch []WatchResult) {
	reasons = append(reasons, f.Problems...)
	incomplete := len(f.Problems) > 0
	worst := OK
	for _, w := range f.Watch {
		st := OK
		switch {
		case w.LimitedNew > 0:
			st = Crit
			reasons = append(reasons, fmt.Sprintf("%s had %d orders limited since the last run", w.Domain, w.LimitedNew))
		case w.Tokens < w.WarnTokens:
			st = Warn
			reasons = append(reasons, fmt.Sprintf("%s has %d of %d tokens left (threshold %d), full again %s", w.Domain, w.Tokens, w.Burst, w.WarnTokens, w.FullAt.Format(time.RFC3339)))
		case !w.Issued:
			notes = append(notes, fmt.Sprintf("%s has no certificates in the data yet: its bucket is full", w.Domain))
		}
		w.Status = StatusName(st)
		worst = max(worst, st)
		watch = append(watch, w)
	}
	if f.Newest.IsZero() {
		incomplete = true
		reasons = append(reasons, "no certificates in the data yet")
	} else if age := f.Now.Sub(f.Newest); age > f.StaleAfter {
		incomplete = true
		reasons = append(reasons, fmt.Sprintf("the newest certificate is %s old (stale after %s)", age.Round(time.Minute), f.StaleAfter))
	}
	switch {
	case worst == Crit:
		code = Crit
	case incomplete:
		code = Unknown
	default:
		code = worst
	}
	return code, reasons, notes, watch
}
