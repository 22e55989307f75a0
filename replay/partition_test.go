package replay_test

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

// TestAssignedPartsReplayLikeOneReplayer replays the parts Assign makes
// on one Replayer each, concurrently, and checks every decision against
// one Replayer deciding all orders in sequence.
func TestAssignedPartsReplayLikeOneReplayer(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec   string
		cfg    synth.Config
		policy string
		ari    bool
	}{
		{"adversarial, production limits", synth.Adversarial(11, 40000), "letsencrypt", false},
		{"realistic, ARI assumed", synth.Realistic(12, 40000), "letsencrypt", true},
		{"adversarial, sliding windows", synth.Adversarial(13, 20000), "letsencrypt-2018", false},
	} {
		var n replay.Namer
		var orders []replay.Prepared
		for _, o := range synth.New(c.cfg).All() {
			p, err := n.Prepare(&o)
			if err != nil {
				t.Fatal(err)
			}
			orders = append(orders, p)
		}
		p, _ := replay.LookupPolicy(c.policy)
		p.AssumeARI = c.ari
		serial := replayParts(t, orders, p, 1)
		limited := 0
		for _, r := range serial {
			if r.Kind == replay.Limited {
				limited++
			}
		}
		if limited == 0 {
			t.Fatalf("%s: no order limited; the test would prove little", c.spec)
		}
		for _, workers := range []int{2, 7} {
			par := replayParts(t, orders, p, workers)
			for i := range serial {
				if !reflect.DeepEqual(serial[i], par[i]) {
					t.Fatalf("%s, %d workers: order %d differs:\nserial   %+v\nparallel %+v", c.spec, workers, i, serial[i], par[i])
				}
			}
		}
	}
}

// replayParts splits orders with Components.Assign, as
// orderio.CertTable.Partition does, and decides each part on its own
// Replayer, in parallel.
func replayParts(t *testing.T, orders []replay.Prepared, p *replay.Policy, workers int) []replay.Result {
	t.Helper()
	var comps replay.Components
	for i := range orders {
		comps.Add(&orders[i])
	}
	a := comps.Assign(workers)
	if workers > 1 && a.Workers != workers {
		t.Fatalf("%d components on %d workers, want %d", a.Components, a.Workers, workers)
	}
	results := make([]replay.Result, len(orders))
	errs := make([]error, a.Workers)
	var wg sync.WaitGroup
	for w := range a.Workers {
		wg.Go(func() {
			r := replay.NewReplayer(p)
			var res replay.Result
			for i := range orders {
				if a.Worker[i] != int32(w) {
					continue
				}
				if errs[w] = r.Decide(&orders[i], &res); errs[w] != nil {
					return
				}
				results[i] = res.Clone()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return results
}

func TestComponentsJoinOrdersThroughSharedDomainsAndAccounts(t *testing.T) {
	t.Parallel()
	var n replay.Namer
	var c replay.Components
	for _, o := range []replay.Order{
		{IssuedAt: pt0, Names: []string{"a.example", "b.example"}},
		{IssuedAt: pt0, Names: []string{"www.b.example", "c.example"}},
		{IssuedAt: pt0, Names: []string{"d.example"}},
		{IssuedAt: pt0, Names: []string{"e.example"}, Account: "7"},
		{IssuedAt: pt0, Names: []string{"f.example"}, Account: "7"},
	} {
		p, err := n.Prepare(&o)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(&p)
	}
	if c.Of(0) != c.Of(1) || c.Of(0) == c.Of(2) || c.Of(3) != c.Of(4) || c.Of(2) == c.Of(3) {
		t.Fatalf("components %d %d %d %d %d", c.Of(0), c.Of(1), c.Of(2), c.Of(3), c.Of(4))
	}
}

var pt0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
