package rewards

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// make_link_attributes and make_tag_attributes from tests/emitter/test_reward.py.
func TestWriteLinksAndTags(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("agentlightning.link.5.key_match", "stale")
	m.PutStr("agentlightning.tag.3", "stale")
	WriteLinks(m, []Link{{"gen_ai.response.id", "resp-1"}, {"span_id", "abcd"}})
	WriteTags(m, []string{"fast", "reliable"})
	assert.Equal(t, map[string]any{
		"agentlightning.link.0.key_match":   "gen_ai.response.id",
		"agentlightning.link.0.value_match": "resp-1",
		"agentlightning.link.1.key_match":   "span_id",
		"agentlightning.link.1.value_match": "abcd",
		"agentlightning.tag.0":              "fast",
		"agentlightning.tag.1":              "reliable",
	}, m.AsRaw())

	links, err := Links(FromPData(m))
	require.NoError(t, err)
	assert.Equal(t, []Link{{"gen_ai.response.id", "resp-1"}, {"span_id", "abcd"}}, links)
	tags, err := Tags(FromPData(m))
	require.NoError(t, err)
	assert.Equal(t, []string{"fast", "reliable"}, tags)
}

func TestLinksAndTagsRead(t *testing.T) {
	tests := []struct {
		name      string
		attrs     map[string]any
		links     []Link
		tags      []string
		linkError Reason
		tagError  Reason
	}{
		{name: "none", attrs: map[string]any{"x": 1}},
		{
			name: "model view keeps index order",
			attrs: map[string]any{
				"agentlightning.link.1.key_match": "span_id", "agentlightning.link.1.value_match": "b",
				"agentlightning.link.0.key_match": "trace_id", "agentlightning.link.0.value_match": "a",
				"agentlightning.tag.1": "y", "agentlightning.tag.0": "x",
			},
			links: []Link{{"trace_id", "a"}, {"span_id", "b"}},
			tags:  []string{"x", "y"},
		},
		{
			name:      "non-string value_match",
			attrs:     map[string]any{"agentlightning.link.0.key_match": "k", "agentlightning.link.0.value_match": 3},
			linkError: ReasonWrongType,
		},
		{
			name:      "missing value_match",
			attrs:     map[string]any{"agentlightning.link.0.key_match": "k"},
			linkError: ReasonInvalidStructure,
		},
		{
			name:      "links not a list",
			attrs:     map[string]any{"agentlightning.link.first.key_match": "k"},
			linkError: ReasonInvalidStructure,
		},
		{
			name:     "non-string tag",
			attrs:    map[string]any{"agentlightning.tag.0": true},
			tagError: ReasonWrongType,
		},
		{
			name:     "tag key equal to the prefix",
			attrs:    map[string]any{"agentlightning.tag": "x"},
			tagError: ReasonInvalidStructure,
		},
	}
	for _, tt := range tests {
		for view, a := range views(t, tt.attrs) {
			t.Run(tt.name+"/"+view, func(t *testing.T) {
				links, err := Links(a)
				assert.Equal(t, tt.linkError, ReasonOf(err))
				assert.Equal(t, tt.links, links)
				tags, err := Tags(a)
				assert.Equal(t, tt.tagError, ReasonOf(err))
				assert.Equal(t, tt.tags, tags)
			})
		}
	}
}

func TestMatchLinks(t *testing.T) {
	const traceID, spanID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	attrs := map[string]any{"gen_ai.response.id": "resp-1", "n": 5}
	tests := []struct {
		name  string
		links []Link
		want  bool
	}{
		{"no links match everything", nil, true},
		{"span id", []Link{{"span_id", spanID}}, true},
		{"trace and span id", []Link{{"trace_id", traceID}, {"span_id", spanID}}, true},
		{"other span", []Link{{"span_id", "0000000000000001"}}, false},
		{"attribute", []Link{{"gen_ai.response.id", "resp-1"}}, true},
		{"every link must match", []Link{{"gen_ai.response.id", "resp-1"}, {"span_id", "x"}}, false},
		{"missing attribute", []Link{{"gen_ai.request.id", "resp-1"}}, false},
		{"non-string attribute never equals", []Link{{"n", "5"}}, false},
	}
	for _, tt := range tests {
		for view, a := range views(t, attrs) {
			assert.Equal(t, tt.want, MatchLinks(tt.links, traceID, spanID, a), "%s/%s", tt.name, view)
		}
	}
}

// A call whose response id the parser found in a response body matches a
// gen_ai.response.id link; an id on the span itself is never overridden.
func TestWithResponseID(t *testing.T) {
	links := []Link{{LinkKeyResponseID, "chatcmpl-2"}}
	bare := FromModel(map[string]any{"output.value": `{"id":"chatcmpl-2"}`})
	assert.False(t, MatchLinks(links, "t", "s", bare))
	assert.True(t, MatchLinks(links, "t", "s", WithResponseID(bare, "chatcmpl-2")))
	assert.False(t, MatchLinks(links, "t", "s", WithResponseID(bare, "chatcmpl-1")))

	own := FromModel(map[string]any{LinkKeyResponseID: "chatcmpl-1"})
	assert.False(t, MatchLinks(links, "t", "s", WithResponseID(own, "chatcmpl-2")), "the span's own attribute wins")
	assert.Equal(t, own, WithResponseID(own, ""))
}
