package genai

import "strings"

// Vercel AI SDK attributes.
const (
	AttrVercelPromptMessages = "ai.prompt.messages"
	AttrVercelPrompt         = "ai.prompt"
	AttrVercelPromptTools    = "ai.prompt.tools"
)

// fromVercel reads a Vercel AI SDK span: ai.prompt.messages (the
// LanguageModel prompt, JSON) on the doGenerate/doStream spans, or ai.prompt
// ({system, prompt|messages}) on the outer spans; the output from
// ai.response.text, ai.response.reasoning and ai.response.toolCalls (SDK < 4:
// ai.result.*); tools from ai.prompt.tools (a list of JSON strings). Both
// the v4 part fields (args, result) and the v5 ones (input, output) are read.
func (p *parser) fromVercel(v *view) *extraction {
	a := v.attrs
	ex := &extraction{conv: ConventionVercel}
	if msgs, ok := a.get(AttrVercelPromptMessages); ok {
		if list, ok := p.structuredList(AttrVercelPromptMessages, msgs, false); ok {
			ex.messages = p.vercelMessages(AttrVercelPromptMessages, list)
		}
	} else if prompt, ok := a.get(AttrVercelPrompt); ok {
		p.vercelOuterPrompt(prompt, ex)
	}
	if ch, ok := p.vercelChoice(a); ok {
		ex.choices = []Choice{ch}
	}
	if tools, ok := a.get(AttrVercelPromptTools); ok {
		if s, isStr := tools.(string); isStr {
			if list, ok := p.structuredList(AttrVercelPromptTools, s, false); ok {
				ex.tools = p.tools(AttrVercelPromptTools, list)
			}
		} else {
			ex.tools = p.tools(AttrVercelPromptTools, tools)
		}
	}
	if ex.empty() {
		return nil
	}
	return ex
}

func (p *parser) vercelOuterPrompt(v any, ex *extraction) {
	m, ok := p.structuredMap(AttrVercelPrompt, v, false)
	if !ok {
		return
	}
	if s := field(m, "system"); s != "" {
		c := TextContent(s)
		ex.system = &c
	}
	switch x := m["prompt"].(type) {
	case string:
		ex.messages = []Message{{Role: "user", Content: TextContent(x)}}
	case []any:
		ex.messages = p.vercelMessages(AttrVercelPrompt, x)
	}
	if msgs, ok := m["messages"].([]any); ok && len(ex.messages) == 0 {
		ex.messages = p.vercelMessages(AttrVercelPrompt, msgs)
	}
}

func (p *parser) vercelMessages(key string, list []any) []Message {
	var out []Message
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "message: got %T, want an object", item)
			continue
		}
		b := newBuilder(field(m, "role"), "")
		switch c := m["content"].(type) {
		case string:
			b.text = &c
		case []any:
			for _, part := range c {
				if pm, ok := part.(map[string]any); ok {
					p.vercelPartInto(key, pm, b)
				}
			}
		}
		out = append(out, b.build()...)
	}
	return out
}

func (p *parser) vercelPartInto(key string, m map[string]any, b *msgBuilder) {
	switch field(m, "type") {
	case "text":
		b.addText(field(m, "text"))
	case "reasoning":
		b.addReasoning(field(m, "text"))
	case "redacted-reasoning":
	case "tool-call":
		args, _ := firstPresent(m, "input", "args")
		b.addToolCall(ToolCall{ID: normID(field(m, "toolCallId")), Type: "function", Function: FunctionCall{
			Name: field(m, "toolName"), Arguments: argumentsString(args),
		}})
	case "tool-result":
		res, _ := firstPresent(m, "output", "result")
		b.addToolResult(field(m, "toolCallId"), vercelToolOutput(res))
	case "image":
		mime := field(m, "mediaType", "mimeType")
		if mime == "" {
			mime = "image/*"
		}
		b.parts = append(b.parts, vercelMedia(field(m, "image"), mime, m))
	case "file":
		b.parts = append(b.parts, vercelMedia(field(m, "data"), field(m, "mediaType", "mimeType"), m))
	default:
		b.parts = append(b.parts, ContentPart{Type: field(m, "type"), Raw: m})
	}
}

// vercelToolOutput unwraps a v5 tool output {type: text|json|error-text|
// error-json|content, value}; a v4 result is returned as it is.
func vercelToolOutput(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if _, hasValue := m["value"]; !hasValue {
		return v
	}
	switch field(m, "type") {
	case "text", "json", "error-text", "error-json", "content":
		return m["value"]
	}
	return v
}

// vercelMedia turns image or file data (a URL, a data URL or base64) into
// an OpenAI part.
func vercelMedia(data, mime string, raw map[string]any) ContentPart {
	isURL := strings.HasPrefix(data, "http://") || strings.HasPrefix(data, "https://") || strings.HasPrefix(data, "data:")
	if strings.HasPrefix(mime, "image/") {
		if isURL {
			return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: data}}
		}
		if mime == "image/*" {
			mime = "image/png"
		}
	}
	if isURL || data == "" {
		return ContentPart{Type: field(raw, "type"), Raw: raw}
	}
	return mediaPart(modalityOf(mime), mime, data, raw)
}

func (p *parser) vercelChoice(a *attrs) (Choice, bool) {
	b := newBuilder("assistant", "")
	found := false
	if s := p.firstString(a, "ai.response.text", "ai.result.text"); s != "" {
		b.text, found = &s, true
	}
	if s := p.firstString(a, "ai.response.reasoning"); s != "" {
		b.addReasoning(s)
		found = true
	}
	for _, key := range []string{"ai.response.toolCalls", "ai.result.toolCalls"} {
		v, ok := a.get(key)
		if !ok {
			continue
		}
		if list, ok := p.structuredList(key, v, false); ok {
			for _, tc := range p.toolCalls(key, list) {
				b.addToolCall(tc)
				found = true
			}
		}
		break
	}
	if !found {
		return Choice{}, false
	}
	msgs := b.build()
	reason := p.firstString(a, "ai.response.finishReason", "ai.finishReason")
	return Choice{Message: msgs[len(msgs)-1], FinishReason: NormalizeFinishReason(reason)}, true
}
