package loglist

import (
	"crypto/sha256"
	"errors"
	"testing"
)

func TestSnapshotKeysMatchLogIDs(t *testing.T) {
	l := Snapshot()
	if len(l.Logs) < 10 {
		t.Fatalf("snapshot has %d logs, want the Let's Encrypt, Google, Cloudflare, DigiCert and Sectigo logs", len(l.Logs))
	}
	ops := map[string]bool{}
	for _, g := range l.Logs {
		if sha256.Sum256(g.Key) != g.LogID {
			t.Errorf("%s: key does not hash to log ID", g.Description)
		}
		ops[g.Operator] = true
	}
	for _, op := range []string{"Let's Encrypt", "Google", "Cloudflare", "DigiCert", "Sectigo"} {
		if !ops[op] {
			t.Errorf("snapshot lacks operator %s", op)
		}
	}
}

var findTests = []struct {
	name, query, want string
	err               error
}{
	{"a unique part of the description, any case", "sycamore2026h2", "Let's Encrypt 'Sycamore2026h2'", nil},
	{"the exact description", "Google 'Argon2026h2' log", "Google 'Argon2026h2' log", nil},
	{"the base64 log ID", "bP5QGUOoXqkWvFLRM+TcyR7xQRx9JYQg0XOAnhgY6zo=", "Let's Encrypt 'Sycamore2026h2'", nil},
	{"the URL-safe log ID used for directories", "bP5QGUOoXqkWvFLRM-TcyR7xQRx9JYQg0XOAnhgY6zo", "Let's Encrypt 'Sycamore2026h2'", nil},
	{"the monitoring URL without slash", "https://mon.willow.ct.letsencrypt.org/2026h2", "Let's Encrypt 'Willow2026h2'", nil},
	{"the submission URL", "https://log.willow.ct.letsencrypt.org/2026h2/", "Let's Encrypt 'Willow2026h2'", nil},
	{"an RFC 6962 URL", "https://ct.cloudflare.com/logs/nimbus2026/", "Cloudflare 'Nimbus2026'", nil},
	{"a part two logs share is ambiguous", "sycamore", "", ErrAmbiguous},
	{"an unknown name is not found", "oak2019", "", ErrNotFound},
	{"an unknown URL is not found", "https://example.com/log/", "", ErrNotFound},
}

func TestFind(t *testing.T) {
	l := Snapshot()
	for _, tt := range findTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Find(tt.query)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Find(%q) error = %v, want %v", tt.query, err, tt.err)
				}
				return
			}
			if err != nil || got.Description != tt.want {
				t.Fatalf("Find(%q) = %v, %v; want %q", tt.query, got, err, tt.want)
			}
		})
	}
}

func TestOriginIsSubmissionPrefixWithoutScheme(t *testing.T) {
	l, err := Snapshot().Find("Willow2026h2")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Origin(), "log.willow.ct.letsencrypt.org/2026h2"; got != want {
		t.Errorf("Origin() = %q, want %q", got, want)
	}
	if l.Kind != Static || l.URL != "https://mon.willow.ct.letsencrypt.org/2026h2/" {
		t.Errorf("Willow: kind %s url %s", l.Kind, l.URL)
	}
}
