package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPConfig is how ingest talks to a log. The zero value is usable: every
// field has a default, applied by withDefaults.
type HTTPConfig struct {
	// Client is the HTTP client. Optional; default: a client with no overall
	// timeout (Timeout below bounds each attempt instead).
	Client *http.Client
	// UserAgent is sent with every request. Optional; default
	// "ctlimits/<Version> (+https://github.com/ctlimits/ctlimits)" plus
	// "; contact: <Contact>" when Contact is set. Log operators ask crawlers
	// to say who they are so they can reach out before blocking.
	UserAgent string
	// Version is the program's version in the default User-Agent.
	// Optional; default "devel".
	Version string
	// Contact is an e-mail or URL appended to the default User-Agent.
	// Optional; default none.
	Contact string
	// Timeout bounds one attempt, headers and body. Optional; default 60s.
	Timeout time.Duration
	// MaxResponseBytes caps the bulk responses, a data tile or a
	// get-entries body, after decompression, so a misbehaving server cannot
	// exhaust memory. Optional; default 8 MiB (a full data tile of 256
	// large certificates is under 2 MiB). The small responses have fixed
	// caps (see responseKinds): a checkpoint, get-sth, an issuer
	// certificate or a proof 64 KiB, a hash tile 8 KiB.
	MaxResponseBytes int64
	// MaxRetries is how many times a failed attempt (429, 5xx, transport
	// error, truncated body) is retried before giving up. Optional;
	// default 8. Negative means no retries.
	MaxRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter: attempt n waits a random duration in [0, min(Max, Base*2^n)).
	// A Retry-After header on 429 or 503 raises the wait to at least its
	// value, and holds back every request to the same log, not only the
	// one that got it. Optional; defaults 1s and 2m.
	BaseBackoff, MaxBackoff time.Duration
	// Sleep waits for d or until ctx ends; Now tells the time. Tests inject
	// both so that backoff is observable without real waiting. Optional;
	// default real time.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
	// Rand returns a float in [0, 1) for jitter. Optional; default math/rand/v2.
	Rand func() float64
	// OnRetry, if set, is called before each retry wait (for progress).
	OnRetry func(path string, attempt int, wait time.Duration, err error)
	// MaxWait caps any single wait, a backoff or a Retry-After. A server
	// that asks for longer gets a clear error instead of an ingest that
	// sleeps for hours. Optional; default 5 minutes.
	MaxWait time.Duration
	// LongWait is how long a wait must be for Notice to hear of it.
	// Optional; default 30s.
	LongWait time.Duration
	// Notice receives messages a user must see even when progress output
	// is off: waits longer than LongWait. Optional; default a line on
	// os.Stderr.
	Notice func(msg string)
}

func (c HTTPConfig) withDefaults() HTTPConfig {
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			// We ask for gzip ourselves (static-ct-api data tiles may be
			// gzip-encoded with no negotiation) and so decode it ourselves.
			DisableCompression:    true,
			ResponseHeaderTimeout: 60 * time.Second,
		}}
	}
	if c.UserAgent == "" {
		if c.Version == "" {
			c.Version = "devel"
		}
		c.UserAgent = "ctlimits/" + c.Version + " (+https://github.com/ctlimits/ctlimits)"
		if c.Contact != "" {
			c.UserAgent = strings.TrimSuffix(c.UserAgent, ")") + "; contact: " + c.Contact + ")"
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 8 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.LongWait <= 0 {
		c.LongWait = 30 * time.Second
	}
	if c.Notice == nil {
		c.Notice = func(msg string) { fmt.Fprintln(os.Stderr, msg) }
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	}
	if c.BaseBackoff == 0 {
		c.BaseBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 2 * time.Minute
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fetcher GETs paths under one log's base URL (http, https or file), with
// retries and a log-wide pause after Retry-After.
type fetcher struct {
	base    *url.URL
	name    string // the log, for notices
	cfg     HTTPConfig
	retries atomic.Int64

	mu         sync.Mutex
	pauseUntil time.Time
}

func newFetcher(base, name string, cfg HTTPConfig) (*fetcher, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log URL %q: %w", base, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return &fetcher{base: u, name: name, cfg: cfg.withDefaults()}, nil
}

// responseKind names what a path returns and caps its size. The caps are
// a few times the largest legitimate answer, so that a hostile or broken
// server costs at most that much memory per request in flight.
type responseKind struct {
	what  string
	limit int64 // 0: HTTPConfig.MaxResponseBytes
}

// Fixed caps for the small responses.
const (
	// A checkpoint is three lines and a few signatures; get-sth is a
	// small JSON object; a proof is at most 64 hashes.
	smallResponseLimit = 64 << 10
	// A hash tile is at most 256 hashes of 32 bytes.
	hashTileLimit = tileWidth * 32
	// An issuer certificate is a few KiB; the largest in CT are ~10 KiB.
	issuerLimit = 64 << 10
)

var responseKinds = []struct {
	prefix string
	kind   responseKind
}{
	{"checkpoint", responseKind{"a checkpoint", smallResponseLimit}},
	{"tile/data/", responseKind{"a data tile", 0}},
	{"tile/", responseKind{"a hash tile", hashTileLimit}},
	{"issuer/", responseKind{"an issuer certificate", issuerLimit}},
	{"ct/v1/get-entries", responseKind{"a get-entries response", 0}},
	{"ct/v1/get-sth-consistency", responseKind{"a consistency proof", smallResponseLimit}},
	{"ct/v1/get-sth", responseKind{"a get-sth response", smallResponseLimit}},
	{"ct/v1/get-proof-by-hash", responseKind{"an inclusion proof", smallResponseLimit}},
}

// kindOf returns what path is and its size cap; unknown paths get the
// bulk cap.
func (f *fetcher) kindOf(path string) responseKind {
	k := responseKind{"a response", 0}
	for _, rk := range responseKinds {
		if strings.HasPrefix(path, rk.prefix) {
			k = rk.kind
			break
		}
	}
	if k.limit == 0 {
		k.limit = f.cfg.MaxResponseBytes
	}
	return k
}

// statusError is a non-2xx answer.
type statusError struct {
	Code       int
	Status     string
	RetryAfter time.Duration
}

func (e *statusError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s (retry after %s)", e.Status, e.RetryAfter)
	}
	return e.Status
}

// errNotFound marks a 404 (or a missing file): never retried.
var errNotFound = errors.New("not found")

func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return !errors.Is(err, errNotFound) && !errors.Is(err, errTooLarge) && !errors.Is(err, context.Canceled)
}

var errTooLarge = errors.New("response too large")

// get fetches base+path and returns the decoded body. Its errors read
// "couldn't fetch <path>: <why>".
func (f *fetcher) get(ctx context.Context, path string) ([]byte, error) {
	return f.getInto(ctx, path, nil)
}

// getInto is get reading the body into *buf (nil means a new buffer): the
// result aliases *buf, which is left holding the (possibly grown) buffer,
// so a caller that copies what it needs can reuse it for the next request.
func (f *fetcher) getInto(ctx context.Context, path string, buf *[]byte) ([]byte, error) {
	var lastErr error
	attempts := 0
	for attempt := 0; ; attempt++ {
		if err := f.waitPause(ctx); err != nil {
			return nil, err
		}
		attempts++
		b, err := f.once(ctx, path, buf)
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = err
		if !retryable(err) || attempt >= f.cfg.MaxRetries {
			break
		}
		wait := f.backoff(attempt)
		var se *statusError
		if errors.As(err, &se) && se.RetryAfter > 0 {
			if se.RetryAfter > f.cfg.MaxWait {
				return nil, fmt.Errorf("couldn't fetch %s: %s asked to retry after %s; more than --max-wait %s: %w",
					path, f.name, se.RetryAfter, f.cfg.MaxWait, err)
			}
			if se.RetryAfter > wait {
				wait = se.RetryAfter
			}
			f.pause(wait)
		}
		f.retries.Add(1)
		if f.cfg.OnRetry != nil {
			f.cfg.OnRetry(path, attempt+1, wait, err)
		}
		if wait > f.cfg.LongWait {
			// Said even under --quiet: a silent ingest that sits for
			// minutes looks hung.
			f.cfg.Notice(fmt.Sprintf("ingest %s: %s: waiting %s before retry %d (%v)", f.name, path, wait.Round(time.Second), attempt+1, err))
		}
		if err := f.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if retryable(lastErr) {
		return nil, fmt.Errorf("couldn't fetch %s after %s: %w", path, plural(attempts, "attempt"), lastErr)
	}
	return nil, fmt.Errorf("couldn't fetch %s: %w", path, lastErr)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// backoff is the wait before retry attempt+1: full jitter over an
// exponential window, never more than MaxBackoff or MaxWait.
func (f *fetcher) backoff(attempt int) time.Duration {
	d := f.cfg.BaseBackoff << min(attempt, 30)
	if d <= 0 || d > f.cfg.MaxBackoff {
		d = f.cfg.MaxBackoff
	}
	d = min(d, f.cfg.MaxWait)
	return time.Duration(f.cfg.Rand() * float64(d))
}

// pause holds back every request to this log for d: a 429 to one worker is
// the server speaking to all of them.
func (f *fetcher) pause(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.cfg.Now().Add(d); t.After(f.pauseUntil) {
		f.pauseUntil = t
	}
}

func (f *fetcher) waitPause(ctx context.Context) error {
	f.mu.Lock()
	d := f.pauseUntil.Sub(f.cfg.Now())
	f.mu.Unlock()
	if d > 0 {
		return f.cfg.Sleep(ctx, min(d, f.cfg.MaxWait))
	}
	return ctx.Err()
}

func (f *fetcher) once(ctx context.Context, path string, buf *[]byte) ([]byte, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u := f.base.ResolveReference(ref)
	k := f.kindOf(path)
	if u.Scheme == "file" {
		return f.readFile(filepath.FromSlash(u.Path), k)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	req.Header.Set("Accept-Encoding", "gzip, identity")
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s: %w", resp.Status, errNotFound)
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		se := &statusError{Code: resp.StatusCode, Status: resp.Status}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), f.cfg.Now())
		}
		return nil, se
	}
	var body io.Reader = resp.Body
	hint := resp.ContentLength
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("couldn't read gzip body: %w", err)
		}
		body, hint = zr, 0 // the length is the compressed one
	}
	return readCapped(body, hint, k, buf)
}

// readCapped reads r into *buf (or a new buffer if buf is nil) and fails
// once it holds more than k.limit bytes. The buffer starts at the size
// hint (a Content-Length) or 64 KiB and doubles, but never past the limit,
// so a body that never ends costs under twice the limit, and a body whose
// Content-Length is over the limit is refused unread.
func readCapped(r io.Reader, hint int64, k responseKind, buf *[]byte) ([]byte, error) {
	if hint > k.limit {
		return nil, fmt.Errorf("%w: %s of %d bytes, over the %s cap", errTooLarge, k.what, hint, humanBytes(k.limit))
	}
	var b []byte
	if buf != nil {
		b = (*buf)[:0]
	}
	want := int64(64 << 10)
	if hint > 0 {
		want = hint
	}
	want = min(want, k.limit)
	if int64(cap(b)) < want {
		b = make([]byte, 0, want)
	}
	for {
		if len(b) == cap(b) {
			// Probe before growing: a body that fits exactly (the usual
			// case with a Content-Length) must not double the buffer.
			var one [1]byte
			n, err := io.ReadFull(r, one[:])
			if n == 0 {
				if err == io.EOF {
					break
				}
				return nil, fmt.Errorf("couldn't read body after %d bytes: %w", len(b), err)
			}
			if int64(len(b)) >= k.limit {
				return nil, fmt.Errorf("%w: more than %s for %s", errTooLarge, humanBytes(k.limit), k.what)
			}
			nb := make([]byte, len(b), min(max(2*int64(cap(b)), 512), k.limit))
			copy(nb, b)
			b = append(nb, one[0])
			continue
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read body after %d bytes: %w", len(b), err)
		}
	}
	if buf != nil {
		*buf = b
	}
	return b, nil
}

// readFile serves file:// logs. Tiles in archives are often stored gzipped,
// so a gzip magic number is decoded transparently.
func (f *fetcher) readFile(name string, k responseKind) ([]byte, error) {
	fh, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, errNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var size int64
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	b, err := readCapped(fh, size, k, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("couldn't read gzip file %s: %w", name, err)
		}
		if b, err = readCapped(zr, 0, k, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return b, nil
}

// maxRetryAfter stands for any Retry-After too large for a time.Duration
// (about 292 years): it is over every MaxWait, which is all that matters.
const maxRetryAfter = time.Duration(math.MaxInt64)

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 10.2.3).
// Anything else, negative numbers and dates in the past are no wait at
// all (the backoff still applies); numbers too large for a Duration are
// maxRetryAfter rather than a wrapped-around negative.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // only a range error is possible here
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		// Sub saturates instead of overflowing.
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
