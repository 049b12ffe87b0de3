package genai

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestAttachChildToolCalls(t *testing.T) {
	weather := map[string]any{
		AttrToolName: "get_weather", AttrToolParameters: `{"city":"Paris"}`, AttrToolCallID: "call_1", AttrToolCallType: "function",
	}
	listed := []ToolCall{{ID: "call_0", Type: "function", Function: FunctionCall{Name: "listed", Arguments: "{}"}}}
	tests := []struct {
		name     string
		choices  []Choice
		children []map[string]any
		want     []Choice
	}{
		{
			name:    "two tool children in order",
			choices: []Choice{{Message: Message{Role: "assistant"}, FinishReason: "tool_calls"}},
			children: []map[string]any{weather, {
				AttrToolName: "get_time", AttrToolParameters: `{"tz":"CET"}`, AttrToolCallID: "call_2",
			}},
			want: []Choice{{Message: Message{Role: "assistant", ToolCalls: []ToolCall{
				{ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
				{ID: "call_2", Type: "function", Function: FunctionCall{Name: "get_time", Arguments: `{"tz":"CET"}`}},
			}}, FinishReason: "tool_calls"}},
		},
		{
			name:     "listed tool calls win",
			choices:  []Choice{{Message: Message{Role: "assistant", ToolCalls: listed}}},
			children: []map[string]any{weather},
			want:     []Choice{{Message: Message{Role: "assistant", ToolCalls: listed}}},
		},
		{
			name:    "children without a string tool.name are not tool spans",
			choices: []Choice{{Message: Message{Role: "assistant"}}},
			children: []map[string]any{
				{"http.method": "GET"},
				{AttrToolName: int64(3), AttrToolCallID: "call_x"},
				{AttrToolName: "", AttrToolCallID: "call_y"},
			},
			want: []Choice{{Message: Message{Role: "assistant"}}},
		},
		{
			name:     "non-string fields are left empty",
			choices:  []Choice{{Message: Message{Role: "assistant"}}},
			children: []map[string]any{{AttrToolName: "f", AttrToolParameters: true, AttrToolCallType: int64(1)}},
			want: []Choice{{Message: Message{Role: "assistant", ToolCalls: []ToolCall{
				{Type: "function", Function: FunctionCall{Name: "f"}},
			}}}},
		},
		{
			name:     "no choice to complete",
			children: []map[string]any{weather},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Both attribute shapes must give the same result.
			var maps []pcommon.Map
			var attrs []model.Attributes
			for _, raw := range tt.children {
				m := pcommon.NewMap()
				require.NoError(t, m.FromRaw(raw))
				maps = append(maps, m)
				attrs = append(attrs, model.Attributes(raw))
			}
			fromPData := &Call{Choices: slices.Clone(tt.choices)}
			fromPData.AttachChildToolCalls(slices.Values(maps))
			assert.Equal(t, tt.want, fromPData.Choices)

			fromModel := &Call{Choices: slices.Clone(tt.choices)}
			fromModel.AttachChildToolCallsModel(slices.Values(attrs))
			assert.Equal(t, tt.want, fromModel.Choices)
		})
	}
}

// A call that keeps its own tool calls does not look at its children.
func TestAttachChildToolCallsSkipsChildrenWhenListed(t *testing.T) {
	c := &Call{Choices: []Choice{{Message: Message{ToolCalls: []ToolCall{{ID: "call_0"}}}}}}
	c.AttachChildToolCalls(func(func(pcommon.Map) bool) { t.Fatal("children iterated") })
}
