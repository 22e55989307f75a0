package shard

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/orderio"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		ok   bool
	}{
		{"0/1", 0, 1, true}, {"3/8", 3, 8, true}, {" 7 / 8 ", 7, 8, true},
		{"8/8", 0, 0, false}, {"-1/8", 0, 0, false}, {"1/0", 0, 0, false}, {"3", 0, 0, false},
		{"a/b", 0, 0, false}, {"", 0, 0, false}, {"1/2/3", 0, 0, false},
	} {
		i, n, err := ParseSpec(tc.in)
		if (err == nil) != tc.ok || i != tc.i || n != tc.n {
			t.Errorf("ParseSpec(%q) = %d, %d, %v", tc.in, i, n, err)
		}
		if err != nil && !strings.Contains(err.Error(), "want I/N") {
			t.Errorf("ParseSpec(%q): %v does not say what to give", tc.in, err)
		}
	}
}

// FuzzParseSpec: any spec is a shard of a count, or an error; never a
// panic, never a shard outside [0, N).
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"0/1", "3/8", "8/8", "x", "/", "1/", "/1", "99999999999999999999/1", "-0/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := ParseSpec(s)
		if err == nil && (n < 1 || i < 0 || i >= n) {
			t.Fatalf("ParseSpec(%q) = %d, %d", s, i, n)
		}
	})
}

// TestReadManifestRefusesWhatItCannotUse: a missing, foreign, newer or
// mismatched manifest is an error saying to run 'ctlimits shard' again.
func TestReadManifestRefusesWhatItCannotUse(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadManifest(dir, 4); err == nil || !strings.Contains(err.Error(), "ctlimits shard --data DATA --shards 4") {
		t.Fatalf("missing: %v", err)
	}
	for _, body := range []string{`{`, `{"format":"ctlimits-shards 9","shards":4,"orders":[1,2,3,4]}`, `{"format":"ctlimits-shards 1","shards":3,"orders":[1,2,3]}`} {
		if err := datadir.WriteFile(ManifestFile(dir), []byte(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadManifest(dir, 4); err == nil || !strings.Contains(err.Error(), "run 'ctlimits shard") {
			t.Fatalf("%s: %v", body, err)
		}
	}
	m := &Manifest{Format: ManifestFormat, Shards: 4, Orders: make([]int64, 4)}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir, 4); err != nil {
		t.Fatal(err)
	}
}

// TestEntriesDigestFollowsTheEntries: a new entries file changes the
// digest; temporary files do not.
func TestEntriesDigestFollowsTheEntries(t *testing.T) {
	dd, err := datadir.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d0, n0, err := EntriesDigest(dd)
	if err != nil || n0 != 0 {
		t.Fatal(n0, err)
	}
	if err := datadir.WriteFile(filepath.Join(dd.EntriesDir("a"), "0-9.parquet"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	d1, n1, _ := EntriesDigest(dd)
	if err := os.WriteFile(filepath.Join(dd.EntriesDir("a"), ".10-19.parquet123"), []byte("y"), 0o666); err != nil {
		t.Fatal(err)
	}
	d2, n2, _ := EntriesDigest(dd)
	if d0 == d1 || n1 != 1 || d2 != d1 || n2 != 1 {
		t.Fatalf("digests %s %s %s, files %d %d", d0, d1, d2, n1, n2)
	}
}

// TestOpenCTOrdersRefusesOtherFiles: an orders file of another shape, or
// a damaged one, is an error naming it, never a panic.
func TestOpenCTOrdersRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.parquet")
	if err := os.WriteFile(bad, []byte("PAR1 not really PAR1"), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := orderio.OpenCTOrders(bad, []string{"letsencrypt"}, "line_group"); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("damaged: %v", err)
	}
	// A planned-orders file: issued_at and names, no certificates.
	plain := filepath.Join(dir, "plain.parquet")
	err := datadir.Write(plain, func(w io.Writer) error {
		ow, err := orderio.NewOrderWriter(orderio.Parquet, w)
		if err != nil {
			return err
		}
		if err := ow.Write(&replay.Order{IssuedAt: time.Unix(1e9, 0), Names: []string{"a.example"}}); err != nil {
			return err
		}
		return ow.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := orderio.OpenCTOrders(plain, []string{"letsencrypt"}, "line_group"); err == nil || !strings.Contains(err.Error(), "not a CT orders file") {
		t.Fatalf("%s: %v", plain, err)
	}
}
