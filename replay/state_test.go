package replay_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// stateStream is a stream and the policy to replay it under, for the
// resume tests.
type stateStream struct {
	name   string
	cfg    synth.Config
	policy func(t testing.TB) *replay.Policy
	// validity, when set, gives every order a NotAfter (for AssumeARI).
	validity time.Duration
}

func mustPolicy(t testing.TB, name string, adjust ...func(*replay.Policy)) *replay.Policy {
	t.Helper()
	p, err := replay.LookupPolicy(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range adjust {
		f(p)
	}
	return p
}

func mustLimit(t testing.TB, burst, count int64, period time.Duration) replay.Limit {
	t.Helper()
	l, err := replay.NewLimit(burst, count, period)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// stateStreams are the streams the resume tests cover: every piece of
// state a Replayer keeps, with denials often and over more than the
// 120-day renewal window.
func stateStreams() []stateStream {
	long := func(seed uint64, n int) synth.Config {
		// Adversarial, slower: 6000 orders take about 50 days, plus
		// the long gaps (some exactly on the 120-day edge).
		c := synth.Adversarial(seed, n)
		c.MeanStep = 12 * time.Minute
		return c
	}
	accounts := func(seed uint64, n int) synth.Config {
		c := long(seed, n)
		c.Accounts = 12
		c.Domains = 200
		return c
	}
	crossing := func(seed uint64, n int) synth.Config {
		// Starts before the 120-day window took effect (2025-01-06):
		// any earlier issuance renews, then only the last 120 days.
		c := long(seed, n)
		c.Start = time.Date(2024, 11, 20, 0, 0, 0, 0, time.UTC)
		return c
	}
	return []stateStream{
		{name: "token buckets, production limits", cfg: long(21, 6000),
			policy: func(t testing.TB) *replay.Policy { return mustPolicy(t, "letsencrypt") }},
		{name: "token buckets, small custom limits, across 2025-01-06", cfg: crossing(22, 6000),
			policy: func(t testing.TB) *replay.Policy {
				return mustPolicy(t, "letsencrypt", func(p *replay.Policy) {
					p.Name = "custom"
					p.Limits[replay.CertificatesPerDomain] = mustLimit(t, 6, 2, 24*time.Hour)
					p.Limits[replay.CertificatesPerFQDNSet] = mustLimit(t, 2, 1, 36*time.Hour)
				})
			}},
		{name: "accounts, per-account overrides, ARI", cfg: accounts(23, 6000), validity: 7 * 24 * time.Hour,
			policy: func(t testing.TB) *replay.Policy {
				return mustPolicy(t, "letsencrypt", func(p *replay.Policy) {
					p.AssumeARI = true
					p.Limits[replay.CertificatesPerDomain] = mustLimit(t, 10, 5, 48*time.Hour)
					p.Limits[replay.NewOrdersPerAccount] = mustLimit(t, 20, 20, 6*time.Hour)
					for _, acct := range []string{"1", "3", "7"} {
						if err := p.AddOverride(replay.CertificatesPerDomainPerAccount, acct, mustLimit(t, 4, 2, 24*time.Hour)); err != nil {
							t.Fatal(err)
						}
					}
					if err := p.AddOverride(replay.NewOrdersPerAccount, "2", mustLimit(t, 3, 1, time.Hour)); err != nil {
						t.Fatal(err)
					}
				})
			}},
		{name: "ARI, production limits", cfg: long(24, 6000), validity: 9 * 24 * time.Hour,
			policy: func(t testing.TB) *replay.Policy {
				return mustPolicy(t, "letsencrypt", func(p *replay.Policy) { p.AssumeARI = true })
			}},
		{name: "sliding windows 2019", cfg: long(25, 5000),
			policy: func(t testing.TB) *replay.Policy { return mustPolicy(t, "letsencrypt-2019") }},
		{name: "sliding windows 2018, small limits", cfg: long(26, 5000),
			policy: func(t testing.TB) *replay.Policy {
				return mustPolicy(t, "letsencrypt-2018", func(p *replay.Policy) {
					p.Limits[replay.CertificatesPerDomain] = mustLimit(t, 8, 8, 72*time.Hour)
				})
			}},
	}
}

func (s stateStream) orders(t testing.TB) []replay.Prepared {
	t.Helper()
	var namer replay.Namer
	var out []replay.Prepared
	for _, o := range synth.New(s.cfg).All() {
		if s.validity > 0 {
			o.NotAfter = o.NotBefore.Add(s.validity - time.Second)
		}
		p, err := namer.Prepare(&o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// replayAll decides every order on one Replayer and returns the results
// and the Replayer's state after each order in at.
func replayAll(t testing.TB, p *replay.Policy, orders []replay.Prepared, at map[int]bool) ([]replay.Result, map[int][]byte) {
	t.Helper()
	r := replay.NewReplayer(p)
	results := make([]replay.Result, len(orders))
	states := map[int][]byte{}
	var res replay.Result
	for i := range orders {
		if at[i] {
			states[i] = writeState(t, r)
		}
		if err := r.Decide(&orders[i], &res); err != nil {
			t.Fatal(err)
		}
		results[i] = res.Clone()
	}
	if at[len(orders)] {
		states[len(orders)] = writeState(t, r)
	}
	return results, states
}

func writeState(t testing.TB, r *replay.Replayer) []byte {
	t.Helper()
	var buf bytes.Buffer
	info, err := r.WriteState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != int64(buf.Len()) {
		t.Fatalf("StateInfo.Bytes %d, wrote %d", info.Bytes, buf.Len())
	}
	return buf.Bytes()
}

func readState(t testing.TB, p *replay.Policy, b []byte) *replay.Replayer {
	t.Helper()
	r, info, err := replay.ReadState(p, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != int64(len(b)) || info.Version != replay.StateVersion || info.PolicyDigest != p.Digest() {
		t.Fatalf("StateInfo %+v for %d bytes under %s", info, len(b), p.Digest())
	}
	// Canonical: what was read writes back to the same bytes.
	if again := writeState(t, r); !bytes.Equal(again, b) {
		t.Fatalf("a state read and written again differs: %d bytes, then %d", len(b), len(again))
	}
	return r
}

// decideRest decides orders[from:] on r (alternately with Decide and
// DecideBatch) and checks every result against want.
func decideRest(t testing.TB, r *replay.Replayer, orders []replay.Prepared, from, to int, want []replay.Result, what string) {
	t.Helper()
	batch := make([]replay.Result, 64)
	var res replay.Result
	for i := from; i < to; {
		if (i/64)%2 == 0 {
			if err := r.Decide(&orders[i], &res); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Clone(), want[i]) {
				t.Fatalf("%s: order %d:\n got %+v\nwant %+v", what, i, res.Clone(), want[i])
			}
			i++
			continue
		}
		n := min(len(batch), to-i)
		if _, err := r.DecideBatch(orders[i:i+n], batch); err != nil {
			t.Fatal(err)
		}
		for j := range n {
			if !reflect.DeepEqual(batch[j].Clone(), want[i+j]) {
				t.Fatalf("%s: order %d (batch):\n got %+v\nwant %+v", what, i+j, batch[j].Clone(), want[i+j])
			}
		}
		i += n
	}
}

// TestResumedReplayDecidesAsOneReplay stops a replay at 50 random points
// per stream, saves and restores its state, and checks that the restored
// Replayer decides every later order as the uninterrupted replay does,
// field for field; and that its state, once it has caught up, encodes to
// the very bytes of the uninterrupted one's.
func TestResumedReplayDecidesAsOneReplay(t *testing.T) {
	t.Parallel()
	for _, s := range stateStreams() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			p := s.policy(t)
			orders := s.orders(t)
			rng := rand.New(rand.NewPCG(uint64(len(orders)), 9))
			splits := map[int]bool{0: true, 1: true, len(orders) - 1: true, len(orders): true}
			for len(splits) < 54 {
				splits[rng.IntN(len(orders)+1)] = true
			}
			want, states := replayAll(t, p, orders, splits)
			checkStreamShape(t, orders, want, p.AssumeARI)
			for at := range splits {
				r := readState(t, p, states[at])
				decideRest(t, r, orders, at, len(orders), want, fmt.Sprintf("resumed after %d", at))
				if got := writeState(t, r); !bytes.Equal(got, states[len(orders)]) {
					t.Fatalf("resumed after %d: the final state differs from the uninterrupted replay's", at)
				}
			}
		})
	}
}

// TestChainedResumesDecideAsOneReplay replays in 10 pieces, saving and
// restoring the state between each.
func TestChainedResumesDecideAsOneReplay(t *testing.T) {
	t.Parallel()
	for _, s := range stateStreams() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			p := s.policy(t)
			orders := s.orders(t)
			cuts := map[int]bool{}
			for k := 1; k < 10; k++ {
				cuts[k*len(orders)/10] = true
			}
			cuts[len(orders)] = true
			want, states := replayAll(t, p, orders, cuts)
			r := replay.NewReplayer(p)
			from := 0
			for k := 1; k <= 10; k++ {
				to := k * len(orders) / 10
				decideRest(t, r, orders, from, to, want, fmt.Sprintf("piece %d", k))
				b := writeState(t, r)
				if !bytes.Equal(b, states[to]) {
					t.Fatalf("after piece %d: the state differs from the uninterrupted replay's", k)
				}
				r, from = readState(t, p, b), to
			}
		})
	}
}

// checkStreamShape makes sure a stream exercises what the resume tests
// claim: denials, renewals, more than 120 days.
func checkStreamShape(t *testing.T, orders []replay.Prepared, res []replay.Result, ari bool) {
	t.Helper()
	var limited, renewals, claimed int
	for _, r := range res {
		switch {
		case r.Kind == replay.Limited:
			limited++
		case r.ARI:
			claimed++
		case r.Kind == replay.Renewal:
			renewals++
		}
	}
	span := time.Duration(orders[len(orders)-1].IssuedAt - orders[0].IssuedAt)
	t.Logf("%d orders over %s: %d limited, %d renewals, %d ARI", len(orders), span.Round(time.Hour), limited, renewals, claimed)
	if limited < 25 || renewals == 0 || span < 130*24*time.Hour || ari && claimed == 0 {
		t.Fatalf("the stream proves too little: %d limited, %d renewals, %d ARI over %s", limited, renewals, claimed, span)
	}
}

func TestWriteStateIsDeterministic(t *testing.T) {
	t.Parallel()
	for _, s := range stateStreams() {
		p := s.policy(t)
		orders := s.orders(t)[:3000]
		_, a := replayAll(t, p, orders, map[int]bool{len(orders): true})
		_, b := replayAll(t, p, orders, map[int]bool{len(orders): true})
		if !bytes.Equal(a[len(orders)], b[len(orders)]) {
			t.Fatalf("%s: two replays of the same orders wrote different states", s.name)
		}
		r := readState(t, p, a[len(orders)])
		if x, y := writeState(t, r), writeState(t, r); !bytes.Equal(x, y) {
			t.Fatalf("%s: one Replayer wrote two different states", s.name)
		}
	}
}

// smallStates are small valid states, with every section used.
func smallStates(t testing.TB) map[string]struct {
	p     *replay.Policy
	state []byte
} {
	out := map[string]struct {
		p     *replay.Policy
		state []byte
	}{}
	for i, s := range stateStreams() {
		if i != 2 && i != 5 && i != 1 { // accounts+ARI, sliding windows, custom token buckets
			continue
		}
		p := s.policy(t)
		orders := s.orders(t)[:60]
		_, st := replayAll(t, p, orders, map[int]bool{len(orders): true})
		out[s.name] = struct {
			p     *replay.Policy
			state []byte
		}{p, st[len(orders)]}
	}
	return out
}

// TestDamagedStateIsRefused flips every byte and cuts at every length of
// small states: always an error that says the state is damaged (or
// mismatched, for a flipped version), never a panic, never a Replayer.
func TestDamagedStateIsRefused(t *testing.T) {
	t.Parallel()
	for name, s := range smallStates(t) {
		if len(s.state) < 200 {
			t.Fatalf("%s: a state of %d bytes is too small to cover every section", name, len(s.state))
		}
		for i := range s.state {
			for _, x := range []byte{0x01, 0xff} {
				b := bytes.Clone(s.state)
				b[i] ^= x
				r, _, err := replay.ReadState(s.p, bytes.NewReader(b))
				if err == nil || r != nil {
					t.Fatalf("%s: byte %d ^ %#x: no error", name, i, x)
				}
				if !errors.Is(err, replay.ErrStateDamaged) && !errors.Is(err, replay.ErrStateMismatch) {
					t.Fatalf("%s: byte %d ^ %#x: %v", name, i, x, err)
				}
			}
		}
		for n := range len(s.state) {
			r, _, err := replay.ReadState(s.p, bytes.NewReader(s.state[:n]))
			if err == nil || r != nil || !errors.Is(err, replay.ErrStateDamaged) {
				t.Fatalf("%s: cut at %d of %d: %v", name, n, len(s.state), err)
			}
		}
	}
}

func TestStateOfAnotherPolicyIsRefused(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "letsencrypt-2019")
	orders := stateStreams()[4].orders(t)[:100]
	_, st := replayAll(t, p, orders, map[int]bool{len(orders): true})
	other := mustPolicy(t, "letsencrypt")
	_, _, err := replay.ReadState(other, bytes.NewReader(st[len(orders)]))
	want := fmt.Sprintf("state was written under policy letsencrypt-2019 (digest %s), this replay uses letsencrypt (%s): replay from scratch with --from-scratch",
		p.Digest()[:12], other.Digest()[:12])
	if !errors.Is(err, replay.ErrStateMismatch) || err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("got %v\nwant it to say %q", err, want)
	}
	// The same policy with one override more is another policy too.
	tweaked := mustPolicy(t, "letsencrypt-2019", func(p *replay.Policy) {
		if err := p.AddOverride(replay.CertificatesPerDomain, "example.com", mustLimit(t, 100, 100, time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	if _, _, err := replay.ReadState(tweaked, bytes.NewReader(st[len(orders)])); !errors.Is(err, replay.ErrStateMismatch) {
		t.Fatalf("an override more: %v", err)
	}
}

func TestStateOfAnotherVersionIsRefused(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "letsencrypt")
	var buf bytes.Buffer
	if _, err := replay.NewReplayer(p).WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	b[8] = replay.StateVersion + 1 // the version follows the 8-byte magic
	_, _, err := replay.ReadState(p, bytes.NewReader(b))
	if !errors.Is(err, replay.ErrStateMismatch) || !bytes.Contains([]byte(err.Error()), []byte("format version 2")) {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyStateRoundTrips(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "letsencrypt")
	b := writeState(t, replay.NewReplayer(p))
	r, info, err := replay.ReadState(p, bytes.NewReader(b))
	if err != nil || info.Started || info.Sets != 0 {
		t.Fatalf("%+v %v", info, err)
	}
	// Not started: any first order is accepted, however early.
	var res replay.Result
	var namer replay.Namer
	o, _ := namer.Prepare(&replay.Order{IssuedAt: time.Unix(1, 0), Names: []string{"example.com"}})
	if err := r.Decide(&o, &res); err != nil || res.Kind != replay.New {
		t.Fatalf("%+v %v", res, err)
	}
}

// FuzzReadState feeds ReadState arbitrary bytes: an error or a Replayer
// whose state writes back canonically and that can go on deciding. Inputs
// that keep a seed's valid header get their trailing checksum fixed, so
// that the fuzzer reaches the section decoders.
func FuzzReadState(f *testing.F) {
	states := smallStates(f)
	var policies []*replay.Policy
	for _, s := range states {
		f.Add(s.state)
		policies = append(policies, s.p)
	}
	f.Add([]byte("CTLSTATE"))
	f.Add([]byte{})
	var namer replay.Namer
	f.Fuzz(func(t *testing.T, b []byte) {
		try := func(b []byte) {
			for _, p := range policies {
				r, info, err := replay.ReadState(p, bytes.NewReader(b))
				if err != nil {
					if r != nil {
						t.Fatal("a Replayer with an error")
					}
					continue
				}
				again := writeState(t, r)
				readState(t, p, again)
				o, err := namer.Prepare(&replay.Order{IssuedAt: time.Unix(0, info.Watermark).Add(time.Hour), Names: []string{"a.example.com", "b.example.org"}, Account: "1"})
				if err != nil {
					t.Fatal(err)
				}
				var res replay.Result
				_ = r.Decide(&o, &res)
			}
		}
		try(b)
		if len(b) > 4 {
			fixed := bytes.Clone(b)
			replay.FixStateChecksum(fixed)
			try(fixed)
		}
	})
}

// TestResumeKeepsASetBucketWhoseNotBeforeIsOld: a set whose last
// NotBefore is outside the renewal window no longer renews, but its
// CertificatesPerFQDNSet bucket may still be short: it must be kept.
func TestResumeKeepsASetBucketWhoseNotBeforeIsOld(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "letsencrypt", func(p *replay.Policy) {
		p.Limits[replay.CertificatesPerFQDNSet] = mustLimit(t, 1, 1, 7*24*time.Hour)
	})
	var namer replay.Namer
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	first, _ := namer.Prepare(&replay.Order{IssuedAt: at, NotBefore: at.Add(-200 * 24 * time.Hour), Names: []string{"old.example.com"}})
	again, _ := namer.Prepare(&replay.Order{IssuedAt: at.Add(time.Hour), Names: []string{"old.example.com"}})
	orders := []replay.Prepared{first, again}
	want, states := replayAll(t, p, orders, map[int]bool{1: true})
	if want[1].Kind != replay.Limited {
		t.Fatalf("the second order is %s, want limited by its exact set", want[1].Kind)
	}
	decideRest(t, readState(t, p, states[1]), orders, 1, 2, want, "resumed")
}

// TestResumeKeepsEverySetUnderAnyEarlierIssuance: under the sliding
// windows (and before 2025-01-06) a renewal is any earlier issuance, so a
// set issued long ago must survive a resume.
func TestResumeKeepsEverySetUnderAnyEarlierIssuance(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"letsencrypt-2019", "letsencrypt"} {
		p := mustPolicy(t, name)
		var namer replay.Namer
		at := time.Date(2024, 1, 2, 9, 0, 0, 0, time.UTC)
		var orders []replay.Prepared
		o, _ := namer.Prepare(&replay.Order{IssuedAt: at, Names: []string{"www.old.example.com"}})
		orders = append(orders, o)
		// Fill the domain 300 days later, then renew the old set.
		later := at.Add(300 * 24 * time.Hour)
		for i := range 50 {
			o, _ := namer.Prepare(&replay.Order{IssuedAt: later, Names: []string{fmt.Sprintf("h%d.old.example.com", i)}})
			orders = append(orders, o)
		}
		o, _ = namer.Prepare(&replay.Order{IssuedAt: later.Add(time.Minute), Names: []string{"www.old.example.com"}})
		orders = append(orders, o)
		want, states := replayAll(t, p, orders, map[int]bool{1: true, 51: true})
		if want[51].Kind != replay.Renewal {
			t.Fatalf("%s: the old set's order is %s, want a renewal", name, want[51].Kind)
		}
		for _, at := range []int{1, 51} {
			decideRest(t, readState(t, p, states[at]), orders, at, len(orders), want, fmt.Sprintf("%s, resumed after %d", name, at))
		}
	}
}
