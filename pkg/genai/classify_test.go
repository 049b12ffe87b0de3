package genai

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		span  string
		attrs map[string]any
		opts  []Option
		want  Classification
	}{
		{"otel chat", "chat gpt-4", map[string]any{"gen_ai.operation.name": "chat"}, nil, Classification{true, RuleOperationName}},
		{"otel text_completion", "x", map[string]any{"gen_ai.operation.name": "text_completion"}, nil, Classification{true, RuleOperationName}},
		{"otel generate_content", "x", map[string]any{"gen_ai.operation.name": "generate_content"}, nil, Classification{true, RuleOperationName}},
		{"legacy completion", "x", map[string]any{"gen_ai.operation.name": "completion"}, nil, Classification{true, RuleOperationName}},
		{"case and spaces", "x", map[string]any{"gen_ai.operation.name": " Chat "}, nil, Classification{true, RuleOperationName}},
		{"invoke_agent is not a call", "chat something", map[string]any{"gen_ai.operation.name": "invoke_agent"}, nil, Classification{false, RuleOperationName}},
		{"execute_tool", "execute_tool f", map[string]any{"gen_ai.operation.name": "execute_tool"}, nil, Classification{false, RuleOperationName}},
		{"embeddings", "embeddings m", map[string]any{"gen_ai.operation.name": "embeddings"}, nil, Classification{false, RuleOperationName}},
		{"openinference LLM", "ChatCompletion", map[string]any{"openinference.span.kind": "LLM"}, nil, Classification{true, RuleOpenInferenceKind}},
		{"openinference CHAIN", "ChatCompletion", map[string]any{"openinference.span.kind": "CHAIN"}, nil, Classification{false, RuleOpenInferenceKind}},
		{"operation name wins over openinference", "x", map[string]any{"gen_ai.operation.name": "chat", "openinference.span.kind": "CHAIN"}, nil, Classification{true, RuleOperationName}},
		{"openllmetry chat", "anthropic.chat", map[string]any{"llm.request.type": "chat"}, nil, Classification{true, RuleOpenLLMetryType}},
		{"openllmetry embedding", "openai.embeddings", map[string]any{"llm.request.type": "embedding"}, nil, Classification{false, RuleOpenLLMetryType}},
		{"openllmetry unknown falls through", "openai.chat", map[string]any{"llm.request.type": "unknown"}, nil, Classification{true, RuleSpanName}},
		{"agentops llm", "x", map[string]any{"agentops.span.kind": "llm"}, nil, Classification{true, RuleAgentOpsKind}},
		{"agentops other kinds fall through", "openai.chat.completion", map[string]any{"agentops.span.kind": "task"}, nil, Classification{true, RuleSpanName}},
		{"vercel doGenerate", "ai.generateText.doGenerate", map[string]any{"ai.operationId": "ai.generateText.doGenerate"}, nil, Classification{true, RuleVercelOperation}},
		{"vercel doStream", "x", map[string]any{"ai.operationId": "ai.streamObject.doStream"}, nil, Classification{true, RuleVercelOperation}},
		{"vercel outer", "ai.generateText", map[string]any{"ai.operationId": "ai.generateText"}, nil, Classification{false, RuleVercelOperation}},
		{"vercel embed", "ai.embed.doEmbed", map[string]any{"ai.operationId": "ai.embed.doEmbed"}, nil, Classification{false, RuleVercelOperation}},
		{"vercel tool", "ai.toolCall", map[string]any{"ai.operationId": "ai.toolCall"}, nil, Classification{false, RuleVercelOperation}},
		{"name chat", "chat gpt-4o", nil, nil, Classification{true, RuleSpanName}},
		{"name openai.chat", "openai.chat", nil, nil, Classification{true, RuleSpanName}},
		{"name openai.chat.completion", "openai.chat.completion", nil, nil, Classification{true, RuleSpanName}},
		{"name litellm_request", "litellm_request", nil, nil, Classification{true, RuleSpanName}},
		{"name raw_gen_ai_request", "raw_gen_ai_request", nil, nil, Classification{true, RuleSpanName}},
		{"name ChatCompletion", "ChatCompletion", nil, nil, Classification{true, RuleSpanName}},
		{"name workflow", "my_flow.workflow", nil, nil, Classification{}},
		{"name chatbot is not chat", "chatbot", nil, nil, Classification{}},
		{"name override replaces the fallback", "my_llm_call", nil, []Option{WithNameMatch(regexp.MustCompile(`_llm_`))}, Classification{true, RuleSpanName}},
		{"name override drops the default", "openai.chat", nil, []Option{WithNameMatch(regexp.MustCompile(`^never$`))}, Classification{}},
		{"name override keeps attribute rules", "x", map[string]any{"gen_ai.operation.name": "chat"}, []Option{WithNameMatch(regexp.MustCompile(`^never$`))}, Classification{true, RuleOperationName}},
		{"agent lightning llm_call_match", "openai.chat.completion", map[string]any{"gen_ai.operation.name": "invoke_agent"},
			[]Option{WithNameMatchOnly(regexp.MustCompile(`openai\.chat\.completion`))}, Classification{true, RuleNameMatchOnly}},
		{"llm_call_match only", "chat gpt-4", map[string]any{"gen_ai.operation.name": "chat"},
			[]Option{WithNameMatchOnly(regexp.MustCompile(`openai\.chat\.completion`))}, Classification{false, RuleNameMatchOnly}},
		{"non-string operation name is ignored", "chat x", map[string]any{"gen_ai.operation.name": 3}, nil, Classification{true, RuleSpanName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			span := newSpan(t, tt.span, tt.attrs)
			assert.Equal(t, tt.want, Classify(span, tt.opts...))
			assert.Equal(t, tt.want.IsLLMCall, IsLLMCall(span, tt.opts...))
			// The Agent Lightning span form classifies the same way.
			ms := model.Span{Name: tt.span, Attributes: model.Attributes(tt.attrs)}
			assert.Equal(t, tt.want, ClassifySpan(ms, tt.opts...))
			assert.Equal(t, tt.want.IsLLMCall, IsLLMCallSpan(ms, tt.opts...))
			// And Parse reports it.
			call, _ := Parse(span, newResource(), tt.opts...)
			assert.Equal(t, tt.want, call.Classification)
		})
	}
}
