package genai

import "strings"

// OTel ≥ 1.37 content attributes.
const (
	AttrInputMessages      = "gen_ai.input.messages"
	AttrOutputMessages     = "gen_ai.output.messages"
	AttrSystemInstructions = "gen_ai.system_instructions"
	AttrToolDefinitions    = "gen_ai.tool.definitions"
)

// fromOTel reads the OTel ≥ 1.37 attributes, each a JSON string or a
// structured AnyValue. Before OpenLLMetry 0.54 the tool definitions were
// flattened (gen_ai.tool.definitions.N.*); those are read too.
func (p *parser) fromOTel(a *attrs, conv Convention) *extraction {
	ex := &extraction{conv: conv}
	if v, ok := a.get(AttrSystemInstructions); ok {
		ex.system = p.otelSystemInstructions(AttrSystemInstructions, v)
	}
	if v, ok := a.get(AttrInputMessages); ok {
		if list, ok := p.messageList(AttrInputMessages, v); ok {
			ex.messages = p.otelMessages(AttrInputMessages, list)
		}
	}
	if v, ok := a.get(AttrOutputMessages); ok {
		if list, ok := p.messageList(AttrOutputMessages, v); ok {
			ex.choices = p.otelChoices(AttrOutputMessages, list)
		}
	}
	if v, ok := a.get(AttrToolDefinitions); ok {
		if list, ok := p.structuredList(AttrToolDefinitions, v, false); ok {
			ex.tools = p.tools(AttrToolDefinitions, list)
		}
	} else if a.under(AttrToolDefinitions) {
		ex.tools = p.indexedTools(a, AttrToolDefinitions)
	}
	if ex.empty() {
		return nil
	}
	return ex
}

// messageList decodes a message list attribute; a single message object is
// taken as a list of one.
func (p *parser) messageList(key string, v any) ([]any, bool) {
	d, ok := p.structured(key, v, false)
	if !ok {
		return nil, false
	}
	switch x := d.(type) {
	case []any:
		return x, true
	case map[string]any:
		return []any{x}, true
	}
	p.warn(key, ProblemWrongType, "got %T, want a list of messages", d)
	return nil, false
}

// otelSystemInstructions reads gen_ai.system_instructions: a list of parts
// (JSON or structured); plain text that is not JSON is taken as one text
// part.
func (p *parser) otelSystemInstructions(key string, v any) *Content {
	if s, ok := v.(string); ok && !looksStructured(s) {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		c := TextContent(s)
		return &c
	}
	d, ok := p.structured(key, v, false)
	if !ok {
		return nil
	}
	var parts []any
	switch x := d.(type) {
	case []any:
		parts = x
	case map[string]any:
		parts = []any{x}
	default:
		p.warn(key, ProblemWrongType, "got %T, want a list of parts", d)
		return nil
	}
	b := newBuilder("system", "")
	p.otelPartsInto(key, parts, b)
	if !b.hasBody() {
		return nil
	}
	c := b.content()
	return &c
}

func (p *parser) otelMessages(key string, list []any) []Message {
	var out []Message
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "message: got %T, want an object", item)
			continue
		}
		out = append(out, p.otelMessage(key, m, "")...)
	}
	return out
}

// otelChoices reads gen_ai.output.messages: one message per choice.
func (p *parser) otelChoices(key string, list []any) []Choice {
	var out []Choice
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "output message: got %T, want an object", item)
			continue
		}
		msgs := p.otelMessage(key, m, "assistant")
		if len(msgs) == 0 {
			continue
		}
		out = append(out, Choice{
			Index:        len(out),
			Message:      msgs[len(msgs)-1],
			FinishReason: NormalizeFinishReason(field(m, "finish_reason")),
		})
	}
	return out
}

// otelMessage reads one ChatMessage {role, parts, name}. A message that
// has "content" and no "parts" is read as an OpenAI message (some SDKs mix
// the two).
func (p *parser) otelMessage(key string, m map[string]any, defaultRole string) []Message {
	parts, hasParts := m["parts"]
	if !hasParts {
		if _, hasContent := m["content"]; hasContent {
			return p.openAIMessage(key, m, defaultRole)
		}
	}
	role := field(m, "role")
	if role == "" {
		role = defaultRole
	}
	b := newBuilder(role, field(m, "name"))
	if list, ok := listOf(parts); ok {
		p.otelPartsInto(key, list, b)
	} else if parts != nil {
		p.warn(key, ProblemWrongType, "parts: got %T, want a list", parts)
	}
	return b.build()
}

// otelPartsInto reads OTel message parts. It accepts the schema quirks seen
// in the wild: "result" as well as "response" for tool results (the
// registry example and Pydantic AI), "thinking" for "reasoning" (Pydantic
// AI), Pydantic AI's pre-v4 image-url / binary parts, and tool results in a
// user-role message (Pydantic AI before instrumentation version 6), which
// become role "tool" messages.
func (p *parser) otelPartsInto(key string, parts []any, b *msgBuilder) {
	for _, item := range parts {
		switch x := item.(type) {
		case string:
			b.addText(x)
			continue
		case map[string]any:
			p.otelPartInto(key, x, b)
			continue
		}
		p.warn(key, ProblemWrongType, "part: got %T, want an object", item)
	}
}

func (p *parser) otelPartInto(key string, m map[string]any, b *msgBuilder) {
	switch t := partType(m); t {
	case "text":
		b.addText(field(m, "content", "text"))
	case "reasoning", "thinking":
		b.addReasoning(field(m, "content", "text"))
	case "tool_call":
		args, _ := firstPresent(m, "arguments", "args")
		b.addToolCall(ToolCall{ID: normID(field(m, "id")), Type: "function", Function: FunctionCall{
			Name: field(m, "name"), Arguments: argumentsString(args),
		}})
	case "tool_call_response":
		res, _ := firstPresent(m, "response", "result")
		b.addToolResult(field(m, "id"), res)
	case "blob":
		b.parts = append(b.parts, mediaPart(field(m, "modality"), field(m, "mime_type"), field(m, "content"), m))
	case "uri":
		if field(m, "modality") == "image" || strings.HasPrefix(field(m, "mime_type"), "image/") {
			b.parts = append(b.parts, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: field(m, "uri")}})
			return
		}
		b.parts = append(b.parts, ContentPart{Type: t, Raw: m})
	case "file":
		if id := field(m, "file_id"); id != "" {
			b.parts = append(b.parts, ContentPart{Type: "file", File: &File{FileID: id}})
			return
		}
		b.parts = append(b.parts, ContentPart{Type: t, Raw: m})
	default:
		// image-url, binary, server tool calls, generic parts.
		part, reasoning, ok := p.openAIPart(key, m)
		switch {
		case reasoning != "":
			b.addReasoning(reasoning)
		case ok:
			b.parts = append(b.parts, part)
		}
	}
}
