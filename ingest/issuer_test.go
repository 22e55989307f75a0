package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
	ct "github.com/google/certificate-transparency-go"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/mod/sumdb/tlog"
)

// selfSigned is a certificate no CT entry was issued under.
func selfSigned(t testing.TB, cn string) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// An x509 entry's chain is outside its Merkle leaf: the real RFC 6962
// entries keep the issuer key hash their chain's first certificate
// proves by signature, and a chain swapped by the server gives NULL.
func TestX509IssuerKeyHashIsOnlyKeptWhenTheChainSignedTheLeaf(t *testing.T) {
	dir := needFixture(t, "rfc6962-four-entries")
	body, err := os.ReadFile(filepath.Join(dir, "get-entries-0-3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var orig ct.GetEntriesResponse
	if err := json.Unmarshal(body, &orig); err != nil {
		t.Fatal(err)
	}
	// The true issuer key hashes, from each chain's first certificate.
	var want []string
	for i, le := range orig.Entries {
		var e entry
		decodeMerkleLeaf(le.LeafInput, le.ExtraData, &e)
		c, err := x509.ParseCertificate(e.chain0)
		if err != nil {
			t.Fatalf("entry %d chain: %v", i, err)
		}
		h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		want = append(want, string(h[:]))
	}
	fake := selfSigned(t, "not the issuer")
	for _, tt := range []struct {
		name   string
		chain0 func(i int, real []byte) []byte
		want   func(i int) string
	}{
		{"the real chains", func(i int, real []byte) []byte { return real }, func(i int) string { return want[i] }},
		{"a stranger's certificate first", func(int, []byte) []byte { return fake }, func(int) string { return "" }},
		{"no chain", nil, func(int) string { return "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := ct.GetEntriesResponse{}
			for _, le := range orig.Entries {
				var e entry
				decodeMerkleLeaf(le.LeafInput, le.ExtraData, &e)
				var b cryptobyte.Builder
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
					if tt.chain0 != nil {
						b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(tt.chain0(len(resp.Entries), e.chain0)) })
					}
				})
				resp.Entries = append(resp.Entries, ct.LeafEntry{LeafInput: le.LeafInput, ExtraData: b.BytesOrPanic()})
			}
			data := rfcFixtureRun(t, resp)
			rows := readRows(t, data)
			if len(rows) != 4 {
				t.Fatalf("%d rows", len(rows))
			}
			for i, r := range rows {
				if r.IssuerKeyHash != tt.want(i) {
					t.Errorf("row %d: issuer_key_hash %x, want %x", i, r.IssuerKeyHash, tt.want(i))
				}
			}
		})
	}
}

// rfcFixtureRun ingests get-entries answer resp (the four real entries,
// possibly with other chains) and returns DATA.
func rfcFixtureRun(t *testing.T, resp ct.GetEntriesResponse) string {
	var stated tlog.Hash
	b, _ := base64.StdEncoding.DecodeString("A26tmgcaUJpkFXFpkzCS8bJ29cQBEgExKAYFL8hiJ5E=")
	copy(stated[:], b)
	key := testKey(t)
	sth := ctlogtest.SignedSTH(key, 4, stated, time.UnixMilli(1400000000000))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ct/v1/get-sth":
			w.Write(sth)
		case "/ct/v1/get-entries":
			start, _ := strconv.Atoi(r.URL.Query().Get("start"))
			end, _ := strconv.Atoi(r.URL.Query().Get("end"))
			out := resp
			out.Entries = resp.Entries[start:min(end+1, 4)]
			json.NewEncoder(w).Encode(out)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	data := t.TempDir()
	if _, err := Run(context.Background(), Config{Log: logFor(t, key, loglist.RFC6962, srv.URL+"/", ""), Data: data}); err != nil {
		t.Fatal(err)
	}
	return data
}

// A static log's issuer is fetched by the fingerprint in the data tile,
// also outside the Merkle leaf: another issuer the log serves must not be
// taken for the right one.
func TestX509IssuerOfAnotherCAIsNotBelieved(t *testing.T) {
	l := mustSample(t)
	var checked int
	for i, le := range l.Entries {
		s := cryptobyte.String(le.TileLeaf)
		var e entry
		if err := decodeTileLeaf(&s, &e); err != nil {
			t.Fatal(err)
		}
		if e.typ != x509Entry || e.chain0 == nil {
			continue
		}
		fp := hex.EncodeToString(e.chain0)
		for ifp, der := range l.Issuers {
			is, err := newIssuerCert(der)
			if err != nil {
				t.Fatal(err)
			}
			e.issuer = is
			r := parseEntry(&e)
			var ctr Row
			if ctr = parseWithCTGo(&e); ifp == fp {
				if string(r.IssuerKeyHash) != string(is.keyHash) || string(ctr.IssuerKeyHash) != string(is.keyHash) {
					t.Fatalf("entry %d: its own issuer %s not believed", i, ifp)
				}
			} else if r.IssuerKeyHash != nil || ctr.IssuerKeyHash != nil {
				t.Fatalf("entry %d: issuer %s believed, but %s issued it", i, ifp, fp)
			}
			checked++
		}
	}
	if checked < 2 || len(l.Issuers) < 2 {
		t.Fatalf("checked %d pairs among %d issuers; the sample needs x509 entries and two issuers", checked, len(l.Issuers))
	}
}
