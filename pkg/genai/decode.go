package genai

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// decodeJSON decodes a JSON text within the limits. Numbers are json.Number.
// Failures are counted against key.
func (p *parser) decodeJSON(key, s string) (any, bool) {
	if !p.decodable(key, s) {
		return nil, false
	}
	v, err := unmarshalJSON(s)
	if err != nil {
		p.warn(key, ProblemInvalidJSON, "%v", err)
		return nil, false
	}
	return v, true
}

// decodeLoose decodes JSON, else a Python literal (LiteLLM's str() of
// lists and dicts). Failures are counted against key.
func (p *parser) decodeLoose(key, s string) (any, bool) {
	if !p.decodable(key, s) {
		return nil, false
	}
	if v, err := unmarshalJSON(s); err == nil {
		return v, true
	}
	v, err := parsePythonLiteral(s, p.cfg.limits.MaxDepth)
	if err != nil {
		p.warn(key, ProblemInvalidLiteral, "%v", err)
		return nil, false
	}
	return v, true
}

// tryLoose is decodeLoose without counting a failure: for strings that
// may or may not hold a literal (a message content "[1, 2]").
func (p *parser) tryLoose(key, s string) (any, bool) {
	if len(s) > p.cfg.limits.MaxValueBytes || !depthWithin(s, p.cfg.limits.MaxDepth) {
		return nil, false
	}
	if v, err := unmarshalJSON(s); err == nil {
		return v, true
	}
	v, err := parsePythonLiteral(s, p.cfg.limits.MaxDepth)
	return v, err == nil
}

// decodable checks the size and nesting limits before decoding, and counts
// invalid UTF-8 (the decoders repair it).
func (p *parser) decodable(key, s string) bool {
	if len(s) > p.cfg.limits.MaxValueBytes {
		p.warn(key, ProblemOversized, "%d bytes exceed the %d-byte limit", len(s), p.cfg.limits.MaxValueBytes)
		return false
	}
	if !depthWithin(s, p.cfg.limits.MaxDepth) {
		p.warn(key, ProblemTooDeep, "nested deeper than %d", p.cfg.limits.MaxDepth)
		return false
	}
	if !utf8.ValidString(s) {
		p.warn(key, ProblemInvalidUTF8, "string repaired with U+FFFD")
	}
	return true
}

// structured returns v decoded: a string is decoded as JSON (or, loose, as
// JSON or a Python literal), a list or map is returned as it is, anything
// else is a wrong type.
func (p *parser) structured(key string, v any, loose bool) (any, bool) {
	switch x := v.(type) {
	case string:
		if loose {
			return p.decodeLoose(key, x)
		}
		return p.decodeJSON(key, x)
	case []any, map[string]any:
		return x, true
	case nil:
		return nil, false
	}
	p.warn(key, ProblemWrongType, "got %T, want a JSON string, list or map", v)
	return nil, false
}

// structuredList is structured for values that must be lists.
func (p *parser) structuredList(key string, v any, loose bool) ([]any, bool) {
	d, ok := p.structured(key, v, loose)
	if !ok {
		return nil, false
	}
	list, ok := d.([]any)
	if !ok {
		p.warn(key, ProblemWrongType, "got %T, want a list", d)
	}
	return list, ok
}

// structuredMap is structured for values that must be maps.
func (p *parser) structuredMap(key string, v any, loose bool) (map[string]any, bool) {
	d, ok := p.structured(key, v, loose)
	if !ok {
		return nil, false
	}
	m, ok := d.(map[string]any)
	if !ok {
		p.warn(key, ProblemWrongType, "got %T, want an object", d)
	}
	return m, ok
}

var errTrailing = errors.New("trailing data after the JSON value")

func unmarshalJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return v, nil
}

// depthWithin reports whether the brackets of s (outside JSON or Python
// strings) nest at most max deep. It runs before decoding so that hostile
// input cannot make a decoder recurse deeply.
func depthWithin(s string, max int) bool {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '[', '{', '(':
			depth++
			if depth > max {
				return false
			}
		case ']', '}', ')':
			depth--
		}
	}
	return true
}

// looksStructured reports whether s starts like a JSON or Python container.
func looksStructured(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) > 1 && (s[0] == '[' || s[0] == '{') && (s[len(s)-1] == ']' || s[len(s)-1] == '}')
}
