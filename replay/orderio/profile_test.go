package orderio

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/replay"
)

func manyNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("s%d.cap.example", i)
	}
	return out
}

func TestOrdersMayNameAProfile(t *testing.T) {
	t.Parallel()
	names30, _ := json.Marshal(manyNames(30))
	in := `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"profile":"shortlived"}
{"issued_at":"2026-03-01T00:00:01Z","names":` + string(names30) + `,"profile":"tlsserver"}
{"issued_at":"2026-03-01T00:00:02Z","names":` + string(names30) + `}
{"issued_at":"2026-03-01T00:00:03Z","names":["b.example"],"not_before":"2026-03-01T00:00:03Z","not_after":"2026-04-15T00:00:02Z"}
`
	out, c, err := replayFile(t, writeFile(t, "o.jsonl", in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Refused != 1 || c.New != 3 || !strings.Contains(c.String(), "1 refused") {
		t.Fatalf("counts %+v", c)
	}
	type row struct {
		Decision, Profile string
		Message           *string
	}
	var rows []row
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	want := []row{{"new", "shortlived", nil}, {"refused", "tlsserver", nil}, {"new", "classic", nil}, {"new", "tlsserver", nil}}
	for i, w := range want {
		if rows[i].Decision != w.Decision || rows[i].Profile != w.Profile {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], w)
		}
	}
	if rows[1].Message == nil || *rows[1].Message != "Order cannot contain more than 25 identifiers" {
		t.Errorf("refused row's message: %v", rows[1].Message)
	}
}

func TestCSVAndParquetOrdersNameAProfile(t *testing.T) {
	t.Parallel()
	csvIn := "issued_at,names,profile\n2026-03-01T00:00:00Z,a.example,shortlived\n2026-03-01T00:00:01Z,b.example,\n"
	out, _, err := replayFile(t, writeFile(t, "o.csv", csvIn), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"profile":"shortlived"`) || !strings.Contains(out, `"profile":"classic"`) {
		t.Fatalf("%s", out)
	}
	// CSV output ends with the profile column.
	r, _ := Open(writeFile(t, "o.csv", csvIn), nil)
	defer r.Close()
	var buf bytes.Buffer
	w, _ := NewWriter("csv", &buf)
	p, _ := replay.LookupPolicy("letsencrypt")
	if _, err := Stream(context.Background(), r, p, w, Options{}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.HasSuffix(lines[0], ",profile") || !strings.HasSuffix(lines[1], ",shortlived") {
		t.Fatalf("%s", buf.String())
	}

	path := filepath.Join(t.TempDir(), "o.parquet")
	writeProfileParquet(t, path, []string{"tlsserver", "classic"})
	out, _, err = replayFile(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"profile":"tlsserver"`) {
		t.Fatalf("%s", out)
	}
}

func TestUnknownProfileNamesFileLineAndChoices(t *testing.T) {
	t.Parallel()
	const choices = "Let's Encrypt's profiles are classic, tlsserver, shortlived"
	for _, c := range []struct{ spec, file, content, want string }{
		{"jsonl", "o.jsonl", "{\"issued_at\":\"2026-03-01T00:00:00Z\",\"names\":[\"a.example\"]}\n{\"issued_at\":\"2026-03-01T00:00:00Z\",\"names\":[\"a.example\"],\"profile\":\"modern\"}\n",
			`o.jsonl:line 2: profile: unknown profile "modern"; ` + choices},
		{"csv", "o.csv", "issued_at,names,profile\n2026-03-01T00:00:00Z,a.example,short-lived\n",
			`o.csv:line 2: profile: unknown profile "short-lived"; ` + choices},
	} {
		_, _, err := replayFile(t, writeFile(t, c.file, c.content), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.spec, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "o.parquet")
	writeProfileParquet(t, path, []string{"classic", "classic", "45d"})
	_, _, err := replayFile(t, path, Options{})
	if want := `o.parquet:row 3: profile: unknown profile "45d"; ` + choices; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("parquet: err = %v\nwant it to contain %q", err, want)
	}
}

func writeProfileParquet(t *testing.T, path string, profiles []string) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "issued_at", Type: arrow.BinaryTypes.String},
		{Name: "names", Type: arrow.BinaryTypes.String},
		{Name: "profile", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i, p := range profiles {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("2026-03-01T00:00:%02dZ", i))
		b.Field(1).(*array.StringBuilder).Append("a.example")
		b.Field(2).(*array.StringBuilder).Append(p)
	}
	rec := b.NewRecord()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}
