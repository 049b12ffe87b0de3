package attrtree

import (
	"sort"
	"strings"
)

// Entry is one indexed item under a prefix: the attributes "prefix.N.rest"
// with "prefix.N." stripped. An attribute "prefix.N" itself has the key "".
type Entry struct {
	Index int
	KVs   []KV
}

// Indexed groups the attributes "prefix.N[.rest]" by N, in increasing N, with
// the relative order of each entry's keys kept. Unlike Unflatten it tolerates
// gaps, so sparse or truncated indices still give every item. N is any run of
// ASCII digits ("01" is 1, as Python's int() reads it). Keys under prefix with
// no index segment are left out; their number is returned as ignored.
// Indices above maxIndex (when maxIndex >= 0) are left out too, and counted
// in tooLarge, which bounds the work done on hostile input.
func Indexed(kvs []KV, prefix string, maxIndex int) (entries []Entry, ignored, tooLarge int) {
	return indexed(under(kvs, prefix), maxIndex)
}

// under returns the attributes below prefix with "prefix." stripped.
func under(kvs []KV, prefix string) []KV {
	var rel []KV
	p := prefix + "."
	for _, kv := range kvs {
		if strings.HasPrefix(kv.Key, p) {
			rel = append(rel, KV{Key: kv.Key[len(p):], Value: kv.Value})
		}
	}
	return rel
}

func indexed(rel []KV, maxIndex int) (entries []Entry, ignored, tooLarge int) {
	byIndex := map[int]int{} // index → position in entries
	for _, kv := range rel {
		seg, rest, _ := strings.Cut(kv.Key, ".")
		idx, ok := digits(seg)
		if !ok {
			ignored++
			continue
		}
		if maxIndex >= 0 && idx > maxIndex {
			tooLarge++
			continue
		}
		pos, seen := byIndex[idx]
		if !seen {
			pos = len(entries)
			byIndex[idx] = pos
			entries = append(entries, Entry{Index: idx})
		}
		entries[pos].KVs = append(entries[pos].KVs, KV{Key: rest, Value: kv.Value})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Index < entries[j].Index })
	return entries, ignored, tooLarge
}

// digits parses a run of up to 18 ASCII digits.
func digits(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// GroupIndexed reproduces Agent Lightning's group_genai_dict (the grouping of
// its TraceToMessages adapter), which differs from FilterAndUnflatten: if any
// key under prefix starts with an index segment the result is a list ordered
// by index, gaps allowed, and the keys without an index are dropped (so
// "gen_ai.prompt.prompt_filter_results" disappears); otherwise it is a map,
// built recursively, where a nested path wins over a primitive at the same
// key. No matching key gives an empty map.
func GroupIndexed(kvs []KV, prefix string) any {
	return group(under(kvs, prefix))
}

func group(rel []KV) any {
	isIndexed := false
	for _, kv := range rel {
		seg, _, _ := strings.Cut(kv.Key, ".")
		if _, ok := digits(seg); ok {
			isIndexed = true
			break
		}
	}
	if isIndexed {
		entries, _, _ := indexed(rel, -1)
		out := make([]any, len(entries))
		for i, e := range entries {
			out[i] = group(e.KVs)
		}
		return out
	}
	out := map[string]any{}
	var heads []string
	nested := map[string][]KV{}
	for _, kv := range rel {
		head, tail, more := strings.Cut(kv.Key, ".")
		if !more {
			out[kv.Key] = kv.Value
			continue
		}
		if _, seen := nested[head]; !seen {
			heads = append(heads, head)
		}
		nested[head] = append(nested[head], KV{Key: tail, Value: kv.Value})
	}
	for _, head := range heads {
		out[head] = group(nested[head])
	}
	return out
}
