package export

import (
	"bytes"
	"encoding/json"
	"math"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// chatMessage is an OpenAI chat message reduced to the keys the OpenAI
// fine-tuning format accepts; reasoning_content, refusal and finish_reason
// are left out.
type chatMessage struct {
	Role string `json:"role"`
	// Content is a string or a list of content parts; it is omitted on an
	// assistant message that only calls tools.
	Content    json.RawMessage `json:"content,omitempty"`
	Name       string          `json:"name,omitempty"`
	ToolCalls  json.RawMessage `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

// message is a stored message record, decoded.
type message struct {
	spanID     string
	messages   []chatMessage
	tools      json.RawMessage // nil when none were offered
	completion *chatMessage    // nil when the output is unknown
	reward     *float64

	promptIDs, responseIDs []int64
	logprobs               []float64
}

// decodeMessages decodes an attempt's records in call order, keeping one
// record per span id (a call stored twice is exported once). Records whose
// body cannot be read keep their place with no content.
func decodeMessages(recs []model.MessageRecord) []message {
	out := make([]message, 0, len(recs))
	seen := map[string]bool{}
	for _, r := range recs {
		if r.SpanID != "" {
			if seen[r.SpanID] {
				continue
			}
			seen[r.SpanID] = true
		}
		out = append(out, decodeMessage(r))
	}
	return out
}

func decodeMessage(r model.MessageRecord) message {
	m := message{spanID: r.SpanID}
	var body struct {
		Messages   []json.RawMessage `json:"messages"`
		Tools      json.RawMessage   `json:"tools"`
		Completion json.RawMessage   `json:"completion"`
	}
	if json.Unmarshal(r.Body, &body) == nil {
		for _, raw := range body.Messages {
			if cm, ok := decodeChatMessage(raw); ok {
				m.messages = append(m.messages, cm)
			}
		}
		if isNonEmptyList(body.Tools) {
			m.tools = body.Tools
		}
		if cm, ok := decodeChatMessage(body.Completion); ok {
			if cm.Role == "" {
				cm.Role = "assistant"
			}
			m.completion = &cm
		}
	}
	var attrs struct {
		Reward      *float64  `json:"agentlightning.reward.0.value"`
		PromptIDs   []int64   `json:"agentlightning.prompt_token_ids"`
		ResponseIDs []int64   `json:"agentlightning.response_token_ids"`
		Logprobs    []float64 `json:"agentlightning.response_logprobs"`
	}
	if json.Unmarshal(r.Attributes, &attrs) == nil {
		if attrs.Reward != nil && !math.IsNaN(*attrs.Reward) && !math.IsInf(*attrs.Reward, 0) {
			m.reward = attrs.Reward
		}
		m.promptIDs, m.responseIDs, m.logprobs = attrs.PromptIDs, attrs.ResponseIDs, attrs.Logprobs
	}
	return m
}

func decodeChatMessage(raw json.RawMessage) (chatMessage, bool) {
	var cm chatMessage
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &cm) != nil {
		return chatMessage{}, false
	}
	if isNull(cm.Content) {
		cm.Content = nil
	}
	if !isNonEmptyList(cm.ToolCalls) {
		cm.ToolCalls = nil
	}
	if cm.Role != "tool" {
		cm.ToolCallID = ""
	}
	// Only an assistant message that calls tools may go without content.
	if cm.Content == nil && (cm.Role != "assistant" || cm.ToolCalls == nil) {
		cm.Content = json.RawMessage(`""`)
	}
	return cm, true
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func isNonEmptyList(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 2 && t[0] == '[' && !bytes.Equal(t, []byte("[]"))
}
