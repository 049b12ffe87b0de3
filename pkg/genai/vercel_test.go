package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVercelV5Call(t *testing.T) {
	call, stats := loadFixture(t, "vercel_v5").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleVercelOperation}, call.Classification)
	assert.Equal(t, ConventionVercel, call.Convention)
	assert.Equal(t, "openai.chat", call.Provider)
	assert.Equal(t, "gpt-4o-mini", call.RequestModel)
	assert.Equal(t, "gpt-4o-mini-2024-07-18", call.ResponseModel)
	assert.Equal(t, "resp_vercel_1", call.ResponseID)
	assert.Equal(t, Usage{InputTokens: 40, OutputTokens: 9, TotalTokens: 49, CacheReadInputTokens: 8}, call.Usage)
	assert.Equal(t, map[string]any{"max_tokens": int64(256), "temperature": 0.2}, call.RequestParams)

	require.Len(t, call.Messages, 4)
	assert.Equal(t, Message{Role: "system", Content: text("You are helpful.")}, call.Messages[0])
	assert.Equal(t, Message{Role: "user", Content: text("Weather in SF?")}, call.Messages[1])
	assert.Equal(t, Message{Role: "assistant", ReasoningContent: "I should call the tool.", ToolCalls: []ToolCall{{
		ID: "call_1", Type: "function", Function: FunctionCall{Name: "weather", Arguments: `{"location":"SF"}`}}}}, call.Messages[2])
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_1", Content: text(`{"temp":72}`)}, call.Messages[3])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Choice{FinishReason: "stop", Message: Message{Role: "assistant", Content: text("It is 72°F in SF.")}}, call.Choices[0])
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "weather", call.Tools[0].Function.Name)
	assert.JSONEq(t, `{"type":"object","properties":{"location":{"type":"string"}}}`, toJSON(t, call.Tools[0].Function.Parameters))
	assertGolden(t, "vercel_v5", call.ToOpenAI())
}

func TestVercelV4ToolCalls(t *testing.T) {
	call, stats := loadFixture(t, "vercel_v4_toolcalls").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.True(t, call.Classification.IsLLMCall)
	require.Len(t, call.Messages, 3)
	assert.Equal(t, PartsContent(TextPart("Where am I?"),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "data:image/png;base64,iVBORw0KGgo="}}), call.Messages[0].Content)
	assert.Equal(t, `{"location_description":"London"}`, call.Messages[1].ToolCalls[0].Function.Arguments)
	assert.Equal(t, Message{Role: "tool", ToolCallID: "toolu_1", Content: text(`{"lat":51.5074,"lng":-0.1278}`)}, call.Messages[2])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, []ToolCall{{ID: "toolu_2", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"lat":51.5074,"lng":-0.1278}`}}}, call.Choices[0].Message.ToolCalls)
	assert.Equal(t, Usage{InputTokens: 120, OutputTokens: 30, TotalTokens: 150}, call.Usage)
	assertGolden(t, "vercel_v4_toolcalls", call.ToOpenAI())
}

func TestVercelOuterSpan(t *testing.T) {
	call, stats := loadFixture(t, "vercel_outer").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: false, Rule: RuleVercelOperation}, call.Classification,
		"the outer span aggregates its doGenerate calls")
	// Parse still reads it, for callers that want the agent-level view.
	require.NotNil(t, call.SystemInstructions)
	assert.Equal(t, "Be brief.", call.SystemInstructions.String())
	assert.Equal(t, []Message{{Role: "user", Content: text("Say hi")}}, call.Messages)
	assert.Equal(t, "Hi!", call.Choices[0].Message.Content.String())
}

func TestVercelReasoningResponse(t *testing.T) {
	call, _ := parseAttrs(t, "ai.generateText.doGenerate", map[string]any{
		"ai.response.reasoning": "step by step",
		"ai.response.text":      "42",
	})
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Message{Role: "assistant", Content: text("42"), ReasoningContent: "step by step"}, call.Choices[0].Message)
	assert.Equal(t, RuleSpanName, call.Classification.Rule)
	assert.True(t, call.Classification.IsLLMCall)
}

func TestVercelToolsAsOneJSONString(t *testing.T) {
	call, _ := parseAttrs(t, "ai.generateText.doGenerate", map[string]any{
		"ai.prompt.tools": `[{"type":"function","name":"f","parameters":{"type":"object"}}]`,
	})
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "f", call.Tools[0].Function.Name)
}

// streamText's doStream span writes ai.response.toolCalls with the stream
// part type "tool-call"; OpenAI's format (and fine-tuning) takes "function".
func TestVercelStreamToolCallsAreFunctions(t *testing.T) {
	call, _ := parseAttrs(t, "ai.streamText.doStream", map[string]any{
		"ai.operationId":        "ai.streamText.doStream",
		"ai.response.toolCalls": `[{"type":"tool-call","toolCallId":"call_1","toolName":"get_weather","input":"{\"city\":\"Paris\"}"}]`,
	})
	require.Len(t, call.Choices, 1)
	assert.Equal(t, []ToolCall{{ID: "call_1", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}, call.Choices[0].Message.ToolCalls)
}
