package genai

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAgentLightningWeaveOperation(t *testing.T) {
	l := loadFixture(t, "agentlightning_weave")
	call, stats := l.parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.False(t, call.Classification.IsLLMCall, "a Weave op is classified by name only when asked")
	assert.True(t, IsLLMCall(l.span, WithNameMatchOnly(regexp.MustCompile(`openai\.chat\.completions`))))
	assert.Equal(t, ConventionAgentLightningOperation, call.Convention)
	assert.Equal(t, "chatcmpl-weave", call.ResponseID)
	assert.Equal(t, []int64{151644, 8948, 198}, call.PromptTokenIDs)
	assert.Equal(t, []int64{19, 151645}, call.ResponseTokenIDs)
	assert.Equal(t, []Message{{Role: "user", Content: text("2+2?")}}, call.Messages)
	assert.Equal(t, "4", call.Choices[0].Message.Content.String())
	assert.Equal(t, Usage{InputTokens: 3, OutputTokens: 2, TotalTokens: 5}, call.Usage)
	assert.Equal(t, map[string]any{"temperature": 0.7}, call.RequestParams)
	// Raw trees, as TracerTraceToTriplet builds them from the operation keys.
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "2+2?"}}, call.Raw.Prompt)
	assert.Equal(t, []any{map[string]any{"index": int64(0), "finish_reason": "stop",
		"message": map[string]any{"role": "assistant", "content": "4"}, "token_ids": []any{int64(19), int64(151645)}}}, call.Raw.Completion)
	assert.Equal(t, map[string]any{"model": "Qwen/Qwen2.5-7B-Instruct", "temperature": 0.7}, call.Raw.Request)
	assert.Equal(t, map[string]any{"id": "chatcmpl-weave", "model": "Qwen/Qwen2.5-7B-Instruct",
		"usage": map[string]any{"prompt_tokens": int64(3), "completion_tokens": int64(2)}}, call.Raw.Response)
}

func TestAgentLightningOperationWithoutModelCallIgnored(t *testing.T) {
	call, stats := parseAttrs(t, "agentlightning.operation", map[string]any{
		"agentlightning.operation.name":         "compute",
		"agentlightning.operation.input.x":      1,
		"agentlightning.operation.output":       "a plain output, keyed by the prefix itself",
		"agentlightning.operation.output.other": "x",
	})
	assert.Equal(t, ConventionNone, call.Convention)
	assert.Empty(t, call.ResponseID)
	assert.Zero(t, stats.Total(), "the operation prefix key is legitimate there")
}

func TestTokenIDForms(t *testing.T) {
	tests := []struct {
		name     string
		attrs    map[string]any
		prompt   []int64
		response []int64
		problems int
	}{
		{"int lists", map[string]any{"prompt_token_ids": []any{1, 2}, "response_token_ids": []any{3}}, []int64{1, 2}, []int64{3}, 0},
		{"stringified JSON lists", map[string]any{"prompt_token_ids": "[1, 2]", "response_token_ids": "[3]"}, []int64{1, 2}, []int64{3}, 0},
		{"list of lists takes the first choice", map[string]any{"response_token_ids": "[[3, 4], [5]]"}, nil, []int64{3, 4}, 0},
		{"floats are rejected", map[string]any{"prompt_token_ids": []any{1.5, 2.0}}, nil, nil, 1},
		{"strings in the list are rejected", map[string]any{"prompt_token_ids": []any{"1", "2"}}, nil, nil, 1},
		{"a bad value falls through to the next key", map[string]any{
			"response_token_ids": "oops",
			"agentlightning.operation.output.choices.0.token_ids": []any{9},
		}, nil, []int64{9}, 1},
		{"provider specific fields", map[string]any{
			"agentlightning.operation.output.choices.0.provider_specific_fields.token_ids": []any{8},
		}, nil, []int64{8}, 0},
		{"Weave response_token_ids.0", map[string]any{
			"agentlightning.operation.output.response_token_ids.0": []any{7},
		}, nil, []int64{7}, 0},
		{"an empty list keeps looking", map[string]any{"prompt_token_ids": []any{},
			"agentlightning.operation.output.prompt_token_ids": []any{6}}, []int64{6}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call, stats := parseAttrs(t, "litellm_request", tt.attrs)
			assert.Equal(t, tt.prompt, call.PromptTokenIDs)
			assert.Equal(t, tt.response, call.ResponseTokenIDs)
			assert.Equal(t, tt.problems, stats.Total(), stats.Warnings)
		})
	}
}

func TestLogprobsContent(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat.completion", map[string]any{
		"logprobs.content": `[{"token":"a","logprob":-1.5},{"token":"b","logprob":0}]`,
	})
	require.Zero(t, stats.Total())
	assert.JSONEq(t, `[{"token":"a","logprob":-1.5},{"token":"b","logprob":0}]`, string(call.Logprobs))
	assert.Equal(t, []float64{-1.5, 0}, call.TokenLogprobs())

	call, stats = parseAttrs(t, "openai.chat.completion", map[string]any{"logprobs.content": "{not json"})
	assert.Nil(t, call.Logprobs)
	assert.Equal(t, 1, stats.InvalidJSON)
}

func TestPromptImageURLs(t *testing.T) {
	tests := []struct {
		name string
		raw  any
		want []string
	}{
		{"nil", nil, []string{}},
		{"list with a JSON string content", []any{
			map[string]any{"role": "user", "content": `[{"type":"image_url","image_url":{"url":"u1"}},{"type":"text","text":"x"}]`},
			map[string]any{"role": "user", "content": "not json"},
			map[string]any{"role": "user", "content": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": "u2"}}}},
		}, []string{"u1", "u2"}},
		{"map with index keys sorted numerically", map[string]any{
			"10":                    map[string]any{"content": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": "u10"}}}},
			"9":                     map[string]any{"content": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": "u9"}}}},
			"prompt_filter_results": "[]",
		}, []string{"u9", "u10"}},
		{"single message map", map[string]any{"content": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": "u"}}}}, []string{"u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, PromptImageURLs(tt.raw))
		})
	}
}

func TestOpenInferenceVLLMBody(t *testing.T) {
	call, stats := loadFixture(t, "openinference_vllm_body").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOpenInference, call.Convention, "flattened messages win over input.value")
	assert.Equal(t, "chatcmpl-abc", call.ResponseID, "the response id comes from output.value")
	assert.Equal(t, []int64{151644, 8948, 198, 2610, 525}, call.PromptTokenIDs)
	assert.Equal(t, []int64{19, 151645}, call.ResponseTokenIDs)
	assert.Equal(t, []float64{-0.01, -0.0002}, call.TokenLogprobs())
	assert.Equal(t, Usage{InputTokens: 5, OutputTokens: 2, TotalTokens: 7}, call.Usage)
	assert.Equal(t, map[string]any{"temperature": jsonNum("0.7"), "logprobs": true}, call.RequestParams)
	assert.Equal(t, "stop", call.Choices[0].FinishReason)
}

func TestOpenAIJSONOnly(t *testing.T) {
	call, stats := parseAttrs(t, "llm", map[string]any{
		"input.value":  `{"model":"m","prompt":"Once","max_tokens":5}`,
		"output.value": `{"id":"cmpl-1","choices":[{"index":0,"text":" upon","finish_reason":"length","logprobs":{"tokens":[" upon"],"token_logprobs":[-0.3]}}]}`,
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOpenAIJSON, call.Convention)
	assert.Equal(t, []Message{{Role: "user", Content: text("Once")}}, call.Messages)
	assert.Equal(t, Choice{FinishReason: "length", Message: Message{Role: "assistant", Content: text(" upon")}}, call.Choices[0])
	assert.Equal(t, []float64{-0.3}, call.TokenLogprobs())
	assert.Equal(t, "cmpl-1", call.ResponseID)

	call, _ = parseAttrs(t, "llm", map[string]any{"input.value": `{"q":1}`, "input.mime_type": "text/plain"})
	assert.Equal(t, ConventionNone, call.Convention)
}
