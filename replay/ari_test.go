package replay

import (
	"testing"
	"time"
)

func TestSuggestedWindowMatchesBoulder(t *testing.T) {
	t.Parallel()
	// A 90-day certificate: validity 90d+1s, ideal renewal at two thirds,
	// window of +-1% of the validity, truncated to the second.
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := issued.Add(90*24*time.Hour - time.Second)
	start, end := suggestedWindow(issued.UnixNano(), expires.UnixNano())
	validity := expires.Add(time.Second).Sub(issued)
	ideal := expires.Add(-validity / 3)
	if want := ideal.Add(-validity / 100).Truncate(time.Second); start != want.UnixNano() {
		t.Fatalf("start %s, want %s", time.Unix(0, start).UTC(), want)
	}
	if want := ideal.Add(validity / 100).Truncate(time.Second); end != want.UnixNano() {
		t.Fatalf("end %s, want %s", time.Unix(0, end).UTC(), want)
	}
}

func TestAssumedARIReplacementSkipsChecksInsideTheWindowOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt", func(p *Policy) { p.AssumeARI = true })
	notAfter := t0.Add(90*24*time.Hour - time.Second)
	h.order(Order{IssuedAt: t0, NotAfter: notAfter, Names: []string{"www.ari.example", "ari.example"}})
	start, _ := suggestedWindow(t0.UnixNano(), notAfter.UnixNano())
	inWindow := time.Unix(0, start).UTC().Add(time.Hour)
	// Empty the domain just before the window, with certificates that
	// never get a window of their own (no NotAfter).
	h.fill(inWindow.Add(-time.Minute), "ari.example", 50)
	h.expect(h.at(inWindow, "new.ari.example"), Limited, "a new name on the empty domain")

	res := h.order(Order{IssuedAt: inWindow, Names: []string{"ari.example", "api.ari.example"}})
	h.expect(res, Renewal, "an order sharing a name, inside the window")
	if !res.ARI || res.Renewal {
		t.Fatalf("ARI=%v Renewal=%v, want an ARI replacement that is not an exact-set renewal", res.ARI, res.Renewal)
	}
	h.expect(h.at(inWindow, "ari.example", "api2.ari.example"), Limited, "the certificate is already replaced")
}

func TestWithoutAssumedARIWindowOrdersAreChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "letsencrypt")
	notAfter := t0.Add(90*24*time.Hour - time.Second)
	h.order(Order{IssuedAt: t0, NotAfter: notAfter, Names: []string{"ari.example"}})
	start, _ := suggestedWindow(t0.UnixNano(), notAfter.UnixNano())
	at := time.Unix(0, start).UTC()
	h.fill(at, "ari.example", 50)
	h.expect(h.at(at, "ari.example", "api.ari.example"), Limited, "no ARI assumption")
}
