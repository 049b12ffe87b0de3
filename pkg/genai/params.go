package genai

import "strings"

// openLLMetryParams maps OpenLLMetry's non-gen_ai parameter keys.
var openLLMetryParams = []struct{ key, name string }{
	{"llm.top_k", "top_k"},
	{"llm.frequency_penalty", "frequency_penalty"},
	{"llm.presence_penalty", "presence_penalty"},
	{"llm.chat.stop_sequences", "stop_sequences"},
	{"llm.is_streaming", "stream"},
}

// vercelSettings maps Vercel's ai.settings.* names.
var vercelSettings = map[string]string{
	"maxOutputTokens": "max_tokens", "maxTokens": "max_tokens", "temperature": "temperature",
	"topP": "top_p", "topK": "top_k", "presencePenalty": "presence_penalty",
	"frequencyPenalty": "frequency_penalty", "stopSequences": "stop_sequences", "seed": "seed",
}

// requestParams gathers the sampling parameters, first source winning per
// key: gen_ai.request.* (minus model, messages, functions, tools; note that
// the registry types top_k as a double, so it may come as 1.0),
// OpenLLMetry's llm.* keys, OpenInference's llm.invocation_parameters,
// Vercel's ai.settings.*, then request bodies.
func (p *parser) requestParams(a *attrs, bodies []*bodyInfo) map[string]any {
	out := map[string]any{}
	set := func(k string, v any) {
		if _, done := out[k]; !done && v != nil {
			out[k] = v
		}
	}
	for _, kv := range a.kvs {
		if rest, ok := strings.CutPrefix(kv.Key, "gen_ai.request."); ok {
			head, _, _ := strings.Cut(rest, ".")
			switch head {
			case "model", "messages", "functions", "tools":
				continue
			}
			set(rest, kv.Value)
		}
	}
	for _, m := range openLLMetryParams {
		if v, ok := a.get(m.key); ok {
			set(m.name, v)
		}
	}
	if v, ok := a.get("llm.invocation_parameters"); ok {
		if m, ok := p.structuredMap("llm.invocation_parameters", v, false); ok {
			for k, x := range m {
				switch k {
				case "model", "messages", "tools", "functions":
					continue
				}
				set(k, x)
			}
		}
	}
	for _, kv := range a.kvs {
		if rest, ok := strings.CutPrefix(kv.Key, "ai.settings."); ok {
			if name, known := vercelSettings[rest]; known {
				set(name, kv.Value)
			}
		}
	}
	for _, b := range bodies {
		for k, x := range b.params {
			set(k, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
