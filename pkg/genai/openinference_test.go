package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenInferenceFlattenedMessages(t *testing.T) {
	call, stats := loadFixture(t, "openinference_chat").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleOpenInferenceKind}, call.Classification)
	assert.Equal(t, ConventionOpenInference, call.Convention)
	assert.Equal(t, "openai", call.Provider)
	assert.Equal(t, "gpt-4o", call.RequestModel)
	assert.Equal(t, "chat", call.Operation)
	assert.Equal(t, map[string]any{"temperature": jsonNum("0.7")}, call.RequestParams)
	assert.Equal(t, Usage{InputTokens: 20, OutputTokens: 15, TotalTokens: 35}, call.Usage)
	require.Len(t, call.Messages, 1)
	assert.Equal(t, Message{Role: "user", Content: text("What's the weather in Boston?")}, call.Messages[0])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, []ToolCall{{ID: "call_123", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"location":"Boston, MA"}`}}}, call.Choices[0].Message.ToolCalls)
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "get_weather", call.Tools[0].Function.Name)
	assertGolden(t, "openinference_chat", call.ToOpenAI())
}

func TestOpenInferenceToolTurnAndContents(t *testing.T) {
	call, stats := loadFixture(t, "openinference_tool_turn").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Messages, 3)
	assert.Equal(t, PartsContent(TextPart("What's the weather in Boston? See the map."),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/map.png"}}), call.Messages[0].Content)
	assert.Equal(t, "call_123", call.Messages[1].ToolCalls[0].ID)
	assert.Equal(t, Message{Role: "tool", Content: text("sunny, 70°F"), ToolCallID: "call_123"}, call.Messages[2])
	assert.Equal(t, "stop", call.Choices[0].FinishReason, "span-level finish reasons fill the choices")
	assert.Equal(t, Usage{InputTokens: 50, OutputTokens: 7, TotalTokens: 57, CacheReadInputTokens: 32, ReasoningOutputTokens: 2}, call.Usage)
	assert.Equal(t, "openai", call.Provider)
	assertGolden(t, "openinference_tool_turn", call.ToOpenAI())
}

func TestOpenInferenceCompletionsAPI(t *testing.T) {
	call, stats := parseAttrs(t, "Completion", map[string]any{
		"openinference.span.kind":       "LLM",
		"llm.prompts.0.prompt.text":     "Once upon a time",
		"llm.choices.0.completion.text": " there was a trace.",
		"llm.invocation_parameters":     `{"max_tokens": 16}`,
	})
	require.Len(t, call.Messages, 1)
	assert.Equal(t, Message{Role: "user", Content: text("Once upon a time")}, call.Messages[0])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, " there was a trace.", call.Choices[0].Message.Content.String())
	assert.Equal(t, map[string]any{"max_tokens": jsonNum("16")}, call.RequestParams)
	assert.Equal(t, 0, stats.Total(), stats.Warnings)
}

func TestOpenInferencePromptsAsStringList(t *testing.T) {
	call, _ := parseAttrs(t, "Completion", map[string]any{
		"openinference.span.kind": "LLM",
		"llm.prompts":             []any{"a", "b"},
	})
	require.Len(t, call.Messages, 2)
	assert.Equal(t, "b", call.Messages[1].Content.String())
}

func TestOpenInferenceReasoningContent(t *testing.T) {
	call, _ := parseAttrs(t, "ChatCompletion", map[string]any{
		"openinference.span.kind":                                       "LLM",
		"llm.output_messages.0.message.role":                            "assistant",
		"llm.output_messages.0.message.contents.0.message_content.type": "reasoning",
		"llm.output_messages.0.message.contents.0.message_content.text": "thinking...",
		"llm.output_messages.0.message.contents.1.message_content.type": "text",
		"llm.output_messages.0.message.contents.1.message_content.text": "answer",
	})
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Message{Role: "assistant", Content: text("answer"), ReasoningContent: "thinking..."}, call.Choices[0].Message)
}

// OpenInference's LangChain instrumentation records the LangChain LLMResult
// as output.value: the OpenAI response id exists only as llm_output.id.
func TestLangChainLLMResultResponseID(t *testing.T) {
	call, _ := parseAttrs(t, "ChatOpenAI", map[string]any{
		"openinference.span.kind": "LLM",
		"output.mime_type":        "application/json",
		"output.value": `{"generations":[[{"text":"Sunny","type":"ChatGeneration","message":{"lc":1,"type":"constructor",` +
			`"id":["langchain","schema","messages","AIMessage"],"kwargs":{"content":"Sunny","type":"ai"}}}]],` +
			`"llm_output":{"token_usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15},` +
			`"model_name":"mock-model","id":"chatcmpl-mock-2"},"run":null,"type":"LLMResult"}`,
	})
	assert.Equal(t, "chatcmpl-mock-2", call.ResponseID)
	assert.Equal(t, "mock-model", call.ResponseModel)
	assert.Equal(t, Usage{InputTokens: 12, OutputTokens: 3, TotalTokens: 15}, call.Usage)
}
