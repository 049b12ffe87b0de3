package genai

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/attrtree"
)

// Agent Lightning attribute keys (adapter/triplet.py, instrumentation/*).
const (
	AttrPromptTokenIDs   = "prompt_token_ids"
	AttrResponseTokenIDs = "response_token_ids"
	AttrLogprobsContent  = "logprobs.content"
	PrefixOperationIn    = "agentlightning.operation.input"
	PrefixOperationOut   = "agentlightning.operation.output"
)

// Token id keys, in Agent Lightning's order: the LiteLLM/OpenAI
// instrumentation patches first, then the Weave tracer's flattened
// operation output.
var (
	promptTokenKeys   = []string{AttrPromptTokenIDs, PrefixOperationOut + ".prompt_token_ids"}
	responseTokenKeys = []string{
		AttrResponseTokenIDs,
		PrefixOperationOut + ".response_token_ids.0",
		PrefixOperationOut + ".choices.0.token_ids",
		PrefixOperationOut + ".choices.0.provider_specific_fields.token_ids",
	}
)

// tokens fills the token ids and logprobs: from the span attributes first
// (lists, or stringified lists), then from the bodies (vLLM responses).
// Unlike Agent Lightning, an empty list does not stop the search.
func (p *parser) tokens(a *attrs, c *Call, bodies []*bodyInfo) {
	c.PromptTokenIDs = p.firstTokenAttr(a, promptTokenKeys, false)
	c.ResponseTokenIDs = p.firstTokenAttr(a, responseTokenKeys, true)
	for _, b := range bodies {
		if len(c.PromptTokenIDs) == 0 {
			c.PromptTokenIDs = b.promptTokenIDs
		}
		if len(c.ResponseTokenIDs) == 0 {
			c.ResponseTokenIDs = b.responseTokenIDs
		}
	}
	if v, ok := a.get(AttrLogprobsContent); ok && v != nil {
		if d, ok := p.structured(AttrLogprobsContent, v, false); ok {
			if raw, err := json.Marshal(d); err == nil {
				c.Logprobs = raw
			}
		}
	}
	for _, b := range bodies {
		if len(c.Logprobs) == 0 {
			c.Logprobs = b.logprobs
		}
	}
}

func (p *parser) firstTokenAttr(a *attrs, keys []string, nested bool) []int64 {
	for _, k := range keys {
		v, ok := a.get(k)
		if !ok || v == nil {
			continue
		}
		if ids, ok := p.tokenList(k, v, nested); ok && len(ids) > 0 {
			return ids
		}
	}
	return nil
}

// firstTokenList returns the first of values that is a non-empty token
// list.
func (p *parser) firstTokenList(key string, nested bool, values ...any) []int64 {
	for _, v := range values {
		if v == nil {
			continue
		}
		if ids, ok := p.tokenList(key, v, nested); ok && len(ids) > 0 {
			return ids
		}
	}
	return nil
}

// tokenList reads a list of integer token ids: a list value, or a JSON or
// Python list in a string (LiteLLM's raw_gen_ai_request). With nested, a
// list of lists (one per choice) gives its first list. Any non-integer item
// rejects the whole list, as in Agent Lightning.
func (p *parser) tokenList(key string, v any, nested bool) ([]int64, bool) {
	if s, ok := v.(string); ok {
		if !looksStructured(s) {
			p.warn(key, ProblemWrongType, "token ids: a string that is not a list")
			return nil, false
		}
		d, ok := p.decodeLoose(key, s)
		if !ok {
			return nil, false
		}
		v = d
	}
	list, ok := v.([]any)
	if !ok {
		p.warn(key, ProblemWrongType, "token ids: got %T, want a list of integers", v)
		return nil, false
	}
	if nested && len(list) > 0 {
		if inner, ok := list[0].([]any); ok {
			list = inner
		}
	}
	out := make([]int64, len(list))
	for i, x := range list {
		n, ok := strictInt(x)
		if !ok {
			p.warn(key, ProblemWrongType, "token ids: item %d is %T, want an integer", i, x)
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// raw fills the Agent Lightning attribute trees (see Raw).
func (p *parser) raw(a *attrs, c *Call) {
	kvs := p.boundedKVs(a)
	c.Raw.Prompt = p.firstTree(kvs, "gen_ai.prompt", PrefixOperationIn+".messages")
	c.Raw.Completion = p.firstTree(kvs, "gen_ai.completion", PrefixOperationOut+".choices")
	c.Raw.Request = p.firstTree(kvs, "gen_ai.request", PrefixOperationIn)
	c.Raw.Response = p.firstTree(kvs, "gen_ai.response", PrefixOperationOut)
	if m, ok := c.Raw.Request.(map[string]any); ok {
		delete(m, "messages")
	}
	if m, ok := c.Raw.Response.(map[string]any); ok {
		delete(m, "choices")
		delete(m, "prompt_token_ids")
		delete(m, "response_token_ids")
	}
	c.Raw.ImageURLs = PromptImageURLs(c.Raw.Prompt)
}

// boundedKVs drops the keys with more segments than the depth limit, so
// that unflattening stays shallow.
func (p *parser) boundedKVs(a *attrs) []attrtree.KV {
	max := p.cfg.limits.MaxDepth
	for i, kv := range a.kvs {
		if strings.Count(kv.Key, ".") >= max {
			out := append([]attrtree.KV(nil), a.kvs[:i]...)
			for _, kv := range a.kvs[i:] {
				if strings.Count(kv.Key, ".") >= max {
					p.warn(kv.Key[:min(len(kv.Key), 64)], ProblemTooDeep, "key with more than %d segments", max)
					continue
				}
				out = append(out, kv)
			}
			return out
		}
	}
	return a.kvs
}

// firstTree is Agent Lightning's _attributes_unflatten_multiple: the first
// non-empty unflatten among prefixes, or nil. An attribute named exactly
// like a prefix (a legacy gen_ai.prompt string) makes Python fail; here it
// is left out of the tree, and counted when it sits beside indexed keys of
// a gen_ai prefix.
func (p *parser) firstTree(kvs []attrtree.KV, prefixes ...string) any {
	for _, prefix := range prefixes {
		tree, err := attrtree.FilterAndUnflatten(kvs, prefix)
		if err != nil && strings.HasPrefix(prefix, "gen_ai.") && !attrtree.IsEmpty(tree) {
			p.warn(prefix, ProblemWrongType, "an attribute named exactly like the prefix cannot be unflattened; skipped")
		}
		if !attrtree.IsEmpty(tree) {
			return tree
		}
	}
	return nil
}

// PromptImageURLs collects the image_url URLs of a raw prompt tree, in
// order, as Agent Lightning's extract_prompt_image_urls does: the tree is a
// list of messages, or a map whose index keys (sorted) are the messages, or
// a single message; a string content is parsed as JSON (messages whose
// content does not parse are skipped). The result is never nil.
func PromptImageURLs(rawPrompt any) []string {
	var entries []any
	switch x := rawPrompt.(type) {
	case []any:
		entries = x
	case map[string]any:
		var idx []string
		for k := range x {
			if isDigits(k) {
				idx = append(idx, k)
			}
		}
		if len(idx) == 0 {
			entries = []any{x}
		}
		sort.Slice(idx, func(i, j int) bool { return numLess(idx[i], idx[j]) })
		for _, k := range idx {
			entries = append(entries, x[k])
		}
	}
	urls := []string{}
	for _, e := range entries {
		msg, ok := e.(map[string]any)
		if !ok {
			continue
		}
		content, ok := msg["content"]
		if !ok {
			continue
		}
		if s, ok := content.(string); ok {
			d, err := unmarshalJSON(s)
			if err != nil {
				continue
			}
			content = d
		}
		parts, ok := content.([]any)
		if !ok {
			continue
		}
		for _, part := range parts {
			pm, ok := part.(map[string]any)
			if !ok || field(pm, "type") != "image_url" {
				continue
			}
			if img, ok := pm["image_url"].(map[string]any); ok {
				if u, ok := img["url"].(string); ok {
					urls = append(urls, u)
				}
			}
		}
	}
	return urls
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// numLess orders digit strings numerically ("10" after "9").
func numLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// fromAgentLightningOperation reads an Agent Lightning operation span from
// the Weave tracer: the OpenAI request flattened under
// agentlightning.operation.input and the response under
// agentlightning.operation.output. Operation spans that do not wrap a model
// call (no messages, choices or token ids) are ignored.
func (p *parser) fromAgentLightningOperation(v *view) *extraction {
	a := v.attrs
	if !a.under(PrefixOperationIn) && !a.under(PrefixOperationOut) {
		return nil
	}
	kvs := p.boundedKVs(a)
	reqTree, _ := attrtree.FilterAndUnflatten(kvs, PrefixOperationIn)
	respTree, _ := attrtree.FilterAndUnflatten(kvs, PrefixOperationOut)
	req, _ := reqTree.(map[string]any)
	resp, _ := respTree.(map[string]any)
	_, hasMessages := req["messages"]
	_, hasChoices := resp["choices"]
	_, hasTokens := resp["prompt_token_ids"]
	if !hasMessages && !hasChoices && !hasTokens {
		return nil
	}
	return p.openAIBody(PrefixOperationIn, PrefixOperationOut, req, resp, ConventionAgentLightningOperation)
}
