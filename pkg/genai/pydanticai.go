package genai

import "strings"

// Pydantic AI / Logfire attributes.
const (
	AttrPydanticAllMessages       = "pydantic_ai.all_messages"
	AttrLogfireEvents             = "events"
	AttrPydanticRequestParameters = "model_request_parameters"
)

// fromPydanticAI reads what Pydantic AI writes besides the OTel attributes
// (which fromOTel reads, quirks included): pydantic_ai.all_messages on agent
// runs (OTel messages; a trailing assistant message is the completion), the
// Logfire "events" attribute of older versions (a JSON list of the ≤ 1.36
// events, each with its "event.name"), and the function and output tools
// of model_request_parameters.
func (p *parser) fromPydanticAI(v *view) *extraction {
	a := v.attrs
	ex := &extraction{conv: ConventionPydanticAI}
	if raw, ok := a.get(AttrPydanticAllMessages); ok {
		if list, ok := p.messageList(AttrPydanticAllMessages, raw); ok {
			msgs := p.otelMessages(AttrPydanticAllMessages, list)
			if n := len(msgs); n > 1 && msgs[n-1].Role == "assistant" {
				last, _ := list[len(list)-1].(map[string]any)
				ex.choices = []Choice{{Message: msgs[n-1], FinishReason: NormalizeFinishReason(field(last, "finish_reason"))}}
				msgs = msgs[:n-1]
			}
			ex.messages = msgs
		}
	}
	if s, ok := a.str(AttrLogfireEvents); ok && looksStructured(s) {
		if events := p.logfireEvents(s); len(events) > 0 {
			if evx := p.eventExtraction(events, ConventionPydanticAI); evx != nil {
				if len(ex.messages) == 0 {
					ex.messages = evx.messages
				}
				if len(ex.choices) == 0 {
					ex.choices = evx.choices
				}
			}
		}
	}
	if raw, ok := a.get(AttrPydanticRequestParameters); ok {
		if m, ok := p.structuredMap(AttrPydanticRequestParameters, raw, false); ok {
			for _, k := range []string{"function_tools", "output_tools"} {
				if list, ok := m[k].([]any); ok && len(list) > 0 {
					ex.tools = append(ex.tools, p.tools(AttrPydanticRequestParameters, list)...)
				}
			}
		}
	}
	if ex.empty() {
		return nil
	}
	return ex
}

// logfireEvents decodes the events attribute; anything that is not a list
// of GenAI event objects is ignored (the key is generic).
func (p *parser) logfireEvents(s string) []Event {
	d, ok := p.decodeJSON(AttrLogfireEvents, s)
	if !ok {
		return nil
	}
	list, ok := d.([]any)
	if !ok {
		return nil
	}
	var out []Event
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		name := field(m, "event.name")
		if !strings.HasPrefix(name, "gen_ai.") {
			continue
		}
		out = append(out, Event{Name: name, Body: m})
	}
	return out
}
