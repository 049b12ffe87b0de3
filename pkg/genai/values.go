package genai

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/attrtree"
)

// parser carries the configuration and the problem counters of one Parse.
type parser struct {
	cfg   *config
	stats Stats
}

func newParser(cfg *config) *parser {
	if cfg == nil {
		cfg = newConfig(nil)
	}
	return &parser{cfg: cfg}
}

func (p *parser) warn(key string, problem Problem, format string, args ...any) {
	detail := format
	if len(args) > 0 {
		detail = fmt.Sprintf(format, args...)
	}
	p.stats.record(Warning{Key: key, Problem: problem, Detail: detail}, p.cfg.limits.MaxWarnings)
}

// attrs is the neutral view of an attribute set that every extractor reads:
// plain values (see plainValue) by key, and the keys in wire order, which
// unflattening needs.
type attrs struct {
	kvs []attrtree.KV
	m   map[string]any
}

func newAttrs(n int) *attrs {
	return &attrs{kvs: make([]attrtree.KV, 0, n), m: make(map[string]any, n)}
}

// put adds a key; the first occurrence of a duplicate key wins, as
// pcommon.Map.Get does.
func (a *attrs) put(k string, v any) {
	if _, dup := a.m[k]; dup {
		return
	}
	a.m[k] = v
	a.kvs = append(a.kvs, attrtree.KV{Key: k, Value: v})
}

func (a *attrs) get(k string) (any, bool) {
	v, ok := a.m[k]
	return v, ok
}

func (a *attrs) str(k string) (string, bool) {
	s, ok := a.m[k].(string)
	return s, ok
}

// under reports whether some key starts with prefix + ".".
func (a *attrs) under(prefix string) bool {
	p := prefix + "."
	for _, kv := range a.kvs {
		if strings.HasPrefix(kv.Key, p) {
			return true
		}
	}
	return false
}

// attrsFromPdata converts an OTLP attribute map.
func (p *parser) attrsFromPdata(m pcommon.Map) *attrs {
	a := newAttrs(m.Len())
	for k, v := range m.All() {
		a.put(k, p.plainValue(k, v, 0))
	}
	return a
}

// attrsFromPlain converts a map of plain values (model.Attributes, event
// attributes) with its keys in sorted order.
func (p *parser) attrsFromPlain(m map[string]any) *attrs {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a := newAttrs(len(keys))
	for _, k := range keys {
		a.put(k, p.plainAny(k, m[k], 0))
	}
	return a
}

// plainValue converts an AnyValue to a plain value: string (repaired to
// valid UTF-8), bool, int64, float64 (non-finite ones become the strings
// "NaN", "Infinity", "-Infinity", so every plain value encodes as JSON),
// []any, map[string]any, nil; bytes become base64 strings.
func (p *parser) plainValue(key string, v pcommon.Value, depth int) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return p.validUTF8(key, v.Str())
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return finite(v.Double())
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		if depth >= p.cfg.limits.MaxDepth {
			p.warn(key, ProblemTooDeep, "structured value nested deeper than %d", p.cfg.limits.MaxDepth)
			return nil
		}
		s := v.Slice()
		out := make([]any, s.Len())
		for i, e := range s.All() {
			out[i] = p.plainValue(key, e, depth+1)
		}
		return out
	case pcommon.ValueTypeMap:
		if depth >= p.cfg.limits.MaxDepth {
			p.warn(key, ProblemTooDeep, "structured value nested deeper than %d", p.cfg.limits.MaxDepth)
			return nil
		}
		out := make(map[string]any, v.Map().Len())
		for k, e := range v.Map().All() {
			out[p.validUTF8(key, k)] = p.plainValue(key, e, depth+1)
		}
		return out
	}
	return nil
}

// plainAny normalises a value that is already plain-ish (decoded JSON,
// model.Attributes): strings are repaired, typed slices become []any, depth
// is bounded. json.Number stays as it is (it keeps the number's text).
func (p *parser) plainAny(key string, v any, depth int) any {
	switch x := v.(type) {
	case string:
		return p.validUTF8(key, x)
	case float64:
		return finite(x)
	case float32:
		return finite(float64(x))
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case []any, map[string]any, []string, []int64, []float64, []bool:
		if depth >= p.cfg.limits.MaxDepth {
			p.warn(key, ProblemTooDeep, "value nested deeper than %d", p.cfg.limits.MaxDepth)
			return nil
		}
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = p.plainAny(key, e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[p.validUTF8(key, k)] = p.plainAny(key, e, depth+1)
		}
		return out
	case []string:
		return widenPlain(p, key, x, depth)
	case []int64:
		return widenPlain(p, key, x, depth)
	case []float64:
		return widenPlain(p, key, x, depth)
	case []bool:
		return widenPlain(p, key, x, depth)
	}
	return v
}

func widenPlain[T any](p *parser, key string, in []T, depth int) []any {
	out := make([]any, len(in))
	for i, e := range in {
		out[i] = p.plainAny(key, e, depth+1)
	}
	return out
}

func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

func (p *parser) validUTF8(key, s string) string {
	if utf8.ValidString(s) {
		return s
	}
	p.warn(key, ProblemInvalidUTF8, "string repaired with U+FFFD")
	return strings.ToValidUTF8(s, "\uFFFD")
}

// asInt accepts integers, integral floats and numeric strings (LiteLLM and
// some SDKs stringify counts).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return int64(x), true
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		if f, err := x.Float64(); err == nil {
			return asInt(f)
		}
	case string:
		s := strings.TrimSpace(x)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return asInt(f)
		}
	}
	return 0, false
}

// asFloat accepts numbers and numeric strings.
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

// strictInt accepts only integer values (no floats, no strings, no bools),
// as Agent Lightning's token id check does.
func strictInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return 0, false
		}
		i, err := x.Int64()
		return i, err == nil
	}
	return 0, false
}

// listOf returns the items of a list, or of a map whose keys are indices
// (an unflattened list with gaps), in index order; other keys are dropped.
func listOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case map[string]any:
		type item struct {
			i int
			v any
		}
		var items []item
		for k, e := range x {
			if i, err := strconv.Atoi(k); err == nil && i >= 0 {
				items = append(items, item{i, e})
			}
		}
		if len(items) == 0 {
			return nil, false
		}
		sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = it.v
		}
		return out, true
	}
	return nil, false
}

// field returns the first string among the keys of m.
func field(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	return ""
}

// firstPresent returns the first value present among the keys of m.
func firstPresent(m map[string]any, keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v, true
		}
	}
	return nil, false
}

// stringify renders a value as text: strings as they are, nil as "",
// anything else as JSON (plain values always encode).
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
