package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	ct "github.com/google/certificate-transparency-go"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/mod/sumdb/tlog"
)

// fixtures is the shared real CT data (see ../shared/fixtures/README.md),
// relative to this package.
const fixtures = "../../shared/fixtures"

func needFixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtures, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("real CT fixture %s not present (it lives next to the repository, not in it): %v", p, err)
	}
	return p
}

func testKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func logFor(t testing.TB, key *ecdsa.PrivateKey, kind loglist.Kind, url, origin string) *loglist.Log {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := loglist.Custom(url, kind, der, origin)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// navigliServer serves the real Navigli tiles at tree size n. The fixture
// has no checkpoint and no level-1 tile, so both are derived here from the
// real level-0 tiles, and the checkpoint is signed by a test key. What is
// tested is that the real data tiles hash to the real level-0 tiles.
func navigliServer(t *testing.T, dir string, n int64, key *ecdsa.PrivateKey, origin string) string {
	leaves := make([]tlog.Hash, 0, 1024)
	for i := 0; i < 4; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "tile", "0", fmt.Sprintf("%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < len(b); j += 32 {
			leaves = append(leaves, tlog.Hash(b[j:j+32]))
		}
	}
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := int64(0); i < n; i++ {
		hs, err := tlog.StoredHashesForRecordHash(i, leaves[i], hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	cp := ctlogtest.SignedCheckpoint(key, origin, n, root, time.UnixMilli(1746300000000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "checkpoint":
			w.Write(cp)
		case strings.HasPrefix(p, "tile/1/"):
			tl, err := tlog.ParseTilePath("tile/8/" + strings.TrimPrefix(p, "tile/"))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			b, err := tlog.ReadTileData(tl, hr)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Write(b)
		default:
			http.ServeFile(w, r, filepath.Join(dir, filepath.FromSlash(p)))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

type namesLine struct {
	Timestamp int64
	Subject   struct{ CommonName string }
	DNS       []string
}

// navigliNames reads the log's names tiles: one line per entry, 0-1023.
func navigliNames(t *testing.T, dir string) []namesLine {
	t.Helper()
	var names []namesLine
	for _, f := range []string{"000", "001", "002", "003"} {
		b, err := os.ReadFile(filepath.Join(dir, "tile", "names", f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var nl namesLine
			if err := json.Unmarshal(sc.Bytes(), &nl); err != nil {
				t.Fatal(err)
			}
			names = append(names, nl)
		}
	}
	return names
}

func TestNavigliTilesIngestToVerifiedRows(t *testing.T) {
	dir := needFixture(t, "navigli2025h2")
	names := navigliNames(t, dir)
	if len(names) != 1024 {
		t.Fatalf("names tiles have %d lines", len(names))
	}
	serials := navigliSerials(t, dir)
	for _, tt := range []struct {
		name    string
		size    int64
		perFile int64
	}{
		{"all four full tiles, one file per tile", 1024, 256},
		{"a tree ending in the partial tile 003.p/10", 778, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := testKey(t)
			origin := "navigli.sunlight.geomys.org/2025h2"
			url := navigliServer(t, dir, tt.size, key, origin)
			data := t.TempDir()
			sum, err := Run(context.Background(), Config{Log: logFor(t, key, loglist.Static, url, origin), Data: data, FileEntries: tt.perFile})
			if err != nil {
				t.Fatal(err)
			}
			rows := readRows(t, data)
			if int64(len(rows)) != tt.size || sum.TreeSize != tt.size {
				t.Fatalf("%d rows, tree size %d; want %d", len(rows), sum.TreeSize, tt.size)
			}
			for i, r := range rows {
				nl := names[i]
				if r.Idx != int64(i) || r.EntryType != "precert" || r.ParseError != "" {
					t.Fatalf("row %d: idx %d type %s error %q", i, r.Idx, r.EntryType, r.ParseError)
				}
				if r.LoggedAt != nl.Timestamp || r.CN != nl.Subject.CommonName || strings.Join(r.DNS, ",") != strings.Join(nl.DNS, ",") {
					t.Fatalf("row %d: logged_at %d cn %q dns %v; names tile says %d %q %v", i, r.LoggedAt, r.CN, r.DNS, nl.Timestamp, nl.Subject.CommonName, nl.DNS)
				}
				if !strings.Contains(r.Issuer, "(STAGING)") || !strings.Contains(r.Issuer, "Let's Encrypt") || len(r.IssuerKeyHash) != 32 {
					t.Fatalf("row %d: issuer %q", i, r.Issuer)
				}
				if r.Serial != serials[i] {
					t.Fatalf("row %d: serial %s, want %s", i, r.Serial, serials[i])
				}
			}
			t.Logf("first row: %s serial %s issuer %q names %v", time.UnixMilli(rows[0].LoggedAt).UTC(), rows[0].Serial, rows[0].Issuer, rows[0].DNS)
		})
	}
}

// navigliSerials reads the serial of every entry straight out of the TBS
// DER with cryptobyte, independently of the X.509 parser ingest uses.
func navigliSerials(t *testing.T, dir string) []string {
	var out []string
	for i := 0; i < 4; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "tile", "data", fmt.Sprintf("%03d", i)))
		if err != nil {
			t.Fatal(err)
		}
		s := cryptobyte.String(b)
		for !s.Empty() {
			var e entry
			if err := decodeTileLeaf(&s, &e); err != nil {
				t.Fatal(err)
			}
			tbs := cryptobyte.String(e.der)
			var inner cryptobyte.String
			var serial []byte
			if !tbs.ReadASN1(&inner, cbasn1.SEQUENCE) ||
				!inner.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
				!inner.ReadASN1Bytes(&serial, cbasn1.INTEGER) {
				t.Fatal("couldn't read a serial from the TBS")
			}
			for len(serial) > 1 && serial[0] == 0 {
				serial = serial[1:]
			}
			out = append(out, fmt.Sprintf("%x", serial))
		}
	}
	return out
}

func TestFourRealRFC6962EntriesParseAndHashToTheStatedRoot(t *testing.T) {
	dir := needFixture(t, "rfc6962-four-entries")
	body, err := os.ReadFile(filepath.Join(dir, "get-entries-0-3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var stated tlog.Hash
	b, _ := base64.StdEncoding.DecodeString("A26tmgcaUJpkFXFpkzCS8bJ29cQBEgExKAYFL8hiJ5E=")
	copy(stated[:], b)
	key := testKey(t)
	// The STH that ships upstream has a fake signature and a wrong root;
	// this one states the README's root and is signed by a test key.
	sth := ctlogtest.SignedSTH(key, 4, stated, time.UnixMilli(1400000000000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ct/v1/get-sth":
			w.Write(sth)
		case "/ct/v1/get-entries":
			start, _ := strconv.Atoi(r.URL.Query().Get("start"))
			end, _ := strconv.Atoi(r.URL.Query().Get("end"))
			var resp ct.GetEntriesResponse
			json.Unmarshal(body, &resp)
			resp.Entries = resp.Entries[start:min(end+1, 4)]
			json.NewEncoder(w).Encode(resp)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	data := t.TempDir()
	if _, err := Run(context.Background(), Config{Log: logFor(t, key, loglist.RFC6962, srv.URL+"/", ""), Data: data}); err != nil {
		t.Fatal(err) // the final commit compares the root of the four leaves with the stated one
	}
	rows := readRows(t, data)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	for _, r := range rows {
		if r.EntryType != "x509" || r.ParseError != "" || r.Serial == "" || len(r.DNS)+len(r.CN) == 0 || r.IssuerKeyHash == "" {
			t.Errorf("row %d: %+v", r.Idx, r)
		}
		if time.UnixMilli(r.LoggedAt).Year() != 2013 {
			t.Errorf("row %d logged at %s, want 2013", r.Idx, time.UnixMilli(r.LoggedAt).UTC())
		}
		t.Logf("idx %d: %s serial %s cn %q issuer %q", r.Idx, time.UnixMilli(r.LoggedAt).UTC().Format(time.DateOnly), r.Serial, r.CN, r.Issuer)
	}
}

func TestTesseractDataTileParses(t *testing.T) {
	dir := needFixture(t, "tesseract-example")
	b, err := os.ReadFile(filepath.Join(dir, "data_tile"))
	if err != nil {
		t.Fatal(err)
	}
	s := cryptobyte.String(b)
	var n, issuers int
	seen := map[string]bool{}
	for !s.Empty() {
		var e entry
		if err := decodeTileLeaf(&s, &e); err != nil {
			t.Fatalf("entry %d: %v", n, err)
		}
		r := parseEntry(&e)
		if r.ParseError != "" || r.Serial == "" {
			t.Fatalf("entry %d: %+v", n, r)
		}
		if !seen[r.Issuer] {
			seen[r.Issuer] = true
			issuers++
		}
		n++
	}
	if n != 256 || issuers < 2 {
		t.Fatalf("%d entries from %d issuers; want 256 from several CAs", n, issuers)
	}
}
