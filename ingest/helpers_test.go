package ingest

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	"github.com/ctlimits/ctlimits/ingest/loglist"
)

// sampleLog is testdata/ctlog, loaded once: 1,000 entries from a test CA.
var sampleLog = sync.OnceValues(func() (*ctlogtest.Log, error) {
	return ctlogtest.Load(filepath.Join("..", "testdata", "ctlog"))
})

func mustSample(t testing.TB) *ctlogtest.Log {
	t.Helper()
	l, err := sampleLog()
	if err != nil {
		t.Fatalf("couldn't load testdata/ctlog (regenerate with go generate ./ingest): %v", err)
	}
	return l
}

func staticLog(l *ctlogtest.Log, url string) *loglist.Log {
	id := l.LogID()
	return &loglist.Log{Description: "sample static", Kind: loglist.Static, Key: l.PublicKeyDER(), LogID: id,
		URL: url, SubmissionURL: "https://" + l.Origin + "/"}
}

func rfcLog(l *ctlogtest.Log, url string) *loglist.Log {
	id := l.LogID()
	return &loglist.Log{Description: "sample rfc6962", Kind: loglist.RFC6962, Key: l.PublicKeyDER(), LogID: id, URL: url}
}

// fastHTTP retries without real waiting and records the waits asked for.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

// clockStart is when a fakeClock starts: a present-day instant, so that
// HTTP dates in Retry-After headers are in the past as they would be.
var clockStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	if c.now.IsZero() {
		c.now = clockStart
	}
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = clockStart
	}
	return c.now
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func testHTTP(c *fakeClock) HTTPConfig {
	return HTTPConfig{Sleep: c.Sleep, Now: c.Now, Rand: func() float64 { return 0.5 }, MaxRetries: 4}
}

func startServer(t testing.TB, s *ctlogtest.Server, static bool) string {
	var srv *httptest.Server
	if static {
		srv = httptest.NewServer(s.Static())
	} else {
		srv = httptest.NewServer(s.RFC6962())
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// tableRow is a row read back from Parquet, for comparisons.
type tableRow struct {
	Log, EntryType, Issuer, Serial, CN, ParseError string
	Idx, LoggedAt, NotBefore, NotAfter             int64
	DNS, IPs                                       []string
	LeafHash, IssuerKeyHash                        string
	NullIssuer                                     bool
}

// readRows reads every entries file of dir (a DATA directory), sorted by idx.
func readRows(t testing.TB, data string) []tableRow {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(data, "entries", "*", "*.parquet"))
	var out []tableRow
	for _, f := range files {
		out = append(out, readFile(t, f)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Idx < out[j].Idx })
	return out
}

func readFile(t testing.TB, name string) []tableRow {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	pr, err := file.NewParquetReader(fh)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer pr.Close()
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if got := tbl.Schema(); got.NumFields() != Schema.NumFields() {
		t.Fatalf("%s: schema\n%s\nwant\n%s", name, got, Schema)
	} else {
		for i, f := range Schema.Fields() {
			if g := got.Field(i); g.Name != f.Name || g.Type.ID() != f.Type.ID() || g.Nullable != f.Nullable {
				t.Fatalf("%s: column %d is %s %s, want %s %s", name, i, g.Name, g.Type, f.Name, f.Type)
			}
		}
	}
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	var out []tableRow
	for tr.Next() {
		rec := tr.Record()
		str := func(c, i int) string {
			a := rec.Column(c).(*array.String)
			if a.IsNull(i) {
				return ""
			}
			return a.Value(i)
		}
		ts := func(c, i int) int64 {
			a := rec.Column(c).(*array.Timestamp)
			if a.IsNull(i) {
				return 0
			}
			return int64(a.Value(i))
		}
		fsb := func(c, i int) string {
			a := rec.Column(c).(*array.FixedSizeBinary)
			if a.IsNull(i) {
				return ""
			}
			return string(a.Value(i))
		}
		list := func(c, i int) []string {
			a := rec.Column(c).(*array.List)
			if a.IsNull(i) {
				return nil
			}
			s, e := a.ValueOffsets(i)
			v := a.ListValues().(*array.String)
			var out []string
			for k := s; k < e; k++ {
				out = append(out, v.Value(int(k)))
			}
			return out
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, tableRow{
				Log: str(0, i), Idx: rec.Column(1).(*array.Int64).Value(i), LoggedAt: ts(2, i), EntryType: str(3, i),
				Issuer: str(4, i), NullIssuer: rec.Column(4).IsNull(i), IssuerKeyHash: fsb(5, i), Serial: str(6, i),
				NotBefore: ts(7, i), NotAfter: ts(8, i), DNS: list(9, i), IPs: list(10, i), CN: str(11, i),
				LeafHash: fsb(12, i), ParseError: str(13, i),
			})
		}
	}
	_ = arrow.Millisecond
	return out
}
