package replay

import (
	"fmt"
	"testing"
	"time"
)

func TestSlidingWindow2019(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt-2019")
	// 50 new certificates spread over six days.
	for i := 0; i < 50; i++ {
		h.expect(h.at(t0.Add(time.Duration(i)*3*time.Hour), fmt.Sprintf("n%d.example.com", i)), New, "within 50 a week")
	}
	last := t0.Add(49 * 3 * time.Hour)
	res := h.at(last, "n50.example.com")
	h.expect(res, Limited, "the 51st in the window")
	if got, want := res.RetryAfter(), t0.Add(week); !got.Equal(want) {
		t.Fatalf("retry after %s, want the oldest counted + 168h = %s", got, want)
	}
	// Renewals are neither blocked nor counted.
	h.expect(h.at(last, "n0.example.com"), Renewal, "a renewal with the window full")
	// The oldest leaves the window exactly 168h after its NotBefore
	// (counted while NotBefore > now-168h).
	h.expect(h.at(t0.Add(week-1), "late.example.com"), Limited, "1ns before the oldest leaves")
	h.expect(h.at(t0.Add(week), "late.example.com"), New, "as the oldest leaves")
}

func TestSlidingWindow2018CountsRenewalsWithoutBlockingThem(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt-2018")
	h.fill(t0, "example.com", 40)
	for i := 0; i < 10; i++ {
		h.expect(h.at(t0.Add(time.Minute), fmt.Sprintf("h%d.example.com", i)), Renewal, "renewals are not blocked")
	}
	// 40 new + 10 renewals = 50 counted: a new certificate is now blocked,
	// a renewal still is not.
	h.expect(h.at(t0.Add(time.Hour), "fresh.example.com"), Limited, "new after renewals filled the window")
	h.expect(h.at(t0.Add(time.Hour), "h11.example.com"), Renewal, "another renewal, over the count")

	h19 := newHarness(t, "letsencrypt-2019")
	h19.fill(t0, "example.com", 40)
	for i := 0; i < 10; i++ {
		h19.at(t0.Add(time.Minute), fmt.Sprintf("h%d.example.com", i))
	}
	h19.expect(h19.at(t0.Add(time.Hour), "fresh.example.com"), New, "under 2019 rules renewals did not count")
}

func TestSlidingWindowDuplicateLimitIncludesRenewals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt-2019")
	for i := 0; i < 5; i++ {
		h.at(t0.Add(time.Duration(i)*time.Hour), "dup.example")
	}
	res := h.at(t0.Add(5*time.Hour), "dup.example")
	h.expect(res, Limited, "the sixth duplicate")
	if d, _ := res.Reason(); d.Bucket.Limit != CertificatesPerFQDNSet {
		t.Fatalf("reported %s", d.Bucket.ID())
	}
	// Legacy renewal is "ever issued": no 120-day window.
	h.expect(h.at(t0.Add(400*24*time.Hour), "dup.example"), Renewal, "issued over a year ago")
}
