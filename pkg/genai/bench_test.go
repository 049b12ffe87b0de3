package genai

import (
	"testing"
)

// BenchmarkParse parses one fixture per convention.
func BenchmarkParse(b *testing.B) {
	cases := []struct{ convention, fixture string }{
		{"otel", "otel_tool_roundtrip"},
		{"otel_structured", "otel_tool_call_structured"},
		{"otel_details_event", "otel_details_event"},
		{"otel_events", "otel_events_span"},
		{"openllmetry", "openllmetry_chat"},
		{"litellm", "litellm_request"},
		{"litellm_raw", "litellm_raw"},
		{"agentops", "agentops_chat"},
		{"openinference", "openinference_tool_turn"},
		{"openinference_vllm_body", "openinference_vllm_body"},
		{"vercel", "vercel_v5"},
		{"pydantic_ai", "pydanticai_chat"},
		{"agentlightning_operation", "agentlightning_weave"},
	}
	for _, c := range cases {
		l := loadFixture(b, c.fixture)
		b.Run(c.convention, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.parse()
			}
		})
	}
}

func BenchmarkIsLLMCall(b *testing.B) {
	l := loadFixture(b, "openllmetry_chat")
	b.ReportAllocs()
	for b.Loop() {
		IsLLMCall(l.span)
	}
}

func BenchmarkParsePythonLiteral(b *testing.B) {
	s := `[{'index': 0, 'message': {'role': 'assistant', 'content': '4', 'tool_calls': None}, 'finish_reason': 'stop', 'token_ids': [19, 151645, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}]`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePythonLiteral(s); err != nil {
			b.Fatal(err)
		}
	}
}
