package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// A damaged state file must be refused on load with an error that names
// the file and says what to do, never accepted and never blamed on the log.
func TestACorruptStateFileIsNamedNotBlamedOnTheLog(t *testing.T) {
	l := mustSample(t)
	for _, tt := range []struct {
		name   string
		static bool
		to     int64 // the run that writes the state stops here (0: the head)
		damage func(st map[string]any)
		raw    string // instead of damage: the file's content
	}{
		{name: "not JSON", static: true, raw: "{\"format\": 1, "},
		{name: "empty", static: true, raw: ""},
		{name: "tree size 0 under a position", static: true, to: 512, damage: func(st map[string]any) { st["tree_size"] = 0 }},
		{name: "position past the tree size", static: true, damage: func(st map[string]any) { st["position"] = 2000 }},
		{name: "negative start", static: true, damage: func(st map[string]any) { st["start"] = -1 }},
		{name: "start past the position", static: true, to: 512, damage: func(st map[string]any) { st["start"] = 600 }},
		{name: "a frontier hash missing", static: true, damage: func(st map[string]any) {
			f := st["frontier"].([]any)
			st["frontier"] = f[1:]
		}},
		{name: "a short frontier hash", static: true, damage: func(st map[string]any) {
			st["frontier"].([]any)[0] = "AAAA"
		}},
		{name: "a bad frontier at the head", static: true, damage: flipFrontier},
		{name: "a bad frontier before the head", static: true, to: 512, damage: flipFrontier},
		{name: "a bad frontier before the head, RFC 6962", static: false, to: 512, damage: flipFrontier},
		{name: "a short root hash", static: true, damage: func(st map[string]any) { st["root_hash"] = "AAAA" }},
		{name: "a root hash the tree head does not sign", static: true, to: 512, damage: func(st map[string]any) {
			st["root_hash"] = flipB64(st["root_hash"].(string))
		}},
		{name: "a tree head with a bad signature", static: false, damage: func(st map[string]any) {
			st["tree_head"] = strings.Replace(st["tree_head"].(string), `"timestamp":`, `"timestamp":1`, 1)
		}},
		{name: "no tree head", static: true, damage: func(st map[string]any) { delete(st, "tree_head") }},
		{name: "another protocol", static: true, damage: func(st map[string]any) { st["protocol"] = "rfc6962" }},
		{name: "another log", static: true, damage: func(st map[string]any) { st["log_id"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, 1000)
			url := startServer(t, s, tt.static)
			lg := staticLog(l, url)
			if !tt.static {
				lg = rfcLog(l, url)
			}
			data := t.TempDir()
			cfg := Config{Log: lg, Data: data, FileEntries: 256, To: tt.to, HTTP: testHTTP(&fakeClock{})}
			if _, err := Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			sp := statePath(data, lg.DirName())
			b, err := os.ReadFile(sp)
			if err != nil {
				t.Fatal(err)
			}
			if tt.damage != nil {
				var st map[string]any
				if err := json.Unmarshal(b, &st); err != nil {
					t.Fatal(err)
				}
				tt.damage(st)
				b, _ = json.Marshal(st)
			} else {
				b = []byte(tt.raw)
			}
			if err := os.WriteFile(sp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg.To = 0
			_, err = Run(context.Background(), cfg)
			want := "state file " + sp + ": "
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "move it away to start over, or restore it") {
				t.Fatalf("got %v\nwant an error starting %q and saying what to do", err, want)
			}
			t.Log(err)
		})
	}
}

func flipFrontier(st map[string]any) {
	f := st["frontier"].([]any)
	f[len(f)-1] = flipB64(f[len(f)-1].(string))
}

// flipB64 flips a bit in the bytes a base64 string encodes.
func flipB64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	b[3] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// The checks must pass every state ingest itself writes: at an empty log,
// mid-log after --to, at the head, and resumed after the log grew.
func TestStatesIngestWritesAreAccepted(t *testing.T) {
	l := mustSample(t)
	for _, static := range []bool{true, false} {
		s := ctlogtest.NewServer(l, 0)
		url := startServer(t, s, static)
		lg := staticLog(l, url)
		if !static {
			lg = rfcLog(l, url)
		}
		data := t.TempDir()
		for _, step := range []struct{ size, to int64 }{{0, 0}, {300, 0}, {700, 512}, {700, 600}, {1000, 0}, {1000, 0}} {
			s.SetSize(step.size)
			if _, err := Run(context.Background(), Config{Log: lg, Data: data, FileEntries: 256, To: step.to, HTTP: testHTTP(&fakeClock{})}); err != nil {
				t.Fatalf("static %v, size %d, to %d: %v", static, step.size, step.to, err)
			}
		}
		checkSampleRows(t, l, readRows(t, data), 0, 1000)
	}
}
