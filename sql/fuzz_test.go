package sql

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseColType: the type names come from DuckDB, but STRUCT field
// names in them are the query's own (any text, quoted): parsing never
// panics, and what it accepts prints back to the same name.
func FuzzParseColType(f *testing.F) {
	for _, s := range []string{
		"INTEGER", "DECIMAL(4,1)", "VARCHAR[]", "INTEGER[2]", "MAP(VARCHAR, INTEGER)",
		`STRUCT("x" INTEGER, "y" VARCHAR[])`, `STRUCT("a ""b"", c" MAP(INTEGER, STRUCT("d" DATE)[])[3])[]`,
		"STRUCT()", `STRUCT("`, "MAP(", "DECIMAL(99999999999999999999,1)", "[]", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := parseColType(s)
		if err != nil {
			return
		}
		if got := typ.String(); got != s {
			t.Fatalf("parsed %q, prints back as %q", s, got)
		}
		typ.unreadable()
	})
}

// FuzzFormatFloat: floats print as DuckDB does, so they must read back as
// the same float, in the one of two notations the exponent calls for.
func FuzzFormatFloat(f *testing.F) {
	for _, x := range []float64{0, -0.0, 1, 1.5, 0.1, 1e15, 1e16, 1e-4, 1e-5, 5e-324, math.MaxFloat64, 123456789.123} {
		f.Add(x, false)
		f.Add(x, true)
	}
	f.Fuzz(func(t *testing.T, x float64, single bool) {
		bits := 64
		if single {
			x, bits = float64(float32(x)), 32
		}
		s := formatFloat(x, bits)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		back, err := strconv.ParseFloat(s, bits)
		if err != nil || back != x || math.Signbit(back) != math.Signbit(x) {
			t.Fatalf("%v prints as %q, which reads back as %v (%v)", x, s, back, err)
		}
		sci := strings.Contains(s, "e")
		if a := math.Abs(x); a != 0 && sci != (a < 1e-4 || a >= 1e16) {
			// The exponent of the shortest digits decides: allow the
			// boundaries' rounding, nothing else.
			if e, _ := strconv.Atoi(strings.SplitN(strconv.FormatFloat(x, 'e', -1, bits), "e", 2)[1]); sci != (e < -4 || e >= 16) {
				t.Fatalf("%v prints as %q", x, s)
			}
		}
		if !sci && !strings.Contains(s, ".") {
			t.Fatalf("%v prints as %q, without a decimal point", x, s)
		}
	})
}
