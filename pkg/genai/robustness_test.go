package genai

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestBadValuesAreSkippedAndCounted(t *testing.T) {
	tests := []struct {
		name    string
		attrs   map[string]any
		opts    []Option
		problem Problem
		count   int
	}{
		{"invalid JSON", map[string]any{"gen_ai.input.messages": `[{"role":"user",`}, nil, ProblemInvalidJSON, 1},
		{"trailing garbage", map[string]any{"gen_ai.input.messages": `[] []`}, nil, ProblemInvalidJSON, 1},
		{"messages of the wrong type", map[string]any{"gen_ai.input.messages": int64(3)}, nil, ProblemWrongType, 1},
		{"a message that is not an object", map[string]any{"gen_ai.input.messages": `["hi", {"role":"user","parts":[]}]`}, nil, ProblemWrongType, 1},
		{"parts that are not a list", map[string]any{"gen_ai.input.messages": `[{"role":"user","parts":"hi"}]`}, nil, ProblemWrongType, 1},
		{"a JSON scalar", map[string]any{"gen_ai.output.messages": `42`}, nil, ProblemWrongType, 1},
		{"tool definitions not a list", map[string]any{"gen_ai.tool.definitions": `{"name":"f"}`}, nil, ProblemWrongType, 1},
		{"a tool without type or name", map[string]any{"gen_ai.tool.definitions": `[{"description":"?"}]`}, nil, ProblemMissingField, 1},
		{"a non-string response id", map[string]any{"gen_ai.response.id": int64(5)}, nil, ProblemWrongType, 1},
		{"a non-numeric usage", map[string]any{"gen_ai.usage.input_tokens": "many"}, nil, ProblemWrongType, 1},
		{"invalid UTF-8 in a string", map[string]any{"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "a\xffb"}, nil, ProblemInvalidUTF8, 1},
		{"oversized JSON", map[string]any{"gen_ai.input.messages": `[{"role":"user","parts":[{"type":"text","content":"` + strings.Repeat("x", 200) + `"}]}]`},
			[]Option{WithLimits(Limits{MaxValueBytes: 100})}, ProblemOversized, 1},
		{"deep JSON", map[string]any{"gen_ai.input.messages": strings.Repeat("[", 1000) + strings.Repeat("]", 1000)}, nil, ProblemTooDeep, 1},
		{"deep Python literal", map[string]any{"llm.hosted_vllm.messages": strings.Repeat("[", 1000) + strings.Repeat("]", 1000)}, nil, ProblemTooDeep, 1},
		{"invalid Python literal", map[string]any{"llm.hosted_vllm.messages": `[{'role': 'user'`}, nil, ProblemInvalidLiteral, 1},
		{"a deep flattened key", map[string]any{"gen_ai.prompt.0." + strings.Repeat("a.", 300) + "b": "x"}, nil, ProblemTooDeep, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := map[string]any{"gen_ai.operation.name": "chat", "gen_ai.request.model": "still-read"}
			for k, v := range tt.attrs {
				attrs[k] = v
			}
			call, stats := parseAttrs(t, "chat m", attrs, tt.opts...)
			assert.Equal(t, tt.count, stats.Count(tt.problem), stats.Warnings)
			assert.Equal(t, tt.count, stats.Total(), stats.Warnings)
			require.NotEmpty(t, stats.Warnings)
			assert.Equal(t, tt.problem, stats.Warnings[0].Problem)
			assert.Equal(t, "still-read", call.RequestModel, "the rest of the span is still read")
			_, err := json.Marshal(call.ToOpenAI())
			assert.NoError(t, err)
		})
	}
}

func TestInvalidUTF8IsRepaired(t *testing.T) {
	call, stats := parseAttrs(t, "openai.chat", map[string]any{
		"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "caf\xe9",
		"gen_ai.input.messages": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"b\xffd\"}]}]",
	})
	assert.Equal(t, 2, stats.InvalidUTF8)
	assert.Equal(t, "b\uFFFDd", call.Messages[0].Content.String())
	assert.Equal(t, []any{map[string]any{"role": "user", "content": "caf\uFFFD"}}, call.Raw.Prompt)
}

func TestPlainTextOfAnySizeIsKept(t *testing.T) {
	big := strings.Repeat("y", 1000)
	call, stats := parseAttrs(t, "openai.chat", map[string]any{"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": big},
		WithLimits(Limits{MaxValueBytes: 10}))
	assert.Zero(t, stats.Total())
	assert.Equal(t, big, call.Messages[0].Content.String())
}

func TestDeepStructuredAnyValue(t *testing.T) {
	span := newSpan(t, "chat m", map[string]any{"gen_ai.operation.name": "chat"})
	v := span.Attributes().PutEmpty("gen_ai.input.messages")
	for range 300 {
		v = v.SetEmptySlice().AppendEmpty()
	}
	v.SetStr("leaf")
	call, stats := Parse(span, pcommon.NewResource())
	assert.Equal(t, 1, stats.TooDeep)
	assert.Empty(t, call.Messages)
}

func TestNonFiniteDoublesStillEncode(t *testing.T) {
	span := newSpan(t, "chat m", map[string]any{"gen_ai.operation.name": "chat"})
	span.Attributes().PutDouble("gen_ai.request.temperature", nanValue())
	call, _ := Parse(span, pcommon.NewResource())
	assert.Equal(t, "NaN", call.RequestParams["temperature"])
	_, err := json.Marshal(call)
	assert.NoError(t, err)
}

func TestWarningsAreCapped(t *testing.T) {
	attrs := map[string]any{}
	for i := range 40 {
		attrs["gen_ai.prompt."+string(rune('a'+i%26))+strings.Repeat("x", i)] = "no index"
		attrs["gen_ai.prompt."+itoa(i)+".content"] = "no role"
	}
	_, stats := parseAttrs(t, "openai.chat", attrs, WithLimits(Limits{MaxWarnings: 5}))
	assert.Equal(t, 40, stats.MissingField)
	assert.Len(t, stats.Warnings, 5)
}

func TestEmptySpans(t *testing.T) {
	call, stats := Parse(newSpan(t, "", nil), pcommon.NewResource())
	assert.Zero(t, stats.Total())
	assert.False(t, call.Classification.IsLLMCall)
	assert.Nil(t, call.Raw.Prompt)
	assert.Equal(t, []string{}, call.Raw.ImageURLs)
	call, _ = ParseSpan(model.Span{})
	assert.NotNil(t, call)
}

func TestStatsAdd(t *testing.T) {
	var total Stats
	a := Stats{InvalidJSON: 1, Warnings: []Warning{{Key: "k", Problem: ProblemInvalidJSON}}}
	b := Stats{TooDeep: 2, Warnings: []Warning{{Key: "x", Problem: ProblemTooDeep}, {Key: "y", Problem: ProblemTooDeep}}}
	total.Add(a, 2)
	total.Add(b, 2)
	assert.Equal(t, 3, total.Total())
	assert.Len(t, total.Warnings, 2)
	assert.Equal(t, "k: invalid_json", total.Warnings[0].String())
}

func FuzzParseMessagesJSON(f *testing.F) {
	for _, seed := range []string{
		`[{"role":"user","parts":[{"type":"text","content":"hi"}]}]`,
		`[{"role":"assistant","parts":[{"type":"tool_call","id":" c","name":"f","arguments":{"a":[1,2]}},{"type":"thinking","content":"x"}],"finish_reason":"tool_call"}]`,
		`[{"role":"user","parts":[{"type":"tool_call_response","id":"c","result":{"ok":true}},{"type":"blob","modality":"image","content":"AA=="}]}]`,
		`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}},"text"]}]`,
		`[{"role":"assistant","content":[{"type":"tool-call","toolCallId":"c","toolName":"f","input":{}}]}]`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"choices":[{"message":{"content":"y"},"token_ids":[1]}]}`,
		`[{'role': 'user', 'content': None}]`,
	} {
		f.Add(seed)
	}
	keys := []string{
		AttrInputMessages, AttrOutputMessages, AttrSystemInstructions, AttrToolDefinitions,
		AttrVercelPromptMessages, "ai.response.toolCalls", "ai.prompt.tools", AttrPydanticAllMessages, AttrLogfireEvents,
		"llm.input_messages", "llm.hosted_vllm.messages", "llm.hosted_vllm.choices", AttrInputValue, AttrOutputValue,
		"gen_ai.prompt.0.content", "prompt_token_ids", "logprobs.content", AttrRequesterHeaders, "gen_ai.response.finish_reasons",
	}
	f.Fuzz(func(t *testing.T, s string) {
		attrs := map[string]any{"gen_ai.prompt.0.role": "user"}
		for _, k := range keys {
			attrs[k] = s
		}
		span := newSpan(t, "chat m", attrs)
		call, _ := Parse(span, pcommon.NewResource(), WithLogEvents([]Event{{Name: EventUserMessage, Body: s}}))
		if _, err := json.Marshal(call.ToOpenAI()); err != nil {
			t.Fatalf("record does not encode: %v", err)
		}
		if _, err := json.Marshal(call); err != nil {
			t.Fatalf("call does not encode: %v", err)
		}
	})
}
