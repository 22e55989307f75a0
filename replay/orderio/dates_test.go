package orderio

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// Times outside 1678-2262 do not fit int64 nanoseconds; they used to wrap
// silently (an order in 2300 replayed as one in 1715). Every reader must
// refuse them, and a not_before after the not_after, naming the file, the
// line or row and the field.
func TestOutOfRangeAndReversedDatesAreRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		spec, file, content, want string
	}{
		{"jsonl 2300", "o.jsonl", `{"issued_at":"2300-01-01T00:00:00Z","names":["a.example"]}`,
			"o.jsonl:line 1: bad time: issued_at 2300-01-01T00:00:00Z is outside the years 1678-2262"},
		{"jsonl 1969", "o.jsonl", `{"issued_at":"1969-12-31T23:59:59Z","names":["a.example"]}`,
			"o.jsonl:line 1: bad time: issued_at 1969-12-31T23:59:59Z is before 1970-01-01; ctlimits replays orders from 1970 on"},
		{"jsonl 1600", "o.jsonl", `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"not_before":"1600-01-01T00:00:00Z"}`,
			"o.jsonl:line 1: bad time: not_before 1600-01-01T00:00:00Z is outside the years 1678-2262"},
		{"jsonl not_after", "o.jsonl", `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"not_after":"9999-12-31T00:00:00Z"}`,
			"o.jsonl:line 1: bad time: not_after 9999-12-31T00:00:00Z is outside"},
		{"jsonl reversed", "o.jsonl", `{"issued_at":"2026-03-01T00:00:00Z","names":["a.example"],"not_before":"2026-06-01T00:00:00Z","not_after":"2026-03-01T00:00:00Z"}`,
			"o.jsonl:line 1: bad time: not_before 2026-06-01T00:00:00Z is after not_after 2026-03-01T00:00:00Z"},
		{"csv 2300", "o.csv", "issued_at,names\n2026-03-01T00:00:00Z,a.example\n2300-01-01T00:00:00Z,a.example\n",
			"o.csv:line 3: bad time: issued_at 2300-01-01T00:00:00Z is outside"},
		{"csv reversed", "o.csv", "issued_at,names,not_before,not_after\n2026-03-01T00:00:00Z,a.example,2026-06-01T00:00:00Z,2026-03-01T00:00:00Z\n",
			"o.csv:line 2: bad time: not_before 2026-06-01T00:00:00Z is after not_after"},
	} {
		for _, sort := range []bool{false, true} {
			_, _, err := replayFile(t, writeFile(t, c.file, c.content), Options{Sort: sort})
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, replay.ErrBadTime) {
				t.Errorf("%s (sort %v): err = %v\nwant it to contain %q", c.spec, sort, err, c.want)
			}
		}
	}
}

func TestOutOfRangeParquetTimeIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.parquet")
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	writeOrdersParquet(t, path, 3, func(i int) time.Time {
		if i == 2 {
			return time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) // microseconds hold it; nanoseconds do not
		}
		return t0.Add(time.Duration(i) * time.Minute)
	}, func(int) []string { return []string{"a.example"} })
	_, _, err := replayFile(t, path, Options{})
	if err == nil || !strings.Contains(err.Error(), "o.parquet:row 3: bad time: issued_at 2300-01-01T00:00:00Z is outside the years 1678-2262") {
		t.Fatalf("err = %v", err)
	}
}

// The edges themselves replay: a TAT near 2262 must not wrap (it used to,
// limiting the last order), and not_before may go back to 1678.
func TestDatesAtTheEdgesReplay(t *testing.T) {
	t.Parallel()
	in := `{"issued_at":"1970-01-01T00:00:00Z","names":["a.example"],"not_before":"1677-09-21T00:12:44Z"}
{"issued_at":"2262-04-11T23:47:16Z","names":["a.example"]}
{"issued_at":"2262-04-11T23:47:16.854775807Z","names":["b.example"]}
`
	if _, c, err := replayFile(t, writeFile(t, "o.jsonl", in), Options{}); err != nil || c.New != 3 {
		t.Fatalf("counts %+v, err %v", c, err)
	}
}
