package attrtree

import (
	"encoding/json"
	"sort"
	"strconv"
)

// KV is one flat attribute. Slices of KV keep the order that Unflatten uses to
// resolve conflicting keys.
type KV struct {
	Key   string
	Value any
}

// FlattenOptions tunes Flatten.
type FlattenOptions struct {
	// ExpandLeafLists expands every list by index, lists of primitives
	// included. Agent Lightning's link and tag helpers set it; its emitters
	// leave it false so homogeneous primitive lists stay list attributes.
	ExpandLeafLists bool
}

// Flatten turns a nested value into flat dot-keyed attributes, in walk order
// (map keys sorted, list items in order).
func Flatten(v any, opts FlattenOptions) []KV {
	var out []KV
	walk(v, "", opts, &out)
	return out
}

// FlattenMap is Flatten returning a map.
func FlattenMap(v any, opts FlattenOptions) map[string]any {
	kvs := Flatten(v, opts)
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func walk(v any, prefix string, opts FlattenOptions, out *[]KV) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walk(x[k], join(prefix, k), opts, out)
		}
	case []any:
		walkList(x, prefix, opts, out)
	default:
		if list, ok := typedList(v); ok {
			walkList(list, prefix, opts, out)
			return
		}
		*out = append(*out, KV{Key: prefix, Value: v})
	}
}

func walkList(list []any, prefix string, opts FlattenOptions, out *[]KV) {
	// A root list is always expanded: Python only keeps leaf lists under a
	// non-empty prefix.
	if !opts.ExpandLeafLists && prefix != "" && len(list) > 0 {
		if kind := leafKind(list); kind != kindMixed {
			*out = append(*out, KV{Key: prefix, Value: list})
			return
		}
	}
	for i, item := range list {
		walk(item, join(prefix, strconv.Itoa(i)), opts, out)
	}
}

// typedList widens the typed slices a Go caller may pass to []any.
func typedList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []string:
		return widen(x), true
	case []int64:
		return widen(x), true
	case []int:
		return widen(x), true
	case []float64:
		return widen(x), true
	case []bool:
		return widen(x), true
	case []map[string]any:
		return widen(x), true
	}
	return nil, false
}

func widen[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

type primKind int

const (
	kindMixed primKind = iota
	kindString
	kindBool
	kindInt
	kindFloat
)

// leafKind reports the single primitive kind of list, or kindMixed when the
// items are not all primitives of one kind (Python's _primitive_type).
func leafKind(list []any) primKind {
	kind := kindMixed
	for i, item := range list {
		k := primitiveKind(item)
		if k == kindMixed || (i > 0 && k != kind) {
			return kindMixed
		}
		kind = k
	}
	return kind
}

func primitiveKind(v any) primKind {
	switch x := v.(type) {
	case string:
		return kindString
	case bool:
		return kindBool
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return kindInt
	case float32, float64:
		return kindFloat
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return kindInt
		}
		return kindFloat
	}
	return kindMixed
}
