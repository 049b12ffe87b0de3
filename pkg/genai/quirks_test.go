package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quirks of genai-conventions.md §0.5 and §6, one test each.

func otelInput(parts string) map[string]any {
	return map[string]any{"gen_ai.operation.name": "chat", "gen_ai.input.messages": parts}
}

func TestQuirk_ToolCallResponseResultVsResponse(t *testing.T) {
	for _, key := range []string{"response", "result"} {
		call, stats := parseAttrs(t, "chat m", otelInput(
			`[{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","`+key+`":{"temp":57}}]}]`))
		require.Zero(t, stats.Total())
		assert.Equal(t, []Message{{Role: "tool", ToolCallID: "call_1", Content: text(`{"temp":57}`)}}, call.Messages, key)
	}
}

func TestQuirk_FinishReasonToolCallSingular(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name":  "chat",
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"f","arguments":{}}],"finish_reason":"tool_call"}]`,
	})
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, []string{"tool_calls"}, call.FinishReasons)
}

func TestQuirk_FinishReasonHyphenatedAndProviderSpellings(t *testing.T) {
	for in, want := range map[string]string{
		"tool_call": "tool_calls", "tool-calls": "tool_calls", "tool_use": "tool_calls", "tool_calls": "tool_calls",
		"content-filter": "content_filter", "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
		"STOP": "stop", "length": "length", "error": "error", "other": "other", "": "",
	} {
		assert.Equal(t, want, NormalizeFinishReason(in), in)
	}
	call, _ := parseAttrs(t, "ai.generateText.doGenerate", map[string]any{
		"ai.response.text": "x", "ai.response.finishReason": "content-filter",
	})
	assert.Equal(t, "content_filter", call.Choices[0].FinishReason)
}

func TestQuirk_ThinkingPartIsReasoning(t *testing.T) {
	for _, typ := range []string{"thinking", "reasoning"} {
		call, _ := parseAttrs(t, "chat m", map[string]any{
			"gen_ai.operation.name":  "chat",
			"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"` + typ + `","content":"hmm"},{"type":"text","content":"ok"}]}]`,
		})
		assert.Equal(t, Message{Role: "assistant", Content: text("ok"), ReasoningContent: "hmm"}, call.Choices[0].Message, typ)
	}
}

func TestQuirk_ToolResultsUnderUserRole(t *testing.T) {
	// Pydantic AI before instrumentation version 6 puts tool results in a
	// user message, possibly with a retry prompt after them.
	call, _ := parseAttrs(t, "chat m", otelInput(`[`+
		`{"role":"assistant","parts":[{"type":"tool_call","id":"a","name":"f","arguments":{}},{"type":"tool_call","id":"b","name":"g","arguments":{}}]},`+
		`{"role":"user","parts":[{"type":"tool_call_response","id":"a","name":"f","result":"1"},{"type":"tool_call_response","id":"b","name":"g","result":"2"}]},`+
		`{"role":"user","parts":[{"type":"tool_call_response","id":"c","name":"h","result":"3"},{"type":"text","content":"try again"}]}]`))
	roles := []string{}
	for _, m := range call.Messages {
		roles = append(roles, m.Role+":"+m.ToolCallID)
	}
	assert.Equal(t, []string{"assistant:", "tool:a", "tool:b", "tool:c", "user:"}, roles)
	assert.Equal(t, "try again", call.Messages[4].Content.String())
}

func TestQuirk_PydanticToolResponseHasName(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", otelInput(
		`[{"role":"tool","parts":[{"type":"tool_call_response","id":"a","name":"roll_dice","result":4}]}]`))
	assert.Equal(t, []Message{{Role: "tool", ToolCallID: "a", Content: text("4")}}, call.Messages,
		"OpenAI tool messages carry no name")
}

func TestQuirk_TopKTypedDouble(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.top_k": 1.0})
	assert.Equal(t, map[string]any{"top_k": 1.0}, call.RequestParams)
	call, _ = parseAttrs(t, "chat m", map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.top_k": 40})
	assert.Equal(t, map[string]any{"top_k": int64(40)}, call.RequestParams)
}

func TestQuirk_LiteLLMStringifiesNonPrimitives(t *testing.T) {
	call, stats := parseAttrs(t, "raw_gen_ai_request", map[string]any{
		"llm.hosted_vllm.messages": `[{'role': 'user', 'content': 'It\'s "quoted"'}]`,
		"llm.hosted_vllm.tools":    `[{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'object', 'additionalProperties': False}}}]`,
		"llm.hosted_vllm.choices":  `[{'index': 0, 'message': {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': 'f', 'arguments': '{}'}}]}, 'finish_reason': 'tool_calls'}]`,
		"llm.hosted_vllm.id":       "chatcmpl-x",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, `It's "quoted"`, call.Messages[0].Content.String())
	assert.Equal(t, map[string]any{"type": "object", "additionalProperties": false}, call.Tools[0].Function.Parameters)
	assert.Equal(t, "c1", call.Choices[0].Message.ToolCalls[0].ID)
	assert.Equal(t, "chatcmpl-x", call.ResponseID)
}

func TestQuirk_LeadingSpaceInToolCallID(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", otelInput(`[`+
		`{"role":"assistant","parts":[{"type":"tool_call","id":" call_VSPygqKTWdrhaFErNvMV18Yl","name":"get_weather","arguments":{"location":"Paris"}}]},`+
		`{"role":"tool","parts":[{"type":"tool_call_response","id":" call_VSPygqKTWdrhaFErNvMV18Yl","response":"rainy, 57°F"}]}]`))
	assert.Equal(t, "call_VSPygqKTWdrhaFErNvMV18Yl", call.Messages[0].ToolCalls[0].ID)
	assert.Equal(t, call.Messages[0].ToolCalls[0].ID, call.Messages[1].ToolCallID, "the call and its result still match")
}

func TestQuirk_DeveloperRole(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", otelInput(`[{"role":"developer","parts":[{"type":"text","content":"Be terse."}]}]`))
	assert.Equal(t, []Message{{Role: "developer", Content: text("Be terse.")}}, call.Messages)
	call, _ = parseAttrs(t, "openai.chat", map[string]any{"gen_ai.prompt.0.role": "developer", "gen_ai.prompt.0.content": "x"})
	assert.Equal(t, "developer", call.Messages[0].Role)
}

func TestQuirk_SparseIndices(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "s",
		"gen_ai.prompt.2.role": "user", "gen_ai.prompt.2.content": "u",
		"gen_ai.prompt.10.role": "assistant", "gen_ai.prompt.10.content": "a",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Messages, 3)
	assert.Equal(t, []string{"system", "user", "assistant"}, []string{call.Messages[0].Role, call.Messages[1].Role, call.Messages[2].Role})
	// Agent Lightning's raw tree keeps the gaps as a map.
	raw, ok := call.Raw.Prompt.(map[string]any)
	require.True(t, ok)
	assert.Len(t, raw, 3)
}

func TestQuirk_IndexCap(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "kept",
		"gen_ai.prompt.10001.role": "user", "gen_ai.prompt.10001.content": "ignored",
	})
	require.Len(t, call.Messages, 1)
	assert.Equal(t, 1, stats.IndexOutOfRange)
	_, stats = parseAttrs(t, "openai.chat", map[string]any{"gen_ai.prompt.5.role": "user"}, WithLimits(Limits{MaxIndex: 4}))
	assert.Equal(t, 1, stats.IndexOutOfRange)
}

func TestQuirk_DuplicateRepresentations(t *testing.T) {
	call, stats := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name":                 "chat",
		"gen_ai.tool.definitions":               `[{"type":"function","name":"f"}]`,
		"gen_ai.tool.definitions.0.name":        "f",
		"gen_ai.tool.definitions.0.description": "flattened copy",
		"llm.input_messages":                    `[{"message":{"role":"user","content":"hi"}}]`,
		"llm.input_messages.0.message.role":     "user",
		"llm.input_messages.0.message.content":  "hi",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Tools, 1, "the JSON form wins; the flattened copy is not added")
	assert.Empty(t, call.Tools[0].Function.Description)
	assert.Equal(t, []Message{{Role: "user", Content: text("hi")}}, call.Messages)
}

func TestQuirk_TwoSpansOneCallShareResponseID(t *testing.T) {
	outer, _ := loadFixture(t, "litellm_request").parse()
	inner, _ := loadFixture(t, "litellm_raw").parse()
	assert.True(t, outer.Classification.IsLLMCall)
	assert.True(t, inner.Classification.IsLLMCall)
	assert.Equal(t, outer.ResponseID, inner.ResponseID, "callers dedupe on the response id")
	assert.Equal(t, outer.PromptTokenIDs, inner.PromptTokenIDs)
	assert.Equal(t, outer.ResponseTokenIDs, inner.ResponseTokenIDs)
}

func TestQuirk_AgentUsageNotSummed(t *testing.T) {
	l := loadFixture(t, "pydanticai_agent_run")
	assert.False(t, IsLLMCall(l.span))
	call, _ := l.parse()
	assert.Equal(t, Usage{}, call.Usage)
	agent := newSpan(t, "invoke_agent Math Tutor", map[string]any{
		"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 340,
	})
	assert.False(t, IsLLMCall(agent), "agent spans carry their children's usage")
}

func TestQuirk_StringAndStructuredFormsAgree(t *testing.T) {
	asString, stats1 := loadFixture(t, "otel_tool_roundtrip").parse()
	structured, stats2 := parseAttrs(t, "chat gpt-4", map[string]any{
		"gen_ai.operation.name": "chat",
		"gen_ai.input.messages": []any{
			map[string]any{"role": "user", "parts": []any{map[string]any{"type": "text", "content": "Weather in Paris?"}}},
			map[string]any{"role": "assistant", "parts": []any{map[string]any{"type": "tool_call", "id": "call_VSPygqKTWdrhaFErNvMV18Yl",
				"name": "get_weather", "arguments": map[string]any{"location": "Paris"}}}},
			map[string]any{"role": "tool", "parts": []any{map[string]any{"type": "tool_call_response", "id": "call_VSPygqKTWdrhaFErNvMV18Yl",
				"response": "rainy, 57°F"}}},
		},
		"gen_ai.output.messages": []any{map[string]any{"role": "assistant", "finish_reason": "stop",
			"parts": []any{map[string]any{"type": "text", "content": "The weather in Paris is currently rainy with a temperature of 57°F."}}}},
	})
	require.Zero(t, stats1.Total()+stats2.Total())
	assert.Equal(t, asString.Messages, structured.Messages)
	assert.Equal(t, asString.Choices, structured.Choices)
}

func TestQuirk_ContentCaptureOff(t *testing.T) {
	call, stats := parseAttrs(t, "chat gpt-4", map[string]any{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4",
		"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2, "gen_ai.response.id": "chatcmpl-1",
	})
	assert.Zero(t, stats.Total())
	assert.True(t, call.Classification.IsLLMCall)
	assert.False(t, call.HasContent())
	assert.Equal(t, ConventionNone, call.Convention)
	assert.Equal(t, "chatcmpl-1", call.ResponseID)
	assert.Equal(t, int64(12), call.Usage.TotalTokens)
	rec := call.ToOpenAI()
	assert.Equal(t, []Message{}, rec.Messages)
	assert.Nil(t, rec.Completion)
}

func TestQuirk_VercelOuterSpansWouldDoubleCount(t *testing.T) {
	outer := newSpan(t, "ai.generateText", map[string]any{"ai.operationId": "ai.generateText", "ai.usage.promptTokens": 100})
	inner := newSpan(t, "ai.generateText.doGenerate", map[string]any{"ai.operationId": "ai.generateText.doGenerate", "ai.usage.promptTokens": 100})
	assert.False(t, IsLLMCall(outer))
	assert.True(t, IsLLMCall(inner))
}

func TestQuirk_CapitalisedSystemValues(t *testing.T) {
	call, _ := parseAttrs(t, "anthropic.chat", map[string]any{"llm.request.type": "chat", "gen_ai.system": "Anthropic"})
	assert.Equal(t, "anthropic", call.Provider)
}

func TestQuirk_DeprecatedKeys(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name": "chat", "gen_ai.system": "az.ai.openai",
		"gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 3,
	})
	assert.Equal(t, "az.ai.openai", call.Provider)
	assert.Equal(t, Usage{InputTokens: 7, OutputTokens: 3, TotalTokens: 10}, call.Usage)
	// The new key wins when both are present.
	call, _ = parseAttrs(t, "chat m", map[string]any{"gen_ai.provider.name": "azure.ai.openai", "gen_ai.system": "az.ai.openai",
		"gen_ai.usage.input_tokens": 8, "gen_ai.usage.prompt_tokens": 7})
	assert.Equal(t, "azure.ai.openai", call.Provider)
	assert.Equal(t, int64(8), call.Usage.InputTokens)
}

func TestQuirk_CacheReadUnderscoreForm(t *testing.T) {
	for _, key := range []string{"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"} {
		call, _ := parseAttrs(t, "chat m", map[string]any{key: 50})
		assert.Equal(t, int64(50), call.Usage.CacheReadInputTokens, key)
	}
	call, _ := parseAttrs(t, "chat m", map[string]any{"gen_ai.usage.cache_creation.input_tokens": 25, "gen_ai.usage.reasoning.output_tokens": 9})
	assert.Equal(t, Usage{CacheCreationInputTokens: 25, ReasoningOutputTokens: 9}, call.Usage)
}

func TestQuirk_PromptFilterResultsKey(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat.completion", map[string]any{
		"gen_ai.prompt.0.role":                "user",
		"gen_ai.prompt.0.content":             "hi",
		"gen_ai.prompt.prompt_filter_results": "[{'prompt_index': 0}]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, []Message{{Role: "user", Content: text("hi")}}, call.Messages)
	assert.Equal(t, map[string]any{
		"0":                     map[string]any{"role": "user", "content": "hi"},
		"prompt_filter_results": "[{'prompt_index': 0}]",
	}, call.Raw.Prompt, "Agent Lightning's unflatten keeps a map when a non-index key is present")
}

func TestQuirk_TokenIDsAsPythonReprStrings(t *testing.T) {
	call, stats := parseAttrs(t, "raw_gen_ai_request", map[string]any{
		"llm.hosted_vllm.prompt_token_ids":   "[151644, 8948]",
		"llm.hosted_vllm.response_token_ids": "[[19, 151645]]",
	})
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, []int64{151644, 8948}, call.PromptTokenIDs)
	assert.Equal(t, []int64{19, 151645}, call.ResponseTokenIDs)
}

func TestQuirk_VercelV4ArgsResultVsV5InputOutput(t *testing.T) {
	v4 := `[{"role":"assistant","content":[{"type":"tool-call","toolCallId":"c","toolName":"f","args":{"a":1}}]},` +
		`{"role":"tool","content":[{"type":"tool-result","toolCallId":"c","toolName":"f","result":{"ok":true}}]}]`
	v5 := `[{"role":"assistant","content":[{"type":"tool-call","toolCallId":"c","toolName":"f","input":{"a":1}}]},` +
		`{"role":"tool","content":[{"type":"tool-result","toolCallId":"c","toolName":"f","output":{"type":"json","value":{"ok":true}}}]}]`
	c4, _ := parseAttrs(t, "ai.generateText.doGenerate", map[string]any{"ai.prompt.messages": v4})
	c5, _ := parseAttrs(t, "ai.generateText.doGenerate", map[string]any{"ai.prompt.messages": v5})
	assert.Equal(t, c4.Messages, c5.Messages)
	assert.Equal(t, `{"a":1}`, c5.Messages[0].ToolCalls[0].Function.Arguments)
	assert.Equal(t, `{"ok":true}`, c5.Messages[1].Content.String())
}

func TestQuirk_AttributeNamedLikeThePrefix(t *testing.T) {
	// A gen_ai.prompt string beside indexed keys: Agent Lightning's
	// unflatten raises; here the key is left out of the raw tree and
	// counted.
	call, stats := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.prompt":           "legacy prompt string",
		"gen_ai.prompt.0.role":    "user",
		"gen_ai.prompt.0.content": "hi",
	})
	assert.Equal(t, 1, stats.WrongType)
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "hi"}}, call.Raw.Prompt)
	assert.Equal(t, "hi", call.Messages[0].Content.String())
}

func TestQuirk_ArgumentsStringKeptObjectEncoded(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", otelInput(`[{"role":"assistant","parts":[`+
		`{"type":"tool_call","id":"a","name":"f","arguments":"{\"z\": 1, \"a\": 2}"},`+
		`{"type":"tool_call","id":"b","name":"f","arguments":{"z":1,"a":2.50}},`+
		`{"type":"tool_call","id":"c","name":"f"}]}]`))
	tcs := call.Messages[0].ToolCalls
	assert.Equal(t, `{"z": 1, "a": 2}`, tcs[0].Function.Arguments, "a string is kept byte for byte")
	assert.Equal(t, `{"a":2.50,"z":1}`, tcs[1].Function.Arguments, "an object is encoded, numbers as written")
	assert.Equal(t, `{}`, tcs[2].Function.Arguments)
}

func TestQuirk_WholePromptInOneAttribute(t *testing.T) {
	call, stats := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.prompt":     `[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]`,
		"gen_ai.completion": "Hello!",
	})
	assert.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, []Message{{Role: "system", Content: text("Be brief.")}, {Role: "user", Content: text("Hi")}}, call.Messages)
	assert.Equal(t, "Hello!", call.Choices[0].Message.Content.String())
	assert.Nil(t, call.Raw.Prompt)
}
