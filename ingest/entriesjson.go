package ingest

import (
	"encoding/base64"
	"encoding/json"

	ct "github.com/google/certificate-transparency-go"
)

// decodeGetEntries parses a get-entries response body. Every log answers
// with the same plain shape, {"entries":[{"leaf_input":"…","extra_data":"…"},
// …]}, which fastGetEntries reads directly (encoding/json's reflection and
// its separate validation pass were a quarter of RFC 6962 ingest CPU).
// Anything else — other or repeated keys, escapes, nulls, malformed
// input — goes to encoding/json, so the result and the errors are exactly
// json.Unmarshal's into ct.GetEntriesResponse.
func decodeGetEntries(b []byte) ([]ct.LeafEntry, error) {
	if es, ok := fastGetEntries(b); ok {
		return es, nil
	}
	var resp ct.GetEntriesResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	return resp.Entries, nil
}

// fastGetEntries reads the plain shape or reports false. What it accepts
// is valid JSON that json.Unmarshal decodes to the same entries: it takes
// only the exact keys, strings without escapes or control characters, and
// base64 that decodes with base64.StdEncoding (encoding/json's decoder for
// []byte).
func fastGetEntries(b []byte) ([]ct.LeafEntry, bool) {
	s := jsonScan{b: b}
	if !s.lit('{') {
		return nil, false
	}
	if k, ok := s.str(); !ok || string(k) != "entries" || !s.lit(':') || !s.lit('[') {
		return nil, false
	}
	// All fields decode into one buffer; base64 is at least 4/3 of its
	// decoded size, so len(b) bounds the total and append never moves it
	// (if it did, earlier fields would still be intact in the old array).
	arena := make([]byte, 0, len(b)/4*3+3)
	var out []ct.LeafEntry
	if !s.lit(']') {
		for {
			var le ct.LeafEntry
			var haveLeaf, haveExtra bool
			if !s.lit('{') {
				return nil, false
			}
			for {
				k, ok := s.str()
				if !ok || !s.lit(':') {
					return nil, false
				}
				v, ok := s.str()
				if !ok {
					return nil, false
				}
				start := len(arena)
				var err error
				if arena, err = base64.StdEncoding.AppendDecode(arena, v); err != nil {
					return nil, false
				}
				field := arena[start:len(arena):len(arena)]
				switch {
				case string(k) == "leaf_input" && !haveLeaf:
					le.LeafInput, haveLeaf = field, true
				case string(k) == "extra_data" && !haveExtra:
					le.ExtraData, haveExtra = field, true
				default:
					return nil, false
				}
				if s.lit('}') {
					break
				}
				if !s.lit(',') {
					return nil, false
				}
			}
			if !haveLeaf || !haveExtra {
				return nil, false
			}
			out = append(out, le)
			if s.lit(']') {
				break
			}
			if !s.lit(',') {
				return nil, false
			}
		}
	}
	if !s.lit('}') {
		return nil, false
	}
	s.space()
	return out, s.i == len(s.b)
}

// jsonScan is a cursor over JSON text for fastGetEntries.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// lit consumes c after optional white space.
func (s *jsonScan) lit(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str consumes a string of printable ASCII without escapes and returns its
// contents.
func (s *jsonScan) str() ([]byte, bool) {
	if !s.lit('"') {
		return nil, false
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[s.i:j]
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}
