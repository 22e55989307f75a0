package beamshard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/ctlimits/ctlimits/sql/datadir"
)

// The pipeline runs in process on Prism, Beam's portable local runner,
// against DATA directories sharded by the real 'ctlimits shard' (built
// from the main module, with cgo: DuckDB makes the shards; the pipeline
// itself needs none). Its decisions must equal, order for order, one
// 'ctlimits replay --data' of the same entries.

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init() // Prism runs the DoFns in this process (loopback)
	os.Exit(m.Run())
}

// build builds a command of the main module.
func build(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, stderr)
	}
	return string(out)
}

// demoData ingests testdata/demolog (production, staging and other CAs).
func demoData(t *testing.T, ctlimits string) string {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "demolog"))
	b, err := os.ReadFile(filepath.Join(dir, "log.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf struct {
		Origin    string `json:"origin"`
		PublicKey []byte `json:"public_key"`
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	runTool(t, ctlimits, "ingest", "--data", data, "--quiet", "--log", "file://"+dir,
		"--key", base64.StdEncoding.EncodeToString(kf.PublicKey), "--origin", kf.Origin)
	return data
}

// copyEntries copies DATA's entries into a new DATA directory.
func copyEntries(t *testing.T, data string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(filepath.Join(data, "entries"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		return datadir.Write(filepath.Join(dst, rel), func(w io.Writer) error { _, err := io.Copy(w, in); return err })
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestPrismReplaysTheShardsLikeOneReplay(t *testing.T) {
	ctlimits := build(t, "./cmd/ctlimits")
	ctgen := build(t, "./cmd/ctgen")
	for _, tc := range []struct {
		name   string
		data   func(t *testing.T) string
		shards int
	}{
		{"demo", func(t *testing.T) string { return demoData(t, ctlimits) }, 3},
		{"generated", func(t *testing.T) string {
			data := filepath.Join(t.TempDir(), "data")
			runTool(t, ctgen, "-entries", data, "-certs", "2000", "-days", "10")
			return data
		}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one := tc.data(t)
			sharded := copyEntries(t, one)
			runTool(t, ctlimits, "replay", "--data", one, "--issuers", "all", "--assume-ari", "--quiet")
			runTool(t, ctlimits, "shard", "--data", sharded, "--shards", itoa(tc.shards), "--quiet")

			p, s := beam.NewPipelineWithRoot()
			results, gen := Build(s, Options{Data: sharded, Shards: tc.shards, Issuers: "all", AssumeARI: true, Workers: 1})
			// Two streams (production with other CAs, and staging) per shard.
			passert.Count(s, results, "results", 2*tc.shards)
			passert.Count(s, gen, "generation", 1)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			start := time.Now()
			if _, err := prism.Execute(ctx, p); err != nil {
				t.Fatalf("prism: %v", err)
			}
			t.Logf("%d shards through Prism in %s", tc.shards, time.Since(start).Round(time.Millisecond))

			q := `SELECT * FROM decisions ORDER BY policy, "order", issuer, serial`
			want := runTool(t, ctlimits, "sql", "--data", one, "--format", "csv", q)
			got := runTool(t, ctlimits, "sql", "--data", sharded, "--format", "csv", q)
			if lines := strings.Count(want, "\n"); lines < 400 {
				t.Fatalf("only %d decisions: the test proves little", lines)
			}
			if got != want {
				t.Fatalf("the decisions of the shards through Prism differ from one replay's (%d and %d bytes)", len(got), len(want))
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
