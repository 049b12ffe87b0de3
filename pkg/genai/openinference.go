package genai

import "strings"

// OpenInference prefixes.
const (
	PrefixOIInputMessages  = "llm.input_messages"
	PrefixOIOutputMessages = "llm.output_messages"
	PrefixOIPrompts        = "llm.prompts"
	PrefixOIChoices        = "llm.choices"
	PrefixOITools          = "llm.tools"
)

// fromOpenInference reads llm.input_messages.N.message.*,
// llm.output_messages.N.message.*, the completions-API llm.prompts /
// llm.choices, and llm.tools.N.tool.json_schema. When an instrumentor also
// writes the whole list as one JSON attribute (llm.input_messages), that
// form wins and the flattened duplicate is ignored.
func (p *parser) fromOpenInference(v *view) *extraction {
	a := v.attrs
	ex := &extraction{conv: ConventionOpenInference}
	ex.messages = p.oiMessages(a, PrefixOIInputMessages, "")
	for i, m := range p.oiMessages(a, PrefixOIOutputMessages, "assistant") {
		ex.choices = append(ex.choices, Choice{Index: i, Message: m})
	}
	if len(ex.messages) == 0 {
		for _, text := range p.oiTexts(a, PrefixOIPrompts, "prompt") {
			ex.messages = append(ex.messages, Message{Role: "user", Content: TextContent(text)})
		}
	}
	if len(ex.choices) == 0 {
		for i, text := range p.oiTexts(a, PrefixOIChoices, "completion") {
			ex.choices = append(ex.choices, Choice{Index: i, Message: Message{Role: "assistant", Content: TextContent(text)}})
		}
	}
	ex.tools = p.oiTools(a)
	if ex.empty() {
		return nil
	}
	return ex
}

func (p *parser) oiMessages(a *attrs, prefix, defaultRole string) []Message {
	var items []any
	if v, ok := a.get(prefix); ok {
		list, ok := p.structuredList(prefix, v, false)
		if !ok {
			return nil
		}
		items = list
	} else if a.under(prefix) {
		for _, e := range p.indexedEntries(a, prefix) {
			items = append(items, e.value)
		}
	}
	var out []Message
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(prefix, ProblemWrongType, "message: got %T, want an object", item)
			continue
		}
		if inner, ok := m["message"].(map[string]any); ok {
			out = append(out, p.oiMessage(prefix, inner, defaultRole)...)
			continue
		}
		out = append(out, p.openAIMessage(prefix, m, defaultRole)...)
	}
	return out
}

// oiMessage reads an OpenInference message: role, content or contents
// (parts {message_content:{type, text, image:{image:{url}}}}), name,
// tool_call_id, tool_calls ({tool_call:{id, function:{name, arguments}}})
// and the legacy function_call_name / function_call_arguments_json.
func (p *parser) oiMessage(key string, m map[string]any, defaultRole string) []Message {
	role := field(m, "role")
	if role == "" {
		role = defaultRole
	}
	if role == "" {
		p.warn(key, ProblemMissingField, "message without a role")
		return nil
	}
	b := newBuilder(role, field(m, "name"))
	b.toolCallID = field(m, "tool_call_id")
	if s, ok := m["content"].(string); ok {
		b.text = &s
	}
	if contents, ok := listOf(m["contents"]); ok {
		for _, item := range contents {
			c, ok := item.(map[string]any)
			if !ok {
				continue
			}
			if inner, ok := c["message_content"].(map[string]any); ok {
				c = inner
			}
			p.oiContentInto(key, c, b)
		}
	}
	if tcs, ok := listOf(m["tool_calls"]); ok {
		for _, item := range tcs {
			if tc, ok := item.(map[string]any); ok {
				b.addToolCall(toolCallFromMap(tc))
			}
		}
	}
	if name := field(m, "function_call_name"); name != "" {
		b.addToolCall(ToolCall{Type: "function", Function: FunctionCall{
			Name: name, Arguments: argumentsString(m["function_call_arguments_json"]),
		}})
	}
	return b.build()
}

func (p *parser) oiContentInto(key string, c map[string]any, b *msgBuilder) {
	switch strings.ToLower(field(c, "type")) {
	case "text":
		b.addText(field(c, "text"))
	case "reasoning":
		b.addReasoning(field(c, "text"))
	case "image":
		if img, ok := c["image"].(map[string]any); ok {
			if inner, ok := img["image"].(map[string]any); ok {
				img = inner
			}
			b.parts = append(b.parts, ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: field(img, "url")}})
			return
		}
		b.parts = append(b.parts, ContentPart{Type: "image", Raw: c})
	default:
		if s, ok := c["text"].(string); ok && field(c, "type") == "" {
			b.addText(s)
			return
		}
		b.parts = append(b.parts, ContentPart{Type: field(c, "type"), Raw: c})
	}
}

// oiTexts reads the completions-API texts: prefix.N.<item>.text, or a list
// of strings in prefix itself.
func (p *parser) oiTexts(a *attrs, prefix, item string) []string {
	var out []string
	if v, ok := a.get(prefix); ok {
		if list, ok := v.([]any); ok {
			for _, x := range list {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	if !a.under(prefix) {
		return nil
	}
	for _, e := range p.indexedEntries(a, prefix) {
		inner, ok := e.value[item].(map[string]any)
		if !ok {
			continue
		}
		if s, ok := inner["text"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// oiTools reads llm.tools.N.tool.json_schema (a JSON string of an OpenAI
// tool, or of a bare function schema), or llm.tools as one JSON list.
func (p *parser) oiTools(a *attrs) []Tool {
	if v, ok := a.get(PrefixOITools); ok {
		if list, ok := p.structuredList(PrefixOITools, v, false); ok {
			return p.tools(PrefixOITools, list)
		}
		return nil
	}
	if !a.under(PrefixOITools) {
		return nil
	}
	var out []Tool
	for _, e := range p.indexedEntries(a, PrefixOITools) {
		tool, ok := e.value["tool"].(map[string]any)
		if !ok {
			continue
		}
		schema, ok := tool["json_schema"]
		if !ok {
			if _, named := tool["name"]; named {
				schema = map[string]any{"type": "function", "name": tool["name"],
					"description": tool["description"], "parameters": tool["parameters"]}
			} else {
				continue
			}
		}
		m, ok := p.structuredMap(PrefixOITools, schema, false)
		if !ok {
			continue
		}
		if t, ok := p.toolFromMap(PrefixOITools, m); ok {
			out = append(out, t)
		}
	}
	return out
}
