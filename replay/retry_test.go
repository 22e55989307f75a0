package replay

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func prepareAll(t *testing.T, orders []Order) []Prepared {
	t.Helper()
	var n Namer
	out := make([]Prepared, len(orders))
	for i := range orders {
		p, err := n.Prepare(&orders[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

var retryT0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// Two tokens per two hours (one every hour), four new sites at once: two
// issue at once; the third is refused and retries at +1h, issued; the
// fourth retries at +1h too, loses to the third (earlier in the plan),
// retries at +2h, issued. 4 first attempts + 1 + 2 retries.
func TestSimulateRetriesByHand(t *testing.T) {
	p, _ := LookupPolicy("letsencrypt")
	p.Limits[CertificatesPerDomain] = mustLimit(2, 2, 2*time.Hour)
	var orders []Order
	for i := range 4 {
		orders = append(orders, Order{IssuedAt: retryT0, Names: []string{fmt.Sprintf("s%d.example.com", i)}})
	}
	res, err := SimulateRetries(p, prepareAll(t, orders), RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := time.Hour.Nanoseconds()
	t0 := retryT0.UnixNano()
	want := []int64{t0, t0, t0 + h, t0 + 2*h}
	for i, w := range want {
		if res.Issued[i] != w {
			t.Errorf("order %d issued at %s, want %s", i, time.Unix(0, res.Issued[i]).UTC(), time.Unix(0, w).UTC())
		}
	}
	if res.Finish != t0+2*h || res.Decisions != 7 || res.Delayed != 2 || res.Retried != 4 || res.MaxDelay != 2*time.Hour {
		t.Errorf("finish %s decisions %d delayed %d retried %d max delay %s; want +2h, 7, 2, 4, 2h",
			time.Unix(0, res.Finish).UTC(), res.Decisions, res.Delayed, res.Retried, res.MaxDelay)
	}
	if got := []int32{1, 1, 2, 3}; fmt.Sprint(res.Attempts) != fmt.Sprint(got) {
		t.Errorf("attempts %v, want %v", res.Attempts, got)
	}
}

// An order that arrives while others are still retrying queues behind the
// earlier ones only when it is later in the plan: at +1h the retry of
// order 2 (earlier) takes the token, and order 3, planned for +1h, waits
// until +2h.
func TestSimulateRetriesInterleaves(t *testing.T) {
	p, _ := LookupPolicy("letsencrypt")
	p.Limits[CertificatesPerDomain] = mustLimit(2, 2, 2*time.Hour)
	h := time.Hour
	orders := []Order{
		{IssuedAt: retryT0, Names: []string{"a.example.com"}},
		{IssuedAt: retryT0, Names: []string{"b.example.com"}},
		{IssuedAt: retryT0, Names: []string{"c.example.com"}},
		{IssuedAt: retryT0.Add(h), Names: []string{"d.example.com"}},
	}
	res, err := SimulateRetries(p, prepareAll(t, orders), RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Issued[2] != retryT0.Add(h).UnixNano() || res.Issued[3] != retryT0.Add(2*h).UnixNano() {
		t.Errorf("issued %v", res.Issued)
	}
	if res.LastPlanned != retryT0.Add(h).UnixNano() || res.Finish != retryT0.Add(2*h).UnixNano() {
		t.Errorf("last planned %d finish %d", res.LastPlanned, res.Finish)
	}
}

// Orders not retried (CT history under a plan) are decided once: a
// limited one stays unissued, and they are not the plan's finish.
func TestSimulateRetriesHistoryNotRetried(t *testing.T) {
	p, _ := LookupPolicy("letsencrypt")
	p.Limits[CertificatesPerDomain] = mustLimit(1, 1, time.Hour)
	orders := []Order{
		{IssuedAt: retryT0, Names: []string{"a.example.com"}},
		{IssuedAt: retryT0, Names: []string{"b.example.com"}}, // history, limited
		{IssuedAt: retryT0.Add(time.Minute), Names: []string{"c.example.com"}},
	}
	res, err := SimulateRetries(p, prepareAll(t, orders), RetryOptions{Retry: func(i int) bool { return i == 2 }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Issued[1] != 0 || res.Attempts[1] != 1 {
		t.Errorf("history order: issued %d attempts %d, want 0 and 1", res.Issued[1], res.Attempts[1])
	}
	// The bucket refills one token an hour from a's spend at t0.
	if res.Finish != retryT0.Add(time.Hour).UnixNano() || res.Retried != 1 || res.Delayed != 1 || res.First != retryT0.Add(time.Minute).UnixNano() {
		t.Errorf("finish %s retried %d delayed %d", time.Unix(0, res.Finish).UTC(), res.Retried, res.Delayed)
	}
}

// The example: 500 new sites of one registered domain at once,
// under Let's Encrypt's 50 per 168 hours (a token every 3h21m36s). 50
// issue at once; the other 450 one per emission interval, so the last at
// 450 x 3h21m36s = 63 days. An override of 1,000 a week limits nothing:
// the plan finishes when it starts.
func TestSimulateRetriesFiveHundredSites(t *testing.T) {
	p, _ := LookupPolicy("letsencrypt")
	var orders []Order
	for i := range 500 {
		orders = append(orders, Order{IssuedAt: retryT0, Names: []string{fmt.Sprintf("site%d.customers.example", i)}})
	}
	prep := prepareAll(t, orders)
	res, err := SimulateRetries(p, prep, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ei := int64(168 * time.Hour / 50)
	if want := retryT0.UnixNano() + 450*ei; res.Finish != want {
		t.Errorf("finish %s, want %s", time.Unix(0, res.Finish).UTC(), time.Unix(0, want).UTC())
	}
	if want := retryT0.Add(63 * 24 * time.Hour).UnixNano(); res.Finish != want {
		t.Errorf("finish %s, want 63 days later", time.Unix(0, res.Finish).UTC())
	}
	for k := 50; k < 500; k++ {
		if want := retryT0.UnixNano() + int64(k-49)*ei; res.Issued[k] != want {
			t.Fatalf("order %d issued at %s, want %s", k, time.Unix(0, res.Issued[k]).UTC(), time.Unix(0, want).UTC())
		}
	}
	if res.Delayed != 450 {
		t.Errorf("delayed %d, want 450", res.Delayed)
	}
	q, _ := LookupPolicy("letsencrypt")
	if err := q.AddOverride(CertificatesPerDomain, "customers.example", mustLimit(1000, 1000, week)); err != nil {
		t.Fatal(err)
	}
	res, err = SimulateRetries(q, prep, RetryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Finish != retryT0.UnixNano() || res.Delayed != 0 || res.Decisions != 500 {
		t.Errorf("with the override: finish %s, delayed %d, decisions %d", time.Unix(0, res.Finish).UTC(), res.Delayed, res.Decisions)
	}
}

func TestSimulateRetriesBounded(t *testing.T) {
	p, _ := LookupPolicy("letsencrypt")
	var orders []Order
	for i := range 60 {
		orders = append(orders, Order{IssuedAt: retryT0, Names: []string{fmt.Sprintf("s%d.example.com", i)}})
	}
	_, err := SimulateRetries(p, prepareAll(t, orders), RetryOptions{MaxDecisions: 100})
	if !errors.Is(err, ErrRetriesUnbounded) {
		t.Fatalf("got %v, want ErrRetriesUnbounded", err)
	}
	prep := prepareAll(t, orders[:2])
	prep[0].IssuedAt++
	if _, err := SimulateRetries(p, prep, RetryOptions{}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("got %v, want ErrOutOfOrder", err)
	}
}
