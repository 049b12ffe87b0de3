package rewards

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// views returns the same raw attributes as a pdata view and as a store
// (model) view, where numbers are json.Number as the store decodes them.
func views(t *testing.T, raw map[string]any) map[string]Attributes {
	t.Helper()
	m := pcommon.NewMap()
	require.NoError(t, m.FromRaw(raw))
	mod := model.Attributes{}
	for k, v := range raw {
		mod[k] = toModel(v)
	}
	return map[string]Attributes{"pdata": FromPData(m), "model": FromModel(mod)}
}

func toModel(v any) any {
	switch x := v.(type) {
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case int:
		return json.Number(strconv.Itoa(x))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toModel(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toModel(e)
		}
		return out
	}
	return v
}

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		span     string
		attrs    map[string]any
		want     []Dimension
		source   Source
		reason   Reason
		isReward bool
	}{
		// tests/emitter/test_reward.py (agentlightning v0.3.0).
		{
			name: "agentops dict", span: "any",
			attrs:  map[string]any{"agentops.task.output": map[string]any{"type": "reward", "value": 3.5}},
			want:   []Dimension{{"primary", 3.5}},
			source: SourceAgentOps, isReward: true,
		},
		{
			name: "agentops JSON string under entity.output", span: "any",
			attrs:  map[string]any{"agentops.entity.output": `{"type": "reward", "value": 1.25}`},
			want:   []Dimension{{"primary", 1.25}},
			source: SourceAgentOps, isReward: true,
		},
		{
			name: "v0.2 annotation reward", span: AnnotationSpanName,
			attrs:  map[string]any{"reward": 0.75},
			want:   []Dimension{{"primary", 0.75}},
			source: SourceAnnotationV02, isReward: true,
		},
		{
			name: "agentops output that is not a reward", span: "any",
			attrs: map[string]any{"agentops.task.output": map[string]any{"foo": "bar"}},
		},
		{
			name: "agentops output without a type", span: "absent",
			attrs: map[string]any{"agentops.entity.output": map[string]any{"value": 1}},
		},
		{
			name: "get_rewards_from_span round trip", span: "x",
			attrs: map[string]any{
				"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0,
				"agentlightning.reward.1.name": "aux", "agentlightning.reward.1.value": 0.25,
			},
			want:   []Dimension{{"primary", 1.0}, {"aux", 0.25}},
			source: SourceAgentLightning, isReward: true,
		},
		{name: "no attributes", span: "x", attrs: map[string]any{}},
		// emit_reward({"task_completion":1.0,"efficiency":0.8}, primary_key="task_completion")
		{
			name: "multi-dimensional keeps the order", span: AnnotationSpanName,
			attrs: map[string]any{
				"agentlightning.reward.0.name": "task_completion", "agentlightning.reward.0.value": 1.0,
				"agentlightning.reward.1.name": "efficiency", "agentlightning.reward.1.value": 0.8,
				"agentlightning.link.0.key_match": "gen_ai.response.id", "agentlightning.link.0.value_match": "chatcmpl-abc",
				"agentlightning.tag.0": "fast",
			},
			want:   []Dimension{{"task_completion", 1.0}, {"efficiency", 0.8}},
			source: SourceAgentLightning, isReward: true,
		},
		// Precedence.
		{
			name: "canonical wins over agentops", span: AnnotationSpanName,
			attrs: map[string]any{
				"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0,
				"agentops.task.output": map[string]any{"type": "reward", "value": 9.0},
				"reward":               5.0,
			},
			want: []Dimension{{"primary", 1.0}}, source: SourceAgentLightning, isReward: true,
		},
		{
			name: "task.output wins over entity.output", span: "x",
			attrs: map[string]any{
				"agentops.task.output":   `{"type":"reward","value":2}`,
				"agentops.entity.output": `{"type":"reward","value":3}`,
			},
			want: []Dimension{{"primary", 2}}, source: SourceAgentOps, isReward: true,
		},
		{
			name: "agentops null value stops the search", span: AnnotationSpanName,
			attrs: map[string]any{
				"agentops.task.output":   map[string]any{"type": "reward", "value": nil},
				"agentops.entity.output": map[string]any{"type": "reward", "value": 4.0},
				"reward":                 0.5,
			},
			source: SourceAgentOps,
		},
		{
			name: "v0.2 attribute on another span name", span: "other",
			attrs: map[string]any{"reward": 0.5},
		},
		{
			name: "plain-text agentops output is ignored", span: AnnotationSpanName,
			attrs:  map[string]any{"agentops.task.output": "all done", "reward": 0.5},
			want:   []Dimension{{"primary", 0.5}},
			source: SourceAnnotationV02, isReward: true,
		},
		{
			name: "JSON array agentops output is ignored", span: "x",
			attrs: map[string]any{"agentops.task.output": `[1, 2]`},
		},
		// Lax numbers, as pydantic reads the canonical list.
		{
			name: "integer, numeric string and bool values", span: "x",
			attrs: map[string]any{
				"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": 2,
				"agentlightning.reward.1.name": "b", "agentlightning.reward.1.value": "0.5",
				"agentlightning.reward.2.name": "c", "agentlightning.reward.2.value": true,
			},
			want:   []Dimension{{"a", 2}, {"b", 0.5}, {"c", 1}},
			source: SourceAgentLightning, isReward: true,
		},
		{
			name: "extra fields in a dimension are ignored", span: "x",
			attrs: map[string]any{
				"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": 1.0, "agentlightning.reward.0.unit": "pt",
			},
			want: []Dimension{{"a", 1}}, source: SourceAgentLightning, isReward: true,
		},
		// Malformed encodings.
		{
			name: "gap in the canonical indices", span: "x",
			attrs: map[string]any{
				"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": 1.0,
				"agentlightning.reward.2.name": "c", "agentlightning.reward.2.value": 1.0,
			},
			reason: ReasonInvalidStructure,
		},
		{
			name: "key equal to the prefix", span: "x",
			attrs:  map[string]any{"agentlightning.reward": 1.0},
			reason: ReasonInvalidStructure,
		},
		{
			name: "a key merely starting with the prefix commits to it", span: "x",
			attrs:  map[string]any{"agentlightning.rewards_total": 3.0, "agentops.task.output": `{"type":"reward","value":1}`},
			reason: ReasonInvalidStructure,
		},
		{
			name: "missing value", span: "x",
			attrs:  map[string]any{"agentlightning.reward.0.name": "a"},
			reason: ReasonInvalidStructure,
		},
		{
			name: "non-string name", span: "x",
			attrs:  map[string]any{"agentlightning.reward.0.name": 3, "agentlightning.reward.0.value": 1.0},
			reason: ReasonWrongType,
		},
		{
			name: "non-numeric value", span: "x",
			attrs:  map[string]any{"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": "high"},
			reason: ReasonNonNumeric,
		},
		{
			name: "list value", span: "x",
			attrs:  map[string]any{"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": []any{1.0, 2.0}},
			reason: ReasonWrongType,
		},
		{
			name: "NaN value", span: "x",
			attrs:  map[string]any{"agentlightning.reward.0.name": "a", "agentlightning.reward.0.value": "NaN"},
			reason: ReasonNonFinite,
		},
		{
			name: "agentops invalid JSON mentioning reward", span: "x",
			attrs:  map[string]any{"agentops.task.output": `{"type": "reward", "value": 1.0`},
			source: "", reason: ReasonInvalidJSON,
		},
		{
			name: "agentops invalid JSON then a valid payload", span: "x",
			attrs: map[string]any{
				"agentops.task.output":   `{"type": "reward", value: 1}`,
				"agentops.entity.output": `{"type": "reward", "value": 0.25}`,
			},
			want: []Dimension{{"primary", 0.25}}, source: SourceAgentOps, isReward: true,
		},
		{
			name: "agentops non-numeric value", span: "x",
			attrs:  map[string]any{"agentops.task.output": map[string]any{"type": "reward", "value": "good"}},
			source: SourceAgentOps, reason: ReasonNonNumeric,
		},
		{
			name: "v0.2 infinite reward", span: AnnotationSpanName,
			attrs:  map[string]any{"reward": math.Inf(1)},
			source: SourceAnnotationV02, reason: ReasonNonFinite,
		},
	}
	for _, tt := range tests {
		for view, a := range views(t, tt.attrs) {
			t.Run(tt.name+"/"+view, func(t *testing.T) {
				got, err := Read(tt.span, a)
				if tt.reason != "" {
					require.Error(t, err)
					assert.Equal(t, tt.reason, ReasonOf(err), err.Error())
				} else {
					require.NoError(t, err)
				}
				assert.Equal(t, tt.want, nilIfEmpty(got.Dimensions))
				if tt.reason == "" {
					assert.Equal(t, tt.source, got.Source)
				}
				v, ok, _ := Value(tt.span, a)
				assert.Equal(t, tt.isReward, ok)
				if tt.isReward {
					assert.Equal(t, tt.want[0].Value, v)
				}
				assert.Equal(t, tt.isReward, IsRewardSpan(tt.span, a))
			})
		}
	}
}

func nilIfEmpty(d []Dimension) []Dimension {
	if len(d) == 0 {
		return nil
	}
	return d
}

func TestDimensionsEmpty(t *testing.T) {
	for view, a := range views(t, map[string]any{"other": 1}) {
		dims, err := Dimensions(a)
		require.NoError(t, err, view)
		assert.Empty(t, dims, view)
	}
}

// find_reward_spans and find_final_reward from tests/emitter/test_reward.py.
func TestRewardSpansAndFinalReward(t *testing.T) {
	annotation := model.Span{Name: AnnotationSpanName, Attributes: model.Attributes{"reward": json.Number("2.0")}}
	plain := model.Span{Name: "other", Attributes: model.Attributes{}}
	assert.Equal(t, []model.Span{annotation}, RewardSpans([]model.Span{plain, annotation, plain}))

	spans := []model.Span{
		{Name: "first", Attributes: model.Attributes{}},
		{Name: AnnotationSpanName, Attributes: model.Attributes{"reward": json.Number("1.0")}},
		{Name: "agentops", Attributes: model.Attributes{"agentops.task.output": map[string]any{"type": "reward", "value": json.Number("5.5")}}},
	}
	v, ok := FinalReward(spans)
	assert.True(t, ok)
	assert.Equal(t, 5.5, v)

	_, ok = FinalReward([]model.Span{
		{Name: "first", Attributes: model.Attributes{}},
		{Name: "second", Attributes: model.Attributes{"agentops.task.output": map[string]any{"foo": "bar"}}},
	})
	assert.False(t, ok)
}

func TestIsRewardOperation(t *testing.T) {
	tests := []struct {
		span  string
		attrs map[string]any
		want  bool
	}{
		{OperationSpanName, map[string]any{OperationNameKey: RewardOperationName}, true},
		{OperationSpanName, map[string]any{OperationNameKey: "compute"}, false},
		{OperationSpanName, map[string]any{}, false},
		{AnnotationSpanName, map[string]any{OperationNameKey: RewardOperationName}, false},
	}
	for _, tt := range tests {
		for view, a := range views(t, tt.attrs) {
			assert.Equal(t, tt.want, IsRewardOperation(tt.span, a), "%s %v %s", tt.span, tt.attrs, view)
			// It carries no value, so it is not a reward span by itself.
			assert.False(t, IsRewardSpan(tt.span, a))
		}
	}
}

func TestWrite(t *testing.T) {
	t.Run("scalar", func(t *testing.T) {
		m := pcommon.NewMap()
		Write(m, []Dimension{{PrimaryName, 1.0}})
		assert.Equal(t, map[string]any{
			"agentlightning.reward.0.name": "primary", "agentlightning.reward.0.value": 1.0,
		}, m.AsRaw())
	})
	t.Run("replaces the previous list and keeps other keys", func(t *testing.T) {
		m := pcommon.NewMap()
		require.NoError(t, m.FromRaw(map[string]any{
			"agentlightning.reward":         7,
			"agentlightning.reward.0.name":  "old",
			"agentlightning.reward.0.value": 1,
			"agentlightning.reward.1.name":  "older",
			"agentlightning.reward.1.value": 2,
			"agentlightning.rewarded":       true,
			"other":                         "kept",
		}))
		Write(m, []Dimension{{"task_completion", 1.0}, {"efficiency", 0.8}})
		assert.Equal(t, map[string]any{
			"agentlightning.reward.0.name": "task_completion", "agentlightning.reward.0.value": 1.0,
			"agentlightning.reward.1.name": "efficiency", "agentlightning.reward.1.value": 0.8,
			"agentlightning.rewarded": true, "other": "kept",
		}, m.AsRaw())
	})
	t.Run("empty removes", func(t *testing.T) {
		m := pcommon.NewMap()
		Write(m, []Dimension{{"a", 1}})
		Write(m, nil)
		assert.Equal(t, 0, m.Len())
	})
	t.Run("round trip", func(t *testing.T) {
		m := pcommon.NewMap()
		dims := []Dimension{{"a", -1.5}, {"b", 0}, {"c", 1e-9}}
		Write(m, dims)
		got, err := Dimensions(FromPData(m))
		require.NoError(t, err)
		assert.Equal(t, dims, got)
	})
}

func TestToFloat(t *testing.T) {
	tests := []struct {
		in     any
		want   float64
		reason Reason
	}{
		{1.5, 1.5, ""},
		{float32(0.5), 0.5, ""},
		{int64(3), 3, ""},
		{json.Number("2.5e1"), 25, ""},
		{false, 0, ""},
		{" 0.25 ", 0.25, ""},
		{"abc", 0, ReasonNonNumeric},
		{json.Number("x"), 0, ReasonNonNumeric},
		{"Infinity", 0, ReasonNonFinite},
		{math.NaN(), 0, ReasonNonFinite},
		{nil, 0, ReasonWrongType},
		{[]byte("1"), 0, ReasonWrongType},
		{map[string]any{}, 0, ReasonWrongType},
	}
	for _, tt := range tests {
		got, reason := ToFloat(tt.in)
		assert.Equal(t, tt.reason, reason, "%#v", tt.in)
		assert.Equal(t, tt.want, got, "%#v", tt.in)
	}
}
