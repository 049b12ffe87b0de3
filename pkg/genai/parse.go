package genai

import (
	"encoding/json"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Parse reads the LLM call in span, whatever convention produced it. It
// does not require the span to be an LLM call (see Call.Classification and
// IsLLMCall) and never fails: values it cannot use are skipped and counted
// in the returned Stats. The Call is never nil.
//
// resource is the span's resource; it is consulted only as a last fallback
// for the provider.
func Parse(span ptrace.Span, resource pcommon.Resource, opts ...Option) (*Call, Stats) {
	p := newParser(newConfig(opts))
	v := &view{name: span.Name(), attrs: p.attrsFromPdata(span.Attributes())}
	for _, se := range span.Events().All() {
		v.spanEvents = append(v.spanEvents, EventFromSpanEvent(se))
	}
	v.logEvents = p.cfg.logEvents
	if pv, ok := resource.Attributes().Get("gen_ai.provider.name"); ok {
		v.resourceProvider = pv.AsString()
	} else if pv, ok := resource.Attributes().Get("gen_ai.system"); ok {
		v.resourceProvider = pv.AsString()
	}
	return p.parse(v), p.stats
}

// ParseSpan is Parse for an Agent Lightning span (attributes as stored by
// the store; their keys are read in sorted order since a Go map keeps no
// order).
func ParseSpan(span model.Span, opts ...Option) (*Call, Stats) {
	p := newParser(newConfig(opts))
	v := &view{name: span.Name, attrs: p.attrsFromPlain(span.Attributes)}
	for _, me := range span.Events {
		v.spanEvents = append(v.spanEvents, EventFromModel(me))
	}
	v.logEvents = p.cfg.logEvents
	if s, ok := span.Resource.Attributes["gen_ai.provider.name"].(string); ok {
		v.resourceProvider = s
	} else if s, ok := span.Resource.Attributes["gen_ai.system"].(string); ok {
		v.resourceProvider = s
	}
	return p.parse(v), p.stats
}

// view is one span as the extractors see it.
type view struct {
	name             string
	attrs            *attrs
	spanEvents       []Event
	logEvents        []Event
	resourceProvider string
}

// extraction is what one convention found.
type extraction struct {
	conv     Convention
	system   *Content
	messages []Message
	choices  []Choice
	tools    []Tool
	body     *bodyInfo
}

func (ex *extraction) empty() bool {
	return ex.system == nil && len(ex.messages) == 0 && len(ex.choices) == 0 && len(ex.tools) == 0 && ex.body == nil
}

// bodyInfo is what a request/response body says besides messages; it fills
// the fields the span attributes leave empty.
type bodyInfo struct {
	provider         string
	requestModel     string
	responseModel    string
	responseID       string
	usage            Usage
	params           map[string]any
	promptTokenIDs   []int64
	responseTokenIDs []int64
	logprobs         json.RawMessage
}

// source is one convention's extractor; nil means "not present".
type source struct {
	run func(p *parser, v *view) *extraction
	// body marks sources that also carry scalars (ids, usage, token ids),
	// run even when the messages are already known.
	body bool
}

// sources in the order of genai-conventions.md §2.9: the first one that
// yields messages (resp. choices, tools) wins that field.
var sources = []source{
	{run: func(p *parser, v *view) *extraction { return p.fromOTel(v.attrs, ConventionOTel) }},
	{run: (*parser).fromDetailsEvent},
	{run: (*parser).fromIndexed},
	{run: (*parser).fromOpenInference},
	{run: (*parser).fromVercel},
	{run: (*parser).fromPydanticAI},
	{run: (*parser).fromEvents},
	{run: (*parser).fromOpenAIJSON, body: true},
	{run: (*parser).fromAgentLightningOperation, body: true},
	{run: (*parser).fromLiteLLMRaw, body: true},
}

func (p *parser) parse(v *view) *Call {
	for _, e := range v.spanEvents {
		p.stats.Add(e.problems, p.cfg.limits.MaxWarnings)
	}
	for _, e := range v.logEvents {
		p.stats.Add(e.problems, p.cfg.limits.MaxWarnings)
	}
	c := &Call{Classification: classify(v.name, v.attrs.str, p.cfg)}
	var bodies []*bodyInfo
	var choicesConv, toolsConv Convention
	for _, src := range sources {
		complete := len(c.Messages) > 0 && len(c.Choices) > 0 && len(c.Tools) > 0
		if complete && !src.body {
			continue
		}
		ex := src.run(p, v)
		if ex == nil {
			continue
		}
		if ex.body != nil {
			bodies = append(bodies, ex.body)
		}
		if len(c.Messages) == 0 && len(ex.messages) > 0 {
			c.Messages, c.Convention = ex.messages, ex.conv
		}
		if c.SystemInstructions == nil && ex.system != nil {
			c.SystemInstructions = ex.system
			if c.Convention == ConventionNone {
				c.Convention = ex.conv
			}
		}
		if len(c.Choices) == 0 && len(ex.choices) > 0 {
			c.Choices, choicesConv = ex.choices, ex.conv
		} else if len(c.Choices) == len(ex.choices) {
			fillFinishReasons(c.Choices, ex.choices)
		}
		if len(c.Tools) == 0 && len(ex.tools) > 0 {
			c.Tools, toolsConv = ex.tools, ex.conv
		}
	}
	if c.Convention == ConventionNone {
		c.Convention = choicesConv
	}
	if c.Convention == ConventionNone {
		c.Convention = toolsConv
	}
	p.scalars(v, c, bodies)
	p.finishReasons(v.attrs, c)
	p.tokens(v.attrs, c, bodies)
	p.raw(v.attrs, c)
	return c
}

// fillFinishReasons gives choices that have no finish reason the one of
// the same choice in a lower-priority source (OpenInference messages carry
// none; the output.value body does).
func fillFinishReasons(dst, src []Choice) {
	for i := range dst {
		if dst[i].FinishReason == "" {
			dst[i].FinishReason = src[i].FinishReason
		}
	}
}

// firstString returns the first string attribute among keys; a present
// value of another type is counted and skipped.
func (p *parser) firstString(a *attrs, keys ...string) string {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok || v == nil {
			continue
		}
		if s, ok := v.(string); ok && s != "" {
			return s
		} else if !ok {
			p.warn(k, ProblemWrongType, "got %T, want a string", v)
		}
	}
	return ""
}

// firstInt returns the first integer attribute among keys.
func (p *parser) firstInt(a *attrs, keys ...string) (int64, bool) {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok || v == nil {
			continue
		}
		if n, ok := asInt(v); ok {
			return n, true
		}
		p.warn(k, ProblemWrongType, "got %v, want an integer", v)
	}
	return 0, false
}

func (p *parser) scalars(v *view, c *Call, bodies []*bodyInfo) {
	a := v.attrs
	pick := func(attr string, body func(*bodyInfo) string) string {
		if attr != "" {
			return attr
		}
		for _, b := range bodies {
			if s := body(b); s != "" {
				return s
			}
		}
		return ""
	}
	c.Provider = strings.ToLower(pick(
		p.firstString(a, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider"),
		func(b *bodyInfo) string { return b.provider }))
	if c.Provider == "" {
		c.Provider = strings.ToLower(v.resourceProvider)
	}
	c.Operation = p.operation(a, c)
	c.RequestModel = pick(p.firstString(a, "gen_ai.request.model", "ai.model.id", "llm.request.model_name", "llm.model_name"),
		func(b *bodyInfo) string { return b.requestModel })
	c.ResponseModel = pick(p.firstString(a, "gen_ai.response.model", "ai.response.model", "llm.response.model_name"),
		func(b *bodyInfo) string { return b.responseModel })
	c.ResponseID = pick(p.firstString(a, "gen_ai.response.id", "ai.response.id", "agentlightning.operation.output.id"),
		func(b *bodyInfo) string { return b.responseID })
	c.Usage = p.usage(a, bodies)
	c.RequestParams = p.requestParams(a, bodies)
	c.RequestHeaders = p.requestHeaders(a)
}

func (p *parser) operation(a *attrs, c *Call) string {
	if op, ok := a.str("gen_ai.operation.name"); ok {
		return strings.ToLower(strings.TrimSpace(op))
	}
	if t, ok := a.str("llm.request.type"); ok {
		switch strings.ToLower(t) {
		case "chat":
			return "chat"
		case "completion":
			return "text_completion"
		}
	}
	if c.Classification.IsLLMCall {
		return "chat"
	}
	return ""
}

// Usage keys, most specific first (genai-conventions.md §2.9 step 3, plus
// the cache and reasoning sub-counts in each convention's spelling).
// gen_ai.aggregated_usage.* (Pydantic AI agent runs) is deliberately not
// read: it sums the child calls.
var (
	usageInput = []string{"gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
		"ai.usage.inputTokens", "ai.usage.promptTokens"}
	usageOutput = []string{"gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
		"ai.usage.outputTokens", "ai.usage.completionTokens"}
	usageTotal = []string{"gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total",
		"ai.usage.totalTokens"}
	usageCacheRead = []string{"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
		"llm.token_count.prompt_details.cache_read", "ai.usage.cachedInputTokens"}
	// cache_write is the semantic-conventions-genai spelling; cache_creation
	// the semconv 1.40 one it replaces.
	usageCacheCreation = []string{"gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
		"gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"}
	usageReasoning = []string{"gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens",
		"llm.token_count.completion_details.reasoning", "ai.usage.reasoningTokens"}
)

func (p *parser) usage(a *attrs, bodies []*bodyInfo) Usage {
	get := func(keys []string, body func(*bodyInfo) int64) int64 {
		if n, ok := p.firstInt(a, keys...); ok {
			return n
		}
		for _, b := range bodies {
			if n := body(b); n != 0 {
				return n
			}
		}
		return 0
	}
	u := Usage{
		InputTokens:              get(usageInput, func(b *bodyInfo) int64 { return b.usage.InputTokens }),
		OutputTokens:             get(usageOutput, func(b *bodyInfo) int64 { return b.usage.OutputTokens }),
		TotalTokens:              get(usageTotal, func(b *bodyInfo) int64 { return b.usage.TotalTokens }),
		CacheReadInputTokens:     get(usageCacheRead, func(b *bodyInfo) int64 { return b.usage.CacheReadInputTokens }),
		CacheCreationInputTokens: get(usageCacheCreation, func(b *bodyInfo) int64 { return b.usage.CacheCreationInputTokens }),
		ReasoningOutputTokens:    get(usageReasoning, func(b *bodyInfo) int64 { return b.usage.ReasoningOutputTokens }),
	}
	if u.TotalTokens == 0 && u.InputTokens > 0 && u.OutputTokens > 0 {
		u.TotalTokens = u.InputTokens + u.OutputTokens
	}
	return u
}

// finishReasons reads gen_ai.response.finish_reasons (a list, a JSON list
// or a single string), gives them to the choices that have none, and keeps
// the span-level list (else the choices').
func (p *parser) finishReasons(a *attrs, c *Call) {
	var reasons []string
	// gen_ai.response.finish_reason (singular) is what instrumentations
	// wrote before semconv settled on the list.
	for _, key := range []string{"gen_ai.response.finish_reasons", "gen_ai.response.finish_reason", "llm.finish_reason"} {
		v, ok := a.get(key)
		if !ok || v == nil {
			continue
		}
		reasons = p.stringList(key, v)
		if len(reasons) > 0 {
			break
		}
	}
	for i := range reasons {
		reasons[i] = NormalizeFinishReason(reasons[i])
	}
	for i := range c.Choices {
		if c.Choices[i].FinishReason == "" && i < len(reasons) {
			c.Choices[i].FinishReason = reasons[i]
		}
	}
	if len(reasons) == 0 {
		for _, ch := range c.Choices {
			if ch.FinishReason != "" {
				reasons = append(reasons, ch.FinishReason)
			}
		}
	}
	c.FinishReasons = reasons
}

// stringList reads a list of strings, a JSON or Python list in a string, or
// a single plain string.
func (p *parser) stringList(key string, v any) []string {
	if s, ok := v.(string); ok {
		if !looksStructured(s) {
			return []string{s}
		}
		d, ok := p.decodeLoose(key, s)
		if !ok {
			return nil
		}
		v = d
	}
	list, ok := v.([]any)
	if !ok {
		p.warn(key, ProblemWrongType, "got %T, want a list of strings", v)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
