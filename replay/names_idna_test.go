package replay

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A certificate holds A-labels; a planned order may name the U-label form.
// Both are the same name, so they share buckets and exact sets.
func TestULabelsAreTheirALabels(t *testing.T) {
	t.Parallel()
	got, err := NormalizeNames([]string{"Bücher.example", "xn--bcher-kva.example", "*.BÜCHER.example.", "ｅxample.com"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"*.xn--bcher-kva.example", "example.com", "xn--bcher-kva.example"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if d, err := RegisteredDomain("www.bücher.example"); err != nil || d != "xn--bcher-kva.example" {
		t.Fatalf("RegisteredDomain = %q, %v", d, err)
	}
}

func TestMixedLabelFormsDecideAlike(t *testing.T) {
	t.Parallel()
	decide := func(unicode func(i int) bool) (kinds []Kind) {
		var n Namer
		r := NewReplayer(mustPolicy(t))
		t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		var res Result
		for i := 0; i < 60; i++ {
			host := fmt.Sprintf("h%d.xn--bcher-kva.example", i)
			if unicode(i) {
				host = fmt.Sprintf("h%d.bücher.example", i)
			}
			p, err := n.Prepare(&Order{IssuedAt: t0.Add(time.Duration(i) * time.Second), Names: []string{host}})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Decide(&p, &res); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, res.Kind)
		}
		return kinds
	}
	ascii := decide(func(int) bool { return false })
	for name, f := range map[string]func(int) bool{"unicode": func(int) bool { return true }, "mixed": func(i int) bool { return i%2 == 0 }} {
		if got := decide(f); !slices.Equal(got, ascii) {
			t.Errorf("%s: decisions %v\ndiffer from A-labels %v", name, got, ascii)
		}
	}
	if limited := len(ascii) - slices.Index(ascii, Limited); ascii[49] != New || limited != 10 {
		t.Fatalf("decisions %v, want 50 new then 10 limited", ascii)
	}
}

func mustPolicy(t *testing.T) *Policy {
	p, err := LookupPolicy("letsencrypt")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Controls and formatting characters beyond ASCII are refused, not
// carried into bucket keys and output.
func TestNonASCIIControlsAreRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a\u0085b.example", "a\u2028.example", "a\u202eb.example", "\u00ad.example", "a\u00a0b.example",
		"xn--zz.example", "bad\x7f.example", "a_b.bücher.example", "\ufffd.example", "a\xffb.example", "1.2.3.4."} {
		if got, err := NormalizeNames([]string{name}); !errors.Is(err, ErrBadName) {
			t.Errorf("NormalizeNames(%q) = %q, %v; want ErrBadName", name, got, err)
		}
	}
}
