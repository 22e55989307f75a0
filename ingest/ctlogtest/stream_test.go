package ctlogtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A log streamed entry by entry is byte for byte the log Save writes.
func TestStreamWriterWritesWhatSaveWrites(t *testing.T) {
	l, err := FromPlan(DemoPlan())
	if err != nil {
		t.Fatal(err)
	}
	saved, streamed := t.TempDir(), t.TempDir()
	if err := l.Save(saved); err != nil {
		t.Fatal(err)
	}
	w, err := NewStreamWriter(streamed, l.Origin, l.Key, l.Issuers)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(l.Time); err != nil {
		t.Fatal(err)
	}
	files := 0
	filepath.Walk(saved, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(saved, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(streamed, rel))
		if err != nil {
			t.Errorf("%s: not streamed: %v", rel, err)
			return nil
		}
		// Checkpoint signatures are randomized (ECDSA); compare their text.
		if rel == "checkpoint" {
			a, b = a[:bytes.Index(a, []byte("\n\n"))], b[:bytes.Index(b, []byte("\n\n"))]
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs", rel)
		}
		files++
		return nil
	})
	if files < 10 {
		t.Fatalf("only %d files compared", files)
	}
}
