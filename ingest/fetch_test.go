package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

func TestParseRetryAfter(t *testing.T) {
	now := clockStart
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"garbage", 0},
		{"5s", 0},
		{"1e3", 0},
		{"10800", 3 * time.Hour},
		// 9223372037 s is just over what a Duration holds: it must not
		// wrap around to a negative (or small) wait.
		{"9223372037", maxRetryAfter},
		{"99999999999999999999999999", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Wed, 21 Oct 2015 07:28:00 GMT", 0},
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter},
	} {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, clockStart); d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, a negative wait", s, d)
		}
	})
}

// retryAfterServer answers every request for a data tile of the sample
// log with 429 and the given Retry-After.
func retryAfterServer(t *testing.T, retryAfter string) (*ctlogtest.Log, string) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	s.Before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "tile/data/001") {
			w.Header().Set("Retry-After", retryAfter)
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	return l, startServer(t, s, true)
}

func TestARetryAfterBeyondMaxWaitFailsClearly(t *testing.T) {
	for _, tt := range []struct {
		name, header string
		maxWait      time.Duration
		want         string
	}{
		{"3h against the default", "10800", 0, "asked to retry after 3h0m0s; more than --max-wait 5m0s"},
		{"45s against 10s", "45", 10 * time.Second, "asked to retry after 45s; more than --max-wait 10s"},
		{"overflowing seconds", "99999999999999999999", 0, "more than --max-wait 5m0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, url := retryAfterServer(t, tt.header)
			clk := &fakeClock{}
			hc := testHTTP(clk)
			hc.MaxWait = tt.maxWait
			hc.Notice = func(string) {}
			_, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: t.TempDir(), HTTP: hc})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "tile/data/001") ||
				!strings.Contains(err.Error(), "sample static") {
				t.Fatalf("got %v, want an error naming the log and path with %q", err, tt.want)
			}
			for _, w := range clk.Waits() {
				if max := max(tt.maxWait, 5*time.Minute); w > max {
					t.Errorf("waited %v, more than the cap %v", w, max)
				}
			}
		})
	}
}

func TestLongWaitsAreAnnouncedEvenWhenQuiet(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	var n atomic.Int64
	s.Before = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "tile/data/001") && n.Add(1) == 1 {
			w.Header().Set("Retry-After", "45")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	url := startServer(t, s, true)
	var mu sync.Mutex
	var notices []string
	hc := testHTTP(&fakeClock{})
	hc.Notice = func(m string) { mu.Lock(); notices = append(notices, m); mu.Unlock() }
	if _, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: t.TempDir(), HTTP: hc}); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "sample static") || !strings.Contains(notices[0], "tile/data/001") ||
		!strings.Contains(notices[0], "45s") {
		t.Fatalf("notices %q: want one naming the log, the path and the 45s wait", notices)
	}
}

func TestNoRetriesMeansOneAttempt(t *testing.T) {
	l, url := retryAfterServer(t, "1")
	hc := testHTTP(&fakeClock{})
	hc.MaxRetries = -1 // what --max-retries 0 sets
	_, err := Run(context.Background(), Config{Log: staticLog(l, url), Data: t.TempDir(), HTTP: hc})
	want := "couldn't fetch tile/data/001 after 1 attempt: 429"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	return len(p), nil
}

func TestHostileResponsesAreCappedPerKindWithBoundedMemory(t *testing.T) {
	gz := func() []byte { // 64 MiB of zeros, gzip-compressed to ~64 KiB
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zero := make([]byte, 1<<20)
		for range 64 {
			zw.Write(zero)
		}
		zw.Close()
		return b.Bytes()
	}()
	srv := startServerHandler(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.RawQuery, "gzip"):
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gz)
		case strings.Contains(r.URL.RawQuery, "declared"):
			w.Header().Set("Content-Length", "1000000000")
			w.Write([]byte("x"))
		default:
			// No Content-Length: chunked, and never ending.
			w.WriteHeader(200)
			buf := make([]byte, 32<<10)
			endless{}.Read(buf)
			for {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		}
	})
	for _, tt := range []struct {
		path, what string
		limit      int64
	}{
		{"tile/data/000", "a data tile", 8 << 20},
		{"tile/data/000?gzip", "a data tile", 8 << 20},
		{"tile/data/000?declared", "a data tile", 8 << 20},
		{"tile/0/000", "a hash tile", 8 << 10},
		{"checkpoint", "a checkpoint", 64 << 10},
		{"issuer/00", "an issuer certificate", 64 << 10},
		{"ct/v1/get-sth", "a get-sth response", 64 << 10},
		{"ct/v1/get-entries?start=0&end=1023", "a get-entries response", 8 << 20},
		{"ct/v1/get-sth-consistency?first=1&second=2", "a consistency proof", 64 << 10},
	} {
		t.Run(tt.path, func(t *testing.T) {
			f, err := newFetcher(srv, "hostile", HTTPConfig{MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = f.get(context.Background(), tt.path)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errTooLarge) || !strings.Contains(err.Error(), tt.what) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("got %v, want a too-large error naming %s and the path", err, tt.what)
			}
			// The buffer grows by doubling up to the cap and never past
			// it: under twice the cap, plus the HTTP and gzip machinery.
			if got, bound := int64(after.TotalAlloc-before.TotalAlloc), 2*tt.limit+2<<20; got > bound {
				t.Errorf("allocated %s for one response; want at most %s", humanBytes(got), humanBytes(bound))
			}
		})
	}
}

func TestReadCappedDoesNotGrowAnExactBody(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100000)
	k := responseKind{"a data tile", 8 << 20}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		b, err := readCapped(bytes.NewReader(body), int64(len(body)), k, nil)
		if err != nil || len(b) != len(body) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > uint64(len(body))*9/8 {
		t.Errorf("%d bytes allocated to read a body of %d bytes of known length; want one buffer of its size", per, len(body))
	}
	var buf []byte
	for _, n := range []int{10, 100000, 70000, 0} {
		b, err := readCapped(bytes.NewReader(body[:n]), 0, k, &buf)
		if err != nil || !bytes.Equal(b, body[:n]) {
			t.Fatalf("%d bytes: got %d, %v", n, len(b), err)
		}
	}
}

// A root mismatch from transparency-dev/merkle prints its hashes as Go
// byte slices ("[12 240 ...]"); errors must show them as base64.
func TestRootMismatchesPrintHashesAsBase64(t *testing.T) {
	l := mustSample(t)
	s := ctlogtest.NewServer(l, 1000)
	s.Mutate = tamperEntries("start=512")
	url := startServer(t, s, false)
	_, err := Run(context.Background(), Config{Log: rfcLog(l, url), Data: t.TempDir(), FileEntries: 256, Workers: 1, HTTP: testHTTP(&fakeClock{})})
	if err == nil || !strings.Contains(err.Error(), "couldn't verify entries [512, 768)") {
		t.Fatalf("got %v, want a verification failure", err)
	}
	if msg := err.Error(); strings.ContainsAny(msg, "[]\n") && regexpByteSlice.MatchString(msg) || strings.Contains(msg, "\n") {
		t.Errorf("error prints byte slices or spans lines: %q", msg)
	}
	if !regexpBase64Hash.MatchString(err.Error()) {
		t.Errorf("error %q shows no base64 hash", err)
	}
}

var (
	regexpByteSlice  = regexp.MustCompile(`\[\d+( \d+){8,}\]`)
	regexpBase64Hash = regexp.MustCompile(`[A-Za-z0-9+/]{43}=`)
)
