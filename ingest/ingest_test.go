package ingest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
	ct "github.com/google/certificate-transparency-go"
)

// checkSampleRows checks rows read back against the sample log's entries.
func checkSampleRows(t *testing.T, l *ctlogtest.Log, rows []tableRow, from, to int64) {
	t.Helper()
	if int64(len(rows)) != to-from {
		t.Fatalf("got %d rows, want %d", len(rows), to-from)
	}
	id := l.LogID()
	issuerKeyHashes := map[string]string{} // issuer CN -> SPKI hash
	for _, der := range l.Issuers {
		c, err := parseStd(der)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		issuerKeyHashes[c.Subject.CommonName] = string(h[:])
	}
	for i, r := range rows {
		idx := from + int64(i)
		if r.Idx != idx {
			t.Fatalf("row %d has idx %d, want %d", i, r.Idx, idx)
		}
		if r.LeafHash != string(l.Entries[idx].LeafHash[:]) {
			t.Fatalf("idx %d: leaf hash differs from the log's", idx)
		}
		if r.Log != b64(id[:]) {
			t.Fatalf("idx %d: log %q", idx, r.Log)
		}
		if r.ParseError != "" {
			t.Fatalf("idx %d: parse error %s", idx, r.ParseError)
		}
		wantType := "x509"
		if idx%2 == 0 {
			wantType = "precert"
		}
		if r.EntryType != wantType {
			t.Errorf("idx %d: entry_type %s, want %s", idx, r.EntryType, wantType)
		}
		cn := strings.TrimPrefix(strings.Split(r.Issuer, ",")[0], "CN=")
		if want, ok := issuerKeyHashes[cn]; !ok || r.IssuerKeyHash != want {
			t.Errorf("idx %d: issuer %q with key hash %x: not the test CA's", idx, r.Issuer, r.IssuerKeyHash)
		}
		if len(r.DNS) < 2 || r.CN != r.DNS[0] || r.Serial == "" || r.NotAfter-r.NotBefore != 90*24*3600*1000 {
			t.Errorf("idx %d: bad certificate columns %+v", idx, r)
		}
	}
}

var staticIngestTests = []struct {
	name     string
	size     int64
	from, to int64
	gzip     bool
	perFile  int64
}{
	{"a whole log with a partial last tile", 1000, 0, 0, false, 512},
	{"a whole log with gzip data tiles", 1000, 0, 0, true, 0},
	{"a tree ending on a tile boundary", 768, 0, 0, false, 256},
	{"from the middle of a tile to before the end", 1000, 300, 700, false, 256},
	{"a log of one entry", 1, 0, 0, false, 0},
}

func TestStaticIngest(t *testing.T) {
	l := mustSample(t)
	for _, tt := range staticIngestTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, tt.size)
			s.Gzip = tt.gzip
			url := startServer(t, s, true)
			data := t.TempDir()
			sum, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: data, From: tt.from, To: tt.to, FileEntries: tt.perFile, HTTP: testHTTP(&fakeClock{})})
			if err != nil {
				t.Fatal(err)
			}
			to := tt.to
			if to == 0 {
				to = tt.size
			}
			checkSampleRows(t, l, readRows(t, data), tt.from, to)
			if sum.TreeSize != tt.size || sum.Entries != to-tt.from || sum.Rows != to-tt.from {
				t.Errorf("summary %+v", sum)
			}
			st, err := loadState(statePath(data, staticLog(l, url).DirName()))
			if err != nil || st.Position != to || st.Start != tt.from || st.TreeSize != tt.size {
				t.Fatalf("state %+v, %v", st, err)
			}
		})
	}
}

func TestRFC6962Ingest(t *testing.T) {
	l := mustSample(t)
	for _, tt := range []struct {
		name     string
		maxBatch int
		align    bool
	}{
		{"a server that returns whatever is asked", 0, false},
		{"a server capping batches at 32 and aligning them", 32, true},
		{"a server capping batches at 100 without aligning", 100, false},
		{"a server capping batches at 7", 7, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, 1000)
			s.MaxBatch, s.Align = tt.maxBatch, tt.align
			url := startServer(t, s, false)
			data := t.TempDir()
			sum, err := Run(context.Background(), Config{Log: rfcLog(l, url), Data: data, FileEntries: 512, HTTP: testHTTP(&fakeClock{})})
			if err != nil {
				t.Fatal(err)
			}
			checkSampleRows(t, l, readRows(t, data), 0, 1000)
			if sum.Files != 2 {
				t.Errorf("%d files, want 2", sum.Files)
			}
			if tt.maxBatch == 32 && tt.align {
				// 1000/32 batches plus the discovery request.
				if got, want := s.Count("get-entries"), 32+1; got != want {
					t.Errorf("%d get-entries requests, want %d (batches aligned to the cap)", got, want)
				}
			}
		})
	}
}

func TestBothProtocolsGiveTheSameRows(t *testing.T) {
	l := mustSample(t)
	var got [2][]tableRow
	for i, static := range []bool{true, false} {
		s := ctlogtest.NewServer(l, 1000)
		url := startServer(t, s, static)
		lg := staticLog(l, url)
		if !static {
			lg = rfcLog(l, url)
		}
		data := t.TempDir()
		if _, err := Run(context.Background(), Config{Log: lg, Data: data, HTTP: testHTTP(&fakeClock{})}); err != nil {
			t.Fatal(err)
		}
		got[i] = readRows(t, data)
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatal("static-ct-api and RFC 6962 ingests of one log differ")
	}
}

func TestLocalTileDirectory(t *testing.T) {
	l := mustSample(t)
	dir, _ := filepath.Abs(filepath.Join("..", "testdata", "ctlog"))
	data := t.TempDir()
	if _, err := Run(context.Background(), Config{Log: staticLog(l, "file://"+dir+"/"), Data: data}); err != nil {
		t.Fatal(err)
	}
	checkSampleRows(t, l, readRows(t, data), 0, 1000)
}

func TestIssuerFilterKeepsOnlyMatchingRowsAndCountsTheRest(t *testing.T) {
	l := mustSample(t)
	url := startServer(t, ctlogtest.NewServer(l, 1000), true)
	data := t.TempDir()
	sum, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: data, Issuer: regexp.MustCompile(`Test Encrypt`), HTTP: testHTTP(&fakeClock{})})
	if err != nil {
		t.Fatal(err)
	}
	rows := readRows(t, data)
	for _, r := range rows {
		if !strings.Contains(r.Issuer, "Test Encrypt") {
			t.Fatalf("row %d has issuer %s", r.Idx, r.Issuer)
		}
	}
	if sum.Rows != int64(len(rows)) || sum.Filtered == 0 || sum.Rows+sum.Filtered != 1000 {
		t.Errorf("summary rows %d filtered %d, read %d", sum.Rows, sum.Filtered, len(rows))
	}
}

func TestResumeContinuesAfterTheLogGrows(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 300)
	url := startServer(t, s, true)
	data := t.TempDir()
	cfg := Config{Log: staticLog(l, url), Data: data, FileEntries: 256, HTTP: testHTTP(&fakeClock{})}
	for _, size := range []int64{300, 300, 555, 1000} {
		s.SetSize(size)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("at size %d: %v", size, err)
		}
	}
	checkSampleRows(t, l, readRows(t, data), 0, 1000)
}

func TestASecondIngestOfTheSameLogIsRefused(t *testing.T) {
	l := mustSample(t)
	data := t.TempDir()
	lg := staticLog(l, "file:///nonexistent/")
	os.MkdirAll(filepath.Join(data, "state"), 0o755)
	unlock, err := Lock(filepath.Join(data, "state", lg.DirName()+".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = Run(context.Background(), Config{Log: lg, Data: data})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
}

// tamper flips a byte in one data tile (static) or one get-entries answer.
func tamperOnce(match string) func(string, []byte) []byte {
	var done atomic.Bool
	return func(path string, b []byte) []byte {
		if !strings.Contains(path, match) || done.Swap(true) {
			return b
		}
		c := append([]byte(nil), b...)
		// Flip a byte deep inside a certificate (past framing), so the
		// entry still decodes but hashes differently.
		c[len(c)/2] ^= 0x01
		return c
	}
}

// tamperEntries changes one byte of one certificate in a get-entries answer,
// keeping the JSON and the leaf framing valid.
func tamperEntries(match string) func(string, []byte) []byte {
	var done atomic.Bool
	return func(path string, b []byte) []byte {
		if !strings.Contains(path, match) || done.Swap(true) {
			return b
		}
		var resp ct.GetEntriesResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			panic(err)
		}
		li := resp.Entries[5].LeafInput
		li[len(li)-40] ^= 1
		out, _ := json.Marshal(resp)
		return out
	}
}

var refusalTests = []struct {
	name   string
	static bool
	setup  func(s *ctlogtest.Server)
	want   string
}{
	{"a tampered data tile", true, func(s *ctlogtest.Server) { s.Mutate = tamperOnce("tile/data/002") }, "couldn't verify entries [512, 768)"},
	{"a tampered get-entries answer", false, func(s *ctlogtest.Server) { s.Mutate = tamperEntries("start=512") }, "couldn't verify entries [512, 768)"},
	{"a checkpoint with a bad signature", true, func(s *ctlogtest.Server) {
		s.Mutate = func(p string, b []byte) []byte {
			if p != "/checkpoint" {
				return b
			}
			c := append([]byte(nil), b...)
			i := len(c) - 10
			c[i] ^= 'A' ^ 'B'
			return c
		}
	}, "couldn't verify checkpoint"},
	{"an STH with a bad signature", false, func(s *ctlogtest.Server) {
		s.Mutate = func(p string, b []byte) []byte {
			if !strings.Contains(p, "get-sth") || strings.Contains(p, "consistency") {
				return b
			}
			return []byte(strings.Replace(string(b), `"tree_size":1000`, `"tree_size":999`, 1))
		}
	}, "couldn't verify get-sth"},
}

func TestTamperingIsRefusedAndNothingUnverifiedIsKept(t *testing.T) {
	l := mustSample(t)
	for _, tt := range refusalTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, 1000)
			tt.setup(s)
			url := startServer(t, s, tt.static)
			lg := staticLog(l, url)
			if !tt.static {
				lg = rfcLog(l, url)
			}
			data := t.TempDir()
			_, err := Run(context.Background(), Config{Log: lg, Data: data, FileEntries: 256, Workers: 1, HTTP: testHTTP(&fakeClock{})})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			rows := readRows(t, data)
			st, _ := loadState(statePath(data, lg.DirName()))
			pos := int64(0)
			if st != nil {
				pos = st.Position
			}
			if int64(len(rows)) != pos {
				t.Fatalf("%d rows kept but state says %d verified", len(rows), pos)
			}
			if len(rows) > 0 {
				checkSampleRows(t, l, rows, 0, pos)
			}
			tmps, _ := filepath.Glob(filepath.Join(data, "entries", "*", "*.tmp"))
			if len(tmps) > 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
		})
	}
}

func TestRetryAfterIsHonouredAcrossWorkers(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	var n atomic.Int64
	s.Before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "tile/data/001") && n.Add(1) <= 2 {
			w.Header().Set("Retry-After", "30")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	clk := &fakeClock{}
	url := startServer(t, s, true)
	data := t.TempDir()
	sum, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: data, HTTP: testHTTP(clk)})
	if err != nil {
		t.Fatal(err)
	}
	checkSampleRows(t, l, readRows(t, data), 0, 1000)
	if sum.Retries != 2 {
		t.Errorf("%d retries, want 2", sum.Retries)
	}
	var waited int
	for _, w := range clk.Waits() {
		if w >= 30e9 {
			waited++
		}
	}
	if waited < 2 {
		t.Errorf("waits %v: want two of at least Retry-After 30s", clk.Waits())
	}
}

var transientTests = []struct {
	name   string
	static bool
	fault  func(w http.ResponseWriter, r *http.Request)
}{
	{"500 on a data tile", true, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }},
	{"503 with an HTTP-date Retry-After", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
		http.Error(w, "busy", 503)
	}},
	{"a connection reset", true, resetConn},
	{"a connection reset on get-entries", false, resetConn},
	{"a truncated body", false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte(`{"entries":[`))
	}},
}

func resetConn(w http.ResponseWriter, r *http.Request) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	c.Close()
}

func TestTransientFailuresAreRetried(t *testing.T) {
	l := mustSample(t)
	for _, tt := range transientTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ctlogtest.NewServer(l, 1000)
			var n atomic.Int64
			s.Before = func(w http.ResponseWriter, r *http.Request) bool {
				if (strings.Contains(r.URL.Path, "tile/data/") || strings.Contains(r.URL.Path, "get-entries")) && n.Add(1)%3 == 1 {
					tt.fault(w, r)
					return true
				}
				return false
			}
			url := startServer(t, s, tt.static)
			lg := staticLog(l, url)
			if !tt.static {
				lg = rfcLog(l, url)
			}
			data := t.TempDir()
			sum, err := Run(context.Background(), Config{Log: lg, Data: data, HTTP: testHTTP(&fakeClock{})})
			if err != nil {
				t.Fatal(err)
			}
			checkSampleRows(t, l, readRows(t, data), 0, 1000)
			// Go's transport itself retries a GET whose reused connection
			// was reset, so only the other faults must reach our retries.
			if sum.Retries == 0 && !strings.Contains(tt.name, "reset") {
				t.Error("no retries counted")
			}
		})
	}
}

func TestPersistentFailureGivesUpWithAClearError(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	s.Before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "tile/data/001") {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	url := startServer(t, s, true)
	_, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: t.TempDir(), HTTP: testHTTP(&fakeClock{})})
	want := "couldn't fetch tile/data/001 after 5 attempts: 429 Too Many Requests (retry after 5s)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestInterruptedRunsResumeToTheSameRows(t *testing.T) {
	l := mustSample(t)
	clean := t.TempDir()
	url := startServer(t, ctlogtest.NewServer(l, 1000), true)
	if _, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: clean, FileEntries: 256}); err != nil {
		t.Fatal(err)
	}
	want := readRows(t, clean)

	t.Run("cancelled in the middle of a file", func(t *testing.T) {
		s := ctlogtest.NewServer(l, 1000)
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int64
		s.Before = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "tile/data/") && n.Add(1) == 3 {
				cancel()
			}
			return false
		}
		url := startServer(t, s, true)
		data := t.TempDir()
		cfg := Config{Log: staticLog(l, url), Data: data, FileEntries: 512, Workers: 1}
		sum, err := Run(ctx, cfg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want cancellation", err)
		}
		// The summary tells what was kept, not what was read and dropped
		// with the unfinished file.
		if kept := int64(len(readRows(t, data))); sum == nil || sum.Rows != kept || sum.End-sum.Start != kept {
			t.Fatalf("summary after the interruption: %+v; %d rows kept", sum, kept)
		}
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if got := readRows(t, data); !reflect.DeepEqual(got, want) {
			t.Fatalf("resumed rows differ from a clean run (%d vs %d rows)", len(got), len(want))
		}
	})
	t.Run("crashed between the file rename and the state write", func(t *testing.T) {
		data := t.TempDir()
		cfg := Config{Log: staticLog(l, url), Data: data, FileEntries: 256}
		testHookAfterCommit = func(name string) error {
			if strings.HasPrefix(name, "0000000512") {
				return errors.New("simulated crash")
			}
			return nil
		}
		_, err := Run(context.Background(), cfg)
		testHookAfterCommit = nil
		if err == nil {
			t.Fatal("no simulated crash")
		}
		// Leave a stray temporary file too, as a kill -9 would.
		os.WriteFile(filepath.Join(EntriesDir(data, cfg.Log), ".entries-1.parquet.tmp"), []byte("junk"), 0o644)
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if got := readRows(t, data); !reflect.DeepEqual(got, want) {
			t.Fatalf("resumed rows differ from a clean run (%d vs %d rows)", len(got), len(want))
		}
		names, _ := filepath.Glob(filepath.Join(EntriesDir(data, cfg.Log), "*"))
		if len(names) != 4 {
			t.Errorf("files %v, want 4", names)
		}
	})
}

func TestAStateFromAnotherHistoryIsRefused(t *testing.T) {
	l := mustSample(t)
	url := startServer(t, ctlogtest.NewServer(l, 1000), true)
	data := t.TempDir()
	cfg := Config{Log: staticLog(l, url), Data: data, To: 512, FileEntries: 256}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// The log signed another root for the same size before: the state is
	// sound (a validly signed head), the log equivocated.
	sp := statePath(data, cfg.Log.DirName())
	st, _ := loadState(sp)
	st.RootHash[0] ^= 1
	var root [32]byte
	copy(root[:], st.RootHash)
	st.TreeHead = string(ctlogtest.SignedCheckpoint(l.Key, l.Origin, st.TreeSize, root, l.Time))
	saveState(sp, st)
	cfg.To = 0
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "not consistent") {
		t.Fatalf("got %v, want a consistency error", err)
	}
}

// TestFileNamesSortByIndex: the entries files of one log, listed in name
// order (ls, a glob, DuckDB's file list), come in index order, across digit
// boundaries up to the 10-digit indexes of the largest logs, and each name
// parses back to its range.
func TestFileNamesSortByIndex(t *testing.T) {
	if got := fileName(0, 255); got != "0000000000-0000000255.parquet" {
		t.Errorf("fileName = %s", got)
	}
	var ranges [][2]int64
	for _, first := range []int64{0, 9, 10, 99, 100, 255, 256, 999, 1000, 65_535, 99_999, 100_000, 999_999_999, 1_000_000_000, 2_147_483_647, 9_999_999_000} {
		for _, size := range []int64{1, 256} {
			ranges = append(ranges, [2]int64{first, first + size - 1})
		}
	}
	slices.SortFunc(ranges, func(a, b [2]int64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	var names []string
	for _, r := range ranges {
		names = append(names, fileName(r[0], r[1]))
	}
	sorted := slices.Clone(names)
	// Reversed first, so that sorting must move every name.
	slices.Reverse(sorted)
	sort.Strings(sorted)
	if !slices.Equal(sorted, names) {
		t.Errorf("file names in name order are not in index order:\n%s\nwant:\n%s", strings.Join(sorted, "\n"), strings.Join(names, "\n"))
	}
	for i, name := range names {
		m := fileNameRE.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s does not match the entries file pattern", name)
			continue
		}
		first, err1 := strconv.ParseInt(m[1], 10, 64)
		last, err2 := strconv.ParseInt(m[2], 10, 64)
		if err1 != nil || err2 != nil || first != ranges[i][0] || last != ranges[i][1] {
			t.Errorf("%s parses back to %s-%s, want %d-%d", name, m[1], m[2], ranges[i][0], ranges[i][1])
		}
	}
}
