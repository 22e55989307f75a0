package replay_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// cutover is when the letsencrypt policy's batch rule changes: boulder PR
// 8674 in production (docs/semantics.md, "Dated rules").
var cutover = time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)

// maskingCase is one order whose batch has a denied check and an allowed
// check with a longer retryIn, after the orders that set its buckets up.
type maskingCase struct {
	name   string
	policy func(t *testing.T) *replay.Policy
	// setup runs the orders before the masking order, which comes at at.
	setup   func(at time.Time) []replay.Order
	masking func(at time.Time) replay.Order
	// denied is the bucket that denies the masking order, and retryIn its
	// retryIn there.
	denied  string
	retryIn time.Duration
}

var maskingCases = []maskingCase{
	{
		// example.com spent to empty a minute before the order,
		// example.org to one token left at it: the order's check of
		// example.org is allowed and leaves it short, with a retryIn one
		// minute longer than example.com's denial.
		name:   "an allowed registered domain masks an exhausted one",
		policy: func(t *testing.T) *replay.Policy { return mustPolicy(t, "letsencrypt") },
		setup: func(at time.Time) []replay.Order {
			var orders []replay.Order
			for i := range 50 {
				orders = append(orders, replay.Order{IssuedAt: at.Add(-time.Minute), Names: []string{fmt.Sprintf("a%d.example.com", i)}})
			}
			for i := range 49 {
				orders = append(orders, replay.Order{IssuedAt: at, Names: []string{fmt.Sprintf("b%d.example.org", i)}})
			}
			return orders
		},
		masking: func(at time.Time) replay.Order {
			return replay.Order{IssuedAt: at, Names: []string{"c.example.com", "c.example.org"}}
		},
		denied: "CertificatesPerDomain:example.com",
		// 168h/50 = 201.6 min to refill one token, less the minute that
		// has passed since the bucket was emptied.
		retryIn: 168*time.Hour/50 - time.Minute,
	},
	{
		// The case of the PR: an account out of new orders (36 s to its
		// next) while the order's registered domain has one token left
		// (here 3h20m to the next after it).
		name: "an allowed registered domain masks an account out of new orders",
		policy: func(t *testing.T) *replay.Policy {
			return mustPolicy(t, "letsencrypt", func(p *replay.Policy) {
				p.Limits[replay.CertificatesPerDomain] = mustLimit(t, 3, 3, 10*time.Hour)
			})
		},
		// 300 new orders from account 7 (a denied order spends none, a
		// renewal is not counted), two of them under example.net.
		setup: func(at time.Time) []replay.Order {
			var orders []replay.Order
			for i := range 298 {
				orders = append(orders, replay.Order{IssuedAt: at, Account: "7", Names: []string{fmt.Sprintf("d%d.example", i)}})
			}
			for _, n := range []string{"a.example.net", "b.example.net"} {
				orders = append(orders, replay.Order{IssuedAt: at, Account: "7", Names: []string{n}})
			}
			return orders
		},
		masking: func(at time.Time) replay.Order {
			return replay.Order{IssuedAt: at, Account: "7", Names: []string{"new.example.net"}}
		},
		denied:  "NewOrdersPerAccount:7",
		retryIn: 3 * time.Hour / 300,
	},
}

// decideAll replays orders and returns the last result.
func decideAll(t *testing.T, r *replay.Replayer, orders []replay.Order) replay.Result {
	t.Helper()
	var n replay.Namer
	var res replay.Result
	for i := range orders {
		if orders[i].NotBefore.IsZero() {
			orders[i].NotBefore = orders[i].IssuedAt
		}
		p, err := n.Prepare(&orders[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&p, &res); err != nil {
			t.Fatal(err)
		}
	}
	return res.Clone()
}

// TestBatchRuleIsDated: an order whose batch has a denied check and an
// allowed one with a longer retryIn is issued before the cut-over, as
// Boulder before PR 8674 issued it, and limited from the cut-over on.
func TestBatchRuleIsDated(t *testing.T) {
	t.Parallel()
	for _, c := range maskingCases {
		for _, side := range []struct {
			at     time.Time
			masked bool
		}{
			{cutover.Add(-30 * 24 * time.Hour), true},
			{cutover.Add(-time.Nanosecond), true},
			{cutover, false},
			{cutover.Add(30 * 24 * time.Hour), false},
		} {
			t.Run(fmt.Sprintf("%s at %s", c.name, side.at.Format(time.RFC3339Nano)), func(t *testing.T) {
				t.Parallel()
				r := replay.NewReplayer(c.policy(t))
				setup := c.setup(side.at)
				if res := decideAll(t, r, setup); res.Kind != replay.New || res.Masked() {
					t.Fatalf("the last setup order: %s, masked %t; want new", res.Kind, res.Masked())
				}
				res := decideAll(t, r, []replay.Order{c.masking(side.at)})
				if !side.masked {
					d, ok := res.Reason()
					if res.Kind != replay.Limited || !ok || res.Masked() {
						t.Fatalf("from the cut-over on: %s (masked %t), want limited", res.Kind, res.Masked())
					}
					if d.Bucket.ID() != c.denied || d.RetryIn != c.retryIn {
						t.Errorf("limited by %s in %s, want %s in %s", d.Bucket.ID(), d.RetryIn, c.denied, c.retryIn)
					}
					return
				}
				if res.Kind != replay.New || !res.Masked() || len(res.Denials) != 0 || res.Message() != "" {
					t.Fatalf("before the cut-over: %s, masked %t, %d denials, message %q; want new and masked, no denial",
						res.Kind, res.Masked(), len(res.Denials), res.Message())
				}
				if d := res.MaskedDenial; d.Bucket.ID() != c.denied || d.RetryIn != c.retryIn {
					t.Errorf("masked denial %s in %s, want %s in %s", d.Bucket.ID(), d.RetryIn, c.denied, c.retryIn)
				}
				// Issued as Boulder issued it: the denying bucket stays
				// empty (a spend-only transaction is dropped), nothing
				// goes below empty, and the next order is decided afresh.
				for _, tok := range res.Tokens {
					if tok.Remaining < 0 {
						t.Errorf("%s below empty: %d", tok.Bucket.ID(), tok.Remaining)
					}
				}
			})
		}
	}
}

// TestMaskingNeedsALongerRetry: an allowed check that does not outrank
// the denial (it leaves its bucket a token to spare, so its retryIn is 0)
// masks nothing, before the cut-over too.
func TestMaskingNeedsALongerRetry(t *testing.T) {
	t.Parallel()
	at := cutover.Add(-24 * time.Hour)
	r := replay.NewReplayer(mustPolicy(t, "letsencrypt"))
	var setup []replay.Order
	for i := range 50 {
		setup = append(setup, replay.Order{IssuedAt: at, Names: []string{fmt.Sprintf("a%d.example.com", i)}})
	}
	setup = append(setup, replay.Order{IssuedAt: at, Names: []string{"b.example.org"}})
	decideAll(t, r, setup)
	res := decideAll(t, r, []replay.Order{{IssuedAt: at, Names: []string{"c.example.com", "c.example.org"}}})
	if d, ok := res.Reason(); res.Kind != replay.Limited || !ok || res.Masked() || d.Bucket.ID() != "CertificatesPerDomain:example.com" {
		t.Fatalf("%s, masked %t, reason %+v: want limited by example.com", res.Kind, res.Masked(), d)
	}
}

// TestBuiltinBatchRuleDates: each built-in policy's batch rule date, as
// docs/semantics.md gives them.
func TestBuiltinBatchRuleDates(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]time.Time{
		"letsencrypt":         cutover,
		"letsencrypt-staging": time.Date(2026, 3, 24, 0, 0, 0, 0, time.UTC),
		// Sliding windows: no batch, no rule to date.
		"letsencrypt-2019": {},
		"letsencrypt-2018": {},
	} {
		if got := mustPolicy(t, name).DenialFirstSince; !got.Equal(want) {
			t.Errorf("%s: DenialFirstSince %s, want %s", name, got, want)
		}
	}
}

// TestStateOfTheUndatedPolicyIsRefused: a state saved by the ctlimits
// before the batch rule was dated (testdata/state-letsencrypt-digest-v1.bin,
// three orders under letsencrypt) decided with the current rule at all
// times; it must be refused, clearly, not resumed.
func TestStateOfTheUndatedPolicyIsRefused(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/state-letsencrypt-digest-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	p := mustPolicy(t, "letsencrypt")
	_, info, err := replay.ReadState(p, bytes.NewReader(b))
	if !errors.Is(err, replay.ErrStateMismatch) {
		t.Fatalf("ReadState: %v, want ErrStateMismatch", err)
	}
	if info.PolicyDigest != "add6173692dad2eb531401080d939742b8ea2f397e8d17c13351ad814e89a89f" || info.PolicyDigest == p.Digest() {
		t.Fatalf("the state's digest %s, the policy's %s", info.PolicyDigest, p.Digest())
	}
	for _, want := range []string{"state was written under policy letsencrypt (digest add6173692da)", "the same name, defined differently", "--from-scratch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
}

// TestStagingCutsOverFirst: on 2026-03-25 staging (which had the release
// since the Tuesday) limits the order that production (on Thursday) still
// issues.
func TestStagingCutsOverFirst(t *testing.T) {
	t.Parallel()
	c := maskingCases[0]
	at := time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC)
	for name, masked := range map[string]bool{"letsencrypt": true, "letsencrypt-staging": false} {
		p := mustPolicy(t, name, func(p *replay.Policy) {
			p.Limits = mustPolicy(t, "letsencrypt").Limits // staging's own would deny nothing here
		})
		r := replay.NewReplayer(p)
		decideAll(t, r, c.setup(at))
		res := decideAll(t, r, []replay.Order{c.masking(at)})
		if res.Masked() != masked || (res.Kind == replay.Limited) == masked {
			t.Errorf("%s at %s: %s, masked %t; want masked %t", name, at.Format(time.RFC3339), res.Kind, res.Masked(), masked)
		}
	}
}
