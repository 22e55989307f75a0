package sql

import (
	"fmt"
	"strconv"
	"strings"
)

// colType is a result column's DuckDB type, parsed from the name the
// DuckDB driver gives it (database/sql's DatabaseTypeName): INTEGER,
// DECIMAL(4,1), VARCHAR[], INTEGER[2], MAP(VARCHAR, INTEGER),
// STRUCT("x" INTEGER, "y" VARCHAR[]), nested freely. Printing needs it:
// the driver hands back a DATE and a TIMESTAMP alike as a time.Time, and a
// STRUCT as a Go map, which has lost the fields' order.
type colType struct {
	// kind is the base type name (INTEGER, TIMESTAMPTZ, DECIMAL, ...), or
	// LIST, ARRAY, MAP or STRUCT.
	kind   string
	elem   *colType // LIST and ARRAY elements
	key    *colType // MAP
	val    *colType // MAP
	fields []field  // STRUCT
	width  int      // DECIMAL
	scale  int      // DECIMAL
	size   int      // ARRAY
}

type field struct {
	name string
	typ  *colType
}

// parseColType parses a driver type name; an error means a name this
// parser does not know, and the value is then printed by its Go type.
func parseColType(s string) (*colType, error) {
	p := typeParser{s: s}
	t, err := p.parse(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(s) {
		return nil, p.errorf("unexpected %q", s[p.i:])
	}
	return t, nil
}

type typeParser struct {
	s string
	i int
}

func (p *typeParser) errorf(format string, args ...any) error {
	return fmt.Errorf("type %q, byte %d: %s", p.s, p.i, fmt.Sprintf(format, args...))
}

func (p *typeParser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *typeParser) expect(tok string) error {
	if !p.eat(tok) {
		return p.errorf("want %q", tok)
	}
	return nil
}

// maxDepth bounds nesting, so a hostile name cannot exhaust the stack.
const maxDepth = 100

func (p *typeParser) parse(depth int) (*colType, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested too deeply")
	}
	var t *colType
	switch {
	case p.eat("STRUCT("):
		t = &colType{kind: "STRUCT"}
		for !p.eat(")") {
			if len(t.fields) > 0 {
				if err := p.expect(", "); err != nil {
					return nil, err
				}
			}
			name, err := p.quoted()
			if err != nil {
				return nil, err
			}
			if err := p.expect(" "); err != nil {
				return nil, err
			}
			ft, err := p.parse(depth + 1)
			if err != nil {
				return nil, err
			}
			t.fields = append(t.fields, field{name, ft})
		}
	case p.eat("MAP("):
		k, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(", "); err != nil {
			return nil, err
		}
		v, err := p.parse(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		t = &colType{kind: "MAP", key: k, val: v}
	case p.eat("DECIMAL("):
		width, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		scale, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		t = &colType{kind: "DECIMAL", width: width, scale: scale}
	default:
		start := p.i
		for p.i < len(p.s) && (p.s[p.i] == '_' || 'A' <= p.s[p.i] && p.s[p.i] <= 'Z' || '0' <= p.s[p.i] && p.s[p.i] <= '9') {
			p.i++
		}
		if p.i == start {
			return nil, p.errorf("want a type name")
		}
		t = &colType{kind: p.s[start:p.i]}
		switch t.kind {
		case "DECIMAL", "LIST", "ARRAY", "MAP", "STRUCT":
			// These always come with their parts, parsed above.
			return nil, p.errorf("%s without its parts", t.kind)
		}
	}
	// Suffixes: [] is a LIST, [N] an ARRAY, of what precedes.
	for p.eat("[") {
		if p.eat("]") {
			t = &colType{kind: "LIST", elem: t}
			continue
		}
		size, err := p.number()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		t = &colType{kind: "ARRAY", elem: t, size: size}
	}
	return t, nil
}

// quoted reads a double-quoted name, "" standing for one quote.
func (p *typeParser) quoted() (string, error) {
	if err := p.expect(`"`); err != nil {
		return "", err
	}
	var sb strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '"' {
			sb.WriteByte(c)
			continue
		}
		if !p.eat(`"`) {
			return sb.String(), nil
		}
		sb.WriteByte('"')
	}
	return "", p.errorf("unterminated field name")
}

func (p *typeParser) number() (int, error) {
	start := p.i
	for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(p.s[start:p.i])
	if err != nil || n > 1<<20 {
		return 0, p.errorf("want a number")
	}
	return n, nil
}

// unreadable is the first type within t that the DuckDB driver cannot
// return (it fails mid-result on them), or "".
func (t *colType) unreadable() string {
	if t == nil {
		return ""
	}
	switch t.kind {
	case "UNION", "BIT", "UHUGEINT", "VARINT", "ANY", "INVALID":
		return t.kind
	case "MAP":
		// The driver returns a MAP as a Go map: keys must be comparable.
		switch t.key.kind {
		case "LIST", "ARRAY", "MAP", "STRUCT":
			return "MAP with " + t.key.kind + " keys"
		}
		if u := t.key.unreadable(); u != "" {
			return u
		}
		return t.val.unreadable()
	case "LIST", "ARRAY":
		return t.elem.unreadable()
	case "STRUCT":
		for _, f := range t.fields {
			if u := f.typ.unreadable(); u != "" {
				return u
			}
		}
	}
	return ""
}

// String prints t back as the driver names it.
func (t *colType) String() string {
	switch t.kind {
	case "LIST":
		return t.elem.String() + "[]"
	case "ARRAY":
		return t.elem.String() + "[" + strconv.Itoa(t.size) + "]"
	case "MAP":
		return "MAP(" + t.key.String() + ", " + t.val.String() + ")"
	case "DECIMAL":
		return "DECIMAL(" + strconv.Itoa(t.width) + "," + strconv.Itoa(t.scale) + ")"
	case "STRUCT":
		fs := make([]string, len(t.fields))
		for i, f := range t.fields {
			fs[i] = quoteIdent(f.name) + " " + f.typ.String()
		}
		return "STRUCT(" + strings.Join(fs, ", ") + ")"
	}
	return t.kind
}
