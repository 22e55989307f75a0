package sql

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// typesQuery has a column of every kind of DuckDB type the driver returns.
const typesQuery = `SELECT 1.5::DECIMAL(4,1) AS dec, INTERVAL 1 DAY AS iv, DATE '2026-01-01' AS d,
  MAP {'a': 1, 'b': 2} AS m, [1, 2] AS l, {'x': 1, 'y': 'q'} AS s,
  TIME '12:34:56.5' AS t, TIMESTAMP '2026-01-01 01:02:03.12' AS ts,
  TIMESTAMPTZ '2026-01-01 01:02:03' AS tstz,
  '00000000-0000-0000-0000-000000000001'::UUID AS u, '\xAA\x41'::BLOB AS b,
  170141183460469231731687303715884105727::HUGEINT AS h, NULL AS n, true AS ok,
  1.0::DOUBLE AS f, 'nan'::DOUBLE AS nan, '-inf'::DOUBLE AS ninf, 0.1::FLOAT AS f32,
  [{'k': DATE '2026-01-02'}] AS ls, 'it''s' AS v`

func TestQueryPrintsEveryTypeAsDuckDB(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct {
		format Format
		want   string
	}{
		{CSV, "dec,iv,d,m,l,s,t,ts,tstz,u,b,h,n,ok,f,nan,ninf,f32,ls,v\n" +
			`1.5,1 day,2026-01-01,"{a=1, b=2}","[1, 2]","{'x': 1, 'y': q}",12:34:56.5,2026-01-01 01:02:03.12,2026-01-01 01:02:03+00,` +
			`00000000-0000-0000-0000-000000000001,\xAAA,170141183460469231731687303715884105727,,true,1.0,nan,-inf,0.1,[{'k': 2026-01-02}],it's` + "\n"},
		{JSON, "[\n" + `{"dec":1.5,"iv":"1 day","d":"2026-01-01","m":{"a":1,"b":2},"l":[1,2],"s":{"x":1,"y":"q"},` +
			`"t":"12:34:56.5","ts":"2026-01-01 01:02:03.12","tstz":"2026-01-01 01:02:03+00",` +
			`"u":"00000000-0000-0000-0000-000000000001","b":"\\xAAA","h":170141183460469231731687303715884105727,"n":null,"ok":true,` +
			`"f":1.0,"nan":"nan","ninf":"-inf","f32":0.1,"ls":[{"k":"2026-01-02"}],"v":"it's"}` + "\n]\n"},
		{Table, "dec  iv     d           m           l       s                 t           ts                      tstz                    u                                     b      h                                        n     ok    f    nan  ninf  f32  ls                   v\n" +
			"1.5  1 day  2026-01-01  {a=1, b=2}  [1, 2]  {'x': 1, 'y': q}  12:34:56.5  2026-01-01 01:02:03.12  2026-01-01 01:02:03+00  00000000-0000-0000-0000-000000000001  \\xAAA  170141183460469231731687303715884105727  NULL  true  1.0  nan  -inf  0.1  [{'k': 2026-01-02}]  it's\n"},
	} {
		t.Run(string(tt.format), func(t *testing.T) {
			got := query(t, db, typesQuery, tt.format)
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if tt.format == JSON && !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON")
			}
		})
	}
}

// TestTextIsDuckDBsOwn compares each value's text with DuckDB's own
// CAST(v AS VARCHAR), which is what its CLI prints.
func TestTextIsDuckDBsOwn(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exprs := []string{
		"1.5::DECIMAL(4,1)", "-0.05::DECIMAL(10,2)", "0::DECIMAL(4,2)", "15::DECIMAL(4,0)", "123456789012345678.123::DECIMAL(38,3)",
		"INTERVAL 1 DAY", "INTERVAL '1 year 2 months 3 days 04:05:06.789'", "-INTERVAL 90 MINUTE", "INTERVAL '-13 months'",
		"INTERVAL 0 DAY", "INTERVAL 100 HOUR", "INTERVAL '0.000001 second'", "INTERVAL '1 day' - INTERVAL '1 hour'",
		"DATE '2026-01-01'", "DATE '-0044-03-15'", "DATE '12345-01-01'", "'infinity'::DATE", "'-infinity'::DATE",
		"TIME '12:34:56.5'", "TIME '00:00:00'", "TIMESTAMP '2026-01-01 01:02:03'", "TIMESTAMP '2026-01-01 01:02:03.000123'",
		"TIMESTAMPTZ '2026-01-01 01:02:03.5'", "TIMESTAMP_MS '2026-01-01 01:02:03.5'", "TIMESTAMP_NS '2026-01-01 01:02:03.123456789'",
		"TIMESTAMP_S '2026-01-01 01:02:03'", "TIMESTAMP '-0044-03-15 12:00:00'", "'infinity'::TIMESTAMP", "'-infinity'::TIMESTAMP",
		"'infinity'::TIMESTAMPTZ",
		"MAP {'a': 1, 'b': 2}", "MAP {1: [1], 2: NULL}", "MAP {'k': {'x': 1.5}}", "MAP {}::MAP(VARCHAR, INT)",
		"[1, 2]", "['a', 'b c', NULL, '']", "[[1], [], NULL]", "[1, 2]::INT[2]", "[DATE '2026-01-01']",
		"{'x': 1, 'y': 'q'}", "{'it''s': [1.5::DOUBLE, 'nan'::DOUBLE]}", "{'b': 1, 'a': {'d': 2, 'c': NULL}}",
		"'00000000-0000-0000-0000-000000000001'::UUID", "'ffffffff-0000-1111-2222-abcdefabcdef'::UUID",
		"'\\xAA\\x41\\x00\\x7F ~'::BLOB", "'ab''\\x22\\x5C'::BLOB", "''::BLOB",
		"170141183460469231731687303715884105727::HUGEINT", "-170141183460469231731687303715884105727::HUGEINT",
		"12345678901234567890::UBIGINT", "(-128)::TINYINT", "true", "false",
		"1.5::DOUBLE", "1.0::DOUBLE", "0.1::DOUBLE", "1e20::DOUBLE", "1e-5::DOUBLE", "123456789.123::DOUBLE", "1e15::DOUBLE",
		"1e16::DOUBLE", "-0.0::DOUBLE", "0.0001::DOUBLE", "5e-324::DOUBLE", "1.7976931348623157e308::DOUBLE",
		"'nan'::DOUBLE", "'inf'::DOUBLE", "'-inf'::DOUBLE", "0.1::FLOAT", "123456789::FLOAT", "1e38::FLOAT", "3.0::FLOAT",
		"'a'::ENUM('a', 'b')", "'x'", "'tab\there'",
	}
	// Doubles across the whole range, against DuckDB's own shortest
	// printing.
	for i := -30; i <= 30; i++ {
		exprs = append(exprs, strconv.FormatFloat(1.2345678901234567*math.Pow(10, float64(i)), 'g', -1, 64)+"::DOUBLE",
			strconv.FormatFloat(-7*math.Pow(10, float64(i)), 'g', -1, 64)+"::FLOAT")
	}
	for _, e := range exprs {
		var want string
		if err := db.DB().QueryRow("SELECT CAST((" + e + ") AS VARCHAR)").Scan(&want); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		got := strings.TrimSuffix(strings.TrimPrefix(query(t, db, "SELECT "+e+" AS v", CSV), "v\n"), "\n")
		got = strings.Trim(got, `"`) // CSV quotes values with commas
		got = strings.ReplaceAll(got, `""`, `"`)
		if got != want {
			t.Errorf("%s: got %q, DuckDB prints %q", e, got, want)
		}
	}
}

func TestQueryWritesNothingWhenItFails(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tt := range []struct{ query, want string }{
		// The driver cannot return these: refused before any output.
		{"SELECT 1 AS a, union_value(k := 1) AS u", `column u is of type UNION`},
		{"SELECT '101'::BIT AS b", "CAST(\"b\" AS VARCHAR)"},
		{"SELECT MAP {[1]: 2} AS m", "MAP with LIST keys"},
		{"SELECT [1::UHUGEINT] AS l", "UHUGEINT"},
		// DuckDB fails part way through the rows.
		{"SELECT CAST(CASE WHEN i < 5000 THEN '1' ELSE 'x' END AS INT) AS i FROM range(10000) t(i)", "Could not convert"},
	} {
		for _, f := range []Format{JSON, CSV, Table} {
			var b bytes.Buffer
			err := db.Query(context.Background(), tt.query, &b, f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s (%s): got error %v, want one with %q", tt.query, f, err, tt.want)
			}
			if b.Len() != 0 {
				t.Errorf("%s (%s): wrote %q", tt.query, f, b.String())
			}
		}
	}
}
