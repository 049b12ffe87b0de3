package llmproxyreceiver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The client APIs the proxy serves by translating to Chat Completions, so
// that their calls reach vLLM/SGLang's chat endpoint and get exact token
// ids too: neither OpenAI's Responses API nor Anthropic's Messages API
// carries token ids (token-capture.md §6, §7).
const (
	apiResponses = "responses"
	apiMessages  = "messages"
)

// translator turns a client API's request into a chat request and renders
// the chat answer back in the client's API, whole or as a stream.
type translator interface {
	// toChat converts the client's request; an error is the client's
	// fault (400).
	toChat(top map[string]json.RawMessage) ([]byte, error)
	// render is the whole answer.
	render(asm *assembler) []byte
	// chunk renders the stream events of one upstream chunk.
	chunk(out []byte, w *wireObject) []byte
	// finish renders the stream's closing events.
	finish(out []byte, asm *assembler) []byte
	// streamError renders an error event after the stream started.
	streamError(out []byte, msg string) []byte
	// errorBody renders an upstream or proxy error in the API's shape.
	errorBody(status int, typ, msg string) []byte
}

func newTranslator(api string) translator {
	switch api {
	case apiMessages:
		return &messagesTranslator{}
	case apiResponses:
		return &responsesTranslator{created: time.Now().Unix()}
	}
	return nil
}

var errUnsupported = errors.New("not supported by the proxy")

// chatMessage is an OpenAI chat message as the proxy builds it.
type chatMessage struct {
	Role       string         `json:"role"`
	Content    *string        `json:"content"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	} `json:"function"`
}

func strp(s string) *string { return &s }

// copyScalars copies sampling fields that mean the same in both APIs.
func copyScalars(top map[string]json.RawMessage, out map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := top[k]; ok && !isNull(v) {
			out[k] = v
		}
	}
}

// textOf reads content given as a string or a list of text blocks/parts
// (any block with a "text" field).
func textOf(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.Text
	}
	return strings.Join(texts, ""), true
}

func sseEvent(out []byte, typ string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	out = append(out, "event: "...)
	out = append(out, typ...)
	out = append(out, "\ndata: "...)
	out = append(out, b...)
	return append(out, '\n', '\n')
}

// ---- Anthropic Messages ----

type messagesTranslator struct {
	model     string
	id        string
	started   bool
	block     int    // index of the open block, -1 when none
	blockType string // text or tool_use
	tools     map[int]int
	next      int
	inputToks int64
}

func (t *messagesTranslator) toChat(top map[string]json.RawMessage) ([]byte, error) {
	out := map[string]any{}
	copyScalars(top, out, "model", "max_tokens", "temperature", "top_p", "stream")
	_ = json.Unmarshal(top["model"], &t.model)
	if v := top["stop_sequences"]; !isNull(v) {
		out["stop"] = v
	}
	var msgs []chatMessage
	if sys, ok := textOf(top["system"]); !ok {
		return nil, errors.New("system: must be a string or a list of text blocks")
	} else if sys != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: strp(sys)})
	}
	var in []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(top["messages"], &in); err != nil || len(in) == 0 {
		return nil, errors.New("messages: must be a non-empty list")
	}
	for i, m := range in {
		conv, err := anthropicToChat(m.Role, m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		msgs = append(msgs, conv...)
	}
	out["messages"] = msgs
	if raw := top["tools"]; !isNull(raw) {
		var tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		}
		if err := json.Unmarshal(raw, &tools); err != nil {
			return nil, errors.New("tools: must be a list of {name, description, input_schema}")
		}
		ct := make([]chatTool, len(tools))
		for i, tl := range tools {
			ct[i].Type = "function"
			ct[i].Function.Name, ct[i].Function.Description, ct[i].Function.Parameters = tl.Name, tl.Description, tl.InputSchema
		}
		out["tools"] = ct
	}
	if raw := top["tool_choice"]; !isNull(raw) {
		var tc struct {
			Type string `json:"type"`
			Name string `json:"name"`
		}
		if err := json.Unmarshal(raw, &tc); err != nil {
			return nil, errors.New("tool_choice: must be an object")
		}
		switch tc.Type {
		case "auto", "none":
			out["tool_choice"] = tc.Type
		case "any":
			out["tool_choice"] = "required"
		case "tool":
			out["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}}
		}
	}
	if isTrue(top["stream"]) {
		out["stream_options"] = map[string]bool{"include_usage": true}
	}
	return json.Marshal(out)
}

// anthropicToChat converts one message: tool_use blocks become the
// assistant's tool calls, tool_result blocks become tool messages (before
// the rest of the user's turn).
func anthropicToChat(role string, content json.RawMessage) ([]chatMessage, error) {
	var s string
	if json.Unmarshal(content, &s) == nil {
		return []chatMessage{{Role: role, Content: strp(s)}}, nil
	}
	var blocks []struct {
		Type      string          `json:"type"`
		Text      string          `json:"text"`
		ID        string          `json:"id"`
		Name      string          `json:"name"`
		Input     json.RawMessage `json:"input"`
		ToolUseID string          `json:"tool_use_id"`
		Content   json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(content, &blocks); err != nil {
		return nil, errors.New("content: must be a string or a list of blocks")
	}
	var out []chatMessage
	var text strings.Builder
	main := chatMessage{Role: role}
	for _, b := range blocks {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			tc := chatToolCall{ID: b.ID, Type: "function"}
			tc.Function.Name = b.Name
			tc.Function.Arguments = "{}"
			if !isNull(b.Input) {
				tc.Function.Arguments = string(b.Input)
			}
			main.ToolCalls = append(main.ToolCalls, tc)
		case "tool_result":
			res, ok := textOf(b.Content)
			if !ok {
				return nil, errors.New("tool_result content: must be a string or text blocks")
			}
			out = append(out, chatMessage{Role: "tool", ToolCallID: b.ToolUseID, Content: strp(res)})
		case "thinking", "redacted_thinking":
		default:
			return nil, fmt.Errorf("%s blocks: %w", b.Type, errUnsupported)
		}
	}
	if text.Len() > 0 || len(main.ToolCalls) > 0 || len(out) == 0 {
		main.Content = strp(text.String())
		out = append(out, main)
	}
	return out, nil
}

func anthropicStopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls":
		return "tool_use"
	default:
		return "end_turn"
	}
}

func (t *messagesTranslator) msgID(chatID string) string {
	if t.id == "" {
		t.id = "msg_" + strings.TrimPrefix(chatID, "chatcmpl-")
	}
	return t.id
}

func (t *messagesTranslator) render(asm *assembler) []byte {
	content := []any{}
	finish := ""
	if cs := asm.sortedChoices(); len(cs) > 0 {
		c := cs[0]
		finish = c.finish
		if c.content.Len() > 0 {
			content = append(content, map[string]any{"type": "text", "text": c.content.String()})
		}
		for _, tc := range c.toolCalls() {
			content = append(content, map[string]any{"type": "tool_use", "id": tc.id, "name": tc.name, "input": toolInput(tc.args.String())})
		}
	}
	b, _ := json.Marshal(map[string]any{
		"id": t.msgID(asm.id), "type": "message", "role": "assistant", "model": t.model, "content": content,
		"stop_reason": anthropicStopReason(finish), "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": deref(asm.promptTokens), "output_tokens": deref(asm.outputTokens)},
	})
	return b
}

// toolInput parses a tool call's arguments; arguments that are not a JSON
// object are kept under "arguments".
func toolInput(args string) any {
	var m map[string]any
	if strings.TrimSpace(args) == "" {
		return map[string]any{}
	}
	if json.Unmarshal([]byte(args), &m) != nil {
		return map[string]any{"arguments": args}
	}
	return m
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func (t *messagesTranslator) chunk(out []byte, w *wireObject) []byte {
	if !t.started {
		t.started, t.block, t.tools = true, -1, map[int]int{}
		if len(w.PromptTokenIDs) > 0 {
			t.inputToks = int64(len(w.PromptTokenIDs))
		}
		out = sseEvent(out, "message_start", map[string]any{"type": "message_start", "message": map[string]any{
			"id": t.msgID(w.ID), "type": "message", "role": "assistant", "model": t.model, "content": []any{},
			"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": t.inputToks, "output_tokens": 0},
		}})
	}
	for _, c := range w.Choices {
		if c.Index != 0 || c.Delta == nil {
			continue
		}
		var s string
		if len(c.Delta.Content) > 0 && json.Unmarshal(c.Delta.Content, &s) == nil && s != "" {
			if t.blockType != "text" {
				out = t.closeBlock(out)
				out = t.openBlock(out, "text", map[string]any{"type": "text", "text": ""})
			}
			out = sseEvent(out, "content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block,
				"delta": map[string]any{"type": "text_delta", "text": s}})
		}
		for pos, tc := range c.Delta.ToolCalls {
			k := pos
			if tc.Index != nil {
				k = *tc.Index
			}
			if _, seen := t.tools[k]; !seen {
				out = t.closeBlock(out)
				out = t.openBlock(out, "tool_use", map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": map[string]any{}})
				t.tools[k] = t.block
			}
			if tc.Function.Arguments != "" {
				out = sseEvent(out, "content_block_delta", map[string]any{"type": "content_block_delta", "index": t.tools[k],
					"delta": map[string]any{"type": "input_json_delta", "partial_json": tc.Function.Arguments}})
			}
		}
	}
	return out
}

func (t *messagesTranslator) openBlock(out []byte, typ string, block any) []byte {
	t.block, t.blockType = t.next, typ
	t.next++
	return sseEvent(out, "content_block_start", map[string]any{"type": "content_block_start", "index": t.block, "content_block": block})
}

func (t *messagesTranslator) closeBlock(out []byte) []byte {
	if t.block < 0 {
		return out
	}
	out = sseEvent(out, "content_block_stop", map[string]any{"type": "content_block_stop", "index": t.block})
	t.block, t.blockType = -1, ""
	return out
}

func (t *messagesTranslator) finish(out []byte, asm *assembler) []byte {
	out = t.closeBlock(out)
	finish := ""
	if cs := asm.sortedChoices(); len(cs) > 0 {
		finish = cs[0].finish
	}
	out = sseEvent(out, "message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": anthropicStopReason(finish), "stop_sequence": nil},
		"usage": map[string]any{"input_tokens": deref(asm.promptTokens), "output_tokens": deref(asm.outputTokens)}})
	return sseEvent(out, "message_stop", map[string]any{"type": "message_stop"})
}

func (t *messagesTranslator) streamError(out []byte, msg string) []byte {
	return sseEvent(out, "error", map[string]any{"type": "error", "error": map[string]string{"type": "api_error", "message": msg}})
}

func (t *messagesTranslator) errorBody(status int, typ, msg string) []byte {
	switch {
	case typ != "":
	case status == 401:
		typ = "authentication_error"
	case status == 403:
		typ = "permission_error"
	case status == 404:
		typ = "not_found_error"
	case status == 413:
		typ = "request_too_large"
	case status == 429:
		typ = "rate_limit_error"
	case status == 529 || status == 503:
		typ = "overloaded_error"
	case status >= 500:
		typ = "api_error"
	default:
		typ = "invalid_request_error"
	}
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg}})
	return b
}

// ---- OpenAI Responses ----

type responsesTranslator struct {
	model     string
	id        string
	created   int64
	req       map[string]json.RawMessage
	seq       int
	started   bool
	open      int // output index of the open item, -1 when none
	openType  string
	openID    string
	text      strings.Builder
	args      strings.Builder
	callID    string
	callName  string
	tools     map[int]bool
	items     []any
	nextIndex int
}

func (t *responsesTranslator) toChat(top map[string]json.RawMessage) ([]byte, error) {
	t.req = top
	out := map[string]any{}
	copyScalars(top, out, "model", "temperature", "top_p", "stream", "parallel_tool_calls")
	_ = json.Unmarshal(top["model"], &t.model)
	if v := top["max_output_tokens"]; !isNull(v) {
		out["max_tokens"] = v
	}
	if !isNull(top["previous_response_id"]) {
		return nil, fmt.Errorf("previous_response_id: %w (the proxy keeps no responses; send the whole input)", errUnsupported)
	}
	var msgs []chatMessage
	if ins, ok := textOf(top["instructions"]); ok && ins != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: strp(ins)})
	}
	var s string
	if json.Unmarshal(top["input"], &s) == nil {
		msgs = append(msgs, chatMessage{Role: "user", Content: strp(s)})
	} else {
		var items []struct {
			Type      string          `json:"type"`
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			CallID    string          `json:"call_id"`
			Name      string          `json:"name"`
			Arguments string          `json:"arguments"`
			Output    json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal(top["input"], &items); err != nil {
			return nil, errors.New("input: must be a string or a list of items")
		}
		for i, it := range items {
			switch it.Type {
			case "", "message":
				text, ok := textOf(it.Content)
				if !ok {
					return nil, fmt.Errorf("input[%d].content: must be a string or text parts", i)
				}
				role := it.Role
				if role == "developer" {
					role = "system"
				}
				msgs = append(msgs, chatMessage{Role: role, Content: strp(text)})
			case "function_call":
				tc := chatToolCall{ID: it.CallID, Type: "function"}
				tc.Function.Name, tc.Function.Arguments = it.Name, it.Arguments
				if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && (msgs[n-1].Content == nil || *msgs[n-1].Content == "") {
					msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, tc)
				} else {
					msgs = append(msgs, chatMessage{Role: "assistant", ToolCalls: []chatToolCall{tc}})
				}
			case "function_call_output":
				res, ok := textOf(it.Output)
				if !ok {
					return nil, fmt.Errorf("input[%d].output: must be a string", i)
				}
				msgs = append(msgs, chatMessage{Role: "tool", ToolCallID: it.CallID, Content: strp(res)})
			case "reasoning":
			default:
				return nil, fmt.Errorf("input[%d]: %s items: %w", i, it.Type, errUnsupported)
			}
		}
	}
	if len(msgs) == 0 {
		return nil, errors.New("input: must not be empty")
	}
	out["messages"] = msgs
	if raw := top["tools"]; !isNull(raw) {
		var tools []struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		}
		if err := json.Unmarshal(raw, &tools); err != nil {
			return nil, errors.New("tools: must be a list")
		}
		ct := make([]chatTool, 0, len(tools))
		for _, tl := range tools {
			if tl.Type != "function" {
				return nil, fmt.Errorf("tools: %s tools: %w", tl.Type, errUnsupported)
			}
			var c chatTool
			c.Type = "function"
			c.Function.Name, c.Function.Description, c.Function.Parameters = tl.Name, tl.Description, tl.Parameters
			ct = append(ct, c)
		}
		out["tools"] = ct
	}
	if raw := top["tool_choice"]; !isNull(raw) {
		var s string
		var named struct {
			Name string `json:"name"`
		}
		switch {
		case json.Unmarshal(raw, &s) == nil:
			out["tool_choice"] = s
		case json.Unmarshal(raw, &named) == nil && named.Name != "":
			out["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": named.Name}}
		}
	}
	if isTrue(top["stream"]) {
		out["stream_options"] = map[string]bool{"include_usage": true}
	}
	return json.Marshal(out)
}

func (t *responsesTranslator) respID(chatID string) string {
	if t.id == "" {
		t.id = "resp_" + strings.TrimPrefix(chatID, "chatcmpl-")
	}
	return t.id
}

// response is the Response object, with status and output as given.
func (t *responsesTranslator) response(status string, output []any, asm *assembler) map[string]any {
	raw := func(k string, def any) any {
		if v, ok := t.req[k]; ok && !isNull(v) {
			return v
		}
		return def
	}
	r := map[string]any{
		"id": t.id, "object": "response", "created_at": t.created, "status": status, "model": t.model,
		"output": output, "error": nil, "incomplete_details": nil, "instructions": raw("instructions", nil),
		"max_output_tokens": raw("max_output_tokens", nil), "parallel_tool_calls": raw("parallel_tool_calls", true),
		"temperature": raw("temperature", nil), "top_p": raw("top_p", nil), "tool_choice": raw("tool_choice", "auto"),
		"tools": raw("tools", []any{}), "usage": nil,
	}
	if asm != nil && status == "completed" {
		in, outToks := deref(asm.promptTokens), deref(asm.outputTokens)
		r["usage"] = map[string]any{
			"input_tokens": in, "input_tokens_details": map[string]int{"cached_tokens": 0},
			"output_tokens": outToks, "output_tokens_details": map[string]int{"reasoning_tokens": 0}, "total_tokens": in + outToks,
		}
		if cs := asm.sortedChoices(); len(cs) > 0 && cs[0].finish == "length" {
			r["status"], r["incomplete_details"] = "incomplete", map[string]string{"reason": "max_output_tokens"}
		}
	}
	return r
}

func messageItem(id, text, status string) map[string]any {
	return map[string]any{"type": "message", "id": id, "role": "assistant", "status": status,
		"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}}}
}

func callItem(id, callID, name, args, status string) map[string]any {
	return map[string]any{"type": "function_call", "id": id, "call_id": callID, "name": name, "arguments": args, "status": status}
}

func (t *responsesTranslator) render(asm *assembler) []byte {
	t.respID(asm.id)
	output := []any{}
	if cs := asm.sortedChoices(); len(cs) > 0 {
		c := cs[0]
		if c.content.Len() > 0 {
			output = append(output, messageItem("msg_"+strings.TrimPrefix(t.id, "resp_"), c.content.String(), "completed"))
		}
		for i, tc := range c.toolCalls() {
			output = append(output, callItem(fmt.Sprintf("fc_%s_%d", strings.TrimPrefix(t.id, "resp_"), i), tc.id, tc.name, tc.args.String(), "completed"))
		}
	}
	b, _ := json.Marshal(t.response("completed", output, asm))
	return b
}

func (t *responsesTranslator) event(out []byte, typ string, fields map[string]any) []byte {
	fields["type"] = typ
	fields["sequence_number"] = t.seq
	t.seq++
	return sseEvent(out, typ, fields)
}

func (t *responsesTranslator) chunk(out []byte, w *wireObject) []byte {
	if !t.started {
		t.started, t.open, t.tools = true, -1, map[int]bool{}
		t.respID(w.ID)
		out = t.event(out, "response.created", map[string]any{"response": t.response("in_progress", []any{}, nil)})
		out = t.event(out, "response.in_progress", map[string]any{"response": t.response("in_progress", []any{}, nil)})
	}
	for _, c := range w.Choices {
		if c.Index != 0 || c.Delta == nil {
			continue
		}
		var s string
		if len(c.Delta.Content) > 0 && json.Unmarshal(c.Delta.Content, &s) == nil && s != "" {
			if t.openType != "message" {
				out = t.closeItem(out)
				t.openItem("message", "msg_"+strings.TrimPrefix(t.id, "resp_"))
				out = t.event(out, "response.output_item.added", map[string]any{"output_index": t.open,
					"item": map[string]any{"type": "message", "id": t.openID, "role": "assistant", "status": "in_progress", "content": []any{}}})
				out = t.event(out, "response.content_part.added", map[string]any{"item_id": t.openID, "output_index": t.open,
					"content_index": 0, "part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
			}
			t.text.WriteString(s)
			out = t.event(out, "response.output_text.delta", map[string]any{"item_id": t.openID, "output_index": t.open,
				"content_index": 0, "delta": s, "logprobs": []any{}})
		}
		for pos, tc := range c.Delta.ToolCalls {
			k := pos
			if tc.Index != nil {
				k = *tc.Index
			}
			if !t.tools[k] {
				t.tools[k] = true
				out = t.closeItem(out)
				t.openItem("function_call", fmt.Sprintf("fc_%s_%d", strings.TrimPrefix(t.id, "resp_"), k))
				t.callID, t.callName = tc.ID, tc.Function.Name
				out = t.event(out, "response.output_item.added", map[string]any{"output_index": t.open,
					"item": callItem(t.openID, t.callID, t.callName, "", "in_progress")})
			}
			if tc.Function.Arguments != "" {
				t.args.WriteString(tc.Function.Arguments)
				out = t.event(out, "response.function_call_arguments.delta", map[string]any{"item_id": t.openID,
					"output_index": t.open, "delta": tc.Function.Arguments})
			}
		}
	}
	return out
}

func (t *responsesTranslator) openItem(typ, id string) {
	t.open, t.openType, t.openID = t.nextIndex, typ, id
	t.nextIndex++
	t.text.Reset()
	t.args.Reset()
}

func (t *responsesTranslator) closeItem(out []byte) []byte {
	switch t.openType {
	case "message":
		text := t.text.String()
		out = t.event(out, "response.output_text.done", map[string]any{"item_id": t.openID, "output_index": t.open,
			"content_index": 0, "text": text, "logprobs": []any{}})
		out = t.event(out, "response.content_part.done", map[string]any{"item_id": t.openID, "output_index": t.open,
			"content_index": 0, "part": map[string]any{"type": "output_text", "text": text, "annotations": []any{}}})
		item := messageItem(t.openID, text, "completed")
		t.items = append(t.items, item)
		out = t.event(out, "response.output_item.done", map[string]any{"output_index": t.open, "item": item})
	case "function_call":
		args := t.args.String()
		out = t.event(out, "response.function_call_arguments.done", map[string]any{"item_id": t.openID,
			"output_index": t.open, "arguments": args})
		item := callItem(t.openID, t.callID, t.callName, args, "completed")
		t.items = append(t.items, item)
		out = t.event(out, "response.output_item.done", map[string]any{"output_index": t.open, "item": item})
	}
	t.open, t.openType = -1, ""
	return out
}

func (t *responsesTranslator) finish(out []byte, asm *assembler) []byte {
	out = t.closeItem(out)
	items := t.items
	if items == nil {
		items = []any{}
	}
	r := t.response("completed", items, asm)
	typ := "response.completed"
	if r["status"] == "incomplete" {
		typ = "response.incomplete"
	}
	return t.event(out, typ, map[string]any{"response": r})
}

func (t *responsesTranslator) streamError(out []byte, msg string) []byte {
	return t.event(out, "error", map[string]any{"code": "upstream_error", "message": msg, "param": nil})
}

func (t *responsesTranslator) errorBody(status int, typ, msg string) []byte {
	if typ == "" {
		typ = "invalid_request_error"
		if status >= 500 {
			typ = "server_error"
		}
	}
	b, _ := json.Marshal(apiError{Error: apiErrorBody{Message: msg, Type: typ}})
	return b
}
