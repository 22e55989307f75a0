package ingest

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestFastParseAgreesWithCTGo checks the standard-library fast path against
// ct-go's parser on every entry of the sample log and the real fixtures.
func TestFastParseAgreesWithCTGo(t *testing.T) {
	var tiles [][]byte
	l := mustSample(t)
	for _, e := range l.Entries {
		tiles = append(tiles, e.TileLeaf)
	}
	for _, f := range []string{"navigli2025h2/tile/data/000", "navigli2025h2/tile/data/001", "tesseract-example/data_tile"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, f)); err == nil {
			tiles = append(tiles, b)
		}
	}
	n := 0
	for _, b := range tiles {
		s := cryptobyte.String(b)
		for !s.Empty() {
			var e entry
			if err := decodeTileLeaf(&s, &e); err != nil {
				t.Fatal(err)
			}
			var fast Row
			fast.Precert = e.typ == precertEntry
			if !fastParse(&fast, &e) {
				continue
			}
			slow := parseWithCTGo(&e)
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("entry %d: fast %+v\nct-go %+v", n, fast, slow)
			}
			n++
		}
	}
	if n < 1000 {
		t.Fatalf("only %d entries compared", n)
	}
}

// TestParserReuseAgrees checks that one parser reused across entries (its
// issuer cache and scratch buffer) gives the rows a fresh parser gives.
func TestParserReuseAgrees(t *testing.T) {
	l := mustSample(t)
	var p parser
	for i, le := range l.Entries {
		s := cryptobyte.String(le.TileLeaf)
		var e entry
		if err := decodeTileLeaf(&s, &e); err != nil {
			t.Fatal(err)
		}
		e.index = int64(i)
		if got, want := p.parse(&e), parseEntry(&e); !reflect.DeepEqual(got, want) {
			t.Fatalf("entry %d: reused parser %+v\nfresh %+v", i, got, want)
		}
	}
}

// TestWrapTBS checks the hand-built wrapper against cryptobyte's encoder
// for every length-of-length form.
func TestWrapTBS(t *testing.T) {
	alg := []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}
	for _, pad := range []int{0, 10, 100, 117, 118, 200, 300, 70000} {
		var tb cryptobyte.Builder
		tb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(5)
			b.AddBytes(alg)
			b.AddASN1OctetString(make([]byte, pad))
		})
		tbs := tb.BytesOrPanic()
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(tbs)
			b.AddBytes(alg)
			b.AddASN1BitString(nil)
		})
		if got, want := wrapTBS(tbs), b.BytesOrPanic(); !bytes.Equal(got, want) {
			t.Fatalf("pad %d: got %x, want %x", pad, got[:min(len(got), 16)], want[:min(len(want), 16)])
		}
	}
	if wrapTBS([]byte{0x30, 0x00}) != nil || wrapTBS([]byte{0x04, 0x00}) != nil {
		t.Fatal("wrapTBS accepted a TBS without serial and algorithm")
	}
}

func TestSerialHex(t *testing.T) {
	big1 := new(big.Int).Lsh(big.NewInt(1), 1000)
	for _, c := range []struct {
		n    *big.Int
		want string
	}{
		{nil, ""}, {big.NewInt(0), "00"}, {big.NewInt(1), "01"}, {big.NewInt(255), "ff"}, {big.NewInt(256), "0100"},
		{big.NewInt(-5), "-05"}, {big1, "01" + strings.Repeat("00", 125)},
	} {
		if got := serialHex(c.n); got != c.want {
			t.Errorf("serialHex(%v) = %q, want %q", c.n, got, c.want)
		}
	}
}
