package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/report/golden"
)

// render writes r in every format, CSV as its tables one after another.
func render(t *testing.T, r *Report) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for ext, write := range map[string]func(*bytes.Buffer) error{
		"txt":  func(b *bytes.Buffer) error { return r.WriteText(b) },
		"md":   func(b *bytes.Buffer) error { return r.WriteMarkdown(b) },
		"json": func(b *bytes.Buffer) error { return r.WriteJSON(b) },
		"html": func(b *bytes.Buffer) error { return r.WriteHTML(b) },
		"csv": func(b *bytes.Buffer) error {
			for _, name := range CSVTables {
				b.WriteString("# " + name + ".csv\n")
				if err := r.WriteCSV(name, b); err != nil {
					return err
				}
			}
			return nil
		},
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		out[ext] = b.Bytes()
	}
	return out
}

func TestGoldenEveryFormat(t *testing.T) {
	db := fixtureDB(t, scenario())
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"full", Options{}},
		{"domains", Options{Domains: []string{"customers.example", "example.org"}, Top: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := build(t, db, tc.opts)
			for ext, got := range render(t, r) {
				if ext == "html" {
					got = withoutStylesheet(t, got)
				}
				golden.Check(t, filepath.Join("testdata", tc.name+"."+ext), got)
			}
		})
	}
}

// withoutStylesheet replaces the page's stylesheet, checked to be there
// once and whole, with a marker: the golden HTML files then hold what the
// report wrote rather than a third copy of the CSS in html.go.
func withoutStylesheet(t *testing.T, page []byte) []byte {
	t.Helper()
	style := []byte("<style>\n" + stylesheet + "</style>")
	if n := bytes.Count(page, style); n != 1 {
		t.Fatalf("the HTML holds the stylesheet %d times, want once", n)
	}
	return bytes.Replace(page, style, []byte("<style>/* the stylesheet of html.go */</style>"), 1)
}

func TestSummaryCountsByIssuerGroup(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{})
	s := r.Summary
	if s.Certificates != 136 || s.Orders != 134 {
		t.Errorf("certificates %d orders %d, want 136 and 134", s.Certificates, s.Orders)
	}
	if s.New+s.Renewal+s.Limited != s.Orders {
		t.Errorf("new %d + renewal %d + limited %d != orders %d", s.New, s.Renewal, s.Limited, s.Orders)
	}
	got := map[string]GroupCounts{}
	for _, g := range s.Groups {
		got[g.Group] = g
	}
	if got["letsencrypt-staging"].Certificates != 1 || got["letsencrypt-staging"].Orders != 0 || got["other"].Certificates != 1 {
		t.Errorf("groups %+v", s.Groups)
	}
	if len(s.Logs) != 2 || s.Logs[0].Entries+s.Logs[1].Entries != 136 {
		t.Errorf("logs %+v", s.Logs)
	}
}

func TestLimitedOrdersAreOverTheModelWithCauses(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{})
	if r.Limited.Total == 0 || int64(len(r.Limited.Orders)) != r.Limited.Total {
		t.Fatalf("limited %d, rows %d", r.Limited.Total, len(r.Limited.Orders))
	}
	for _, o := range r.Limited.Orders {
		if len(o.Causes) == 0 || o.Message == "" || o.RetryAfter.IsZero() || len(o.Domains) == 0 {
			t.Errorf("incomplete limited order %+v", o)
		}
	}
	r = build(t, fixtureDB(t, scenario()), Options{LimitedRows: 2})
	if len(r.Limited.Orders) != 2 || r.Limited.Orders[1].IssuedAt.Before(r.Limited.Orders[0].IssuedAt) {
		t.Errorf("LimitedRows 2: %d rows, want the newest two in time order", len(r.Limited.Orders))
	}
}

// TestSizingIsFoundByReplaying checks the sized limit against replays of
// the whole scenario (not just the component) at n and n-1.
func TestSizingIsFoundByReplaying(t *testing.T) {
	certs := scenario()
	r := build(t, fixtureDB(t, certs), Options{})
	var sized int
	for _, s := range r.Sizing {
		if !s.Sized || !s.Verified {
			t.Errorf("%s: sized %v verified %v (%s)", s.Domain, s.Sized, s.Verified, s.Note)
			continue
		}
		sized++
		for _, n := range []int64{s.Needed, s.Needed - 1} {
			p, _ := replay.LookupPolicy("letsencrypt")
			p, err := withOverride(p, s.Domain, n)
			if err != nil {
				t.Fatal(err)
			}
			denied := replayAll(t, certs, p, s.Domain)
			if (n == s.Needed) != (denied == 0) {
				t.Errorf("%s: override %d denies %d orders (needed %d)", s.Domain, n, denied, s.Needed)
			}
		}
		if s.Needed > 50 && (s.Tier != TierFor(ceilMul(s.Needed, 1.2)) || s.Tier != 300) {
			t.Errorf("%s: needed %d, tier %d", s.Domain, s.Needed, s.Tier)
		}
	}
	if sized != 2 {
		t.Errorf("sized %d domains, want customers.example and hostb.example: %+v", sized, r.Sizing)
	}
	for _, s := range r.Sizing {
		if !s.Account.Likely {
			t.Errorf("%s: same-burst domains should suggest an account-level override: %+v", s.Domain, s.Account)
		}
	}
}

func replayAll(t *testing.T, certs []cert, p *replay.Policy, domain string) int {
	r := replay.NewReplayer(p)
	var namer replay.Namer
	var res replay.Result
	n := 0
	for _, c := range certs {
		if c.group != "" {
			continue
		}
		pr, err := namer.Prepare(&replay.Order{IssuedAt: c.at, Names: c.names})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Decide(&pr, &res); err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Denials {
			if d.Bucket.Limit == replay.CertificatesPerDomain && d.Bucket.Key == domain {
				n++
			}
		}
	}
	return n
}

func TestTierFor(t *testing.T) {
	for _, tc := range []struct{ n, want int64 }{{1, 300}, {300, 300}, {301, 1000}, {1_000_000, 1_000_000}, {1_000_001, -1}} {
		if got := TierFor(tc.n); got != tc.want {
			t.Errorf("TierFor(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestHeadroomCountsRenewalLoad(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{Domains: []string{"example.org"}})
	if len(r.HeadNow) != 1 {
		t.Fatalf("headroom %+v", r.HeadNow)
	}
	h := r.HeadNow[0]
	// blog.example.org's two certificates and example.org's: three new
	// certificates in January and March; only the March one is in the
	// bucket's memory, and a full bucket needs 201.6 minutes per token.
	if !h.OK || h.Burst != 50 || h.Tokens < 48 || h.Tokens > 50 {
		t.Errorf("headroom %+v", h)
	}
	// Expiring within 30 days: example.org (90 days, renews) and
	// legacy.example.org (one year: too old to renew, counts as new).
	if h.Expiring != 2 || h.Renewing != 1 || h.CountNew != 1 {
		t.Errorf("renewal load: expiring %d renewing %d new %d, want 2 1 1", h.Expiring, h.Renewing, h.CountNew)
	}
}

func TestBadInput(t *testing.T) {
	db := fixtureDB(t, scenario())
	for _, tc := range []struct {
		name, domain, want string
	}{
		{"unknown domain", "nowhere.example", "no replayed orders"},
		{"not a registered domain", "www.example.org", `here "example.org"`},
		{"not replayed", "example.com", "none replayed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(context.Background(), db, Options{Domains: []string{tc.domain}})
			var ue *UnknownDomainError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want an UnknownDomainError with %q", err, tc.want)
			}
		})
	}
	empty := fixtureDB(t, nil)
	if _, err := Build(context.Background(), empty, Options{}); !errors.Is(err, ErrNoEntries) {
		t.Errorf("empty data: %v", err)
	}
}

func TestJSONHasSchemaVersion(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{})
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["schema_version"] != float64(SchemaVersion) {
		t.Errorf("schema_version %v", m["schema_version"])
	}
}
