package report

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	stdhtml "html"
)

// TestHTMLRendersInChromium checks the HTML report without a browser
// first: a self-contained page (nothing fetched, no scripts), every
// section present, every table rectangular, one row per limited order, one
// card per sized domain and one chart per bucket series. Then it
// screenshots the page in headless Chromium (Debian's chromium package; CI
// installs it) and checks the picture is a real page: a sizeable PNG with
// many colors (text, tables, the charts' fills), not a blank or an error
// page. Only the screenshot is skipped without Chromium.
func TestHTMLRendersInChromium(t *testing.T) {
	r := build(t, fixtureDB(t, scenario()), Options{Domains: []string{"customers.example"},
		LogNames: map[string]string{"logA": "Sycamore 2026h1 <test>"}})
	if r.Summary.Logs[0].Name != "Sycamore 2026h1 <test>" || r.Summary.Logs[1].DisplayName() != "logB" {
		t.Fatalf("log names %+v", r.Summary.Logs)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, r, b.Bytes())
	plan := build(t, fixtureDB(t, planScenario()), Options{Domains: []string{"customers.example"}})
	var pb bytes.Buffer
	if err := plan.WriteHTML(&pb); err != nil {
		t.Fatal(err)
	}
	checkHTML(t, plan, pb.Bytes())
	if !bytes.Contains(pb.Bytes(), []byte("the plan finishes 2026-03-06 07:12 UTC")) {
		t.Errorf("the plan's HTML does not give its finish date")
	}
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install -y --no-install-recommends chromium); the browser-free checks passed, skipping the screenshot")
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	shot := filepath.Join(dir, "report.png")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1280,2000", "file://"+page)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, out)
	}
	defer f.Close()
	st, _ := f.Stat()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1280 || h != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", w, h)
	}
	colors := map[uint32]bool{}
	bb := img.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y += 2 {
		for x := bb.Min.X; x < bb.Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if st.Size() < 50_000 || len(colors) < 50 {
		t.Errorf("screenshot looks blank: %d bytes, %d colors", st.Size(), len(colors))
	}
	if keep := os.Getenv("CTLIMITS_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(keep, data, 0o644)
	}
	t.Logf("screenshot: %d bytes, %d colors", st.Size(), len(colors))
}

// checkHTML checks the structure of r's HTML page without a browser.
func checkHTML(t *testing.T, r *Report, page []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the HTML does not parse: %v", err)
	}
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("the HTML does not start with <!DOCTYPE html>")
	}
	// Self-contained: nothing a browser would fetch or run.
	for _, bad := range []string{"@import", "url("} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("the HTML must be self-contained, but it has %q", bad)
		}
	}
	var headings []string
	count := map[string]int{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed", "base":
				t.Errorf("the HTML must be self-contained, but it has a <%s>", n.Data)
			case "h2", "h3":
				headings = append(headings, text(n))
			case "table":
				checkTable(t, n)
			case "tr":
				switch attr(n, "class") {
				case "over":
					count["limited rows"]++
				case "group":
					count["message groups"]++
				}
			case "div":
				if attr(n, "class") == "card" {
					count["sizing cards"]++
				}
			case "svg":
				count["charts"]++
			}
			for _, a := range n.Attr {
				if a.Key == "src" || a.Key == "href" || a.Key == "srcset" || a.Key == "action" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("the HTML must be self-contained, but <%s> has %s=%q", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	want := []string{"Answer", "Override sizing", "Headroom now", "Summary", "By issuer group", "Limited orders per limit", "Logs", "Issuance per day",
		r.limitedTitle(), "By message", "Registered domains", "Bucket level over time (CertificatesPerDomain)"}
	if r.Plan != nil {
		want = append(want, "When the plan finishes")
	}
	for _, want := range want {
		if !slices.Contains(headings, want) {
			t.Errorf("the HTML has no section %q; its headings: %q", want, headings)
		}
	}
	// The answer first: the conclusions before any table of evidence.
	if len(headings) == 0 || headings[0] != "Answer" || slices.Index(headings, "Override sizing") > slices.Index(headings, "Summary") ||
		slices.Index(headings, "Headroom now") > slices.Index(headings, "Summary") {
		t.Errorf("the answer, sizing and headroom must come first; the headings: %q", headings)
	}
	for what, want := range map[string]int{"limited rows": len(r.Limited.Orders), "sizing cards": len(r.Sizing), "charts": 1 + len(r.Levels),
		"message groups": len(groupMessages(r.Limited.Orders))} {
		if count[what] != want || want == 0 {
			t.Errorf("the HTML has %d %s, want %d (and more than none)", count[what], what, want)
		}
	}
	// Repeated messages are grouped: fewer groups than orders, and the
	// counts add up.
	groups := groupMessages(r.Limited.Orders)
	total := 0
	for _, g := range groups {
		total += g.Orders
	}
	if total != len(r.Limited.Orders) || len(groups) >= len(r.Limited.Orders) {
		t.Errorf("%d message groups for %d orders (%d counted)", len(groups), len(r.Limited.Orders), total)
	}
	// Every chart's axes say what they count, in which unit.
	for _, label := range []string{">certificates per day<", ">day (UTC)<", ">tokens left<", ">time (UTC)<"} {
		if !bytes.Contains(page, []byte(label)) {
			t.Errorf("no axis labelled %s", label)
		}
	}
	// Logs go by their description when the log list knows them.
	for _, l := range r.Summary.Logs {
		if !bytes.Contains(page, []byte("<td>"+stdhtml.EscapeString(l.DisplayName())+"</td>")) {
			t.Errorf("the log %s is not named %q", l.Log, l.DisplayName())
		}
	}
}

// checkTable checks every row of a table has as many cells as its header.
func checkTable(t *testing.T, table *html.Node) {
	t.Helper()
	cols := -1
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			cells := 0
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					cells++
				}
			}
			if cols < 0 {
				cols = cells
			} else if cells != cols {
				t.Errorf("a table row has %d cells, its header %d: %s", cells, cols, text(n))
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(table)
	if cols <= 0 {
		t.Errorf("a table without a header row")
	}
}

func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
