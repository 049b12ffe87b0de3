package genai

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPydanticAIChatSpan(t *testing.T) {
	call, stats := loadFixture(t, "pydanticai_chat").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionOTel, call.Convention, "Pydantic AI ≥ v2 writes the OTel attributes")
	assert.Equal(t, "openai", call.Provider)
	require.Len(t, call.Messages, 4)
	assert.Equal(t, PartsContent(
		TextPart("Roll for me"),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/table.png"}},
		ContentPart{Type: "input_audio", InputAudio: &InputAudio{Data: "SUQz", Format: "mp3"}},
	), call.Messages[0].Content)
	assert.Equal(t, Message{Role: "assistant", ReasoningContent: "I need the dice tool.", ToolCalls: []ToolCall{{
		ID: "call_d", Type: "function", Function: FunctionCall{Name: "roll_dice", Arguments: "{}"}}}}, call.Messages[1])
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_d", Content: text("4")}, call.Messages[2])
	assert.Equal(t, Message{Role: "user", Content: text("And now guess.")}, call.Messages[3])
	require.Len(t, call.Tools, 1, "model_request_parameters fills the tools when gen_ai.tool.definitions is absent")
	assert.Equal(t, &FunctionDef{Name: "roll_dice", Description: "Roll a die",
		Parameters: map[string]any{"type": "object", "properties": map[string]any{}}}, call.Tools[0].Function)
	assertGolden(t, "pydanticai_chat", call.ToOpenAI())
}

func TestPydanticAIAgentRun(t *testing.T) {
	call, stats := loadFixture(t, "pydanticai_agent_run").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.False(t, call.Classification.IsLLMCall, "an agent run is not a model call")
	assert.Equal(t, ConventionPydanticAI, call.Convention)
	assert.Equal(t, Usage{}, call.Usage, "gen_ai.aggregated_usage.* sums the child calls and is not read")
	require.Len(t, call.Messages, 3)
	assert.Equal(t, "tool", call.Messages[2].Role)
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "You rolled a 4.", call.Choices[0].Message.Content.String())
	assert.Equal(t, "stop", call.Choices[0].FinishReason)
}

func TestPydanticAILogfireEvents(t *testing.T) {
	call, stats := loadFixture(t, "pydanticai_logfire_events").parse()
	require.Zero(t, stats.Total(), stats.Warnings)
	assert.Equal(t, ConventionPydanticAI, call.Convention)
	require.Len(t, call.Messages, 4)
	assert.Equal(t, Message{Role: "system", Content: text("Be helpful.")}, call.Messages[0])
	assert.Equal(t, PartsContent(TextPart("What is on the picture?"),
		ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "https://example.com/p.png"}}), call.Messages[1].Content)
	assert.Equal(t, "describe", call.Messages[2].ToolCalls[0].Function.Name)
	assert.Equal(t, Message{Role: "tool", ToolCallID: "call_p", Content: text("a cat")}, call.Messages[3])
	require.Len(t, call.Choices, 1)
	assert.Equal(t, "A cat.", call.Choices[0].Message.Content.String())
	assertGolden(t, "pydanticai_logfire_events", call.ToOpenAI())
}

func TestUnrelatedEventsAttributeIgnored(t *testing.T) {
	call, stats := parseAttrs(t, "work", map[string]any{"events": `[{"kind":"click"}]`})
	assert.Empty(t, call.Messages)
	assert.Zero(t, stats.Total())
}
