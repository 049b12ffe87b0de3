package genai_test

import (
	"encoding/json"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// FuzzParseAttributes puts two attributes of arbitrary key and type (the
// value is decoded as JSON when it is JSON: numbers, booleans, arrays and
// maps; a string otherwise) on an LLM span of each convention and parses it.
// Nothing may panic and the results must encode as JSON. It complements
// FuzzParseMessagesJSON, which varies string values under known keys.
func FuzzParseAttributes(f *testing.F) {
	for _, seed := range [][4]string{
		{"gen_ai.prompt.3.content", `"hi"`, "gen_ai.prompt.3.role", `"user"`},
		{"gen_ai.prompt.0.tool_calls.1.function.arguments", `{"a":[1,2]}`, "gen_ai.completion.0.tool_calls.0.id", `7`},
		{"prompt_token_ids", `[1,2,3]`, "response_token_ids", `"1,2"`},
		{"llm.input_messages.0.message.contents.1.message_content.image.image.url", `"data:image/png;base64,AA=="`, "llm.input_messages.0.message.role", `true`},
		{"gen_ai.input.messages", `[{"role":"user","parts":[{"type":"text","content":"x"}]}]`, "gen_ai.output.messages", `[]`},
		{"ai.prompt.messages", `"[{\"role\":\"user\",\"content\":\"x\"}]"`, "ai.response.text", `"y"`},
		{"metadata.requester_custom_headers", `"{'x-rollout-id': 'ro-1'}"`, "gen_ai.usage.input_tokens", `1e308`},
		{"gen_ai.prompt.18446744073709551616.content", `null`, "gen_ai.completion.-1.role", `{"a":{"b":{"c":[[[]]]}}}`},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	conventions := []map[string]any{
		{"gen_ai.system": "openai", "llm.request.type": "chat"},
		{"openinference.span.kind": "LLM"},
		{"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"},
		{"ai.operationId": "ai.generateText.doGenerate"},
		{"logfire.msg": "chat m", "gen_ai.system": "openai"},
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		for _, base := range conventions {
			span := ptrace.NewSpan()
			span.SetName("chat m")
			raw := map[string]any{k1: typed(v1), k2: typed(v2)}
			for k, v := range base {
				raw[k] = v
			}
			if err := span.Attributes().FromRaw(raw); err != nil {
				t.Skip() // a value pdata cannot hold
			}
			call, _ := genai.Parse(span, pcommon.NewResource())
			genai.IsLLMCall(span)
			if _, err := json.Marshal(call.ToOpenAI()); err != nil {
				t.Fatalf("record does not encode: %v", err)
			}
			if _, err := json.Marshal(call); err != nil {
				t.Fatalf("call does not encode: %v", err)
			}
		}
	})
}

// typed decodes s as JSON when it is JSON, with integral numbers as int64
// (what an SDK sends for an int attribute).
func typed(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	return integers(v)
}

func integers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = integers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = integers(x[k])
		}
	}
	return v
}
