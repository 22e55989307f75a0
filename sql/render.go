package sql

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marcboeker/go-duckdb"
)

// Values print as DuckDB itself prints them (its CLI, and CAST(v AS
// VARCHAR), as of the DuckDB the driver bundles): the tests check each type
// against DuckDB's own cast. Two things the driver loses cannot be
// restored: a MAP's entry order (they print sorted by key) and a TIMETZ's
// offset (it prints in UTC, +00).

// text renders a non-NULL-at-top-level value as DuckDB text. t may be nil
// (an unknown type name): the value then prints by its Go type.
func text(v any, t *colType) string {
	var sb strings.Builder
	writeText(&sb, v, t)
	return sb.String()
}

func kindOf(t *colType) string {
	if t == nil {
		return ""
	}
	return t.kind
}

func writeText(sb *strings.Builder, v any, t *colType) {
	if v == nil {
		sb.WriteString("NULL")
		return
	}
	k := kindOf(t)
	switch x := v.(type) {
	case string:
		sb.WriteString(x)
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case float32:
		sb.WriteString(formatFloat(float64(x), 32))
	case float64:
		sb.WriteString(formatFloat(x, 64))
	case *big.Int:
		sb.WriteString(x.String())
	case duckdb.Decimal:
		sb.WriteString(formatDecimal(x))
	case duckdb.Interval:
		sb.WriteString(formatInterval(x))
	case time.Time:
		sb.WriteString(formatTime(x, k))
	case []byte:
		if k == "UUID" && len(x) == 16 {
			sb.WriteString(formatUUID(x))
		} else {
			sb.WriteString(formatBlob(x))
		}
	case duckdb.UUID:
		sb.WriteString(formatUUID(x[:]))
	case []any:
		var elem *colType
		if t != nil {
			elem = t.elem
		}
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeText(sb, e, elem)
		}
		sb.WriteByte(']')
	case map[string]any:
		if k != "STRUCT" {
			// A JSON value the driver decoded: print it as JSON.
			b, _ := marshalJSON(x)
			sb.Write(b)
			return
		}
		sb.WriteByte('{')
		for i, f := range t.fields {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("'" + f.name + "': ")
			writeText(sb, x[f.name], f.typ)
		}
		sb.WriteByte('}')
	case duckdb.Map:
		var kt, vt *colType
		if t != nil {
			kt, vt = t.key, t.val
		}
		sb.WriteByte('{')
		for i, key := range sortedKeys(x) {
			if i > 0 {
				sb.WriteString(", ")
			}
			writeText(sb, key, kt)
			sb.WriteByte('=')
			writeText(sb, x[key], vt)
		}
		sb.WriteByte('}')
	default:
		if k == "VARCHAR" {
			// A JSON scalar the driver decoded.
			b, _ := marshalJSON(x)
			sb.Write(b)
			return
		}
		fmt.Fprint(sb, v)
	}
}

// writeJSON renders a value as JSON: NULL as null, booleans, integers and
// decimals as numbers (exact, as DuckDB prints them), finite floats as
// numbers, NaN and infinities as the strings "nan", "inf", "-inf", lists
// as arrays, STRUCTs as objects in field order, MAPs as objects keyed by
// the DuckDB text of their keys (sorted), and every other type (dates,
// times, intervals, UUIDs, blobs) as a string of its DuckDB text.
func writeJSON(b *bytes.Buffer, v any, t *colType) {
	k := kindOf(t)
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeJSONString(b, x)
	case bool, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint, *big.Int, duckdb.Decimal:
		b.WriteString(text(x, t))
	case float32:
		writeJSONFloat(b, float64(x), 32)
	case float64:
		writeJSONFloat(b, x, 64)
	case []any:
		var elem *colType
		if t != nil {
			elem = t.elem
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e, elem)
		}
		b.WriteByte(']')
	case map[string]any:
		if k != "STRUCT" {
			j, _ := marshalJSON(x)
			b.Write(j)
			return
		}
		b.WriteByte('{')
		for i, f := range t.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, f.name)
			b.WriteByte(':')
			writeJSON(b, x[f.name], f.typ)
		}
		b.WriteByte('}')
	case duckdb.Map:
		var kt, vt *colType
		if t != nil {
			kt, vt = t.key, t.val
		}
		b.WriteByte('{')
		for i, key := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, text(key, kt))
			b.WriteByte(':')
			writeJSON(b, x[key], vt)
		}
		b.WriteByte('}')
	case time.Time, duckdb.Interval, []byte, duckdb.UUID:
		writeJSONString(b, text(x, t))
	default:
		// JSON values the driver decoded (float64, bool, nil, maps and
		// lists are handled above), and anything else it may return.
		if j, err := marshalJSON(x); err == nil {
			b.Write(j)
		} else {
			writeJSONString(b, fmt.Sprint(x))
		}
	}
}

func writeJSONFloat(b *bytes.Buffer, f float64, bits int) {
	s := formatFloat(f, bits)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		writeJSONString(b, s)
		return
	}
	b.WriteString(s)
}

// marshalJSON is json.Marshal without escaping <, > and & (this is no
// HTML).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	j, _ := marshalJSON(s) // a string always marshals
	b.Write(j)
}

// formatFloat prints a float as DuckDB does: the shortest digits that read
// back as the same float (of 32 or 64 bits), in positional notation with
// at least one decimal for exponents from -5 to 15 (1.0, 0.0001,
// 1000000000000000.0), else as 1e+16 or 1.5e-05; nan, inf, -inf.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // -d.ddde±XX
	mant, e, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(e)
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	if exp < -4 || exp >= 16 {
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		return fmt.Sprintf("%s%se%s%02d", sign, mant, es, exp)
	}
	digits := strings.Replace(mant, ".", "", 1)
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

func formatDecimal(d duckdb.Decimal) string {
	if d.Value == nil {
		return "NULL"
	}
	s := new(big.Int).Abs(d.Value).String()
	scale := int(d.Scale)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if d.Value.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// formatInterval prints as DuckDB: "1 year 2 months 3 days 04:05:06.789",
// each part only when not zero, "00:00:00" when all are.
func formatInterval(iv duckdb.Interval) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		if n != 1 && n != -1 {
			name += "s"
		}
		parts = append(parts, strconv.FormatInt(n, 10)+" "+name)
	}
	years := iv.Months / 12
	unit(int64(years), "year")
	unit(int64(iv.Months-years*12), "month")
	unit(int64(iv.Days), "day")
	if iv.Micros != 0 || len(parts) == 0 {
		sign, us := "", uint64(iv.Micros)
		if iv.Micros < 0 {
			sign, us = "-", -us
		}
		h := us / 3_600_000_000
		us -= h * 3_600_000_000
		parts = append(parts, fmt.Sprintf("%s%02d:%02d:%02d%s", sign, h, us/60_000_000, us/1_000_000%60, fraction(int64(us%1_000_000), 6)))
	}
	return strings.Join(parts, " ")
}

// fraction prints a fraction of a second of the given number of digits
// with its trailing zeros trimmed: ".5", or "" for none.
func fraction(n int64, digits int) string {
	if n == 0 {
		return ""
	}
	return "." + strings.TrimRight(fmt.Sprintf("%0*d", digits, n), "0")
}

// DuckDB's infinite dates and timestamps, as the driver returns them.
var (
	dateInfinity    = time.Unix(math.MaxInt32*86400, 0).UTC()
	dateNegInfinity = time.Unix(-math.MaxInt32*86400, 0).UTC()
)

// formatTime prints a DATE, TIME, TIMETZ or TIMESTAMP* as DuckDB does:
// 2026-01-01, 12:34:56.5, 2026-01-01 12:34:56.5 (+00 for the time zone
// types: the driver gives UTC), BC years as "0045-03-15 (BC)", and
// infinity, -infinity.
func formatTime(t time.Time, kind string) string {
	t = t.UTC()
	frac := func(digits int) string {
		if digits == 9 {
			return fraction(int64(t.Nanosecond()), 9)
		}
		return fraction(int64(t.Nanosecond()/1000), 6)
	}
	clock := func(digits int) string {
		return fmt.Sprintf("%02d:%02d:%02d%s", t.Hour(), t.Minute(), t.Second(), frac(digits))
	}
	date := func() string {
		y, bc := t.Year(), ""
		if y <= 0 {
			y, bc = 1-y, " (BC)"
		}
		return fmt.Sprintf("%04d-%02d-%02d%s", y, int(t.Month()), t.Day(), bc)
	}
	switch kind {
	case "DATE":
		switch {
		case t.Equal(dateInfinity):
			return "infinity"
		case t.Equal(dateNegInfinity):
			return "-infinity"
		}
		return date()
	case "TIME":
		return clock(6)
	case "TIMETZ":
		return clock(6) + "+00"
	case "TIMESTAMP_NS":
		return date() + " " + clock(9)
	case "TIMESTAMP", "TIMESTAMPTZ":
		switch us := t.UnixMicro(); us {
		case math.MaxInt64:
			return "infinity"
		case -math.MaxInt64:
			return "-infinity"
		}
		if kind == "TIMESTAMPTZ" {
			return date() + " " + clock(6) + "+00"
		}
	}
	// TIMESTAMP, TIMESTAMP_S, TIMESTAMP_MS, and a time of unknown type.
	return date() + " " + clock(6)
}

// formatBlob prints bytes as DuckDB does: printable ASCII as itself,
// every other byte (and the backslash and quotes) as \xHH.
func formatBlob(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c <= 0x7e && c != '\\' && c != '\'' && c != '"' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, `\x%02X`, c)
		}
	}
	return sb.String()
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sortedKeys orders a MAP's keys (the driver returns a Go map, in no
// order): numbers, strings, times and booleans by value, anything else by
// its text.
func sortedKeys(m duckdb.Map) []any {
	keys := make([]any, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b any) int {
	// A MAP's keys share one type: DECIMALs one scale.
	if x, ok := a.(duckdb.Decimal); ok && x.Value != nil {
		if y, ok := b.(duckdb.Decimal); ok && y.Value != nil && x.Scale == y.Scale {
			return x.Value.Cmp(y.Value)
		}
	}
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			return fa.Cmp(fb)
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp.Compare(strconv.FormatBool(x), strconv.FormatBool(y))
		}
	}
	return strings.Compare(text(a, nil), text(b, nil))
}

// number converts a numeric key for comparing; NaN is not a number here.
func number(v any) (*big.Float, bool) {
	f := new(big.Float)
	switch x := v.(type) {
	case int8:
		return f.SetInt64(int64(x)), true
	case int16:
		return f.SetInt64(int64(x)), true
	case int32:
		return f.SetInt64(int64(x)), true
	case int64:
		return f.SetInt64(x), true
	case uint8:
		return f.SetUint64(uint64(x)), true
	case uint16:
		return f.SetUint64(uint64(x)), true
	case uint32:
		return f.SetUint64(uint64(x)), true
	case uint64:
		return f.SetUint64(x), true
	case *big.Int:
		return f.SetInt(x), true
	case float32:
		if !math.IsNaN(float64(x)) {
			return f.SetFloat64(float64(x)), true
		}
	case float64:
		if !math.IsNaN(x) {
			return f.SetFloat64(x), true
		}
	case duckdb.Decimal:
		if x.Value != nil {
			f.SetInt(x.Value)
			return f.Quo(f, new(big.Float).SetFloat64(math.Pow10(int(x.Scale)))), true
		}
	}
	return nil, false
}
