package genai

import (
	"iter"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Attributes of the span AgentOps (and so Agent Lightning's own tracer)
// records for each tool call the model made, as a child of the LLM span
// whose completion does not list the call. Agent Lightning's
// TraceToMessages reads the same keys from the direct children.
const (
	AttrToolName       = "tool.name"
	AttrToolParameters = "tool.parameters"
	AttrToolCallID     = "tool.call.id"
	AttrToolCallType   = "tool.call.type"
)

// AttachChildToolCalls completes a call whose first choice lists no tool
// calls with those its child spans record: one per child with a tool.name,
// in the order given. children are the attributes of the call span's direct
// children. A choice that already lists tool calls is left alone (the span
// is then the better record), and children is not iterated.
func (c *Call) AttachChildToolCalls(children iter.Seq[pcommon.Map]) {
	attachToolCalls(c, children, pdataString)
}

// AttachChildToolCallsModel is AttachChildToolCalls for the attributes of
// stored spans.
func (c *Call) AttachChildToolCallsModel(children iter.Seq[model.Attributes]) {
	attachToolCalls(c, children, modelString)
}

// attachToolCalls is generic over the attribute map so neither caller
// converts its spans; str returns "" for a missing or non-string value.
func attachToolCalls[M any](c *Call, children iter.Seq[M], str func(M, string) string) {
	if len(c.Choices) == 0 || len(c.Choices[0].Message.ToolCalls) > 0 {
		return
	}
	var calls []ToolCall
	for attrs := range children {
		name := str(attrs, AttrToolName)
		if name == "" {
			// Not a tool span: children also include e.g. a nested HTTP span.
			continue
		}
		calls = append(calls, ToolCall{
			ID:       str(attrs, AttrToolCallID),
			Type:     toolCallType(str(attrs, AttrToolCallType)),
			Function: FunctionCall{Name: name, Arguments: str(attrs, AttrToolParameters)},
		})
	}
	if len(calls) > 0 {
		c.Choices[0].Message.ToolCalls = calls
	}
}

func pdataString(m pcommon.Map, key string) string {
	v, ok := m.Get(key)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	return v.Str()
}

func modelString(a model.Attributes, key string) string {
	s, _ := a[key].(string)
	return s
}
