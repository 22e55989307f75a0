package loglist

import (
	"crypto/sha256"
	"os"
	"testing"
)

// FuzzParse feeds Parse (a log list is downloaded, so untrusted) mutated
// lists: it must not panic, and every list it accepts must have keys that
// hash to their log IDs and a findable description.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("log_list.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"version":"1","operators":[{"name":"x","logs":[],"tiled_logs":[]}]}`))
	f.Add([]byte(`{"operators":[{"name":"x","tiled_logs":[{"description":"d","log_id":"","key":"","monitoring_url":"https://x/","mmd":86400}]}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		for i := range l.Logs {
			g := &l.Logs[i]
			if sha256.Sum256(g.Key) != g.LogID {
				t.Fatalf("%s: accepted a key that does not hash to the log ID", g.Description)
			}
			_ = g.ID()
			_ = g.DirName()
			_ = g.Origin()
			l.Find(g.ID())
		}
	})
}
