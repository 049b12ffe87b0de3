package genai

import "sort"

// fromDetailsEvent reads the gen_ai.client.inference.operation.details
// event (a span event, else a log record), whose attributes are the OTel
// ≥ 1.37 content attributes in structured form. Some SDKs put them in the
// log body instead; a map body is read the same way.
func (p *parser) fromDetailsEvent(v *view) *extraction {
	for _, events := range [][]Event{v.spanEvents, v.logEvents} {
		for _, e := range events {
			if e.Name != EventOperationDetails {
				continue
			}
			merged := map[string]any{}
			if body, ok := e.Body.(map[string]any); ok {
				for k, x := range body {
					merged[k] = x
				}
			}
			for k, x := range e.Attributes {
				merged[k] = x
			}
			if ex := p.fromOTel(p.attrsFromPlain(merged), ConventionOTelDetailsEvent); ex != nil {
				return ex
			}
		}
	}
	return nil
}

// fromEvents reads the OTel ≤ 1.36 per-message events. They come as span
// events or as log records; when a span has both, the span events are used,
// so that a pipeline that copies events to logs does not double them.
func (p *parser) fromEvents(v *view) *extraction {
	if ex := p.eventExtraction(v.spanEvents, ConventionOTelEvents); ex != nil {
		return ex
	}
	return p.eventExtraction(v.logEvents, ConventionOTelEvents)
}

var eventRoles = map[string]string{
	EventSystemMessage:    "system",
	EventUserMessage:      "user",
	EventAssistantMessage: "assistant",
	EventToolMessage:      "tool",
}

func (p *parser) eventExtraction(events []Event, conv Convention) *extraction {
	ex := &extraction{conv: conv}
	for _, e := range events {
		switch e.Name {
		case EventSystemMessage, EventUserMessage, EventAssistantMessage, EventToolMessage:
			body := p.eventBody(e)
			if body == nil {
				continue
			}
			if e.Name == EventToolMessage && field(body, "tool_call_id") == "" {
				if id := field(body, "id"); id != "" {
					body = withKey(body, "tool_call_id", id)
				}
			}
			ex.messages = append(ex.messages, p.openAIMessage(e.Name, body, eventRoles[e.Name])...)
		case EventChoice:
			if ch, ok := p.eventChoice(e, len(ex.choices)); ok {
				ex.choices = append(ex.choices, ch)
			}
		case EventContentPrompt:
			if s, ok := e.Attributes["gen_ai.prompt"].(string); ok {
				ex.messages = append(ex.messages, p.legacyContent(e.Name, s, "user")...)
			}
		case EventContentCompletion:
			if s, ok := e.Attributes["gen_ai.completion"].(string); ok {
				if msgs := p.legacyContent(e.Name, s, "assistant"); len(msgs) > 0 {
					ex.choices = append(ex.choices, Choice{Index: len(ex.choices), Message: msgs[len(msgs)-1]})
				}
			}
		}
	}
	sort.SliceStable(ex.choices, func(i, j int) bool { return ex.choices[i].Index < ex.choices[j].Index })
	if ex.empty() {
		return nil
	}
	return ex
}

// eventChoice reads gen_ai.choice {index, finish_reason, message{role?,
// content?, tool_calls?}, tool_calls?}.
func (p *parser) eventChoice(e Event, next int) (Choice, bool) {
	body := p.eventBody(e)
	if body == nil {
		return Choice{}, false
	}
	msg, _ := body["message"].(map[string]any)
	if msg == nil {
		msg = map[string]any{}
	}
	if _, ok := msg["tool_calls"]; !ok {
		if tcs, ok := body["tool_calls"]; ok {
			msg = withKey(msg, "tool_calls", tcs)
		}
	}
	msgs := p.openAIMessage(e.Name, msg, "assistant")
	idx := next
	if n, ok := asInt(body["index"]); ok {
		idx = int(n)
	}
	return Choice{Index: idx, Message: msgs[len(msgs)-1], FinishReason: NormalizeFinishReason(field(body, "finish_reason"))}, true
}

// eventBody returns the payload of a per-message event: the log body, else
// (span events) a JSON gen_ai.event.content or body attribute, else the
// attributes themselves.
func (p *parser) eventBody(e Event) map[string]any {
	switch b := e.Body.(type) {
	case map[string]any:
		return b
	case string:
		if looksStructured(b) {
			m, _ := p.structuredMap(e.Name, b, false)
			return m
		}
		return map[string]any{"content": b}
	}
	for _, k := range []string{"gen_ai.event.content", "body"} {
		if v, ok := e.Attributes[k]; ok {
			m, _ := p.structuredMap(e.Name, v, false)
			return m
		}
	}
	return e.Attributes
}

// legacyContent reads the string of a gen_ai.content.prompt/completion span
// event: a JSON list of OpenAI messages, or plain text.
func (p *parser) legacyContent(key, s, role string) []Message {
	if looksStructured(s) {
		if d, ok := p.tryLoose(key, s); ok {
			if list, ok := d.([]any); ok {
				return p.openAIMessages(key, list, role)
			}
			if m, ok := d.(map[string]any); ok {
				return p.openAIMessage(key, m, role)
			}
		}
	}
	return []Message{{Role: role, Content: TextContent(s)}}
}

// withKey returns a copy of m with k set, leaving the caller's map alone.
func withKey(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, x := range m {
		out[key] = x
	}
	out[k] = v
	return out
}
