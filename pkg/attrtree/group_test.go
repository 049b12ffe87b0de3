package attrtree

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGroupIndexed(t *testing.T) {
	attrs := []KV{
		{"gen_ai.prompt.0.role", "user"},
		{"gen_ai.prompt.0.content", "hi"},
		{"gen_ai.prompt.2.role", "assistant"},
		{"gen_ai.prompt.2.tool_calls.0.id", "call_1"},
		{"gen_ai.prompt.2.tool_calls.0.name", "f"},
		{"gen_ai.prompt.prompt_filter_results", "[]"},
		{"gen_ai.request.model", "gpt-4o"},
		{"gen_ai.request.functions.0.name", "f"},
	}
	assert.Equal(t, []any{
		map[string]any{"role": "user", "content": "hi"},
		map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"id": "call_1", "name": "f"}}},
	}, GroupIndexed(attrs, "gen_ai.prompt"))
	assert.Equal(t, map[string]any{
		"model":     "gpt-4o",
		"functions": []any{map[string]any{"name": "f"}},
	}, GroupIndexed(attrs, "gen_ai.request"))
	assert.Equal(t, map[string]any{}, GroupIndexed(attrs, "gen_ai.completion"))
}

func TestGroupIndexedNestedPathWins(t *testing.T) {
	got := GroupIndexed([]KV{{"p.a.b", 1}, {"p.a", 2}}, "p")
	assert.Equal(t, map[string]any{"a": map[string]any{"b": 1}}, got)
}

func TestIndexed(t *testing.T) {
	attrs := []KV{
		{"p.10.x", "ten"},
		{"p.2.x", "two"},
		{"p.2.y", "two-y"},
		{"p.name", "no index"},
		{"p.99999", "too large"},
		{"q.0", "other prefix"},
		{"p.01", "one"},
	}
	entries, ignored, tooLarge := Indexed(attrs, "p", 1000)
	assert.Equal(t, []Entry{
		{Index: 1, KVs: []KV{{"", "one"}}},
		{Index: 2, KVs: []KV{{"x", "two"}, {"y", "two-y"}}},
		{Index: 10, KVs: []KV{{"x", "ten"}}},
	}, entries)
	assert.Equal(t, 1, ignored)
	assert.Equal(t, 1, tooLarge)
}
