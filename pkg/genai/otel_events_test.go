package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestEventsAsLogRecords(t *testing.T) {
	l := loadFixture(t, "otel_events_logs")
	require.Len(t, l.logEvents, 2)
	call, stats := l.parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTelEvents, call.Convention)
	assert.Equal(t, "openai", call.Provider, "gen_ai.system is the ≤ 1.36 provider key")
	assert.Equal(t, Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15}, call.Usage)
	require.Len(t, call.Messages, 1)
	assert.Equal(t, Message{Role: "user", Content: text("What's the weather in Paris?")}, call.Messages[0])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Choice{FinishReason: "tool_calls", Message: Message{Role: "assistant", ToolCalls: []ToolCall{{
		ID: "call_VSPygqKTWdrhaFErNvMV18Yl", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`},
	}}}}, call.Choices[0])
	assertGolden(t, "otel_events_logs", call.ToOpenAI())
}

func TestEventsWithoutLogsHaveNoMessages(t *testing.T) {
	l := loadFixture(t, "otel_events_logs")
	call, _ := Parse(l.span, l.resource)
	assert.Empty(t, call.Messages)
	assert.Equal(t, ConventionNone, call.Convention)
}

func TestEventsAsSpanEvents(t *testing.T) {
	call, stats := loadFixture(t, "otel_events_span").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTelEvents, call.Convention)
	require.Len(t, call.Messages, 4)
	assert.Equal(t, Message{Role: "system", Content: text("You're a helpful bot")}, call.Messages[0])
	assert.Equal(t, "user", call.Messages[1].Role)
	assert.Equal(t, "get_weather", call.Messages[2].ToolCalls[0].Function.Name)
	assert.Equal(t, Message{Role: "tool", Content: text("rainy, 57°F"), ToolCallID: "call_VSPygqKTWdrhaFErNvMV18Yl"}, call.Messages[3])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "stop", call.Choices[0].FinishReason)
	assert.Equal(t, "The weather in Paris is rainy and overcast, with temperatures around 57°F", call.Choices[0].Message.Content.String())
	assertGolden(t, "otel_events_span", call.ToOpenAI())
}

func TestSpanEventsWinOverLogEvents(t *testing.T) {
	l := loadFixture(t, "otel_events_span")
	logs := []Event{{Name: EventUserMessage, Body: map[string]any{"content": "from the logs"}}}
	call, _ := Parse(l.span, l.resource, WithLogEvents(logs))
	require.Len(t, call.Messages, 4, "the span events are used and the log events are not added to them")
}

func TestLegacyContentEvents(t *testing.T) {
	call, stats := loadFixture(t, "otel_content_events").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTelEvents, call.Convention)
	require.Len(t, call.Messages, 2)
	assert.Equal(t, Message{Role: "system", Content: text("Be brief.")}, call.Messages[0])
	assert.Equal(t, Message{Role: "user", Content: text("Hi")}, call.Messages[1])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, Message{Role: "assistant", Content: text("Hello!")}, call.Choices[0].Message)
}

func TestChoicesSortedByIndex(t *testing.T) {
	events := []Event{
		{Name: EventChoice, Body: map[string]any{"index": int64(1), "message": map[string]any{"content": "second"}}},
		{Name: EventChoice, Body: map[string]any{"index": int64(0), "message": map[string]any{"content": "first"}}},
	}
	call, _ := Parse(newSpan(t, "chat m", map[string]any{"gen_ai.operation.name": "chat"}), newResource(), WithLogEvents(events))
	require.Len(t, call.Choices, 2)
	assert.Equal(t, "first", call.Choices[0].Message.Content.String())
	assert.Equal(t, "assistant", call.Choices[0].Message.Role)
}

func TestEventFromLogRecordFallsBackToEventNameAttribute(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr("event.name", EventUserMessage)
	lr.Body().SetEmptyMap().PutStr("content", "hi")
	e := EventFromLogRecord(lr)
	assert.Equal(t, EventUserMessage, e.Name)
	assert.Equal(t, map[string]any{"content": "hi"}, e.Body)
}

func TestEventsBySpanSkipsUncorrelatedAndOtherRecords(t *testing.T) {
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	id := pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9}
	for _, tc := range []struct {
		name string
		id   pcommon.SpanID
	}{{EventUserMessage, id}, {"app.log", id}, {EventChoice, pcommon.SpanID{}}, {EventChoice, id}} {
		lr := records.AppendEmpty()
		lr.SetEventName(tc.name)
		lr.SetSpanID(tc.id)
	}
	got := EventsBySpan(ld)
	require.Len(t, got, 1)
	require.Len(t, got[id], 2)
	assert.Equal(t, EventUserMessage, got[id][0].Name)
	assert.Equal(t, EventChoice, got[id][1].Name)
}
