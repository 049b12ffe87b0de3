package genai

import (
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Classification rules, in the order they are checked; the first rule whose
// attribute is present decides (the AgentOps and OpenLLMetry rules only
// decide "yes", since their other values do not exclude a call).
const (
	RuleNameMatchOnly     = "name_match_only"
	RuleOperationName     = "gen_ai.operation.name"
	RuleOpenInferenceKind = "openinference.span.kind"
	RuleOpenLLMetryType   = "llm.request.type"
	RuleAgentOpsKind      = "agentops.span.kind"
	RuleVercelOperation   = "ai.operationId"
	RuleSpanName          = "span_name"
)

// llmOperations are the gen_ai.operation.name values of a model call,
// legacy "completion" and "generate" included (Langfuse keeps both).
var llmOperations = map[string]bool{
	"chat": true, "text_completion": true, "generate_content": true, "completion": true, "generate": true,
}

// vercelCall matches the per-call Vercel AI SDK spans; the outer
// ai.generateText / ai.streamText spans aggregate them and would double
// count.
var vercelCall = regexp.MustCompile(`^ai\.[A-Za-z]+\.do(Generate|Stream)$`)

// DefaultNameFallback is the last classification rule: span names that
// instrumentations without any of the attributes above give to model calls
// (OTel "chat gpt-4", OpenLLMetry/AgentOps "openai.chat",
// "openai.chat.completion", "anthropic.chat", LiteLLM "litellm_request" and
// "raw_gen_ai_request", OpenInference's OpenAI "ChatCompletion").
var DefaultNameFallback = regexp.MustCompile(
	`^(chat|text_completion|generate_content)( |$)|^[A-Za-z0-9_-]+\.(chat|completion)(\.completions?)?$|^litellm_request$|^raw_gen_ai_request$|^ChatCompletion$`)

// lookup reads string attributes without converting a whole map.
type lookup func(key string) (string, bool)

// IsLLMCall reports whether span is a model call (chat, text completion,
// content generation).
func IsLLMCall(span ptrace.Span, opts ...Option) bool {
	return Classify(span, opts...).IsLLMCall
}

// Classify says whether span is a model call and which rule decided.
func Classify(span ptrace.Span, opts ...Option) Classification {
	m := span.Attributes()
	return classify(span.Name(), func(k string) (string, bool) {
		v, ok := m.Get(k)
		if !ok || v.Type() != pcommon.ValueTypeStr {
			return "", false
		}
		return v.Str(), true
	}, newConfig(opts))
}

// IsLLMCallSpan is IsLLMCall for an Agent Lightning span.
func IsLLMCallSpan(span model.Span, opts ...Option) bool {
	return ClassifySpan(span, opts...).IsLLMCall
}

// ClassifySpan is Classify for an Agent Lightning span.
func ClassifySpan(span model.Span, opts ...Option) Classification {
	return classify(span.Name, func(k string) (string, bool) {
		v, ok := span.Attributes[k]
		if !ok {
			return "", false
		}
		s, ok := v.(string)
		return s, ok
	}, newConfig(opts))
}

func classify(name string, get lookup, cfg *config) Classification {
	if cfg.nameOnly && cfg.nameMatch != nil {
		return Classification{IsLLMCall: cfg.nameMatch.MatchString(name), Rule: RuleNameMatchOnly}
	}
	if op, ok := get("gen_ai.operation.name"); ok {
		return Classification{IsLLMCall: llmOperations[strings.ToLower(strings.TrimSpace(op))], Rule: RuleOperationName}
	}
	if kind, ok := get("openinference.span.kind"); ok {
		return Classification{IsLLMCall: strings.EqualFold(strings.TrimSpace(kind), "LLM"), Rule: RuleOpenInferenceKind}
	}
	if t, ok := get("llm.request.type"); ok {
		switch strings.ToLower(t) {
		case "chat", "completion":
			return Classification{IsLLMCall: true, Rule: RuleOpenLLMetryType}
		case "embedding", "rerank":
			return Classification{IsLLMCall: false, Rule: RuleOpenLLMetryType}
		}
	}
	if kind, ok := get(AttrAgentOpsSpanKind); ok && strings.EqualFold(kind, "llm") {
		return Classification{IsLLMCall: true, Rule: RuleAgentOpsKind}
	}
	if id, ok := get("ai.operationId"); ok {
		return Classification{IsLLMCall: vercelCall.MatchString(id), Rule: RuleVercelOperation}
	}
	if vercelCall.MatchString(name) {
		return Classification{IsLLMCall: true, Rule: RuleSpanName}
	}
	re := DefaultNameFallback
	if cfg.nameMatch != nil {
		re = cfg.nameMatch
	}
	if re.MatchString(name) {
		return Classification{IsLLMCall: true, Rule: RuleSpanName}
	}
	return Classification{}
}
