package attrtree

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFlatten(t *testing.T) {
	tests := []struct {
		name   string
		in     any
		expand bool
		want   []KV
	}{
		{
			name:   "docstring example expanded",
			in:     map[string]any{"a": map[string]any{"b": 1, "c": []any{2, 3}}},
			expand: true,
			want:   []KV{{"a.b", 1}, {"a.c.0", 2}, {"a.c.1", 3}},
		},
		{
			name: "homogeneous leaf list kept",
			in:   map[string]any{"a": map[string]any{"b": 1, "c": []any{2, 3}}},
			want: []KV{{"a.b", 1}, {"a.c", []any{2, 3}}},
		},
		{
			name: "emitter annotation example",
			in:   map[string]any{"meta": map[string]any{"tag": "foo"}, "score": 1.5},
			want: []KV{{"meta.tag", "foo"}, {"score", 1.5}},
		},
		{
			name: "root list gives index keys",
			in:   []any{"x", map[string]any{"k": true}},
			want: []KV{{"0", "x"}, {"1.k", true}},
		},
		{
			name: "root list of primitives is expanded even without expand",
			in:   []any{"a", "b"},
			want: []KV{{"0", "a"}, {"1", "b"}},
		},
		{
			name: "root primitive gives the empty key",
			in:   42,
			want: []KV{{"", 42}},
		},
		{
			name: "empty lists and maps vanish",
			in:   map[string]any{"a": []any{}, "b": map[string]any{}, "c": "kept"},
			want: []KV{{"c", "kept"}},
		},
		{
			name: "mixed primitive list is expanded",
			in:   map[string]any{"a": []any{1, "x"}},
			want: []KV{{"a.0", 1}, {"a.1", "x"}},
		},
		{
			name: "int and float mix is mixed",
			in:   map[string]any{"a": []any{1, 2.5}},
			want: []KV{{"a.0", 1}, {"a.1", 2.5}},
		},
		{
			name: "json numbers of one kind stay a list",
			in:   map[string]any{"ids": []any{json.Number("1"), json.Number("2")}},
			want: []KV{{"ids", []any{json.Number("1"), json.Number("2")}}},
		},
		{
			name: "list of maps is expanded",
			in: map[string]any{"agentlightning.reward": []any{
				map[string]any{"name": "primary", "value": 1.0},
			}},
			want: []KV{{"agentlightning.reward.0.name", "primary"}, {"agentlightning.reward.0.value", 1.0}},
		},
		{
			name: "typed slices are lists",
			in:   map[string]any{"tags": []string{"fast", "reliable"}},
			want: []KV{{"tags", []any{"fast", "reliable"}}},
		},
		{
			name:   "tag helper expands typed slices",
			in:     map[string]any{"agentlightning.tag": []string{"fast", "reliable"}},
			expand: true,
			want:   []KV{{"agentlightning.tag.0", "fast"}, {"agentlightning.tag.1", "reliable"}},
		},
		{
			name: "nil is a leaf",
			in:   map[string]any{"a": nil},
			want: []KV{{"a", nil}},
		},
		{
			name: "nil inside a list expands it",
			in:   map[string]any{"a": []any{nil, 1}},
			want: []KV{{"a.0", nil}, {"a.1", 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Flatten(tt.in, FlattenOptions{ExpandLeafLists: tt.expand})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFlattenMap(t *testing.T) {
	got := FlattenMap(map[string]any{"a": map[string]any{"b": "c"}}, FlattenOptions{})
	assert.Equal(t, map[string]any{"a.b": "c"}, got)
}
