package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOTelToolRoundTrip(t *testing.T) {
	call, stats := loadFixture(t, "otel_tool_roundtrip").parse()
	require.Zero(t, stats.Total(), stats.Warnings)

	assert.Equal(t, Classification{IsLLMCall: true, Rule: RuleOperationName}, call.Classification)
	assert.Equal(t, ConventionOTel, call.Convention)
	assert.Equal(t, "openai", call.Provider)
	assert.Equal(t, "chat", call.Operation)
	assert.Equal(t, "gpt-4", call.RequestModel)
	assert.Equal(t, "gpt-4-0613", call.ResponseModel)
	assert.Equal(t, "gpt-4-0613", call.Model())
	assert.Equal(t, "chatcmpl-call_VSPygqKTWdrhaFErNvMV18Yl", call.ResponseID)
	assert.Equal(t, Usage{InputTokens: 97, OutputTokens: 52, TotalTokens: 149}, call.Usage)
	assert.Equal(t, map[string]any{"max_tokens": int64(200), "top_p": 1.0}, call.RequestParams)
	assert.Equal(t, []string{"stop"}, call.FinishReasons)

	require.Len(t, call.Messages, 3)
	assert.Equal(t, Message{Role: "user", Content: text("Weather in Paris?")}, call.Messages[0])
	assert.Equal(t, Message{Role: "assistant", ToolCalls: []ToolCall{{
		ID: "call_VSPygqKTWdrhaFErNvMV18Yl", Type: "function",
		Function: FunctionCall{Name: "get_weather", Arguments: `{"location":"Paris"}`},
	}}}, call.Messages[1])
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_VSPygqKTWdrhaFErNvMV18Yl", Content: text("rainy, 57°F")}, call.Messages[2])

	require.Len(t, call.Choices, 1)
	assert.Equal(t, Choice{Index: 0, FinishReason: "stop", Message: Message{
		Role: "assistant", Content: text("The weather in Paris is currently rainy with a temperature of 57°F."),
	}}, call.Choices[0])
	assertGolden(t, "otel_tool_roundtrip", call.ToOpenAI())
}

func TestOTelToolDefinitionsStructured(t *testing.T) {
	call, stats := loadFixture(t, "otel_tool_call_structured").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTel, call.Convention)
	require.Len(t, call.Tools, 1)
	assert.Equal(t, "function", call.Tools[0].Type)
	assert.Equal(t, "get_current_weather", call.Tools[0].Function.Name)
	assert.Equal(t, "Get the current weather in a given location", call.Tools[0].Function.Description)
	assert.JSONEq(t, `{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location","unit"]}`,
		toJSON(t, call.Tools[0].Function.Parameters))
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, `{"location":"Paris"}`, call.Choices[0].Message.ToolCalls[0].Function.Arguments)
	assertGolden(t, "otel_tool_call_structured", call.ToOpenAI())
}

func TestOTelSystemInstructionsAndReasoning(t *testing.T) {
	call, stats := loadFixture(t, "otel_system_reasoning").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	require.NotNil(t, call.SystemInstructions)
	assert.Equal(t, PartsContent(TextPart("You are a language translator."),
		TextPart("Your mission is to translate text in English to French.")), *call.SystemInstructions)
	require.Len(t, call.Messages, 1, "system instructions are not part of Messages")

	rec := call.ToOpenAI()
	require.Len(t, rec.Messages, 2)
	assert.Equal(t, "system", rec.Messages[0].Role)
	assert.Equal(t, "user", rec.Messages[1].Role)
	require.NotNil(t, rec.Completion)
	assert.Equal(t, "Alright, the user wants a joke about OpenTelemetry…", rec.Completion.ReasoningContent)
	assert.Equal(t, " Why did the developer bring OpenTelemetry to the party? Because it always knows how to trace the fun!",
		rec.Completion.Content.String())
	assert.Equal(t, "stop", rec.Completion.FinishReason)
	assertGolden(t, "otel_system_reasoning", rec)
}

func TestOTelPlainTextSystemInstructions(t *testing.T) {
	call, stats := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name":      "chat",
		"gen_ai.system_instructions": "You are terse.",
	})
	require.Zero(t, stats.Total())
	require.NotNil(t, call.SystemInstructions)
	assert.Equal(t, text("You are terse."), *call.SystemInstructions)
}

func TestOTelMultimodalParts(t *testing.T) {
	call, stats := loadFixture(t, "otel_multimodal").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	require.Len(t, call.Messages, 1)
	parts := call.Messages[0].Content.Parts
	require.Len(t, parts, 6)
	assert.Equal(t, TextPart("What is in these?"), parts[0])
	assert.Equal(t, &ImageURL{URL: "https://example.com/cat.png"}, parts[1].ImageURL)
	assert.Equal(t, &ImageURL{URL: "data:image/png;base64,iVBORw0KGgo="}, parts[2].ImageURL)
	assert.Equal(t, &InputAudio{Data: "UklGRg==", Format: "wav"}, parts[3].InputAudio)
	assert.Equal(t, &File{FileID: "file-abc"}, parts[4].File)
	assert.Equal(t, "server_tool_call", parts[5].Type)
	assert.Equal(t, "web_search", parts[5].Raw["name"], "parts with no OpenAI equivalent are kept as they came")
	assertGolden(t, "otel_multimodal", call.ToOpenAI())
}

func TestOTelDetailsEvent(t *testing.T) {
	call, stats := loadFixture(t, "otel_details_event").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTelDetailsEvent, call.Convention)
	assert.Equal(t, "chatcmpl-details", call.ResponseID)
	require.NotNil(t, call.SystemInstructions)
	assert.Equal(t, "Be brief.", call.SystemInstructions.String())
	require.Len(t, call.Messages, 1)
	assert.Equal(t, "2+2?", call.Messages[0].Content.String())
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "4", call.Choices[0].Message.Content.String())
}

func TestOTelDetailsAsSpanEvent(t *testing.T) {
	span := newSpan(t, "chat m", map[string]any{"gen_ai.operation.name": "chat"})
	ev := span.Events().AppendEmpty()
	ev.SetName(EventOperationDetails)
	require.NoError(t, ev.Attributes().FromRaw(map[string]any{
		"gen_ai.input.messages": []any{map[string]any{"role": "user", "parts": []any{map[string]any{"type": "text", "content": "hi"}}}},
	}))
	call, _ := Parse(span, newResource())
	assert.Equal(t, ConventionOTelDetailsEvent, call.Convention)
	require.Len(t, call.Messages, 1)
	assert.Equal(t, "hi", call.Messages[0].Content.String())
}

func TestOTelSpanAttributesWinOverDetailsEvent(t *testing.T) {
	span := newSpan(t, "chat m", map[string]any{
		"gen_ai.operation.name": "chat",
		"gen_ai.input.messages": `[{"role":"user","parts":[{"type":"text","content":"from the span"}]}]`,
	})
	ev := span.Events().AppendEmpty()
	ev.SetName(EventOperationDetails)
	require.NoError(t, ev.Attributes().FromRaw(map[string]any{
		"gen_ai.input.messages": `[{"role":"user","parts":[{"type":"text","content":"from the event"}]}]`,
	}))
	call, _ := Parse(span, newResource())
	assert.Equal(t, ConventionOTel, call.Convention)
	assert.Equal(t, "from the span", call.Messages[0].Content.String())
}

func TestOTelOpenAIShapedMessagesAccepted(t *testing.T) {
	call, stats := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name":  "chat",
		"gen_ai.input.messages":  `[{"role":"user","content":"plain OpenAI message"}]`,
		"gen_ai.output.messages": `[{"role":"assistant","content":"ok","finish_reason":"stop"}]`,
	})
	require.Zero(t, stats.Total())
	assert.Equal(t, "plain OpenAI message", call.Messages[0].Content.String())
	assert.Equal(t, "ok", call.Choices[0].Message.Content.String())
	assert.Equal(t, "stop", call.Choices[0].FinishReason)
}

func TestOTelSeveralChoices(t *testing.T) {
	call, _ := parseAttrs(t, "chat m", map[string]any{
		"gen_ai.operation.name": "chat",
		"gen_ai.output.messages": `[{"role":"assistant","parts":[{"type":"text","content":"a"}],"finish_reason":"stop"},` +
			`{"role":"assistant","parts":[{"type":"text","content":"b"}],"finish_reason":"length"}]`,
	})
	require.Len(t, call.Choices, 2)
	assert.Equal(t, 1, call.Choices[1].Index)
	assert.Equal(t, []string{"stop", "length"}, call.FinishReasons)
	rec := call.ToOpenAI()
	require.Len(t, rec.Choices, 2)
	assert.Equal(t, "a", rec.Completion.Content.String())
	assert.Equal(t, "length", rec.Choices[1].FinishReason)
}
