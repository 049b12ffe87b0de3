package export

import "encoding/json"

// sftLine is one OpenAI fine-tuning example.
type sftLine struct {
	Messages []chatMessage   `json:"messages"`
	Tools    json.RawMessage `json:"tools,omitempty"`
}

// sft writes the attempt's conversation (its last call's prompt and
// completion) or, with GranularityCall, every call.
func (x *exporter) sft(d *attemptData) error {
	if len(d.messages) == 0 {
		x.sum.AttemptsWithoutData++
		return nil
	}
	if x.opts.Granularity == GranularityCall {
		for i := range d.messages {
			if err := x.sftCall(&d.messages[i]); err != nil {
				return err
			}
		}
		return nil
	}
	last := lastCall(d)
	if last == nil {
		x.sum.CallsWithoutCompletion++
		return nil
	}
	return x.sftCall(last)
}

func (x *exporter) sftCall(m *message) error {
	if m.completion == nil {
		x.sum.CallsWithoutCompletion++
		return nil
	}
	msgs := make([]chatMessage, 0, len(m.messages)+1)
	msgs = append(msgs, m.messages...)
	msgs = append(msgs, *m.completion)
	return x.line(sftLine{Messages: msgs, Tools: m.tools})
}

// lastCall picks the call that closes the conversation. When the attempt
// has triplets, it is the call of the last triplet: the triplet processor
// leaves out calls made inside reward spans (an LLM grader) and duplicate
// spans of one call, which must not end a conversation either. Otherwise
// it is the last call with a completion.
func lastCall(d *attemptData) *message {
	if n := len(d.triplets); n > 0 {
		want := d.triplets[n-1].SpanID
		for i := len(d.messages) - 1; i >= 0; i-- {
			if m := &d.messages[i]; m.spanID == want && m.completion != nil {
				return m
			}
		}
	}
	for i := len(d.messages) - 1; i >= 0; i-- {
		if m := &d.messages[i]; m.completion != nil {
			return m
		}
	}
	return nil
}
