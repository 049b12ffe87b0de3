package rewards

import (
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Link keys with a special meaning: they match a span's own ids (lower-case
// hex) instead of one of its attributes.
const (
	LinkKeyTraceID = "trace_id"
	LinkKeySpanID  = "span_id"
	// LinkKeyResponseID is the attribute Agent Lightning links rewards to
	// LLM responses with.
	LinkKeyResponseID = "gen_ai.response.id"

	keyMatchField   = "key_match"
	valueMatchField = "value_match"
)

// Link points an annotation at the spans whose key_match equals
// value_match (see MatchLinks).
type Link struct {
	KeyMatch   string `json:"key_match"`
	ValueMatch string `json:"value_match"`
}

// Links is extract_links_from_attributes: the agentlightning.link.<i> list,
// nil when there is none. Each item needs string key_match and value_match.
func Links(a Attributes) ([]Link, error) {
	tree, found, err := unflattenUnder(a.WithPrefix(LinkPrefix), LinkPrefix)
	if err != nil || !found {
		return nil, err
	}
	list, ok := tree.([]any)
	if !ok {
		return nil, &Error{Key: LinkPrefix, Reason: ReasonInvalidStructure, Detail: "not a list indexed 0..n-1"}
	}
	links := make([]Link, 0, len(list))
	for i, item := range list {
		key := LinkPrefix + "." + strconv.Itoa(i)
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, &Error{Key: key, Reason: ReasonInvalidStructure, Detail: "not an object with key_match and value_match"}
		}
		km, err := stringField(obj, key, keyMatchField)
		if err != nil {
			return nil, err
		}
		vm, err := stringField(obj, key, valueMatchField)
		if err != nil {
			return nil, err
		}
		links = append(links, Link{KeyMatch: km, ValueMatch: vm})
	}
	return links, nil
}

func stringField(obj map[string]any, key, field string) (string, error) {
	raw, ok := obj[field]
	if !ok {
		return "", &Error{Key: key + "." + field, Reason: ReasonInvalidStructure, Detail: "missing"}
	}
	s, ok := raw.(string)
	if !ok {
		return "", &Error{Key: key + "." + field, Reason: ReasonWrongType, Detail: fmt.Sprintf("%T", raw)}
	}
	return s, nil
}

// WriteLinks replaces the agentlightning.link attributes of m with links,
// as make_link_attributes writes them.
func WriteLinks(m pcommon.Map, links []Link) {
	removeUnder(m, LinkPrefix)
	for i, l := range links {
		base := LinkPrefix + "." + strconv.Itoa(i) + "."
		m.PutStr(base+keyMatchField, l.KeyMatch)
		m.PutStr(base+valueMatchField, l.ValueMatch)
	}
}

// MatchLinks is query_linked_spans for one span: it reports whether the
// span matches every link. The keys trace_id and span_id are compared with
// the span's own ids (pass them as lower-case hex); any other key with the
// span attribute of that name, which must be a string equal to value_match.
// An empty list matches every span.
func MatchLinks(links []Link, traceID, spanID string, a Attributes) bool {
	for _, l := range links {
		switch l.KeyMatch {
		case LinkKeyTraceID:
			if traceID != l.ValueMatch {
				return false
			}
		case LinkKeySpanID:
			if spanID != l.ValueMatch {
				return false
			}
		default:
			v, ok := a.Get(l.KeyMatch)
			if s, isStr := v.(string); !ok || !isStr || s != l.ValueMatch {
				return false
			}
		}
	}
	return true
}

// WithResponseID views a call's attributes with id as its gen_ai.response.id
// when the span has no such attribute. Some instrumentations record the
// response id only inside a response body (OpenInference's output.value,
// LangChain's llm_output.id); the GenAI parser finds it there, and a reward
// linked with key_match=gen_ai.response.id must match that call as it
// matches one whose span carries the attribute.
func WithResponseID(a Attributes, id string) Attributes {
	if id == "" {
		return a
	}
	if v, ok := a.Get(LinkKeyResponseID); ok {
		if s, isStr := v.(string); isStr && s != "" {
			return a
		}
	}
	return responseIDAttrs{Attributes: a, id: id}
}

type responseIDAttrs struct {
	Attributes
	id string
}

func (r responseIDAttrs) Get(key string) (any, bool) {
	if key == LinkKeyResponseID {
		return r.id, true
	}
	return r.Attributes.Get(key)
}

// Tags is extract_tags_from_attributes: the agentlightning.tag.<i> strings,
// nil when there is none.
func Tags(a Attributes) ([]string, error) {
	tree, found, err := unflattenUnder(a.WithPrefix(TagPrefix), TagPrefix)
	if err != nil || !found {
		return nil, err
	}
	list, ok := tree.([]any)
	if !ok {
		return nil, &Error{Key: TagPrefix, Reason: ReasonInvalidStructure, Detail: "not a list indexed 0..n-1"}
	}
	tags := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, &Error{Key: TagPrefix + "." + strconv.Itoa(i), Reason: ReasonWrongType, Detail: fmt.Sprintf("%T", item)}
		}
		tags = append(tags, s)
	}
	return tags, nil
}

// WriteTags replaces the agentlightning.tag attributes of m with tags, as
// make_tag_attributes writes them.
func WriteTags(m pcommon.Map, tags []string) {
	removeUnder(m, TagPrefix)
	for i, t := range tags {
		m.PutStr(TagPrefix+"."+strconv.Itoa(i), t)
	}
}
