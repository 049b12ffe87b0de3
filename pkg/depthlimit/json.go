package depthlimit

import (
	"bytes"
	"io"
)

// JSONScanner counts the nesting of a JSON text fed to it in pieces. It does
// not validate the JSON (the decoder that follows does): it only tracks
// strings, so that brackets inside them do not count.
type JSONScanner struct {
	limit    int
	depth    int
	inString bool
	escaped  bool
	err      error
}

// NewJSONScanner returns a scanner that refuses nesting deeper than limit.
func NewJSONScanner(limit int) *JSONScanner { return &JSONScanner{limit: limit} }

// Write scans p; it returns an *Error once the nesting exceeds the limit
// (and from then on).
func (s *JSONScanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < len(p); i++ {
		if s.inString {
			if s.escaped {
				s.escaped = false
				continue
			}
			// Jump to the next quote or backslash: strings are most of a
			// document's bytes.
			j := bytes.IndexAny(p[i:], "\"\\")
			if j < 0 {
				break
			}
			i += j
			if p[i] == '\\' {
				s.escaped = true
			} else {
				s.inString = false
			}
			continue
		}
		j := bytes.IndexAny(p[i:], "\"[]{}")
		if j < 0 {
			break
		}
		i += j
		switch p[i] {
		case '"':
			s.inString = true
		case '[', '{':
			s.depth++
			if s.depth > s.limit {
				s.err = &Error{Limit: s.limit, What: "JSON document"}
				return 0, s.err
			}
		case ']', '}':
			// Unbalanced closers are the decoder's to report.
			if s.depth > 0 {
				s.depth--
			}
		}
	}
	return len(p), nil
}

// CheckJSON returns an *Error when the JSON text b nests arrays and objects
// deeper than limit.
func CheckJSON(b []byte, limit int) error {
	_, err := NewJSONScanner(limit).Write(b)
	return err
}

// JSONReader returns a reader of r that fails with an *Error as soon as the
// JSON text read so far nests deeper than limit.
func JSONReader(r io.Reader, limit int) io.Reader {
	s := NewJSONScanner(limit)
	return &checkingReader{r: r, scan: func(p []byte) error { _, err := s.Write(p); return err }}
}
