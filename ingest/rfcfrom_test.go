package ingest

import (
	"context"
	"strings"
	"testing"

	"net/http"
	"net/http/httptest"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// An RFC 6962 ingest can start anywhere: the Merkle frontier at --from is
// rebuilt from the audit path of the entry before it, verified against the
// signed head, and every row is then verified through it.
func TestRFC6962IngestStartsMidLog(t *testing.T) {
	l := mustSample(t)
	for _, tt := range []struct {
		name     string
		size     int64
		from, to int64
	}{
		{"from the middle, tree not a power of two", 1000, 537, 0},
		{"from a power of two", 1000, 512, 900},
		{"from index 1", 1000, 1, 0},
		{"from the last entry", 1000, 999, 0},
		{"a small tree", 3, 2, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, tt.size)
			s.MaxBatch, s.Align = 64, true
			url := startServer(t, s, false)
			data := t.TempDir()
			sum, err := Run(context.Background(), Config{Log: rfcLog(l, url), Data: data, From: tt.from, To: tt.to, HTTP: testHTTP(&fakeClock{})})
			if err != nil {
				t.Fatal(err)
			}
			to := tt.to
			if to == 0 {
				to = tt.size
			}
			checkSampleRows(t, l, readRows(t, data), tt.from, to)
			if sum.Entries != to-tt.from || s.Count("get-proof-by-hash") != 1 {
				t.Fatalf("summary %+v, %d proofs", sum, s.Count("get-proof-by-hash"))
			}
		})
	}
}

func TestRFC6962StartRefusesABadProof(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	// A log that answers get-proof-by-hash with the proof of another tree
	// size: the proof does not verify against the signed head.
	inner := s.RFC6962()
	srvURL := startServerHandler(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "get-proof-by-hash") {
			q := r.URL.Query()
			q.Set("tree_size", "999")
			r.URL.RawQuery = q.Encode()
		}
		inner.ServeHTTP(w, r)
	})
	_, err := Run(context.Background(), Config{Log: rfcLog(l, srvURL), Data: t.TempDir(), From: 500, HTTP: testHTTP(&fakeClock{})})
	if err == nil || !strings.Contains(err.Error(), "does not verify against the signed tree head") {
		t.Fatalf("err = %v", err)
	}
}

func startServerHandler(t testing.TB, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}
