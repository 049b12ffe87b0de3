package attrtree

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// ErrPrefixKey reports an attribute whose key equals the prefix being
// unflattened. Agent Lightning raises on it; FilterAndUnflatten skips the key
// and returns the tree of the other keys together with this error.
var ErrPrefixKey = errors.New("attribute key equals the prefix")

// Unflatten rebuilds the nested value of flat dot-keyed attributes. The result
// is a map[string]any, or a []any when the top-level keys are exactly
// "0".."n-1". An empty input gives an empty map.
func Unflatten(kvs []KV) any {
	root := node{}
	for _, kv := range kvs {
		insert(root, kv.Key, kv.Value)
	}
	return listify(root)
}

// UnflattenMap is Unflatten over a map, whose keys are taken in sorted order.
func UnflattenMap(m map[string]any) any {
	return Unflatten(sortedKVs(m))
}

func sortedKVs(m map[string]any) []KV {
	kvs := make([]KV, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, KV{Key: k, Value: v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	return kvs
}

// node is a map built by Unflatten. Its own type keeps it apart from map
// values the caller stored in attributes, which are leaves and are never
// descended into nor modified.
type node map[string]any

// insert places value at the dotted path key, replacing whatever non-node
// value sits on the way (Python's "ensure intermediate node is a dict").
func insert(root node, key string, value any) {
	curr := root
	for {
		head, rest, more := strings.Cut(key, ".")
		if !more {
			curr[head] = value
			return
		}
		next, ok := curr[head].(node)
		if !ok {
			next = node{}
			curr[head] = next
		}
		curr, key = next, rest
	}
}

// listify converts the built nodes, bottom-up, into maps, or into lists when
// their keys are exactly 0..n-1.
func listify(v any) any {
	n, ok := v.(node)
	if !ok {
		return v
	}
	m := make(map[string]any, len(n))
	for k, child := range n {
		m[k] = listify(child)
	}
	if len(m) == 0 {
		return m
	}
	list := make([]any, len(m))
	for k, child := range m {
		i, ok := Index(k)
		if !ok || i >= len(m) {
			return m
		}
		list[i] = child
	}
	// len(m) distinct canonical indices, all below len(m), cover 0..n-1.
	return list
}

// Index parses a canonical, non-negative decimal list index: ASCII digits,
// no sign, no leading zero except for "0" itself.
func Index(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// Filter keeps the attributes whose key is prefix or starts with prefix+".",
// in their order.
func Filter(kvs []KV, prefix string) []KV {
	var out []KV
	for _, kv := range kvs {
		if kv.Key == prefix || strings.HasPrefix(kv.Key, prefix) && len(kv.Key) > len(prefix) && kv.Key[len(prefix)] == '.' {
			out = append(out, kv)
		}
	}
	return out
}

// FilterAndUnflatten unflattens the attributes under prefix with the prefix
// stripped (Agent Lightning's filter_and_unflatten_attributes). No matching
// key gives an empty map. A key equal to the prefix is skipped and reported
// with ErrPrefixKey; the returned tree is still built from the other keys.
func FilterAndUnflatten(kvs []KV, prefix string) (any, error) {
	var err error
	var stripped []KV
	for _, kv := range Filter(kvs, prefix) {
		if kv.Key == prefix {
			err = ErrPrefixKey
			continue
		}
		stripped = append(stripped, KV{Key: kv.Key[len(prefix)+1:], Value: kv.Value})
	}
	return Unflatten(stripped), err
}

// IsEmpty reports whether v is what Python treats as falsy among the results
// of Unflatten: nil, an empty map or an empty list.
func IsEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
