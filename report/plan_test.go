package report

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/report/golden"
)

func TestGoldenPlanEveryFormat(t *testing.T) {
	r := build(t, fixtureDB(t, planScenario()), Options{Domains: []string{"customers.example"}})
	for ext, got := range render(t, r) {
		if ext == "html" {
			got = withoutStylesheet(t, got)
		}
		golden.Check(t, filepath.Join("testdata", "plan."+ext), got)
	}
}

// The example: 500 new sites of one registered domain planned at
// once. Under Let's Encrypt's 50 per 168 hours 450 of them wait for a
// token each (one every 3h21m36s), so the plan finishes 63 days later;
// the suggested tier (500 with 20% headroom: 1,000 a week) limits nothing
// and the plan finishes when it starts. The override form states the
// planned peak week (500) and what the model allowed (50).
func TestPlanFinishFiveHundredSites(t *testing.T) {
	var cs []cert
	for i := range 500 {
		cs = append(cs, cert{at: t0, names: []string{fmt.Sprintf("site%03d.customers.example", i)}, group: "plan"})
	}
	r := build(t, fixtureDB(t, cs), Options{})
	if r.Source != "plan" || r.Plan == nil || !r.Plan.OK {
		t.Fatalf("source %q plan %+v", r.Source, r.Plan)
	}
	if len(r.Sizing) != 1 || r.Sizing[0].Needed != 500 || r.Sizing[0].Tier != 1000 {
		t.Fatalf("sizing %+v", r.Sizing)
	}
	f := r.Sizing[0].Form
	if f.IssuedPeakWeek != 500 || f.PeakWeek != 50 || f.IssuedCurrentWeek != 500 || f.CurrentWeek != 50 {
		t.Errorf("form: planned peak %d (want 500), allowed peak %d (want 50), this week %d / %d", f.IssuedPeakWeek, f.PeakWeek, f.IssuedCurrentWeek, f.CurrentWeek)
	}
	p := r.Plan
	if want := t0.Add(63 * 24 * time.Hour); !p.Without.Finish.Equal(want) || p.Without.Delayed != 450 {
		t.Errorf("without override: finish %s delayed %d, want %s and 450", p.Without.Finish, p.Without.Delayed, want)
	}
	if !p.With.Finish.Equal(t0) || p.With.Delayed != 0 || len(p.Overrides) != 1 || p.Overrides[0] != (OverrideTier{"customers.example", 1000}) {
		t.Errorf("with override: finish %s delayed %d overrides %+v, want %s, 0, customers.example at 1000", p.With.Finish, p.With.Delayed, p.Overrides, t0)
	}
	if d := p.Without.Domains; len(d) != 1 || d[0] != (DomainFinish{"customers.example", 500, 450, t0.Add(63 * 24 * time.Hour)}) {
		t.Errorf("by domain: %+v", d)
	}
	if p.Orders != 500 || p.History != 0 || p.Limited != 450 {
		t.Errorf("orders %d history %d limited %d", p.Orders, p.History, p.Limited)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	answer := b.String()[strings.Index(b.String(), "ANSWER"):strings.Index(b.String(), "SUMMARY")]
	for _, want := range []string{"request the 1000 per week tier (needs 500, 600 with headroom)", "the plan finishes 2026-05-04 08:00 UTC",
		"with the suggested override (customers.example 1,000 per week) it finishes 2026-03-02 08:00 UTC"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the answer lacks %q:\n%s", want, answer)
		}
	}
}

// A plan over CT history: 50 certificates of customers.example issued in
// the last day leave its bucket empty, so one more planned site is limited
// (alone it would not be) and waits for the next token, 3h21m36s after
// the first of them; CT's certificates are not retried.
func TestPlanOverHistoryStartsFromRealLevels(t *testing.T) {
	var cs []cert
	for i := range 50 {
		cs = append(cs, cert{at: t0.Add(time.Duration(i) * time.Minute), names: []string{fmt.Sprintf("old%02d.customers.example", i)}})
	}
	planned := t0.Add(2 * time.Hour)
	cs = append(cs, cert{at: planned, names: []string{"new.customers.example"}, group: "plan"})
	r := build(t, fixtureDB(t, cs), Options{})
	if r.Source != "plan+ct" || r.Plan == nil || r.Plan.History != 50 || r.Plan.Orders != 1 || r.Plan.Limited != 1 {
		t.Fatalf("source %q plan %+v", r.Source, r.Plan)
	}
	if st := r.Plan.AtStart; len(st) != 1 || st[0] != (PlanLevel{"customers.example", 0, 50, t0.Add(168 * time.Hour)}) {
		t.Errorf("at the plan's start: %+v, want customers.example empty, full again a week after the first spend", st)
	}
	if want := t0.Add(168 * time.Hour / 50); !r.Plan.Without.Finish.Equal(want) {
		t.Errorf("finish %s, want %s", r.Plan.Without.Finish, want)
	}
	if !r.Plan.With.Finish.Equal(planned) {
		t.Errorf("with the override: finish %s, want the planned %s", r.Plan.With.Finish, planned)
	}
	alone := build(t, fixtureDB(t, cs[50:]), Options{})
	if alone.Plan.Limited != 0 || !alone.Plan.Without.Finish.Equal(planned) {
		t.Errorf("alone: limited %d finish %s", alone.Plan.Limited, alone.Plan.Without.Finish)
	}
	// The form counts what CT shows issued together with what is planned.
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "peak week 51 issued per CT and planned (50 allowed by the model)") {
		t.Errorf("the form line does not state both counts:\n%s", b.String())
	}
}

func TestCTReportHasNoPlan(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{})
	if r.Source != "ct" || r.Plan != nil {
		t.Errorf("source %q plan %+v", r.Source, r.Plan)
	}
}

// Issued per CT counts a certificate as new only when no earlier
// certificate of its exact set, limited or not, is in the renewal window:
// CT shows the limited ones were issued, so their repeats were renewals,
// though the model (which never let the first through) calls them new.
func TestFormIssuedCountsRepeatsAsRenewals(t *testing.T) {
	var cs []cert
	for i := range 50 {
		cs = append(cs, cert{at: t0.Add(time.Duration(i) * time.Minute), names: []string{fmt.Sprintf("s%02d.customers.example", i)}})
	}
	for i := range 3 {
		cs = append(cs, cert{at: t0.Add(time.Hour + time.Duration(i)*time.Minute), names: []string{"again.customers.example"}})
	}
	r := build(t, fixtureDB(t, cs), Options{})
	if len(r.Sizing) != 1 {
		t.Fatalf("sizing %+v", r.Sizing)
	}
	if f := r.Sizing[0].Form; f.IssuedPeakWeek != 51 || f.PeakWeek != 50 {
		t.Errorf("peak week issued %d (want 51: the repeats renew), allowed %d (want 50)", f.IssuedPeakWeek, f.PeakWeek)
	}
}
