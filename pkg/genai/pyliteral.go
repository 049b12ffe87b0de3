package genai

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParsePythonLiteral parses the Python literal syntax that str() and repr()
// produce for built-in values, which LiteLLM writes into span attributes
// instead of JSON: dicts, lists, tuples and sets; str and bytes literals in
// either quote style, triple-quoted or not, with their escapes; True, False,
// None; ints (any base, with underscores; beyond int64 they become
// json.Number) and floats, inf and nan included. It also reads the repr of a
// keyword-only call, Name(key=value, ...), as a map, which is how Pydantic
// objects such as Message(content='4', role='assistant') print.
//
// The result is made of plain values: map[string]any (keys are converted to
// strings: 1 → "1", True → "True", None → "None"), []any, string (invalid
// UTF-8 repaired), int64, json.Number, float64, bool and nil. Non-finite
// floats become the strings "NaN", "Infinity" and "-Infinity" so that the
// result always encodes as JSON. Nesting is limited to DefaultMaxDepth; the
// parser never panics.
func ParsePythonLiteral(s string) (any, error) {
	return parsePythonLiteral(s, DefaultMaxDepth)
}

func parsePythonLiteral(s string, maxDepth int) (any, error) {
	ps := &pyParser{s: s, maxDepth: maxDepth}
	ps.skipSpace()
	v, err := ps.value(0)
	if err != nil {
		return nil, err
	}
	ps.skipSpace()
	if ps.i != len(ps.s) {
		return nil, ps.errorf("unexpected %q after the value", ps.s[ps.i])
	}
	return v, nil
}

type pyParser struct {
	s        string
	i        int
	maxDepth int
}

func (ps *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("python literal at offset %d: %s", ps.i, fmt.Sprintf(format, args...))
}

var errPyEOF = errors.New("python literal: unexpected end of input")

func (ps *pyParser) skipSpace() {
	for ps.i < len(ps.s) {
		switch ps.s[ps.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			ps.i++
		case '\\': // explicit line continuation
			if ps.i+1 < len(ps.s) && ps.s[ps.i+1] == '\n' {
				ps.i += 2
				continue
			}
			return
		default:
			return
		}
	}
}

func (ps *pyParser) peek() (byte, bool) {
	if ps.i >= len(ps.s) {
		return 0, false
	}
	return ps.s[ps.i], true
}

func (ps *pyParser) value(depth int) (any, error) {
	c, ok := ps.peek()
	if !ok {
		return nil, errPyEOF
	}
	switch {
	case c == '{':
		return ps.dictOrSet(depth)
	case c == '[':
		return ps.sequence(depth, ']')
	case c == '(':
		return ps.tuple(depth)
	case c == '\'' || c == '"':
		return ps.strings()
	case c == '-' || c == '+':
		return ps.signed(depth)
	case c >= '0' && c <= '9' || c == '.':
		return ps.number()
	case isIdentStart(c):
		return ps.name(depth)
	}
	return nil, ps.errorf("unexpected %q", c)
}

func (ps *pyParser) enter(depth int) error {
	if depth >= ps.maxDepth {
		return ps.errorf("nested deeper than %d", ps.maxDepth)
	}
	return nil
}

// items parses comma-separated values up to close, allowing a trailing
// comma; it reports whether a comma was seen (to tell (x) from (x,)).
func (ps *pyParser) items(depth int, close byte) ([]any, bool, error) {
	out := []any{}
	comma := false
	for {
		ps.skipSpace()
		c, ok := ps.peek()
		if !ok {
			return nil, false, errPyEOF
		}
		if c == close {
			ps.i++
			return out, comma, nil
		}
		v, err := ps.value(depth + 1)
		if err != nil {
			return nil, false, err
		}
		out = append(out, v)
		ps.skipSpace()
		c, ok = ps.peek()
		if !ok {
			return nil, false, errPyEOF
		}
		switch c {
		case ',':
			comma = true
			ps.i++
		case close:
		default:
			return nil, false, ps.errorf("expected ',' or %q, got %q", close, c)
		}
	}
}

func (ps *pyParser) sequence(depth int, close byte) (any, error) {
	if err := ps.enter(depth); err != nil {
		return nil, err
	}
	ps.i++ // opening bracket
	out, _, err := ps.items(depth, close)
	return out, err
}

// tuple parses (a, b) as a list and (x) as x.
func (ps *pyParser) tuple(depth int) (any, error) {
	if err := ps.enter(depth); err != nil {
		return nil, err
	}
	ps.i++
	out, comma, err := ps.items(depth, ')')
	if err != nil {
		return nil, err
	}
	if len(out) == 1 && !comma {
		return out[0], nil
	}
	return out, nil
}

func (ps *pyParser) dictOrSet(depth int) (any, error) {
	if err := ps.enter(depth); err != nil {
		return nil, err
	}
	ps.i++ // {
	out := map[string]any{}
	var set []any
	for first := true; ; first = false {
		ps.skipSpace()
		c, ok := ps.peek()
		if !ok {
			return nil, errPyEOF
		}
		if c == '}' {
			ps.i++
			if set != nil {
				return set, nil
			}
			return out, nil
		}
		k, err := ps.value(depth + 1)
		if err != nil {
			return nil, err
		}
		ps.skipSpace()
		c, ok = ps.peek()
		if !ok {
			return nil, errPyEOF
		}
		switch {
		case c == ':' && set == nil:
			ps.i++
			ps.skipSpace()
			v, err := ps.value(depth + 1)
			if err != nil {
				return nil, err
			}
			key, err := pyKey(k)
			if err != nil {
				return nil, ps.errorf("%v", err)
			}
			out[key] = v
		case (c == ',' || c == '}') && (first || set != nil):
			set = append(set, k) // a set literal {a, b}
		default:
			return nil, ps.errorf("unexpected %q in a dict", c)
		}
		ps.skipSpace()
		c, ok = ps.peek()
		if !ok {
			return nil, errPyEOF
		}
		switch c {
		case ',':
			ps.i++
		case '}':
		default:
			return nil, ps.errorf("expected ',' or '}', got %q", c)
		}
	}
}

// pyKey turns a hashable literal into a map key, the way JSON encoding of a
// Python dict does (json.dumps writes True as "true"; we keep Python's
// spelling since the input is Python).
func pyKey(k any) (string, error) {
	switch x := k.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case json.Number:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case nil:
		return "None", nil
	}
	return "", fmt.Errorf("unhashable dict key of type %T", k)
}

func (ps *pyParser) signed(depth int) (any, error) {
	neg := ps.s[ps.i] == '-'
	ps.i++
	ps.skipSpace()
	if err := ps.enter(depth); err != nil { // bounds "- - - - 1"
		return nil, err
	}
	v, err := ps.value(depth + 1)
	if err != nil {
		return nil, err
	}
	if !neg {
		switch x := v.(type) {
		case int64, json.Number, float64:
			return v, nil
		case string:
			if x == "Infinity" || x == "-Infinity" || x == "NaN" {
				return v, nil
			}
		}
		return nil, ps.errorf("unary + on a non-number")
	}
	switch x := v.(type) {
	case int64:
		if x == math.MinInt64 {
			return json.Number("9223372036854775808"), nil
		}
		return -x, nil
	case json.Number:
		if strings.HasPrefix(string(x), "-") {
			return json.Number(strings.TrimPrefix(string(x), "-")), nil
		}
		if x == "9223372036854775808" {
			return int64(math.MinInt64), nil
		}
		return json.Number("-" + string(x)), nil
	case float64:
		return -x, nil
	case string:
		switch x {
		case "Infinity":
			return "-Infinity", nil
		case "-Infinity":
			return "Infinity", nil
		case "NaN":
			return "NaN", nil
		}
	}
	return nil, ps.errorf("unary - on a non-number")
}

func (ps *pyParser) number() (any, error) {
	start := ps.i
	for ps.i < len(ps.s) {
		c := ps.s[ps.i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' {
			ps.i++
			continue
		}
		if (c == '+' || c == '-') && ps.i > start && (ps.s[ps.i-1] == 'e' || ps.s[ps.i-1] == 'E') && !isRadixPrefixed(ps.s[start:ps.i]) {
			ps.i++
			continue
		}
		break
	}
	text := strings.ReplaceAll(ps.s[start:ps.i], "_", "")
	if strings.HasSuffix(text, "j") || strings.HasSuffix(text, "J") {
		return nil, ps.errorf("complex numbers are not supported")
	}
	if i, err := strconv.ParseInt(text, 0, 64); err == nil && validIntLiteral(text) {
		return i, nil
	}
	if validIntLiteral(text) && isDecimalDigits(text) {
		return json.Number(strings.TrimLeft(text, "0")), nil // beyond int64
	}
	if isRadixPrefixed(text) {
		return nil, ps.errorf("invalid number %q", text)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || strings.ContainsAny(text, "xXpP") {
		return nil, ps.errorf("invalid number %q", text)
	}
	return finite(f), nil
}

func isRadixPrefixed(s string) bool {
	return len(s) > 1 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1]))
}

func isDecimalDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// validIntLiteral rejects Go-only spellings that strconv accepts with base 0
// (a leading zero meaning octal, as in "017") which Python refuses.
func validIntLiteral(s string) bool {
	if isRadixPrefixed(s) {
		return true
	}
	if len(s) > 1 && s[0] == '0' {
		return strings.Trim(s, "0") == ""
	}
	return isDecimalDigits(s)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

// name parses True, False, None, inf, nan, a string prefix (b”, r”, u”),
// or a keyword call Name(k=v, ...).
func (ps *pyParser) name(depth int) (any, error) {
	start := ps.i
	for ps.i < len(ps.s) && (isIdentPart(ps.s[ps.i]) || ps.s[ps.i] == '.' && ps.i+1 < len(ps.s) && isIdentStart(ps.s[ps.i+1])) {
		ps.i++
	}
	word := ps.s[start:ps.i]
	if c, ok := ps.peek(); ok && (c == '\'' || c == '"') && isStringPrefix(word) {
		ps.i = start
		return ps.strings()
	}
	switch word {
	case "True":
		return true, nil
	case "False":
		return false, nil
	case "None":
		return nil, nil
	case "inf", "Infinity":
		return "Infinity", nil
	case "nan", "NaN":
		return "NaN", nil
	}
	ps.skipSpace()
	if c, ok := ps.peek(); ok && c == '(' {
		return ps.call(depth, word)
	}
	return nil, ps.errorf("unexpected name %q", word)
}

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "b", "r", "u", "br", "rb":
		return true
	}
	return false
}

// call parses the keyword arguments of Name(k=v, ...) into a map.
func (ps *pyParser) call(depth int, name string) (any, error) {
	if err := ps.enter(depth); err != nil {
		return nil, err
	}
	ps.i++ // (
	out := map[string]any{}
	for {
		ps.skipSpace()
		c, ok := ps.peek()
		if !ok {
			return nil, errPyEOF
		}
		if c == ')' {
			ps.i++
			return out, nil
		}
		start := ps.i
		for ps.i < len(ps.s) && isIdentPart(ps.s[ps.i]) {
			ps.i++
		}
		key := ps.s[start:ps.i]
		ps.skipSpace()
		if key == "" || ps.i >= len(ps.s) || ps.s[ps.i] != '=' {
			return nil, ps.errorf("%s(...) has a positional argument; only keyword arguments are read", name)
		}
		ps.i++
		ps.skipSpace()
		v, err := ps.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[strings.ToValidUTF8(key, "\uFFFD")] = v
		ps.skipSpace()
		c, ok = ps.peek()
		if !ok {
			return nil, errPyEOF
		}
		switch c {
		case ',':
			ps.i++
		case ')':
		default:
			return nil, ps.errorf("expected ',' or ')', got %q", c)
		}
	}
}

// strings parses one or more adjacent string literals, which Python
// concatenates.
func (ps *pyParser) strings() (any, error) {
	var b strings.Builder
	for {
		if err := ps.stringLiteral(&b); err != nil {
			return nil, err
		}
		save := ps.i
		ps.skipSpace()
		c, ok := ps.peek()
		if ok && (c == '\'' || c == '"' || isIdentStart(c) && ps.prefixedString()) {
			continue
		}
		ps.i = save
		return strings.ToValidUTF8(b.String(), "\uFFFD"), nil
	}
}

// prefixedString reports whether a string prefix followed by a quote starts
// at the cursor.
func (ps *pyParser) prefixedString() bool {
	j := ps.i
	for j < len(ps.s) && j-ps.i < 2 && isIdentStart(ps.s[j]) {
		j++
	}
	return j < len(ps.s) && (ps.s[j] == '\'' || ps.s[j] == '"') && isStringPrefix(ps.s[ps.i:j])
}

func (ps *pyParser) stringLiteral(b *strings.Builder) error {
	raw, bytesLit := false, false
	for ps.i < len(ps.s) && isIdentStart(ps.s[ps.i]) {
		switch ps.s[ps.i] {
		case 'r', 'R':
			raw = true
		case 'b', 'B':
			bytesLit = true
		}
		ps.i++
	}
	if ps.i >= len(ps.s) {
		return errPyEOF
	}
	q := ps.s[ps.i]
	if q != '\'' && q != '"' {
		return ps.errorf("expected a quote, got %q", q)
	}
	triple := strings.HasPrefix(ps.s[ps.i:], strings.Repeat(string(q), 3))
	if triple {
		ps.i += 3
	} else {
		ps.i++
	}
	for {
		if ps.i >= len(ps.s) {
			return errPyEOF
		}
		c := ps.s[ps.i]
		switch {
		case c == q && (!triple || strings.HasPrefix(ps.s[ps.i:], strings.Repeat(string(q), 3))):
			if triple {
				ps.i += 3
			} else {
				ps.i++
			}
			return nil
		case c == '\n' && !triple:
			return ps.errorf("newline in a single-quoted string")
		case c == '\\':
			if err := ps.escape(b, raw, bytesLit); err != nil {
				return err
			}
		default:
			b.WriteByte(c)
			ps.i++
		}
	}
}

// escape decodes one backslash escape; unknown escapes keep the backslash,
// as Python does.
func (ps *pyParser) escape(b *strings.Builder, raw, bytesLit bool) error {
	if ps.i+1 >= len(ps.s) {
		return errPyEOF
	}
	c := ps.s[ps.i+1]
	if raw {
		b.WriteByte('\\')
		b.WriteByte(c)
		ps.i += 2
		return nil
	}
	ps.i += 2
	switch c {
	case '\n':
	case '\\', '\'', '"':
		b.WriteByte(c)
	case 'a':
		b.WriteByte('\a')
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '0', '1', '2', '3', '4', '5', '6', '7':
		n := int(c - '0')
		for k := 0; k < 2 && ps.i < len(ps.s) && ps.s[ps.i] >= '0' && ps.s[ps.i] <= '7'; k++ {
			n = n*8 + int(ps.s[ps.i]-'0')
			ps.i++
		}
		writeCode(b, n, bytesLit)
	case 'x':
		return ps.hexEscape(b, 2, bytesLit)
	case 'u', 'U':
		if bytesLit {
			b.WriteByte('\\')
			b.WriteByte(c)
			return nil
		}
		if c == 'u' {
			return ps.hexEscape(b, 4, false)
		}
		return ps.hexEscape(b, 8, false)
	case 'N':
		return ps.errorf(`\N{...} escapes are not supported`)
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	return nil
}

func (ps *pyParser) hexEscape(b *strings.Builder, n int, bytesLit bool) error {
	if ps.i+n > len(ps.s) {
		return errPyEOF
	}
	code, err := strconv.ParseUint(ps.s[ps.i:ps.i+n], 16, 32)
	if err != nil {
		return ps.errorf("invalid \\x/\\u escape %q", ps.s[ps.i:ps.i+n])
	}
	ps.i += n
	writeCode(b, int(code), bytesLit)
	return nil
}

// writeCode writes a code point; in a bytes literal codes below 256 are raw
// bytes (the result is repaired to valid UTF-8 at the end).
func writeCode(b *strings.Builder, code int, bytesLit bool) {
	if bytesLit && code < 256 {
		b.WriteByte(byte(code))
		return
	}
	if code > utf8.MaxRune {
		code = utf8.RuneError
	}
	b.WriteRune(rune(code))
}
