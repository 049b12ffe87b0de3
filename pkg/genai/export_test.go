package genai

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestToOpenAIShape(t *testing.T) {
	sys := text("Be brief.")
	call := &Call{
		SystemInstructions: &sys,
		Messages:           []Message{{Role: "user", Content: text("2+2?")}},
		Tools:              []Tool{{Type: "function", Function: &FunctionDef{Name: "calc", Parameters: map[string]any{"type": "object"}}}},
		Choices:            []Choice{{Message: Message{Role: "assistant", Content: text("4"), ReasoningContent: "easy"}, FinishReason: "stop"}},
	}
	b, err := json.Marshal(call.ToOpenAI())
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"2+2?"}],
		"tools":[{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}],
		"completion":{"role":"assistant","content":"4","reasoning_content":"easy","finish_reason":"stop"}
	}`, string(b))
	assert.Equal(t, []Message{
		{Role: "system", Content: text("Be brief.")}, {Role: "user", Content: text("2+2?")},
		{Role: "assistant", Content: text("4"), ReasoningContent: "easy"},
	}, call.Conversation())
}

func TestToOpenAIEmpty(t *testing.T) {
	b, err := json.Marshal((&Call{}).ToOpenAI())
	require.NoError(t, err)
	assert.JSONEq(t, `{"messages":[],"tools":null,"completion":null}`, string(b))
}

func TestSystemInstructionsNotDuplicated(t *testing.T) {
	sys := text("Be brief.")
	call := &Call{SystemInstructions: &sys, Messages: []Message{{Role: "system", Content: text("Be brief.")}, {Role: "user", Content: text("x")}}}
	assert.Len(t, call.PromptMessages(), 2)
}

func TestContentJSONRoundTrip(t *testing.T) {
	for _, c := range []Content{
		{},
		text(""),
		text("hi"),
		PartsContent(TextPart(""), TextPart("a"),
			ContentPart{Type: "image_url", ImageURL: &ImageURL{URL: "u", Detail: "low"}},
			ContentPart{Type: "input_audio", InputAudio: &InputAudio{Data: "d", Format: "wav"}},
			ContentPart{Type: "file", File: &File{FileID: "f"}},
			ContentPart{Type: "video", Raw: map[string]any{"type": "video", "uri": "v"}}),
	} {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		var back Content
		require.NoError(t, json.Unmarshal(b, &back), string(b))
		assert.Equal(t, c, back, string(b))
	}
	var c Content
	assert.Error(t, json.Unmarshal([]byte(`42`), &c))
}

func TestToolJSONRoundTrip(t *testing.T) {
	strict := true
	for _, tool := range []Tool{
		{Type: "function", Function: &FunctionDef{Name: "f", Description: "d", Parameters: map[string]any{"type": "object"}, Strict: &strict}},
		{Type: "web_search", Raw: map[string]any{"type": "web_search", "name": "search"}},
	} {
		b, err := json.Marshal(tool)
		require.NoError(t, err)
		var back Tool
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, toJSON(t, tool), toJSON(t, back))
	}
}

func TestMessageJSON(t *testing.T) {
	m := Message{Role: "assistant", ToolCalls: []ToolCall{{ID: "c", Type: "function", Function: FunctionCall{Name: "f", Arguments: "{}"}}}}
	assert.JSONEq(t, `{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}`, toJSON(t, m))
	var back Message
	require.NoError(t, json.Unmarshal([]byte(toJSON(t, m)), &back))
	assert.Equal(t, m, back)
}

func TestTokenLogprobs(t *testing.T) {
	assert.Nil(t, (&Call{}).TokenLogprobs())
	assert.Nil(t, (&Call{Logprobs: json.RawMessage(`[{"logprob":"x"}]`)}).TokenLogprobs())
	assert.Equal(t, []float64{-1, -2}, (&Call{Logprobs: json.RawMessage(`{"token_logprobs":[-1,-2]}`)}).TokenLogprobs())
}
