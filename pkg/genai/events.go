package genai

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Event names read by Parse.
const (
	EventSystemMessage    = "gen_ai.system.message"
	EventUserMessage      = "gen_ai.user.message"
	EventAssistantMessage = "gen_ai.assistant.message"
	EventToolMessage      = "gen_ai.tool.message"
	EventChoice           = "gen_ai.choice"
	// EventOperationDetails is the OTel ≥ 1.37 event carrying the input,
	// output and system instruction attributes in structured form.
	EventOperationDetails = "gen_ai.client.inference.operation.details"
	// EventContentPrompt and EventContentCompletion are the legacy Semantic
	// Kernel / OpenLIT span events with string attributes gen_ai.prompt and
	// gen_ai.completion.
	EventContentPrompt     = "gen_ai.content.prompt"
	EventContentCompletion = "gen_ai.content.completion"
)

// Event is a GenAI event, from a span event or a log record, with plain
// values (strings, bools, int64, float64, []any, map[string]any, nil).
type Event struct {
	Name       string
	Attributes map[string]any
	// Body is the log record body (nil for span events): the message map of
	// the ≤ 1.36 per-message events.
	Body any

	// problems met while converting the event, added to the Stats of the
	// Parse that uses it.
	problems Stats
}

// IsGenAI reports whether the event is one Parse reads.
func (e Event) IsGenAI() bool {
	switch e.Name {
	case EventSystemMessage, EventUserMessage, EventAssistantMessage, EventToolMessage, EventChoice,
		EventOperationDetails, EventContentPrompt, EventContentCompletion:
		return true
	}
	return false
}

// EventFromLogRecord converts a log record. Its name is the record's event
// name, else its event.name attribute (older SDKs).
func EventFromLogRecord(lr plog.LogRecord) Event {
	p := newParser(nil)
	e := Event{Name: lr.EventName(), Attributes: p.attrsFromPdata(lr.Attributes()).m}
	if e.Name == "" {
		e.Name, _ = e.Attributes["event.name"].(string)
	}
	e.Body = p.plainValue("body", lr.Body(), 0)
	e.problems = p.stats
	return e
}

// EventFromSpanEvent converts a span event.
func EventFromSpanEvent(se ptrace.SpanEvent) Event {
	p := newParser(nil)
	e := Event{Name: se.Name(), Attributes: p.attrsFromPdata(se.Attributes()).m}
	e.problems = p.stats
	return e
}

// EventFromModel converts an Agent Lightning span event.
func EventFromModel(me model.Event) Event {
	p := newParser(nil)
	e := Event{Name: me.Name, Attributes: p.attrsFromPlain(me.Attributes).m}
	e.problems = p.stats
	return e
}

// EventsBySpan collects the GenAI events of a batch of logs by the span id
// they are correlated with, in arrival order. Records without a span id or
// that are not GenAI events are left out.
func EventsBySpan(ld plog.Logs) map[pcommon.SpanID][]Event {
	out := map[pcommon.SpanID][]Event{}
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				id := lr.SpanID()
				if id.IsEmpty() {
					continue
				}
				if e := EventFromLogRecord(lr); e.IsGenAI() {
					out[id] = append(out[id], e)
				}
			}
		}
	}
	return out
}
