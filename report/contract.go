package report

import (
	"errors"
	"fmt"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// SchemaVersion is the version of the JSON schema (docs/reports.md). It
// changes only when a field changes meaning or is removed; new fields may be
// added within a version.
const SchemaVersion = 1

// Errors Build returns for a data directory that is not ready; callers add
// the directory and the command to run.
var (
	// ErrNoEntries: there is nothing ingested at all.
	ErrNoEntries = errors.New("no CT entries")
	// ErrNoDecisions: entries exist, but nothing has been replayed.
	ErrNoDecisions = errors.New("no decisions")
)

// UnknownDomainError is returned for a --domain with no replayed orders.
type UnknownDomainError struct {
	Domain string
	// Hint says why, when the data knows (not a registered domain,
	// certificates that were not replayed).
	Hint string
}

func (e *UnknownDomainError) Error() string {
	return fmt.Sprintf("domain %q: %s", e.Domain, e.Hint)
}

// Options choose what a report covers. The zero Options is a full report
// with the defaults below.
type Options struct {
	// Domains are registered domains to report on whatever their rank:
	// they are added to the domains table, sized for an override (instead
	// of the limited domains) and given a headroom section. Optional.
	Domains []string
	// Top is how many registered domains the domains table lists (by new
	// certificates) and, without Domains, how many limited domains are
	// sized. Default 10.
	Top int
	// At is "now" for the headroom section and the current week. Default:
	// the newest issued_at in the decisions.
	At time.Time
	// Headroom multiplies the size found by replaying before choosing an
	// override tier. Default 1.2.
	Headroom float64
	// Policy is what sizing and headroom replays run under. Default: the
	// built-in policy named in the decisions' policy column.
	Policy *replay.Policy
	// LimitedRows caps the limited-orders table (the newest rows are kept;
	// the total is always reported). Default 100; negative means all.
	LimitedRows int
	// MaxComponentOrders caps the orders read back to size or measure one
	// domain: a domain whose connected component is larger is skipped
	// with a note. Default 2,000,000 (about 0.5 GB while it is replayed).
	MaxComponentOrders int
	// Charts is how many of the busiest domains get a bucket-level chart
	// (the Domains first). Default 3.
	Charts int
	// Adjust, if set, changes the sizing policy before any replay: the
	// limits and overrides the decisions were replayed with (--limits,
	// --overrides), which their policy name does not carry. Optional.
	Adjust func(p *replay.Policy) error
	// LogNames maps a log ID (as the entries' log column has it) to the
	// log's description, from the log list and DATA's ingest states; a
	// log without one is named by its ID. Optional.
	LogNames map[string]string
}

func (o *Options) setDefaults() {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.Headroom <= 0 {
		o.Headroom = 1.2
	}
	if o.LimitedRows == 0 {
		o.LimitedRows = 100
	}
	if o.MaxComponentOrders <= 0 {
		o.MaxComponentOrders = 2_000_000
	}
	if o.Charts <= 0 {
		o.Charts = 3
	}
}

// Report is everything a report shows. Its JSON form is the documented
// schema (docs/reports.md); times are UTC.
type Report struct {
	SchemaVersion int `json:"schema_version"`
	// Policy is the policy the decisions were replayed under; SizingPolicy
	// the one sizing and headroom replays used.
	Policy       string `json:"policy"`
	SizingPolicy string `json:"sizing_policy"`
	// Source is what the decisions replayed: "ct" (certificates in DATA),
	// "plan" (planned orders) or "plan+ct" (a plan laid over DATA's
	// certificates).
	Source   string    `json:"source"`
	At       time.Time `json:"at"`
	Headroom float64   `json:"headroom_factor"`
	Domains  []string  `json:"requested_domains"`

	Summary Summary        `json:"summary"`
	Limited LimitedOrders  `json:"limited"`
	Top     []DomainStats  `json:"domains"`
	Sizing  []Sizing       `json:"override_sizing"`
	HeadNow []Headroom     `json:"headroom"`
	Daily   []DayCount     `json:"daily"`
	Levels  []BucketSeries `json:"bucket_levels"`
	// Plan is when the planned orders finish; nil unless the decisions
	// hold planned orders.
	Plan     *PlanFinish `json:"plan,omitempty"`
	Notes    []string    `json:"notes"`
	policy   *replay.Policy
	maxNames int
}

// Summary is what the data covers.
type Summary struct {
	// From and To bound the replayed orders' issued_at.
	From time.Time  `json:"from"`
	To   time.Time  `json:"to"`
	Logs []LogStats `json:"logs"`
	// Certificates counts certificates in DATA (every issuer group);
	// Orders counts the replayed ones.
	Certificates int64         `json:"certificates"`
	Orders       int64         `json:"orders"`
	New          int64         `json:"new"`
	Renewal      int64         `json:"renewal"`
	Limited      int64         `json:"limited"`
	LimitedBy    []LimitCount  `json:"limited_by"`
	Groups       []GroupCounts `json:"issuer_groups"`
}

// LogStats is one CT log's share of the entries.
type LogStats struct {
	Log string `json:"log"`
	// Name is the log's description from the log list (or DATA's ingest
	// state), "" when unknown.
	Name    string    `json:"name"`
	Entries int64     `json:"entries"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

// DisplayName is the log's description, or its ID when unknown.
func (l *LogStats) DisplayName() string {
	if l.Name != "" {
		return l.Name
	}
	return l.Log
}

// LimitCount is how many orders one limit denied. An order denied by two
// limits counts under both.
type LimitCount struct {
	Limit  string `json:"limit"`
	Orders int64  `json:"orders"`
}

// GroupCounts breaks the counts down by issuer group: letsencrypt,
// letsencrypt-staging, other.
type GroupCounts struct {
	Group        string `json:"group"`
	Certificates int64  `json:"certificates"`
	Orders       int64  `json:"orders"`
	New          int64  `json:"new"`
	Renewal      int64  `json:"renewal"`
	Limited      int64  `json:"limited"`
}

// IssuerGroups are the groups, in report order.
var IssuerGroups = []string{"letsencrypt", "letsencrypt-staging", "other"}

// LimitedOrders are the orders over the model.
type LimitedOrders struct {
	// Total counts every limited order in scope; Orders holds the newest
	// LimitedRows of them, oldest first.
	Total  int64          `json:"total"`
	Orders []LimitedOrder `json:"orders"`
}

// LimitedOrder is one certificate the model says would have been limited.
type LimitedOrder struct {
	Order    int64     `json:"order"`
	IssuedAt time.Time `json:"issued_at"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	Names    []string  `json:"names"`
	// Domains are the registered domains whose buckets denied the order,
	// or the order's registered domains when only its exact set did.
	Domains []string `json:"registered_domains"`
	// Limits are the limits that denied it; LimitedBy the buckets.
	Limits     []string  `json:"limits"`
	LimitedBy  []string  `json:"limited_by"`
	RetryAfter time.Time `json:"retry_after"`
	Message    string    `json:"message"`
	Renewal    bool      `json:"renewal"`
	// Causes are the likely reasons CT shows it issued anyway, most
	// likely first; empty for a planned order, which is simply limited.
	Causes []string `json:"likely_causes"`
	// Planned marks an order of a plan (not a certificate from CT).
	Planned bool `json:"planned"`
}

// DomainStats is one registered domain's activity.
type DomainStats struct {
	Domain  string `json:"domain"`
	New     int64  `json:"new"`
	Renewal int64  `json:"renewal"`
	Limited int64  `json:"limited"`
	// Peak7d is the most new certificates in any 168 hours, the window
	// (t-168h, t] ending at PeakAt.
	Peak7d int64     `json:"peak_7d_new"`
	PeakAt time.Time `json:"peak_7d_end"`
	// PeakIssued is the most certificates counting as new in any 168
	// hours whatever the model decided (limited ones too: CT shows they
	// were issued; for a plan, the planned ones), ending at PeakIssuedAt;
	// WeekIssued the same in the 168 hours up to At.
	PeakIssued   int64     `json:"peak_7d_issued"`
	PeakIssuedAt time.Time `json:"peak_7d_issued_end"`
	WeekIssued   int64     `json:"current_7d_issued"`
	// Week is new certificates in the 168 hours up to the report's At.
	Week int64 `json:"current_7d_new"`
	// LowestTokens is the fewest tokens its CertificatesPerDomain bucket
	// held after any order (before it, for a limited order); Burst that
	// bucket's size. Both -1 when no order reached the bucket.
	LowestTokens int64 `json:"lowest_tokens"`
	Burst        int64 `json:"burst"`
	// Names counts distinct names under the domain.
	Names int64     `json:"names"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Requested is set for a --domain.
	Requested bool `json:"requested"`
}

// RenewalShare is renewals over issued certificates, 0 when none.
func (d *DomainStats) RenewalShare() float64 {
	if d.New+d.Renewal == 0 {
		return 0
	}
	return float64(d.Renewal) / float64(d.New+d.Renewal)
}

// Sizing is the override one domain needs.
type Sizing struct {
	Domain string `json:"domain"`
	// Sized is false when the domain could not be sized (see Note).
	Sized bool   `json:"sized"`
	Note  string `json:"note,omitempty"`
	// LimitedNow counts orders its CertificatesPerDomain bucket denied
	// under the current policy.
	LimitedNow int64 `json:"limited_now"`
	// Needed is the smallest burst (= count per 168h) under which that
	// bucket denies no order, found by binary search over replays;
	// Verified says a replay at Needed denied nothing and one at Needed-1
	// denied something.
	Needed   int64 `json:"needed"`
	Verified bool  `json:"verified"`
	Replays  int   `json:"replays"`
	// ComponentOrders and ComponentDomains describe what was replayed: the
	// domain's connected component.
	ComponentOrders  int `json:"component_orders"`
	ComponentDomains int `json:"component_domains"`
	// Target is Needed times the headroom factor, rounded up; Tier the
	// smallest Let's Encrypt tier covering it, 0 when no override is
	// needed (Needed fits the default) and -1 when Target exceeds every
	// tier.
	Target int64  `json:"target"`
	Tier   int64  `json:"tier"`
	Advice string `json:"advice"`
	// Account says whether a per-account override
	// (CertificatesPerDomainPerAccount) may fit better.
	Account AccountHint `json:"account_override"`
	Form    FormFacts   `json:"form"`
}

// AccountHint is the account-level heuristic. CT does not show ACME
// accounts: this is a guess from issuance timing.
type AccountHint struct {
	Likely bool `json:"likely"`
	// Peers are other limited domains issued in the same 10-minute slots.
	Peers  []string `json:"peers"`
	Reason string   `json:"reason"`
}

// FormFacts are what Let's Encrypt's override request form asks for.
//
// The weekly counts come twice: as issued (CT shows these certificates
// were issued, limited ones included; for a plan, as planned), which is
// what the form asks, and as the model allowed them under the policy.
type FormFacts struct {
	Domain string `json:"registered_domain"`
	Tier   int64  `json:"tier_requested"`
	// CurrentWeek and PeakWeek are new certificates the model allowed.
	CurrentWeek int64 `json:"current_weekly_new"`
	PeakWeek    int64 `json:"peak_weekly_new"`
	// IssuedCurrentWeek and IssuedPeakWeek count every certificate that
	// counts as new, as CT shows them issued (or as planned).
	IssuedCurrentWeek int64     `json:"issued_current_weekly_new"`
	IssuedPeakWeek    int64     `json:"issued_peak_weekly_new"`
	Names             int64     `json:"names"`
	RenewalShare      float64   `json:"renewal_share"`
	From              time.Time `json:"evidence_from"`
	To                time.Time `json:"evidence_to"`
}

// Headroom is one domain's CertificatesPerDomain bucket at At.
type Headroom struct {
	Domain string `json:"domain"`
	OK     bool   `json:"ok"`
	Note   string `json:"note,omitempty"`
	// Tokens left at At, of Burst; FullAt is when the bucket is full
	// again (At when it is full).
	Tokens int64     `json:"tokens"`
	Burst  int64     `json:"burst"`
	FullAt time.Time `json:"full_at"`
	// Certificates of the domain whose newest copy expires in
	// (At, At+30d]: Renewing would renew their exact set (exempt from the
	// bucket), CountNew would count as new certificates (their set was
	// last issued longer ago than the renewal window).
	Expiring int64 `json:"expiring_30d"`
	Renewing int64 `json:"renewing_30d"`
	CountNew int64 `json:"new_30d"`
}

// DayCount is one UTC day's issuance.
type DayCount struct {
	Day     string `json:"day"`
	New     int64  `json:"new"`
	Renewal int64  `json:"renewal"`
	Limited int64  `json:"limited"`
}

// BucketSeries is one domain's CertificatesPerDomain bucket over time, at
// most a few hundred points: per time bin, the lowest level and the last.
type BucketSeries struct {
	Domain string        `json:"domain"`
	Burst  int64         `json:"burst"`
	Points []BucketPoint `json:"points"`
}

// BucketPoint is the bucket's level after an order.
type BucketPoint struct {
	T      time.Time `json:"t"`
	Tokens int64     `json:"tokens"`
}

// Tiers are the override tiers Let's Encrypt's form offers for
// certificates per registered domain, per week.
var Tiers = []int64{300, 1000, 5000, 10000, 25000, 50000, 75000, 100000, 175000, 250000, 500000, 1000000}

// TierFor returns the smallest tier covering n, or -1 when none does.
func TierFor(n int64) int64 {
	for _, t := range Tiers {
		if t >= n {
			return t
		}
	}
	return -1
}

// PlanFinish is when a plan's orders are all issued, each limited order
// retried at its retry-after until issued (replay.SimulateRetries), with
// no override and with the suggested one.
type PlanFinish struct {
	OK   bool   `json:"ok"`
	Note string `json:"note,omitempty"`
	// Orders counts the planned orders; History the CT certificates
	// replayed with them (a plan over DATA).
	Orders  int64 `json:"orders"`
	History int64 `json:"history_orders"`
	// From and To are the first and last planned instants.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Limited counts planned orders limited at their planned instant.
	Limited int64 `json:"limited"`
	// Without is the plan under the policy; With under the policy plus
	// Overrides, the suggested ones (each sized domain's tier).
	// AtStart is the CertificatesPerDomain bucket of the plan's busiest
	// registered domains (the requested and sized ones first) just before
	// its first order: what real history (a plan over DATA) left.
	AtStart   []PlanLevel    `json:"at_start"`
	Without   PlanRun        `json:"without_override"`
	With      PlanRun        `json:"with_override"`
	Overrides []OverrideTier `json:"overrides"`
}

// PlanRun is one retried replay of a plan.
type PlanRun struct {
	// Finish is when the last planned order is issued.
	Finish time.Time `json:"finish"`
	// Delayed counts planned orders limited at least once; MaxDelay the
	// longest wait past a planned instant, in seconds.
	Delayed  int64 `json:"delayed"`
	MaxDelay int64 `json:"max_delay_seconds"`
	// Decisions counts first attempts and retries.
	Decisions int64 `json:"decisions"`
	// Last names the planned order issued last (the one that sets
	// Finish), and Attempts how often it was tried.
	Last     []string `json:"last_order_names"`
	Attempts int64    `json:"last_order_attempts"`
	// Domains are the AtStart domains' planned orders: how many, how
	// many delayed, when the last is issued.
	Domains []DomainFinish `json:"domains"`
}

// DomainFinish is when one registered domain's planned orders are done.
type DomainFinish struct {
	Domain  string    `json:"domain"`
	Orders  int64     `json:"orders"`
	Delayed int64     `json:"delayed"`
	Finish  time.Time `json:"finish"`
}

// OverrideTier is one suggested CertificatesPerDomain override.
type OverrideTier struct {
	Domain string `json:"domain"`
	// PerWeek is the tier (or, above every tier, the size with headroom).
	PerWeek int64 `json:"per_week"`
}

// PlanLevel is a registered domain's bucket when a plan starts.
type PlanLevel struct {
	Domain string    `json:"domain"`
	Tokens int64     `json:"tokens"`
	Burst  int64     `json:"burst"`
	FullAt time.Time `json:"full_at"`
}
