package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLiteLLMRequestSpan(t *testing.T) {
	call, stats := loadFixture(t, "litellm_request").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleSpanName}, call.Classification)
	assert.Equal(t, ConventionLiteLLM, call.Convention)
	assert.Equal(t, "chatcmpl-abc", call.ResponseID)
	assert.Equal(t, "Qwen/Qwen2.5-7B-Instruct", call.RequestModel)
	assert.Equal(t, Usage{InputTokens: 5, OutputTokens: 2, TotalTokens: 7}, call.Usage)
	assert.Equal(t, []int64{151644, 8948, 198, 2610, 525}, call.PromptTokenIDs)
	assert.Equal(t, []int64{19, 151645}, call.ResponseTokenIDs)
	assert.Equal(t, map[string]string{"x-rollout-id": "ro-1", "x-attempt-id": "at-1", "x-sequence-id": "3"}, call.RequestHeaders)
	assert.Equal(t, []Message{{Role: "user", Content: text("2+2?")}}, call.Messages)
	assert.Equal(t, []Choice{{FinishReason: "stop", Message: Message{Role: "assistant", Content: text("4")}}}, call.Choices)
	// The triplet of genai-conventions.md §3.4.
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "2+2?"}}, call.Raw.Prompt)
	assert.Equal(t, []any{map[string]any{"role": "assistant", "content": "4", "finish_reason": "stop"}}, call.Raw.Completion)
	assertGolden(t, "litellm_request", call.ToOpenAI())
}

func TestLiteLLMRawRequestSpan(t *testing.T) {
	call, stats := loadFixture(t, "litellm_raw").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.True(t, call.Classification.IsLLMCall)
	assert.Equal(t, ConventionLiteLLMRaw, call.Convention)
	assert.Equal(t, "hosted_vllm", call.Provider)
	assert.Equal(t, "chatcmpl-abc", call.ResponseID)
	assert.Equal(t, "Qwen/Qwen2.5-7B-Instruct", call.Model())
	assert.Equal(t, []int64{151644, 8948, 198, 2610, 525}, call.PromptTokenIDs)
	assert.Equal(t, []int64{19, 151645}, call.ResponseTokenIDs, "the first of response_token_ids' lists")
	assert.Equal(t, Usage{InputTokens: 5, OutputTokens: 2, TotalTokens: 7}, call.Usage)
	assert.Equal(t, map[string]any{"temperature": 0.7}, call.RequestParams)
	assert.Equal(t, []Message{{Role: "user", Content: text("2+2?")}}, call.Messages)
	assert.Equal(t, []Choice{{FinishReason: "stop", Message: Message{Role: "assistant", Content: text("4")}}}, call.Choices)
	assert.JSONEq(t, `[{"token":"4","logprob":-0.01,"top_logprobs":[]},{"token":"<|im_end|>","logprob":-0.0002,"top_logprobs":[]}]`,
		string(call.Logprobs))
	assert.Equal(t, []float64{-0.01, -0.0002}, call.TokenLogprobs())
}

func TestLiteLLMRawTokenIDsFromChoices(t *testing.T) {
	call, stats := parseAttrs(t, "raw_gen_ai_request", map[string]any{
		"llm.hosted_vllm.prompt_token_ids": "[1, 2]",
		"llm.hosted_vllm.choices":          "[{'index': 0, 'token_ids': [3, 4], 'message': {'role': 'assistant', 'content': 'x'}}]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, []int64{1, 2}, call.PromptTokenIDs)
	assert.Equal(t, []int64{3, 4}, call.ResponseTokenIDs)
}

func TestLiteLLMRawPydanticReprs(t *testing.T) {
	call, stats := parseAttrs(t, "raw_gen_ai_request", map[string]any{
		"llm.openai.messages": "[{'role': 'user', 'content': 'hi'}]",
		"llm.openai.choices": "[Choices(finish_reason='tool_calls', index=0, message=Message(content=None, role='assistant', " +
			"tool_calls=[ChatCompletionMessageToolCall(function=Function(arguments='{\"q\": 1}', name='f'), id='call_x', type='function')], " +
			"provider_specific_fields={'token_ids': [7, 8]}))]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, []ToolCall{{ID: "call_x", Type: "function", Function: FunctionCall{Name: "f", Arguments: `{"q": 1}`}}},
		call.Choices[0].Message.ToolCalls)
	assert.Equal(t, []int64{7, 8}, call.ResponseTokenIDs)
}

func TestLiteLLMRawIgnoresOtherLLMNamespaces(t *testing.T) {
	call, _ := parseAttrs(t, "openai.chat", map[string]any{
		"llm.usage.total_tokens":  5,
		"llm.request.type":        "chat",
		"llm.chat.stop_sequences": []any{"\n"},
	})
	assert.NotEqual(t, ConventionLiteLLMRaw, call.Convention)
	assert.Empty(t, call.Provider)
	assert.Equal(t, int64(5), call.Usage.TotalTokens)
	assert.Equal(t, map[string]any{"stop_sequences": []any{"\n"}}, call.RequestParams)
}

func TestLiteLLMStringifiedContentParts(t *testing.T) {
	call, stats := parseAttrs(t, "litellm_request", map[string]any{
		"gen_ai.prompt.0.role":    "user",
		"gen_ai.prompt.0.content": "[{'type': 'text', 'text': 'Describe'}, {'type': 'image_url', 'image_url': {'url': 'https://example.com/x.png'}}]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, PartsContent(TextPart("Describe"),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/x.png"}}), call.Messages[0].Content)
}

func TestLiteLLMBadHeaders(t *testing.T) {
	call, stats := parseAttrs(t, "litellm_request", map[string]any{AttrRequesterHeaders: "{'x-rollout-id': "})
	assert.Nil(t, call.RequestHeaders)
	assert.Equal(t, 1, stats.InvalidLiteral)
}
