package attrtree

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnflatten(t *testing.T) {
	tests := []struct {
		name string
		in   []KV
		want any
	}{
		{
			name: "docstring example",
			in:   []KV{{"a.b", 1}, {"a.c.0", 2}, {"a.c.1", 3}},
			want: map[string]any{"a": map[string]any{"b": 1, "c": []any{2, 3}}},
		},
		{
			name: "empty input is an empty map",
			in:   nil,
			want: map[string]any{},
		},
		{
			name: "root indices become a root list",
			in:   []KV{{"1", "b"}, {"0", "a"}},
			want: []any{"a", "b"},
		},
		{
			name: "non consecutive indices stay a map",
			in:   []KV{{"0", "a"}, {"2", "c"}},
			want: map[string]any{"0": "a", "2": "c"},
		},
		{
			name: "indices not starting at zero stay a map",
			in:   []KV{{"1", "a"}},
			want: map[string]any{"1": "a"},
		},
		{
			name: "mixed keys stay a map",
			in: []KV{
				{"0.role", "user"},
				{"prompt_filter_results", "[]"},
			},
			want: map[string]any{
				"0":                     map[string]any{"role": "user"},
				"prompt_filter_results": "[]",
			},
		},
		{
			name: "leading zero is not an index",
			in:   []KV{{"00", "a"}, {"1", "b"}},
			want: map[string]any{"00": "a", "1": "b"},
		},
		{
			name: "non ascii digits are not indices",
			in:   []KV{{"٠", "a"}},
			want: map[string]any{"٠": "a"},
		},
		{
			name: "later nested path replaces an earlier primitive",
			in:   []KV{{"a", 1}, {"a.b", 2}},
			want: map[string]any{"a": map[string]any{"b": 2}},
		},
		{
			name: "later primitive replaces an earlier subtree",
			in:   []KV{{"a.b", 2}, {"a", 1}},
			want: map[string]any{"a": 1},
		},
		{
			name: "root primitive key",
			in:   []KV{{"", 5}},
			want: map[string]any{"": 5},
		},
		{
			name: "nested lists",
			in:   []KV{{"0.0", "x"}, {"0.1", "y"}, {"1.0", "z"}},
			want: []any{[]any{"x", "y"}, []any{"z"}},
		},
		{
			name: "map values are leaves",
			in:   []KV{{"a", map[string]any{"0": "kept as a map"}}},
			want: map[string]any{"a": map[string]any{"0": "kept as a map"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Unflatten(tt.in))
		})
	}
}

func TestUnflattenDoesNotModifyValues(t *testing.T) {
	leaf := map[string]any{"0": "x"}
	got := Unflatten([]KV{{"a", leaf}, {"a.b", 1}})
	assert.Equal(t, map[string]any{"a": map[string]any{"b": 1}}, got)
	assert.Equal(t, map[string]any{"0": "x"}, leaf)
}

func TestUnflattenMapSortsKeys(t *testing.T) {
	// Sorted, "a" comes before "a.b": the nested path wins.
	got := UnflattenMap(map[string]any{"a.b": 2, "a": 1})
	assert.Equal(t, map[string]any{"a": map[string]any{"b": 2}}, got)
}

func TestRoundTrip(t *testing.T) {
	values := []any{
		map[string]any{"a": map[string]any{"b": "x", "c": []any{"y", "z"}}},
		[]any{map[string]any{"name": "primary", "value": 1.0}, map[string]any{"name": "aux", "value": 0.25}},
		map[string]any{"sparse": map[string]any{"0": "a", "5": "b"}},
		map[string]any{"ids": []any{1, 2, 3}, "nested": []any{[]any{"p"}, []any{"q", "r"}}},
	}
	for _, expand := range []bool{false, true} {
		for _, v := range values {
			flat := Flatten(v, FlattenOptions{ExpandLeafLists: expand})
			assert.Equal(t, v, Unflatten(flat), "expand=%v", expand)
		}
	}
	// And the other way: flat → nested → flat.
	flat := []KV{{"a.0.b", "x"}, {"a.1.b", "y"}, {"c", "z"}}
	assert.ElementsMatch(t, flat, Flatten(Unflatten(flat), FlattenOptions{ExpandLeafLists: true}))
}

func TestFilterAndUnflatten(t *testing.T) {
	attrs := []KV{
		{"agentlightning.reward.0.name", "task_completion"},
		{"agentlightning.reward.0.value", 1.0},
		{"agentlightning.reward.1.name", "efficiency"},
		{"agentlightning.reward.1.value", 0.8},
		{"agentlightning.rewarded", "not under the prefix"},
		{"gen_ai.response.id", "chatcmpl-abc"},
	}
	got, err := FilterAndUnflatten(attrs, "agentlightning.reward")
	require.NoError(t, err)
	assert.Equal(t, []any{
		map[string]any{"name": "task_completion", "value": 1.0},
		map[string]any{"name": "efficiency", "value": 0.8},
	}, got)

	got, err = FilterAndUnflatten(attrs, "gen_ai.prompt")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{}, got)
	assert.True(t, IsEmpty(got))

	got, err = FilterAndUnflatten([]KV{{"gen_ai.prompt", "legacy string"}, {"gen_ai.prompt.0.role", "user"}}, "gen_ai.prompt")
	require.ErrorIs(t, err, ErrPrefixKey)
	assert.Equal(t, []any{map[string]any{"role": "user"}}, got)
}

func TestIsEmpty(t *testing.T) {
	assert.True(t, IsEmpty(nil))
	assert.True(t, IsEmpty(map[string]any{}))
	assert.True(t, IsEmpty([]any{}))
	assert.False(t, IsEmpty(""))
	assert.False(t, IsEmpty([]any{nil}))
}

func TestIndex(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "7": true, "12": true, "": false, "01": false, "-1": false, "1a": false, "1234567890": false} {
		_, ok := Index(s)
		assert.Equal(t, want, ok, s)
	}
}

func FuzzUnflatten(f *testing.F) {
	f.Add("a.b\na.c.0\na.c.1")
	f.Add("0\n1\n2")
	f.Add("0\n2\nprompt_filter_results")
	f.Add("a\na.b\na.b.c")
	f.Add("..\n.\n\n0.")
	f.Fuzz(func(t *testing.T, keys string) {
		var kvs []KV
		clean := true
		for i, k := range strings.Split(keys, "\n") {
			kvs = append(kvs, KV{Key: k, Value: i})
			for _, seg := range strings.Split(k, ".") {
				if seg == "" {
					clean = false
				}
			}
		}
		tree := Unflatten(kvs)
		switch tree.(type) {
		case map[string]any, []any:
		default:
			t.Fatalf("Unflatten returned %T", tree)
		}
		_, _ = FilterAndUnflatten(kvs, "a")
		_ = GroupIndexed(kvs, "a")
		if clean {
			// Without empty segments, flattening is the inverse of unflattening.
			again := Unflatten(Flatten(tree, FlattenOptions{ExpandLeafLists: true}))
			assert.Equal(t, tree, again)
		}
	})
}
