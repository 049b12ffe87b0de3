package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgentOpsChatSpan(t *testing.T) {
	call, stats := loadFixture(t, "agentops_chat").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleAgentOpsKind}, call.Classification)
	assert.Equal(t, ConventionAgentOps, call.Convention)
	assert.Equal(t, "openai", call.Provider, "capitalised gen_ai.system values are lower-cased")
	assert.Equal(t, "chatcmpl-agentops", call.ResponseID)
	assert.Equal(t, Usage{InputTokens: 60, OutputTokens: 18, TotalTokens: 78}, call.Usage)
	assert.Equal(t, map[string]any{"temperature": 0.0}, call.RequestParams)
	require.Len(t, call.Messages, 2)
	assert.Equal(t, Message{Role: "user", Content: text("How many albums?")}, call.Messages[1])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, []ToolCall{{ID: "call_sql", Type: "function",
		Function: FunctionCall{Name: "sql_query", Arguments: `{"q":"SELECT COUNT(*) FROM Album"}`}}}, call.Choices[0].Message.ToolCalls)
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "sql_query", call.Tools[0].Function.Name)
	assert.Equal(t, []int64{1, 2, 3}, call.PromptTokenIDs)
	assert.Equal(t, []int64{4, 5}, call.ResponseTokenIDs)
	assert.Equal(t, []float64{-0.5, -0.25}, call.TokenLogprobs())
	assert.Equal(t, map[string]any{
		"model": "gpt-4o-mini", "temperature": 0.0,
		"tools": []any{map[string]any{"name": "sql_query", "description": "Run a SQL query",
			"parameters": `{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`}},
	}, call.Raw.Request)
	assert.Equal(t, map[string]any{"id": "chatcmpl-agentops", "model": "gpt-4o-mini-2024-07-18"}, call.Raw.Response)
	assertGolden(t, "agentops_chat", call.ToOpenAI())
}

func TestAgentOpsDecoratorSpanIsNotLLM(t *testing.T) {
	span := newSpan(t, "run_agent.agent", map[string]any{"agentops.span.kind": "agent", "operation.name": "run_agent"})
	assert.False(t, IsLLMCall(span))
}
