package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenLLMetryIndexedKeys(t *testing.T) {
	call, stats := loadFixture(t, "openllmetry_chat").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleOpenLLMetryType}, call.Classification)
	assert.Equal(t, ConventionOpenLLMetry, call.Convention)
	assert.Equal(t, "openai", call.Provider)
	assert.Equal(t, "chat", call.Operation)
	assert.Equal(t, "gpt-4o", call.Model())
	assert.Equal(t, "chatcmpl-abc", call.ResponseID)
	assert.Equal(t, Usage{InputTokens: 97, OutputTokens: 12, TotalTokens: 109}, call.Usage)

	require.Len(t, call.Messages, 4)
	assert.Equal(t, Message{Role: "system", Content: text("You are helpful.")}, call.Messages[0])
	assert.Equal(t, Message{Role: "user", Content: text("Weather in Paris?")}, call.Messages[1])
	assert.Equal(t, Message{Role: "assistant", ToolCalls: []ToolCall{{ID: "call_1", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}}}}, call.Messages[2])
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_1", Content: text("rainy, 57°F")}, call.Messages[3])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Choice{FinishReason: "stop", Message: Message{Role: "assistant", Content: text("It is rainy.")}}, call.Choices[0])
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "get_weather", call.Tools[0].Function.Name)
	assert.JSONEq(t, `{"type":"object","properties":{"location":{"type":"string"}}}`, toJSON(t, call.Tools[0].Function.Parameters))

	// Agent Lightning's raw trees.
	assert.Equal(t, []any{
		map[string]any{"role": "system", "content": "You are helpful."},
		map[string]any{"role": "user", "content": "Weather in Paris?"},
		map[string]any{"role": "assistant", "tool_calls": []any{map[string]any{"id": "call_1", "name": "get_weather", "arguments": `{"location":"Paris"}`}}},
		map[string]any{"role": "tool", "tool_call_id": "call_1", "content": "rainy, 57°F"},
	}, call.Raw.Prompt)
	assert.Equal(t, []any{map[string]any{"role": "assistant", "content": "It is rainy.", "finish_reason": "stop"}}, call.Raw.Completion)
	assert.Equal(t, map[string]any{"model": "gpt-4o"}, call.Raw.Request)
	assert.Equal(t, map[string]any{"id": "chatcmpl-abc"}, call.Raw.Response)
	assert.Equal(t, []string{}, call.Raw.ImageURLs)
	assertGolden(t, "openllmetry_chat", call.ToOpenAI())
}

func TestOpenLLMetryV054UsesOTelAttributes(t *testing.T) {
	call, stats := loadFixture(t, "openllmetry_v054").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTel, call.Convention)
	assert.Equal(t, "developer", call.Messages[0].Role)
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_7", Content: text(`{"fr":"bonjour"}`)}, call.Messages[3])
	assert.Equal(t, int64(16), call.Usage.CacheReadInputTokens)
	require.Len(t, call.Tools, 1)
	assertGolden(t, "openllmetry_v054", call.ToOpenAI())
}

func TestOpenLLMetryListContentAsJSONString(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"llm.request.type":        "chat",
		"gen_ai.prompt.0.role":    "user",
		"gen_ai.prompt.0.content": `[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]`,
		"gen_ai.prompt.1.role":    "user",
		"gen_ai.prompt.1.content": "[not JSON, just brackets]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Messages, 2)
	assert.Equal(t, PartsContent(TextPart("What is this?"),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/a.png"}}), call.Messages[0].Content)
	assert.Equal(t, text("[not JSON, just brackets]"), call.Messages[1].Content)
	assert.Equal(t, []string{"https://example.com/a.png"}, call.Raw.ImageURLs)
}

func TestOpenLLMetryMissingRoleInferred(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"gen_ai.prompt.0.content":                "no role, dropped",
		"gen_ai.prompt.1.tool_calls.0.id":        "call_9",
		"gen_ai.prompt.1.tool_calls.0.name":      "f",
		"gen_ai.prompt.2.tool_call_id":           "call_9",
		"gen_ai.prompt.2.content":                "result",
		"gen_ai.completion.0.content":            "done",
		"gen_ai.completion.0.finish_reason":      "stop",
		"gen_ai.prompt.1.tool_calls.0.arguments": "{}",
	})
	assert.Equal(t, 1, stats.MissingField)
	require.Len(t, call.Messages, 2)
	assert.Equal(t, "assistant", call.Messages[0].Role)
	assert.Equal(t, "tool", call.Messages[1].Role)
	assert.Equal(t, "call_9", call.Messages[1].ToolCallID)
	assert.Equal(t, "assistant", call.Choices[0].Message.Role, "a completion without a role is the assistant's")
}

func TestOpenLLMetryLiteLLMFunctionCallCompletion(t *testing.T) {
	call, _ := parseAttrs(t, "litellm_request", map[string]any{
		"gen_ai.completion.0.role":                    "assistant",
		"gen_ai.completion.0.finish_reason":           "tool_calls",
		"gen_ai.completion.0.function_call.name":      "get_weather",
		"gen_ai.completion.0.function_call.arguments": `{"location":"Paris"}`,
	})
	require.Len(t, call.Choices, 1)
	assert.Equal(t, []ToolCall{{Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`}}},
		call.Choices[0].Message.ToolCalls)
}

func TestOpenLLMetryToolDefinitionsFlattened(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"gen_ai.tool.definitions.0.name":        "search",
		"gen_ai.tool.definitions.0.description": "Search the web",
		"gen_ai.tool.definitions.0.parameters":  `{"type":"object"}`,
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Tools, 1)
	assert.Equal(t, &FunctionDef{Name: "search", Description: "Search the web", Parameters: map[string]any{"type": "object"}},
		call.Tools[0].Function)
}

func TestGenAIRequestFunctionsTools(t *testing.T) {
	call, _ := parseAttrs(t, "openai.chat.completion", map[string]any{
		"gen_ai.request.functions.0.name":        "calc",
		"gen_ai.request.functions.0.description": "Evaluate",
		"gen_ai.request.functions.0.parameters":  `{"type":"object","properties":{"expr":{"type":"string"}}}`,
	})
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "calc", call.Tools[0].Function.Name)
	assert.Equal(t, "Evaluate", call.Tools[0].Function.Description)
	assert.Equal(t, map[string]any{"functions": []any{map[string]any{
		"name": "calc", "description": "Evaluate", "parameters": `{"type":"object","properties":{"expr":{"type":"string"}}}`,
	}}}, call.Raw.Request, "Agent Lightning keeps the functions in the request metadata")
}
