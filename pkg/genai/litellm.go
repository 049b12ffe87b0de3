package genai

import (
	"strings"
)

// AttrRequesterHeaders is LiteLLM's record of the caller's custom headers,
// a Python-repr dict string such as
// "{'x-rollout-id': 'ro-1', 'x-attempt-id': 'at-1', 'x-sequence-id': '3'}".
const AttrRequesterHeaders = "metadata.requester_custom_headers"

// requestHeaders reads metadata.requester_custom_headers (a Python repr, a
// JSON string or a structured map); values are rendered as strings.
func (p *parser) requestHeaders(a *attrs) map[string]string {
	v, ok := a.get(AttrRequesterHeaders)
	if !ok || v == nil {
		return nil
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return nil
	}
	m, ok := p.structuredMap(AttrRequesterHeaders, v, true)
	if !ok || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = stringify(x)
	}
	return out
}

// liteLLMSignals are the raw parameters that mark llm.<provider>.* keys as
// LiteLLM's raw request/response rather than another convention's llm.*
// keys (llm.usage.total_tokens, llm.request.type, ...).
var liteLLMSignals = []string{"messages", "choices", "prompt_token_ids", "response_token_ids"}

// notProviders are llm.<segment> namespaces of other conventions.
var notProviders = map[string]bool{
	"usage": true, "request": true, "response": true, "chat": true, "token_count": true, "cost": true,
	"input_messages": true, "output_messages": true, "tools": true, "prompts": true, "choices": true,
	"prompt_template": true, "invocation_parameters": true, "model_name": true, "provider": true, "system": true,
}

// fromLiteLLMRaw reads LiteLLM's raw_gen_ai_request span: every key of the
// raw provider request and response as llm.<provider>.<param>, non-primitive
// values as Python reprs (llm.hosted_vllm.messages, .choices,
// .prompt_token_ids, .response_token_ids, .id, ...).
func (p *parser) fromLiteLLMRaw(v *view) *extraction {
	provider := liteLLMProvider(v.attrs)
	if provider == "" {
		return nil
	}
	prefix := "llm." + provider + "."
	body := map[string]any{}
	for _, kv := range v.attrs.kvs {
		param, ok := strings.CutPrefix(kv.Key, prefix)
		if !ok || param == "" || strings.Contains(param, ".") {
			continue
		}
		val := kv.Value
		if s, ok := val.(string); ok && strings.ContainsAny(firstByte(s), "[{(") {
			d, ok := p.decodeLoose(kv.Key, s)
			if !ok {
				continue
			}
			val = d
		}
		body[param] = val
	}
	ex := p.openAIBody(prefix+"messages", prefix+"choices", body, body, ConventionLiteLLMRaw)
	if ex == nil {
		return nil
	}
	if ex.body == nil {
		ex.body = &bodyInfo{}
	}
	ex.body.provider = provider
	return ex
}

// firstByte returns the first non-space byte of s, as a string.
func firstByte(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return s[:1]
}

// liteLLMProvider finds the <provider> of llm.<provider>.<signal> keys.
func liteLLMProvider(a *attrs) string {
	for _, kv := range a.kvs {
		rest, ok := strings.CutPrefix(kv.Key, "llm.")
		if !ok {
			continue
		}
		provider, param, ok := strings.Cut(rest, ".")
		if !ok || notProviders[provider] || strings.Contains(param, ".") {
			continue
		}
		for _, s := range liteLLMSignals {
			if param == s {
				return provider
			}
		}
	}
	return ""
}
