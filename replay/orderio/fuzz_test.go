package orderio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/replay"
)

// fuzzRead writes data to a file named name and reads every order from it:
// any outcome but a panic is fine, every error must name the file, and
// every order read must prepare or fail with a reason (ErrBadName,
// ErrBadTime or a missing time).
func fuzzRead(t *testing.T, name string, data []byte) {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readOrders(path); err != nil {
		if strings.HasPrefix(err.Error(), "PANIC") || !strings.Contains(err.Error(), path) {
			t.Fatal(err)
		}
		return
	}
	in, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	recs, err := ReadAll(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	var n replay.Namer
	for i := range recs {
		p, err := n.Prepare(&recs[i].Order)
		if err != nil {
			if !errors.Is(err, replay.ErrBadName) && !errors.Is(err, replay.ErrBadTime) {
				t.Fatalf("record %d: %v", i, err)
			}
			continue
		}
		if p.NotAfter != 0 && p.NotBefore > p.NotAfter {
			t.Fatalf("record %d: not_before after not_after accepted", i)
		}
	}
}

func FuzzJSONLOrders(f *testing.F) {
	f.Add([]byte(sameOrdersJSONL))
	f.Add([]byte(`{"issued_at":"2300-01-01T00:00:00Z","names":["bücher.example"],"not_before":"2026-06-01T00:00:00Z","not_after":"2026-03-01T00:00:00Z","account":1e300}`))
	f.Add([]byte(`{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"profile":"shortlived"}` + "\n" + `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"profile":" TLSServer"}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "o.jsonl", data) })
}

func FuzzCSVOrders(f *testing.F) {
	f.Add([]byte(sameOrdersCSV))
	f.Add([]byte("\ufeffnames,issued_at,account,not_after\n\"a.example b.example\",2026-03-01T00:00:00Z,7,1600-01-01T00:00:00Z\n"))
	f.Add([]byte("issued_at,names,profile\n2026-03-01T00:00:00Z,a.example,classic\n2026-03-01T00:00:01Z,b.example,\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "o.csv", data) })
}

// FuzzParquetOrders is slow per input (arrow); run it with
// -fuzzminimizetime 2s so that minimizing does not take the whole budget.
func FuzzParquetOrders(f *testing.F) {
	f.Add(smallOrdersParquet(f, 20))
	f.Add(smallOrdersParquet(f, 200))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, "o.parquet", data) })
}
