package genai

import (
	"encoding/json"
	"strings"
)

// OpenInference generic input/output attributes.
const (
	AttrInputValue     = "input.value"
	AttrInputMimeType  = "input.mime_type"
	AttrOutputValue    = "output.value"
	AttrOutputMimeType = "output.mime_type"
)

// fromOpenAIJSON reads input.value / output.value when they hold JSON
// objects (OpenInference LLM spans record the whole request and response
// there). Values declared text/plain are ignored.
func (p *parser) fromOpenAIJSON(v *view) *extraction {
	req := p.jsonValueAttr(v.attrs, AttrInputValue, AttrInputMimeType)
	resp := p.jsonValueAttr(v.attrs, AttrOutputValue, AttrOutputMimeType)
	if req == nil && resp == nil {
		return nil
	}
	return p.openAIBody(AttrInputValue, AttrOutputValue, req, resp, ConventionOpenAIJSON)
}

func (p *parser) jsonValueAttr(a *attrs, key, mimeKey string) map[string]any {
	v, ok := a.get(key)
	if !ok {
		return nil
	}
	if mime, ok := a.str(mimeKey); ok && !strings.Contains(strings.ToLower(mime), "json") {
		return nil
	}
	if s, ok := v.(string); ok && !looksStructured(s) {
		return nil
	}
	m, _ := p.structuredMap(key, v, false)
	return m
}

// openAIBody reads an OpenAI chat (or completions) request and response,
// and the vLLM extensions Agent Lightning relies on: prompt_token_ids at the
// top level (chat) or on the choice (completions), choices[i].token_ids,
// provider_specific_fields.token_ids (newer OpenAI SDKs), and the
// response_token_ids list of lists of Agent Lightning's older vLLM patch.
func (p *parser) openAIBody(reqKey, respKey string, req, resp map[string]any, conv Convention) *extraction {
	ex := &extraction{conv: conv}
	b := &bodyInfo{}
	if req != nil {
		p.openAIRequest(reqKey, req, ex, b)
	}
	if resp != nil {
		p.openAIResponse(respKey, resp, ex, b)
	}
	if b.requestModel != "" || b.responseModel != "" || b.responseID != "" || b.usage != (Usage{}) ||
		len(b.params) > 0 || len(b.promptTokenIDs) > 0 || len(b.responseTokenIDs) > 0 || len(b.logprobs) > 0 {
		ex.body = b
	}
	if ex.empty() {
		return nil
	}
	return ex
}

func (p *parser) openAIRequest(key string, req map[string]any, ex *extraction, b *bodyInfo) {
	if msgs, ok := req["messages"]; ok && msgs != nil {
		ex.messages = p.openAIMessages(key, msgs, "")
	} else {
		switch prompt := req["prompt"].(type) {
		case string:
			ex.messages = []Message{{Role: "user", Content: TextContent(prompt)}}
		case []any:
			for _, item := range prompt {
				if s, ok := item.(string); ok {
					ex.messages = append(ex.messages, Message{Role: "user", Content: TextContent(s)})
				}
			}
		}
	}
	if tools, ok := req["tools"]; ok && tools != nil {
		ex.tools = p.tools(key, tools)
	} else if fns, ok := req["functions"]; ok && fns != nil {
		ex.tools = p.tools(key, fns)
	}
	b.requestModel = field(req, "model")
	b.params = bodyParams(req)
}

// requestParamKeys are the sampling parameters copied from request bodies.
var requestParamKeys = []string{
	"temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "n", "seed", "stop",
	"frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "stream", "min_p",
	"repetition_penalty", "response_format", "tool_choice", "reasoning_effort",
}

func bodyParams(req map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range requestParamKeys {
		if v, ok := req[k]; ok && v != nil {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (p *parser) openAIResponse(key string, resp map[string]any, ex *extraction, b *bodyInfo) {
	b.responseID = field(resp, "id")
	b.responseModel = field(resp, "model")
	choices, _ := listOf(resp["choices"])
	for i, item := range choices {
		ch, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "choice: got %T, want an object", item)
			continue
		}
		idx := i
		if n, ok := asInt(ch["index"]); ok {
			idx = int(n)
		}
		var msg Message
		if m, ok := ch["message"].(map[string]any); ok {
			msgs := p.openAIMessage(key, m, "assistant")
			msg = msgs[len(msgs)-1]
		} else if text, ok := ch["text"].(string); ok {
			msg = Message{Role: "assistant", Content: TextContent(text)}
		} else {
			continue
		}
		ex.choices = append(ex.choices, Choice{Index: idx, Message: msg, FinishReason: NormalizeFinishReason(field(ch, "finish_reason"))})
	}
	if u, ok := resp["usage"].(map[string]any); ok {
		b.usage = bodyUsage(u)
	}
	langChainOutput(resp, b)
	var first map[string]any
	if len(choices) > 0 {
		first, _ = choices[0].(map[string]any)
	}
	b.promptTokenIDs = p.firstTokenList(key, false,
		resp["prompt_token_ids"], get(first, "prompt_token_ids"))
	b.responseTokenIDs = p.firstTokenList(key, true,
		resp["response_token_ids"], get(first, "token_ids"), get(get(first, "provider_specific_fields"), "token_ids"),
		get(get(get(first, "message"), "provider_specific_fields"), "token_ids"))
	if lp, ok := get(first, "logprobs").(map[string]any); ok {
		content, hasContent := lp["content"]
		if !hasContent || content == nil {
			content = lp // completions API: {tokens, token_logprobs, ...}
		}
		if raw, err := json.Marshal(content); err == nil {
			b.logprobs = raw
		}
	}
}

// langChainOutput reads what a LangChain LLMResult (OpenInference's
// LangChain instrumentation records it as output.value) says about the
// provider's response: llm_output.id is the OpenAI response id, which is the
// only place the call's response id appears, so reward links by
// gen_ai.response.id and dedup need it; llm_output.model_name and
// token_usage fill the model and usage when nothing else did.
func langChainOutput(resp map[string]any, b *bodyInfo) {
	out, ok := resp["llm_output"].(map[string]any)
	if !ok {
		return
	}
	if b.responseID == "" {
		b.responseID = field(out, "id")
	}
	if b.responseModel == "" {
		b.responseModel = field(out, "model_name", "model")
	}
	if u, ok := out["token_usage"].(map[string]any); ok && b.usage == (Usage{}) {
		b.usage = bodyUsage(u)
	}
}

// get reads key from v when v is a map.
func get(v any, key string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return m[key]
}

func bodyUsage(u map[string]any) Usage {
	n := func(v any) int64 {
		i, _ := asInt(v)
		return i
	}
	pick := func(vs ...any) int64 {
		for _, v := range vs {
			if i := n(v); i != 0 {
				return i
			}
		}
		return 0
	}
	return Usage{
		InputTokens:  pick(u["prompt_tokens"], u["input_tokens"]),
		OutputTokens: pick(u["completion_tokens"], u["output_tokens"]),
		TotalTokens:  pick(u["total_tokens"]),
		CacheReadInputTokens: pick(get(u["prompt_tokens_details"], "cached_tokens"),
			get(u["input_tokens_details"], "cached_tokens"), u["cache_read_input_tokens"]),
		CacheCreationInputTokens: pick(u["cache_creation_input_tokens"]),
		ReasoningOutputTokens: pick(get(u["completion_tokens_details"], "reasoning_tokens"),
			get(u["output_tokens_details"], "reasoning_tokens")),
	}
}
