package genai

import (
	"strings"
)

// msgBuilder gathers what one source message says and emits the OpenAI
// messages for it: the tool results it carries become separate role "tool"
// messages placed first (OpenAI wants them right after the assistant turn
// that made the calls), then the message itself.
type msgBuilder struct {
	role       string
	name       string
	toolCallID string
	text       *string
	parts      []ContentPart
	keepParts  bool // content came as an OpenAI part list: never collapse it
	reasoning  []string
	toolCalls  []ToolCall
	results    []Message
	refusal    string
}

func newBuilder(role, name string) *msgBuilder {
	return &msgBuilder{role: normRole(role), name: name}
}

func (b *msgBuilder) addText(s string) { b.parts = append(b.parts, TextPart(s)) }

func (b *msgBuilder) addReasoning(s string) {
	if s != "" {
		b.reasoning = append(b.reasoning, s)
	}
}

func (b *msgBuilder) addToolCall(tc ToolCall) { b.toolCalls = append(b.toolCalls, tc) }

func (b *msgBuilder) addToolResult(id string, content any) {
	b.results = append(b.results, Message{
		Role:       "tool",
		ToolCallID: normID(id),
		Content:    TextContent(stringify(content)),
	})
}

func (b *msgBuilder) hasBody() bool {
	return b.text != nil || len(b.parts) > 0 || len(b.reasoning) > 0 || len(b.toolCalls) > 0 || b.refusal != ""
}

func (b *msgBuilder) content() Content {
	switch {
	case b.text != nil && len(b.parts) == 0:
		return TextContent(*b.text)
	case len(b.parts) == 0:
		return Content{}
	case b.text != nil:
		return PartsContent(append([]ContentPart{TextPart(*b.text)}, b.parts...)...)
	case !b.keepParts && len(b.parts) == 1 && b.parts[0].Type == "text" && b.parts[0].Raw == nil:
		return TextContent(b.parts[0].Text)
	}
	return PartsContent(b.parts...)
}

func (b *msgBuilder) build() []Message {
	out := b.results
	if b.hasBody() || len(b.results) == 0 {
		role := b.role
		if role == "" {
			role = "user"
		}
		if role == "tool" {
			b.name = "" // OpenAI tool messages have no name
		}
		out = append(out, Message{
			Role:             role,
			Content:          b.content(),
			Name:             b.name,
			ToolCalls:        b.toolCalls,
			ToolCallID:       normID(b.toolCallID),
			ReasoningContent: strings.Join(b.reasoning, "\n"),
			Refusal:          b.refusal,
		})
	}
	return out
}

// normRole lower-cases a role; the OpenAI set (system, developer, user,
// assistant, tool) and any other role pass through.
func normRole(r string) string { return strings.ToLower(strings.TrimSpace(r)) }

// normID trims tool call ids: the semconv registry example itself has a
// leading space (" call_…"), which would break the id match between a call
// and its result.
func normID(id string) string { return strings.TrimSpace(id) }

// NormalizeFinishReason maps provider spellings of a finish reason to
// OpenAI's: tool_call (the OTel enum), tool-calls (Vercel) and tool_use
// (Anthropic) become tool_calls; content-filter becomes content_filter;
// end_turn and stop_sequence become stop; max_tokens becomes length. Other
// values are lower-cased.
func NormalizeFinishReason(r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	switch r {
	case "tool_call", "tool-calls", "tool-call", "tool_use":
		return "tool_calls"
	case "content-filter":
		return "content_filter"
	case "end_turn", "stop_sequence":
		return "stop"
	case "max_tokens", "max-tokens":
		return "length"
	}
	return r
}

// openAIMessages reads a list of OpenAI chat messages.
func (p *parser) openAIMessages(key string, v any, defaultRole string) []Message {
	list, ok := listOf(v)
	if !ok {
		p.warn(key, ProblemWrongType, "messages: got %T, want a list", v)
		return nil
	}
	var out []Message
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "message: got %T, want an object", item)
			continue
		}
		out = append(out, p.openAIMessage(key, m, defaultRole)...)
	}
	return out
}

// openAIMessage reads one OpenAI chat message (also the body of the OTel
// ≤ 1.36 message events and the messages of Vercel's and LiteLLM's
// payloads, which share its fields).
func (p *parser) openAIMessage(key string, m map[string]any, defaultRole string) []Message {
	role := field(m, "role")
	if role == "" {
		role = defaultRole
	}
	b := newBuilder(role, field(m, "name"))
	b.toolCallID = field(m, "tool_call_id")
	if c, ok := m["content"]; ok {
		p.contentInto(key, c, b)
	}
	if tcs, ok := m["tool_calls"]; ok && tcs != nil {
		for _, tc := range p.toolCalls(key, tcs) {
			b.addToolCall(tc)
		}
	}
	if fc, ok := m["function_call"].(map[string]any); ok {
		b.addToolCall(ToolCall{Type: "function", Function: FunctionCall{
			Name: field(fc, "name"), Arguments: argumentsString(fc["arguments"]),
		}})
	}
	b.addReasoning(field(m, "reasoning_content", "reasoning"))
	b.refusal = field(m, "refusal")
	return b.build()
}

// contentInto reads OpenAI content: a string, a list of parts (strings
// count as text parts), a single part object, or null.
func (p *parser) contentInto(key string, c any, b *msgBuilder) {
	switch x := c.(type) {
	case nil:
	case string:
		b.text = &x
	case []any:
		b.keepParts = true
		for _, item := range x {
			p.partInto(key, item, b)
		}
	case map[string]any:
		p.partInto(key, x, b)
	default:
		s := stringify(x)
		b.text = &s
	}
}

// partInto reads one content part, including the Anthropic-style tool_use,
// tool_result and thinking parts some payloads carry.
func (p *parser) partInto(key string, item any, b *msgBuilder) {
	switch x := item.(type) {
	case string:
		b.addText(x)
		return
	case map[string]any:
		switch partType(x) {
		case "tool_use":
			b.addToolCall(ToolCall{ID: normID(field(x, "id")), Type: "function", Function: FunctionCall{
				Name: field(x, "name"), Arguments: argumentsString(x["input"]),
			}})
			return
		case "tool_result":
			b.addToolResult(field(x, "tool_use_id", "id"), toolResultText(x["content"]))
			return
		}
		part, reasoning, ok := p.openAIPart(key, x)
		switch {
		case reasoning != "":
			b.addReasoning(reasoning)
		case ok:
			b.parts = append(b.parts, part)
		}
		return
	case nil:
		return
	}
	p.warn(key, ProblemWrongType, "content part: got %T", item)
}

// toolResultText flattens an Anthropic tool_result content (a string or a
// list of text blocks).
func toolResultText(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	var sb strings.Builder
	for _, item := range list {
		if m, ok := item.(map[string]any); ok && partType(m) == "text" {
			sb.WriteString(field(m, "text"))
			continue
		}
		return v
	}
	return sb.String()
}

func partType(m map[string]any) string {
	if t := field(m, "type"); t != "" {
		return strings.ToLower(t)
	}
	return strings.ToLower(field(m, "kind")) // Pydantic AI's event parts
}

// openAIPart reads an OpenAI content part; reasoning parts return their
// text; parts with no OpenAI equivalent are kept raw.
func (p *parser) openAIPart(key string, m map[string]any) (part ContentPart, reasoning string, ok bool) {
	if m == nil {
		return ContentPart{}, "", false
	}
	switch t := partType(m); t {
	case "text", "input_text", "output_text":
		return TextPart(field(m, "text", "content")), "", true
	case "reasoning", "thinking", "redacted_thinking":
		return ContentPart{}, field(m, "text", "thinking", "content", "reasoning"), true
	case "image_url", "input_image":
		switch u := m["image_url"].(type) {
		case string:
			return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: u, Detail: field(m, "detail")}}, "", true
		case map[string]any:
			return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: field(u, "url"), Detail: field(u, "detail")}}, "", true
		}
	case "input_audio":
		if a, ok := m["input_audio"].(map[string]any); ok {
			return ContentPart{Type: "input_audio", InputAudio: &InputAudio{Data: field(a, "data"), Format: field(a, "format")}}, "", true
		}
	case "file":
		if f, ok := m["file"].(map[string]any); ok {
			return ContentPart{Type: "file", File: &File{
				FileID: field(f, "file_id"), FileData: field(f, "file_data"), Filename: field(f, "filename"),
			}}, "", true
		}
	case "image-url": // Pydantic AI < 4
		return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: field(m, "url")}}, "", true
	case "binary": // Pydantic AI < 4
		mime := field(m, "media_type")
		return mediaPart(modalityOf(mime), mime, field(m, "content", "binary_content"), m), "", true
	case "":
		if s, ok := m["text"].(string); ok {
			return TextPart(s), "", true
		}
	}
	return ContentPart{Type: partType(m), Raw: m}, "", true
}

// mediaPart turns inline data into the OpenAI part for its modality: images
// become data-URL image_url parts, audio input_audio parts, anything else a
// file part with a data URL. raw is kept when the data is missing.
func mediaPart(modality, mime, data string, raw map[string]any) ContentPart {
	if data == "" {
		return ContentPart{Type: field(raw, "type"), Raw: raw}
	}
	if mime == "" {
		mime = "application/octet-stream"
	}
	dataURL := "data:" + mime + ";base64," + data
	switch modality {
	case "image":
		return ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: dataURL}}
	case "audio":
		return ContentPart{Type: "input_audio", InputAudio: &InputAudio{Data: data, Format: audioFormat(mime)}}
	}
	return ContentPart{Type: "file", File: &File{FileData: dataURL}}
}

func modalityOf(mime string) string {
	kind, _, _ := strings.Cut(strings.ToLower(mime), "/")
	switch kind {
	case "image", "audio", "video":
		return kind
	}
	return "document"
}

// audioFormat maps an audio MIME type to OpenAI's input_audio format.
func audioFormat(mime string) string {
	_, sub, _ := strings.Cut(strings.ToLower(mime), "/")
	switch sub {
	case "wav", "x-wav", "wave", "vnd.wave":
		return "wav"
	case "mpeg", "mp3", "mpeg3", "x-mpeg-3":
		return "mp3"
	}
	return sub
}

// toolCalls reads a list of tool calls in any of the shapes the
// conventions use: OpenAI {id, type, function:{name, arguments}}, flat
// {id, name, arguments} (OpenLLMetry), OpenInference {tool_call:{...}} and
// Vercel {toolCallId, toolName, args|input}.
func (p *parser) toolCalls(key string, v any) []ToolCall {
	list, ok := listOf(v)
	if !ok {
		if d, ok := p.structured(key, v, true); ok {
			list, _ = listOf(d)
		}
	}
	var out []ToolCall
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "tool call: got %T, want an object", item)
			continue
		}
		out = append(out, toolCallFromMap(m))
	}
	return out
}

func toolCallFromMap(m map[string]any) ToolCall {
	if inner, ok := m["tool_call"].(map[string]any); ok {
		m = inner
	}
	tc := ToolCall{ID: normID(field(m, "id", "toolCallId", "tool_call_id")), Type: toolCallType(field(m, "type"))}
	if fn, ok := m["function"].(map[string]any); ok {
		tc.Function = FunctionCall{Name: field(fn, "name"), Arguments: argumentsString(fn["arguments"])}
		return tc
	}
	args, _ := firstPresent(m, "arguments", "args", "input")
	tc.Function = FunctionCall{Name: field(m, "name", "toolName"), Arguments: argumentsString(args)}
	return tc
}

// toolCallType maps the type of a tool call to OpenAI's chat format, which
// knows "function" and "custom" calls only. Every other spelling of a call
// of a named function — the OTel part type tool_call, Vercel's tool-call
// (streamText's ai.response.toolCalls), Anthropic's tool_use, the Responses
// API's function_call — is a function call; OpenAI fine-tuning rejects a
// line with any other type.
func toolCallType(t string) string {
	if t == "custom" {
		return t
	}
	return "function"
}

// argumentsString renders tool-call arguments as OpenAI's JSON string: a
// string is kept byte for byte, a missing value is "{}", anything else is
// encoded as JSON (object keys sorted).
func argumentsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "{}"
	case string:
		return x
	}
	return stringify(v)
}

// tools reads a list of tool definitions.
func (p *parser) tools(key string, v any) []Tool {
	list, ok := listOf(v)
	if !ok {
		p.warn(key, ProblemWrongType, "tools: got %T, want a list", v)
		return nil
	}
	var out []Tool
	for _, item := range list {
		if s, ok := item.(string); ok { // Vercel: a list of JSON strings
			d, ok := p.decodeJSON(key, s)
			if !ok {
				continue
			}
			item = d
		}
		m, ok := item.(map[string]any)
		if !ok {
			p.warn(key, ProblemWrongType, "tool definition: got %T, want an object", item)
			continue
		}
		if t, ok := p.toolFromMap(key, m); ok {
			out = append(out, t)
		}
	}
	return out
}

// toolFromMap reads a tool definition: OpenAI {type, function:{...}}, flat
// {type?, name, description, parameters} (OTel, OpenLLMetry), Vercel's
// inputSchema, Anthropic's input_schema, Pydantic AI's
// parameters_json_schema. Definitions of other types are kept raw.
func (p *parser) toolFromMap(key string, m map[string]any) (Tool, bool) {
	t := strings.ToLower(field(m, "type"))
	if fn, ok := m["function"].(map[string]any); ok && (t == "" || t == "function") {
		return Tool{Type: "function", Function: p.functionDef(key, fn)}, true
	}
	if _, named := m["name"].(string); named && (t == "" || t == "function") {
		return Tool{Type: "function", Function: p.functionDef(key, m)}, true
	}
	if t != "" {
		return Tool{Type: t, Raw: m}, true
	}
	p.warn(key, ProblemMissingField, "tool definition without type or name")
	return Tool{}, false
}

func (p *parser) functionDef(key string, m map[string]any) *FunctionDef {
	fd := &FunctionDef{Name: field(m, "name"), Description: field(m, "description")}
	if params, ok := firstPresent(m, "parameters", "inputSchema", "input_schema", "parameters_json_schema"); ok {
		if s, isStr := params.(string); isStr {
			if d, ok := p.decodeLoose(key, s); ok {
				fd.Parameters = d
			}
		} else {
			fd.Parameters = params
		}
	}
	if strict, ok := m["strict"].(bool); ok {
		fd.Strict = &strict
	}
	return fd
}
