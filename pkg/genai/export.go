package genai

import "encoding/json"

// OpenAIRecord is one LLM call in the OpenAI chat format: the body of the
// messages connector's log records and of SFT datasets.
type OpenAIRecord struct {
	// Messages is the prompt, system instructions first.
	Messages []Message `json:"messages"`
	// Tools is null when no tools were offered.
	Tools []Tool `json:"tools"`
	// Completion is the first choice, null when the output is unknown.
	Completion *Completion `json:"completion"`
	// Choices lists every choice when there are several (n > 1).
	Choices []Completion `json:"choices,omitempty"`
}

// ToOpenAI renders the call as {"messages", "tools", "completion"}: the
// system instructions are prepended as a system message, tool results are
// role "tool" messages with their tool_call_id, multi-part content is kept
// and reasoning stays in reasoning_content.
func (c *Call) ToOpenAI() OpenAIRecord {
	r := OpenAIRecord{Messages: c.PromptMessages(), Tools: c.Tools, Completion: c.Completion()}
	if len(c.Choices) > 1 {
		for _, ch := range c.Choices {
			r.Choices = append(r.Choices, Completion{Message: ch.Message, FinishReason: ch.FinishReason})
		}
	}
	return r
}

// PromptMessages returns the prompt with the system instructions prepended
// as a system message (unless the history already starts with that exact
// system message). The result is never nil.
func (c *Call) PromptMessages() []Message {
	out := make([]Message, 0, len(c.Messages)+1)
	if c.SystemInstructions != nil {
		sys := Message{Role: "system", Content: *c.SystemInstructions}
		if len(c.Messages) == 0 || !sameMessage(c.Messages[0], sys) {
			out = append(out, sys)
		}
	}
	return append(out, c.Messages...)
}

// Conversation returns the prompt followed by the first choice's message:
// the "messages" of an OpenAI fine-tuning line.
func (c *Call) Conversation() []Message {
	out := c.PromptMessages()
	if len(c.Choices) > 0 {
		out = append(out, c.Choices[0].Message)
	}
	return out
}

func sameMessage(a, b Message) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// TokenLogprobs returns the logprob of each token of Logprobs (the OpenAI
// logprobs.content list, or a completions-API token_logprobs list), or nil.
func (c *Call) TokenLogprobs() []float64 {
	if len(c.Logprobs) == 0 {
		return nil
	}
	v, err := unmarshalJSON(string(c.Logprobs))
	if err != nil {
		return nil
	}
	var items []any
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			items = append(items, get(e, "logprob"))
		}
	case map[string]any:
		items, _ = x["token_logprobs"].([]any)
	}
	out := make([]float64, 0, len(items))
	for _, it := range items {
		f, ok := asFloat(it)
		if !ok {
			return nil
		}
		out = append(out, f)
	}
	return out
}
