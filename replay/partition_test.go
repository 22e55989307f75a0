package replay_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/synth"
)

func TestParallelReplayEqualsSerial(t *testing.T) {
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
		serial, err := replay.ReplayParallel(orders, p, 1)
		if err != nil {
			t.Fatal(err)
		}
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
			par, err := replay.ReplayParallel(orders, p, workers)
			if err != nil {
				t.Fatal(err)
			}
			for i := range serial {
				if !reflect.DeepEqual(serial[i], par[i]) {
					t.Fatalf("%s, %d workers: order %d differs:\nserial   %+v\nparallel %+v", c.spec, workers, i, serial[i], par[i])
				}
			}
		}
	}
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
