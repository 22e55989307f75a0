package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
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
	// "ctlimits/<version> (+https://github.com/ctlimits/ctlimits)" plus
	// "; contact: <Contact>" when Contact is set. Log operators ask crawlers
	// to say who they are so they can reach out before blocking.
	UserAgent string
	// Contact is an e-mail or URL appended to the default User-Agent.
	// Optional; default none.
	Contact string
	// Timeout bounds one attempt, headers and body. Optional; default 60s.
	Timeout time.Duration
	// MaxResponseBytes caps one response body after decompression, so a
	// misbehaving server cannot exhaust memory. Optional; default 64 MiB
	// (a full data tile of 256 large certificates is under 2 MiB).
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
		c.UserAgent = "ctlimits/" + Version + " (+https://github.com/ctlimits/ctlimits)"
		if c.Contact != "" {
			c.UserAgent = strings.TrimSuffix(c.UserAgent, ")") + "; contact: " + c.Contact + ")"
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 20
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

// Version is reported in the User-Agent; the command sets it at start-up.
var Version = "devel"

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
	cfg     HTTPConfig
	retries atomic.Int64

	mu         sync.Mutex
	pauseUntil time.Time
}

func newFetcher(base string, cfg HTTPConfig) (*fetcher, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("couldn't parse log URL %q: %w", base, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return &fetcher{base: u, cfg: cfg.withDefaults()}, nil
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

// getInto is get reading the body into buf (reset first; nil means a new
// one): the result aliases buf, so a caller that copies what it needs can
// reuse buf for the next request.
func (f *fetcher) getInto(ctx context.Context, path string, buf *bytes.Buffer) ([]byte, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := f.waitPause(ctx); err != nil {
			return nil, err
		}
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
			if se.RetryAfter > wait {
				wait = se.RetryAfter
			}
			f.pause(wait)
		}
		f.retries.Add(1)
		if f.cfg.OnRetry != nil {
			f.cfg.OnRetry(path, attempt+1, wait, err)
		}
		if err := f.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if retryable(lastErr) {
		return nil, fmt.Errorf("couldn't fetch %s after %d attempts: %w", path, f.cfg.MaxRetries+1, lastErr)
	}
	return nil, fmt.Errorf("couldn't fetch %s: %w", path, lastErr)
}

func (f *fetcher) backoff(attempt int) time.Duration {
	d := f.cfg.BaseBackoff << min(attempt, 30)
	if d <= 0 || d > f.cfg.MaxBackoff {
		d = f.cfg.MaxBackoff
	}
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
		return f.cfg.Sleep(ctx, d)
	}
	return ctx.Err()
}

func (f *fetcher) once(ctx context.Context, path string, buf *bytes.Buffer) ([]byte, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u := f.base.ResolveReference(ref)
	if u.Scheme == "file" {
		return f.readFile(filepath.FromSlash(u.Path))
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
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("couldn't read gzip body: %w", err)
		}
		body = zr
	}
	return f.readCapped(body, resp.ContentLength, buf)
}

// readCapped reads r into buf (or a new buffer if nil) up to the response
// size cap.
func (f *fetcher) readCapped(r io.Reader, sizeHint int64, buf *bytes.Buffer) ([]byte, error) {
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	if sizeHint > 0 && sizeHint <= f.cfg.MaxResponseBytes {
		// ReadFrom wants MinRead bytes free before it sees EOF: without
		// the margin an exact hint still doubles the buffer at the end.
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(r, f.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("couldn't read body after %d bytes: %w", n, err)
	}
	if n > f.cfg.MaxResponseBytes {
		return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, f.cfg.MaxResponseBytes)
	}
	return buf.Bytes(), nil
}

// readFile serves file:// logs. Tiles in archives are often stored gzipped,
// so a gzip magic number is decoded transparently.
func (f *fetcher) readFile(name string) ([]byte, error) {
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
	b, err := f.readCapped(fh, size, nil)
	if err != nil {
		return nil, err
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("couldn't read gzip file %s: %w", name, err)
		}
		return f.readCapped(zr, 0, nil)
	}
	return b, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
