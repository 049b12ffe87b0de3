package genai

import (
	"github.com/otelcol-lightning/otelcol-lightning/pkg/attrtree"
)

// Indexed-key prefixes (OpenLLMetry ≤ 0.53, LiteLLM's litellm_request span,
// AgentOps).
const (
	PrefixPrompt     = "gen_ai.prompt"
	PrefixCompletion = "gen_ai.completion"
)

// indexedToolPrefixes hold flattened tool definitions: OpenLLMetry and
// LiteLLM write llm.request.functions.N.*, Agent Lightning's TraceToMessages
// reads gen_ai.request.functions.N.*, AgentOps writes gen_ai.request.tools.N.*.
var indexedToolPrefixes = []string{"llm.request.functions", "gen_ai.request.functions", "gen_ai.request.tools"}

// fromIndexed reads gen_ai.prompt.N.* and gen_ai.completion.N.* (or a
// single gen_ai.prompt / gen_ai.completion string). Indices may
// have gaps; keys without an index (gen_ai.prompt.prompt_filter_results) are
// ignored. Contents that are JSON (OpenLLMetry, for list content) or Python
// reprs (LiteLLM) of a content-part list become parts.
func (p *parser) fromIndexed(v *view) *extraction {
	a := v.attrs
	ex := &extraction{conv: indexedConvention(v)}
	if a.under(PrefixPrompt) {
		for _, m := range p.indexedEntries(a, PrefixPrompt) {
			ex.messages = append(ex.messages, p.indexedMessage(PrefixPrompt, m.value, "")...)
		}
	}
	if a.under(PrefixCompletion) {
		for _, m := range p.indexedEntries(a, PrefixCompletion) {
			msgs := p.indexedMessage(PrefixCompletion, m.value, "assistant")
			if len(msgs) == 0 {
				continue
			}
			ex.choices = append(ex.choices, Choice{
				Index:        m.index,
				Message:      msgs[len(msgs)-1],
				FinishReason: NormalizeFinishReason(field(m.value, "finish_reason")),
			})
		}
	}
	// Some SDKs put the whole prompt or completion in one string attribute
	// named like the prefix (a JSON message list, or plain text).
	if s, ok := a.str(PrefixPrompt); ok && len(ex.messages) == 0 && s != "" {
		ex.messages = p.legacyContent(PrefixPrompt, s, "user")
	}
	if s, ok := a.str(PrefixCompletion); ok && len(ex.choices) == 0 && s != "" {
		if msgs := p.legacyContent(PrefixCompletion, s, "assistant"); len(msgs) > 0 {
			ex.choices = []Choice{{Message: msgs[len(msgs)-1]}}
		}
	}
	for _, prefix := range indexedToolPrefixes {
		if v, ok := a.get(prefix); ok { // a whole list in one attribute
			if list, ok := p.structuredList(prefix, v, true); ok {
				ex.tools = p.tools(prefix, list)
			}
		} else if a.under(prefix) {
			ex.tools = p.indexedTools(a, prefix)
		}
		if len(ex.tools) > 0 {
			break
		}
	}
	if ex.empty() {
		return nil
	}
	return ex
}

func indexedConvention(v *view) Convention {
	switch {
	case v.name == "litellm_request":
		return ConventionLiteLLM
	case isAgentOps(v):
		return ConventionAgentOps
	}
	return ConventionOpenLLMetry
}

type indexedEntry struct {
	index int
	value map[string]any
}

// indexedEntries groups prefix.N.* into one unflattened map per index.
func (p *parser) indexedEntries(a *attrs, prefix string) []indexedEntry {
	entries, _, tooLarge := attrtree.Indexed(a.kvs, prefix, p.cfg.limits.MaxIndex)
	if tooLarge > 0 {
		p.warn(prefix, ProblemIndexOutOfRange, "%d keys with an index above %d ignored", tooLarge, p.cfg.limits.MaxIndex)
	}
	out := make([]indexedEntry, 0, len(entries))
	for _, e := range entries {
		if segs := maxSegments(e.KVs); segs > p.cfg.limits.MaxDepth {
			p.warn(prefix, ProblemTooDeep, "key with %d segments", segs)
			continue
		}
		m, ok := attrtree.Unflatten(e.KVs).(map[string]any)
		if !ok || len(e.KVs) == 1 && e.KVs[0].Key == "" {
			p.warn(prefix, ProblemWrongType, "entry %d is not a set of fields", e.Index)
			continue
		}
		out = append(out, indexedEntry{index: e.Index, value: m})
	}
	return out
}

func maxSegments(kvs []attrtree.KV) int {
	most := 0
	for _, kv := range kvs {
		n := 1
		for i := 0; i < len(kv.Key); i++ {
			if kv.Key[i] == '.' {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// indexedMessage reads one gen_ai.prompt.N / gen_ai.completion.N entry. A
// missing role is inferred as Agent Lightning does (tool_calls → assistant,
// tool_call_id → tool); otherwise the entry is skipped.
func (p *parser) indexedMessage(key string, m map[string]any, defaultRole string) []Message {
	role := field(m, "role")
	if role == "" {
		switch {
		case m["tool_calls"] != nil:
			role = "assistant"
		case m["tool_call_id"] != nil:
			role = "tool"
		default:
			role = defaultRole
		}
	}
	if role == "" {
		p.warn(key, ProblemMissingField, "message without a role")
		return nil
	}
	b := newBuilder(role, field(m, "name"))
	b.toolCallID = field(m, "tool_call_id")
	switch c := m["content"].(type) {
	case string:
		if d, ok := p.contentParts(key, c); ok {
			p.contentInto(key, d, b)
		} else {
			b.text = &c
		}
	case nil:
	default:
		p.contentInto(key, c, b)
	}
	if tcs, ok := listOf(m["tool_calls"]); ok {
		for _, item := range tcs {
			if tc, ok := item.(map[string]any); ok {
				b.addToolCall(toolCallFromMap(tc))
			}
		}
	}
	if fc, ok := m["function_call"].(map[string]any); ok { // LiteLLM before per-choice tool calls
		b.addToolCall(ToolCall{Type: "function", Function: FunctionCall{
			Name: field(fc, "name"), Arguments: argumentsString(fc["arguments"]),
		}})
	}
	b.addReasoning(field(m, "reasoning_content", "reasoning"))
	b.refusal = field(m, "refusal")
	return b.build()
}

// contentParts decodes a string content that holds a list of content parts
// (JSON from OpenLLMetry, a Python repr from LiteLLM). Plain text that
// merely looks like a list stays text, uncounted.
func (p *parser) contentParts(key, s string) ([]any, bool) {
	if !looksStructured(s) {
		return nil, false
	}
	d, ok := p.tryLoose(key, s)
	if !ok {
		return nil, false
	}
	list, ok := d.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		if _, ok := m["type"].(string); !ok {
			return nil, false
		}
	}
	return list, true
}

// indexedTools reads prefix.N.{name, description, parameters} (or
// prefix.N.function.*) tool definitions.
func (p *parser) indexedTools(a *attrs, prefix string) []Tool {
	var out []Tool
	for _, e := range p.indexedEntries(a, prefix) {
		if _, ok := e.value["type"]; !ok {
			if _, hasFn := e.value["function"]; !hasFn {
				e.value["type"] = "function"
			}
		}
		if t, ok := p.toolFromMap(prefix, e.value); ok {
			out = append(out, t)
		}
	}
	return out
}
