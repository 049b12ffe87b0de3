package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The same call recorded under semantic-conventions-genai v0.1.0 (semconv
// v1.45: gen_ai.provider.name, gen_ai.response.finish_reasons, reasoning
// parts, cache_write) and under every earlier spelling the parser still
// reads (gen_ai.system, the singular finish_reason, cache_creation and
// its underscore form) gives one Call.
func TestGenAIConventionVersionsGiveOneCall(t *testing.T) {
	input := `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]`
	output := `[{"role":"assistant","parts":[{"type":"reasoning","content":"Look it up."},` +
		`{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]}]`
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{
			"gen_ai.operation.name":      "chat",
			"gen_ai.request.model":       "gpt-4o",
			"gen_ai.response.id":         "chatcmpl-1",
			"gen_ai.input.messages":      input,
			"gen_ai.output.messages":     output,
			"gen_ai.usage.input_tokens":  int64(40),
			"gen_ai.usage.output_tokens": int64(12),
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	forms := map[string]map[string]any{
		"semantic-conventions-genai v0.1.0": base(map[string]any{
			"gen_ai.provider.name":                  "openai",
			"gen_ai.response.finish_reasons":        []any{"tool_call"},
			"gen_ai.usage.cache_read.input_tokens":  int64(8),
			"gen_ai.usage.cache_write.input_tokens": int64(16),
			"gen_ai.usage.reasoning.output_tokens":  int64(4),
		}),
		"semconv 1.40": base(map[string]any{
			"gen_ai.provider.name":                     "openai",
			"gen_ai.response.finish_reasons":           `["tool_calls"]`,
			"gen_ai.usage.cache_read.input_tokens":     int64(8),
			"gen_ai.usage.cache_creation.input_tokens": int64(16),
			"gen_ai.usage.reasoning.output_tokens":     int64(4),
		}),
		"before semconv 1.37": base(map[string]any{
			"gen_ai.system":                            "openai",
			"gen_ai.response.finish_reason":            "tool_calls",
			"gen_ai.usage.cache_read_input_tokens":     int64(8),
			"gen_ai.usage.cache_creation_input_tokens": int64(16),
			"gen_ai.usage.reasoning_tokens":            int64(4),
		}),
	}
	var first *Call
	for name, attrs := range forms {
		call, stats := parseAttrs(t, "chat gpt-4o", attrs)
		require.Zero(t, stats.Total(), "%s: %v", name, stats.Warnings)
		assert.Equal(t, "openai", call.Provider, name)
		assert.Equal(t, []string{"tool_calls"}, call.FinishReasons, name)
		assert.Equal(t, Usage{InputTokens: 40, OutputTokens: 12, TotalTokens: 52, CacheReadInputTokens: 8,
			CacheCreationInputTokens: 16, ReasoningOutputTokens: 4}, call.Usage, name)
		require.Len(t, call.Choices, 1, name)
		assert.Equal(t, Message{Role: "assistant", ReasoningContent: "Look it up.", ToolCalls: []ToolCall{{
			ID: "call_1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
			call.Choices[0].Message, name)
		assert.Equal(t, "tool_calls", call.Choices[0].FinishReason, name)
		if first == nil {
			first = call
			continue
		}
		assert.Equal(t, first.ToOpenAI(), call.ToOpenAI(), name)
	}
}

// Operations of the latest registry that are not model calls: agents
// (invoke_agent, which absorbed invoke_workflow, and invoke_workflow itself
// as older instrumentations send it), planning, tools, retrieval and the
// memory operations are never triplets, whatever the span is called.
func TestNonModelOperationsOfTheLatestRegistry(t *testing.T) {
	for _, op := range []string{
		"invoke_agent", "invoke_workflow", "create_agent", "plan", "execute_tool", "embeddings", "retrieval",
		"search_memory", "create_memory", "update_memory", "upsert_memory", "delete_memory",
		"create_memory_store", "delete_memory_store",
	} {
		call, _ := parseAttrs(t, "chat "+op, map[string]any{"gen_ai.operation.name": op})
		assert.Equal(t, Classification{IsLLMCall: false, Rule: RuleOperationName}, call.Classification, op)
	}
	for _, op := range []string{"chat", "text_completion", "generate_content"} {
		call, _ := parseAttrs(t, op, map[string]any{"gen_ai.operation.name": op})
		assert.True(t, call.Classification.IsLLMCall, op)
	}
}
