package orderio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/ctlimits/ctlimits/replay"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func replayFile(t *testing.T, path string, opt Options) (string, Counts, error) {
	t.Helper()
	in, err := Open(path, nil)
	if err != nil {
		return "", Counts{}, err
	}
	defer in.Close()
	p, _ := replay.LookupPolicy("letsencrypt")
	var buf bytes.Buffer
	w, _ := NewWriter("jsonl", &buf)
	c, err := Stream(context.Background(), in, p, w, opt)
	if err == nil {
		err = w.Close()
	}
	return buf.String(), c, err
}

const sameOrdersJSONL = `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example","WWW.A.example"]}
{"issued_at":"2026-03-01T00:00:01Z","names":["www.a.example","a.example"],"not_before":"2026-02-28T23:00:01Z"}

{"issued_at":"2026-03-01T00:00:02.5Z","names":["192.0.2.1"],"account":42}
`

const sameOrdersCSV = "issued_at,names,not_before\n" +
	"2026-03-01T00:00:00Z,a.example WWW.A.example,\n" +
	"2026-03-01T00:00:01Z,www.a.example a.example,2026-02-28T23:00:01Z\n" +
	"2026-03-01T00:00:02.5Z,192.0.2.1,\n"

func TestJSONLAndCSVReadTheSameOrders(t *testing.T) {
	t.Parallel()
	j, jc, err := replayFile(t, writeFile(t, "o.jsonl", sameOrdersJSONL), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, cc, err := replayFile(t, writeFile(t, "o.csv", sameOrdersCSV), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if jc != cc || jc.Orders != 3 || jc.New != 2 || jc.Renewal != 1 {
		t.Fatalf("counts jsonl %+v csv %+v", jc, cc)
	}
	// The account differs (CSV has none here) but decisions match.
	if strings.Count(j, `"decision":"renewal"`) != 1 || strings.Count(c, `"decision":"renewal"`) != 1 {
		t.Fatalf("jsonl:\n%s\ncsv:\n%s", j, c)
	}
}

func TestJSONLOutputHasTheDocumentedFields(t *testing.T) {
	t.Parallel()
	out, _, err := replayFile(t, writeFile(t, "o.jsonl", sameOrdersJSONL), Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, lines[0])
	}
	for _, f := range []string{"order", "issued_at", "decision", "limited_by", "retry_after", "message"} {
		if _, ok := row[f]; !ok {
			t.Errorf("missing field %q in %s", f, lines[0])
		}
	}
	if row["order"].(float64) != 0 || row["issued_at"] != "2026-03-01T00:00:00Z" || row["decision"] != "new" ||
		row["retry_after"] != nil || row["message"] != nil || len(row["limited_by"].([]any)) != 0 {
		t.Fatalf("row 0: %s", lines[0])
	}
	if !strings.Contains(lines[2], `"issued_at":"2026-03-01T00:00:02.5Z"`) || !strings.Contains(lines[2], `"registered_domains":["192.0.2.1/32"]`) {
		t.Fatalf("row 2: %s", lines[2])
	}
}

func TestLimitedRowCarriesBucketRetryAndMessage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := 0; i < 6; i++ {
		b.WriteString(`{"issued_at":"2026-03-01T00:00:00Z","names":["dup.example"]}` + "\n")
	}
	out, c, err := replayFile(t, writeFile(t, "o.jsonl", b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Limited != 1 {
		t.Fatalf("counts %+v", c)
	}
	last := strings.Split(strings.TrimSpace(out), "\n")[5]
	var row struct {
		Decision   string   `json:"decision"`
		LimitedBy  []string `json:"limited_by"`
		RetryAfter string   `json:"retry_after"`
		Message    string   `json:"message"`
	}
	if err := json.Unmarshal([]byte(last), &row); err != nil {
		t.Fatal(err)
	}
	set := replay.HashNames([]string{"dup.example"}).String()
	if row.Decision != "limited" || !slices.Equal(row.LimitedBy, []string{"CertificatesPerFQDNSet:" + set}) ||
		row.RetryAfter != "2026-03-02T09:36:00Z" ||
		row.Message != "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-03-02 09:36:00 UTC: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers" {
		t.Fatalf("%+v", row)
	}
}

func TestBadInputNamesFileLineAndFix(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec, file, content, want string
	}{
		{"not JSON", "o.jsonl", "{\"issued_at\":\"2026-03-01T00:00:00Z\",\"names\":[\"a.example\"]}\n{oops\n", "o.jsonl:line 2: not a JSON object"},
		{"missing time", "o.jsonl", `{"names":["a.example"]}`, `o.jsonl:line 1: missing "issued_at"`},
		{"bad time", "o.jsonl", `{"issued_at":"yesterday","names":["a.example"]}`, `o.jsonl:line 1: issued_at: "yesterday" is not an RFC 3339 time`},
		{"no names", "o.jsonl", `{"issued_at":"2026-03-01T00:00:00Z","names":[]}`, `o.jsonl:line 1: missing "names"`},
		{"bad name", "o.jsonl", `{"issued_at":"2026-03-01T00:00:00Z","names":["a..example"]}`, `o.jsonl:line 1: malformed name: "a..example" has an empty label`},
		{"out of order", "o.jsonl", "{\"issued_at\":\"2026-03-01T00:00:00Z\",\"names\":[\"a.example\"]}\n\n{\"issued_at\":\"2026-02-01T00:00:00Z\",\"names\":[\"a.example\"]}\n",
			"o.jsonl:line 3: issued_at 2026-02-01T00:00:00Z is earlier than the order before it (line 1, 2026-03-01T00:00:00Z); sort the input by issued_at or pass --sort"},
		{"csv header", "o.csv", "when,names\n", `o.csv:line 1: unknown column "when"`},
		{"csv no names column", "o.csv", "issued_at\n2026-03-01T00:00:00Z\n", `o.csv:line 1: no "names" column`},
		{"csv bad row", "o.csv", "issued_at,names\n2026-03-01T00:00:00Z,a.example\nnope,b.example\n", `o.csv:line 3: issued_at: "nope" is not an RFC 3339 time`},
		{"empty csv", "o.csv", "", "o.csv: empty file"},
	} {
		_, _, err := replayFile(t, writeFile(t, c.file, c.content), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", c.spec, err, c.want)
		}
	}
}

func TestSortReplaysInTimeOrderAndWritesInInputOrder(t *testing.T) {
	t.Parallel()
	in := `{"issued_at":"2026-03-02T00:00:00Z","names":["a.example"]}
{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"]}
`
	out, c, err := replayFile(t, writeFile(t, "o.jsonl", in), Options{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if c.New != 1 || c.Renewal != 1 || !strings.Contains(lines[0], `"order":0,"issued_at":"2026-03-02T00:00:00Z","decision":"renewal"`) ||
		!strings.Contains(lines[1], `"order":1,"issued_at":"2026-03-01T00:00:00Z","decision":"new"`) {
		t.Fatalf("%+v\n%s", c, out)
	}
}

func TestUnknownExtensionIsRefused(t *testing.T) {
	t.Parallel()
	if _, err := Open("orders.txt", nil); err == nil || !strings.Contains(err.Error(), "name it .jsonl, .csv or .parquet") {
		t.Fatalf("err = %v", err)
	}
}

// writeOrdersParquet writes orders with a list<string> names column and
// timestamp[us] times, as DuckDB or pyarrow would.
func writeOrdersParquet(t testing.TB, path string, n int, at func(i int) time.Time, names func(i int) []string) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "issued_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "names", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		{Name: "not_before", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(sc, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	flush := func() {
		rec := b.NewRecord()
		defer rec.Release()
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at(i).UnixMicro()))
		lb := b.Field(1).(*array.ListBuilder)
		lb.Append(true)
		for _, s := range names(i) {
			lb.ValueBuilder().(*array.StringBuilder).Append(s)
		}
		b.Field(2).AppendNull()
		if (i+1)%50000 == 0 {
			flush()
		}
	}
	flush()
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetOrdersReadLikeJSONL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.parquet")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	writeOrdersParquet(t, path, 120, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) },
		func(i int) []string {
			return []string{"www.big.example", "site" + string(rune('a'+i%26)) + ".big.example"}
		})
	_, c, err := replayFile(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 26 distinct sets; the first 50 orders take the domain's burst, then
	// one token per 201.6 minutes; repeats of a set are renewals.
	if c.Orders != 120 || c.New+c.Renewal+c.Limited != 120 || c.New != 26 || c.Renewal != 94 {
		t.Fatalf("counts %+v", c)
	}
}

func TestParquetDecisionsRoundTrip(t *testing.T) {
	t.Parallel()
	in := writeFile(t, "o.jsonl", sameOrdersJSONL)
	r, _ := Open(in, nil)
	defer r.Close()
	var buf bytes.Buffer
	w, err := NewWriter("parquet", &buf)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := replay.LookupPolicy("letsencrypt")
	if _, err := Stream(context.Background(), r, p, w, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(buf.Bytes()), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 3 || tbl.Schema().NumFields() != DecisionSchema.NumFields() {
		t.Fatalf("rows %d schema %s", tbl.NumRows(), tbl.Schema())
	}
	dec := tbl.Column(2).Data().Chunk(0).(*array.String)
	if got := []string{dec.Value(0), dec.Value(1), dec.Value(2)}; !slices.Equal(got, []string{"new", "renewal", "new"}) {
		t.Fatalf("decisions %q", got)
	}
}

func TestReaderErrorsAreInputErrors(t *testing.T) {
	t.Parallel()
	_, _, err := replayFile(t, writeFile(t, "o.jsonl", `{"issued_at":"x","names":["a"]}`), Options{})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 1 {
		t.Fatalf("err = %#v", err)
	}
}
