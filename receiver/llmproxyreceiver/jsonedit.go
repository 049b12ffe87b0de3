package llmproxyreceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The proxy edits request and response bodies in place (adds the fields it
// asks upstreams for, removes what the client did not ask for) instead of
// decoding and re-encoding them, so that everything else reaches the agent
// byte for byte as the upstream wrote it: key order, number spelling and
// spacing included. encoding/json cannot do that and no JSON-patching
// library is in the module, hence this small scanner. It only needs to find
// the extent of values; the bodies were already validated as JSON (or come
// from the upstream, where a malformed value makes the edit fail and the
// original bytes pass unchanged).

var errBadJSON = errors.New("malformed JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at b[i]
// (after optional white space).
func valueEnd(b []byte, i int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errBadJSON
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := stringEnd(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errBadJSON
	default:
		start := i
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		if i == start {
			return 0, errBadJSON
		}
		return i, nil
	}
}

func stringEnd(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errBadJSON
}

// member is one "key": value of an object: seg is the raw text between the
// separators around it (white space included), val the value's extent.
type member struct {
	key                 string
	segStart, segEnd    int
	valStart, valEnd    int
	keyStart, keyRawEnd int
}

// members lists an object's members in order.
func members(obj []byte) ([]member, error) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, errBadJSON
	}
	i++
	var out []member
	if j := skipSpace(obj, i); j < len(obj) && obj[j] == '}' {
		return out, nil
	}
	for {
		m := member{segStart: i}
		k := skipSpace(obj, i)
		if k >= len(obj) || obj[k] != '"' {
			return nil, errBadJSON
		}
		kEnd, err := stringEnd(obj, k)
		if err != nil {
			return nil, err
		}
		raw := obj[k:kEnd]
		if bytes.IndexByte(raw, '\\') < 0 {
			m.key = string(raw[1 : len(raw)-1])
		} else if err := json.Unmarshal(raw, &m.key); err != nil {
			return nil, errBadJSON
		}
		m.keyStart, m.keyRawEnd = k, kEnd
		c := skipSpace(obj, kEnd)
		if c >= len(obj) || obj[c] != ':' {
			return nil, errBadJSON
		}
		m.valStart = skipSpace(obj, c+1)
		if m.valEnd, err = valueEnd(obj, m.valStart); err != nil {
			return nil, err
		}
		n := skipSpace(obj, m.valEnd)
		if n >= len(obj) {
			return nil, errBadJSON
		}
		m.segEnd = n
		out = append(out, m)
		switch obj[n] {
		case ',':
			i = n + 1
		case '}':
			return out, nil
		default:
			return nil, errBadJSON
		}
	}
}

// editObject rebuilds obj keeping or replacing each member: fn returns the
// member's new value (nil keeps it unchanged) and whether to keep it.
func editObject(obj []byte, fn func(key string, val []byte) (newVal []byte, keep bool)) ([]byte, error) {
	ms, err := members(obj)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(obj))
	out = append(out, obj[:skipSpace(obj, 0)+1]...)
	first := true
	changed := false
	for _, m := range ms {
		nv, keep := fn(m.key, obj[m.valStart:m.valEnd])
		if !keep {
			changed = true
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		if nv == nil {
			out = append(out, obj[m.segStart:m.segEnd]...)
			continue
		}
		changed = true
		out = append(out, obj[m.segStart:m.valStart]...)
		out = append(out, nv...)
		out = append(out, obj[m.valEnd:m.segEnd]...)
	}
	if !changed {
		return obj, nil
	}
	end := len(obj)
	if len(ms) > 0 {
		end = ms[len(ms)-1].segEnd
	} else {
		end = bytes.LastIndexByte(obj, '}')
	}
	return append(out, obj[end:]...), nil
}

// editArray rebuilds arr with fn applied to each element (nil keeps it).
func editArray(arr []byte, fn func(i int, elem []byte) []byte) ([]byte, error) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil, errBadJSON
	}
	out := make([]byte, 0, len(arr))
	out = append(out, arr[:i+1]...)
	i++
	if j := skipSpace(arr, i); j < len(arr) && arr[j] == ']' {
		return arr, nil
	}
	for n := 0; ; n++ {
		start := skipSpace(arr, i)
		end, err := valueEnd(arr, start)
		if err != nil {
			return nil, err
		}
		out = append(out, arr[i:start]...)
		if nv := fn(n, arr[start:end]); nv != nil {
			out = append(out, nv...)
		} else {
			out = append(out, arr[start:end]...)
		}
		s := skipSpace(arr, end)
		if s >= len(arr) {
			return nil, errBadJSON
		}
		out = append(out, arr[end:s+1]...)
		switch arr[s] {
		case ',':
			i = s + 1
		case ']':
			return append(out, arr[s+1:]...), nil
		default:
			return nil, errBadJSON
		}
	}
}

// setMembers returns obj with each key set to its value: replaced where the
// key exists, appended otherwise (in the order given).
func setMembers(obj []byte, kv ...keyValue) ([]byte, error) {
	ms, err := members(obj)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(kv))
	out, err := editObject(obj, func(key string, _ []byte) ([]byte, bool) {
		for _, p := range kv {
			if p.key == key {
				seen[key] = true
				return p.value, true
			}
		}
		return nil, true
	})
	if err != nil {
		return nil, err
	}
	closing := bytes.LastIndexByte(out, '}')
	tail := append([]byte(nil), out[closing:]...)
	out = out[:closing]
	empty := len(ms) == 0
	for _, p := range kv {
		if seen[p.key] {
			continue
		}
		if !empty {
			out = append(out, ',')
		}
		empty = false
		out = strconv.AppendQuote(out, p.key)
		out = append(out, ':')
		out = append(out, p.value...)
	}
	return append(out, tail...), nil
}

type keyValue struct {
	key   string
	value []byte
}

// isNull reports whether a raw value is absent or JSON null.
func isNull(v []byte) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}
