package genai

// AgentOps (agentops/semconv, the tracer Agent Lightning ≤ 0.3 uses by
// default). Its LLM spans are named openai.chat.completion (Agent
// Lightning's default llm_call_match) and carry the indexed
// gen_ai.prompt.N.* / gen_ai.completion.N.* keys, which fromIndexed reads,
// with a few extras handled here and there:
//
//   - agentops.span.kind == "llm" classifies a span (RuleAgentOpsKind);
//   - the offered tools are gen_ai.request.tools.N.* (indexedToolPrefixes);
//   - usage uses the deprecated gen_ai.usage.prompt_tokens /
//     completion_tokens / total_tokens and the underscore forms
//     gen_ai.usage.cache_read_input_tokens and gen_ai.usage.reasoning_tokens
//     (the usage key lists in parse.go);
//   - prompt entries may carry .type and .speaker, which are ignored;
//   - a tool call the completion does not list is a child span (tool.name,
//     tool.parameters, ...), which a parser of one span cannot see: callers
//     that hold the children pass them to Call.AttachChildToolCalls.
//
// Rewards in agentops.task.output / agentops.entity.output are the reward
// processor's business, not this package's.
const (
	AttrAgentOpsSpanKind = "agentops.span.kind"
	// AgentOpsLLMSpanName is the span name of AgentOps' OpenAI
	// instrumentation.
	AgentOpsLLMSpanName = "openai.chat.completion"
)

// isAgentOps reports whether a span comes from AgentOps, for
// Call.Convention.
func isAgentOps(v *view) bool {
	return v.name == AgentOpsLLMSpanName || v.attrs.under("agentops")
}
