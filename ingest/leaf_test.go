package ingest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/crypto/cryptobyte"
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
