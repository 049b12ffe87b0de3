package rewards

import (
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/attrtree"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Attributes is a read-only view of a span's (or log record's) attributes.
// Values are plain Go values: string, bool, int64, float64 or json.Number,
// []any, map[string]any, []byte, or nil.
type Attributes interface {
	// Get returns the value of key.
	Get(key string) (any, bool)
	// WithPrefix returns the attributes whose key starts with prefix (a raw
	// string prefix, not a path), in the view's order: wire order for pdata,
	// sorted key order for a Go map.
	WithPrefix(prefix string) []attrtree.KV
	// Len is the number of attributes.
	Len() int
}

// FromPData views an OTLP attribute map. Only the values a reader asks for
// are converted, so scanning a span with large prompt attributes stays cheap.
func FromPData(m pcommon.Map) Attributes { return pdataAttrs(m) }

// FromModel views the attributes of a stored span.
func FromModel(a model.Attributes) Attributes { return modelAttrs(a) }

// SpanOf returns the name and attribute view of an OTLP span, ready to pass
// to Read, Value or IsRewardSpan: rewards.Value(rewards.SpanOf(span)).
func SpanOf(span ptrace.Span) (string, Attributes) {
	return span.Name(), FromPData(span.Attributes())
}

// ModelSpanOf returns the name and attribute view of a stored span.
func ModelSpanOf(span model.Span) (string, Attributes) {
	return span.Name, FromModel(span.Attributes)
}

type pdataAttrs pcommon.Map

func (p pdataAttrs) Get(key string) (any, bool) {
	v, ok := pcommon.Map(p).Get(key)
	if !ok {
		return nil, false
	}
	return v.AsRaw(), true
}

func (p pdataAttrs) WithPrefix(prefix string) []attrtree.KV {
	var out []attrtree.KV
	for k, v := range pcommon.Map(p).All() {
		if strings.HasPrefix(k, prefix) {
			out = append(out, attrtree.KV{Key: k, Value: v.AsRaw()})
		}
	}
	return out
}

func (p pdataAttrs) Len() int { return pcommon.Map(p).Len() }

type modelAttrs model.Attributes

func (m modelAttrs) Get(key string) (any, bool) {
	v, ok := m[key]
	return v, ok
}

func (m modelAttrs) WithPrefix(prefix string) []attrtree.KV {
	var out []attrtree.KV
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, attrtree.KV{Key: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (m modelAttrs) Len() int { return len(m) }

// unflattenUnder is Agent Lightning's filter_and_unflatten_attributes over
// kvs: the keys equal to prefix or below "prefix.", unflattened with the
// prefix stripped. A key equal to the prefix is an error.
func unflattenUnder(kvs []attrtree.KV, prefix string) (tree any, found bool, err error) {
	kvs = attrtree.Filter(kvs, prefix)
	if len(kvs) == 0 {
		return nil, false, nil
	}
	tree, err = attrtree.FilterAndUnflatten(kvs, prefix)
	if err != nil {
		return nil, true, &Error{Key: prefix, Reason: ReasonInvalidStructure, Detail: "attribute key equals the prefix"}
	}
	return tree, true, nil
}
