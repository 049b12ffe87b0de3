package aglv1

import "regexp"

// pythonJSONError locates the first syntax error of a body the way
// CPython's json module reports it (message and character position), which
// FastAPI copies into its 422 json_invalid item. It is only called on a body
// Go's decoder refused. Positions count bytes, which equals characters for
// the ASCII prefix where syntax errors are usually found.
func pythonJSONError(data []byte) (string, int) {
	s := &pyScanner{b: data}
	pos := s.ws(0)
	end, msg := s.value(pos)
	if msg != "" {
		return msg, end
	}
	if end = s.ws(end); end != len(data) {
		return "Extra data", end
	}
	// Valid for Python but not for Go (NaN, Infinity, lone surrogates...).
	return "Expecting value", 0
}

type pyScanner struct{ b []byte }

var pyNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?`)

func (s *pyScanner) ws(i int) int {
	for i < len(s.b) && (s.b[i] == ' ' || s.b[i] == '\t' || s.b[i] == '\n' || s.b[i] == '\r') {
		i++
	}
	return i
}

func (s *pyScanner) has(i int, lit string) bool {
	return len(s.b)-i >= len(lit) && string(s.b[i:i+len(lit)]) == lit
}

// value scans one value at i and returns the index after it, or the error
// position and message.
func (s *pyScanner) value(i int) (int, string) {
	if i >= len(s.b) {
		return i, "Expecting value"
	}
	switch c := s.b[i]; {
	case c == '"':
		return s.str(i)
	case c == '{':
		return s.object(i)
	case c == '[':
		return s.array(i)
	}
	for _, lit := range []string{"null", "true", "false", "NaN", "Infinity", "-Infinity"} {
		if s.has(i, lit) {
			return i + len(lit), ""
		}
	}
	if m := pyNumber.Find(s.b[i:]); m != nil {
		return i + len(m), ""
	}
	return i, "Expecting value"
}

func (s *pyScanner) str(start int) (int, string) {
	for i := start + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			return i + 1, ""
		case c < 0x20:
			return i, "Invalid control character at"
		case c == '\\':
			if i+1 >= len(s.b) {
				return start, "Unterminated string starting at"
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(s.b) || !isHex4(s.b[i+2:i+6]) {
					return i, "Invalid \\uXXXX escape"
				}
				i += 5
			default:
				return i, "Invalid \\escape"
			}
		}
	}
	return start, "Unterminated string starting at"
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *pyScanner) object(i int) (int, string) {
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, ""
	}
	for {
		if i >= len(s.b) || s.b[i] != '"' {
			return i, "Expecting property name enclosed in double quotes"
		}
		end, msg := s.str(i)
		if msg != "" {
			return end, msg
		}
		i = s.ws(end)
		if i >= len(s.b) || s.b[i] != ':' {
			return i, "Expecting ':' delimiter"
		}
		if i, msg = s.value(s.ws(i + 1)); msg != "" {
			return i, msg
		}
		i = s.ws(i)
		if i < len(s.b) && s.b[i] == '}' {
			return i + 1, ""
		}
		if i >= len(s.b) || s.b[i] != ',' {
			return i, "Expecting ',' delimiter"
		}
		i = s.ws(i + 1)
	}
}

func (s *pyScanner) array(i int) (int, string) {
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return i + 1, ""
	}
	for {
		var msg string
		if i, msg = s.value(i); msg != "" {
			return i, msg
		}
		i = s.ws(i)
		if i < len(s.b) && s.b[i] == ']' {
			return i + 1, ""
		}
		if i >= len(s.b) || s.b[i] != ',' {
			return i, "Expecting ',' delimiter"
		}
		i = s.ws(i + 1)
	}
}
