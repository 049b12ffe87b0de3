package model

import "encoding/json"

// Triplet is one (prompt, response, reward) step of a trajectory, shaped as
// Agent Lightning's TracerTraceToTriplet builds it, plus the OpenAI-format
// messages our parser recovers.
type Triplet struct {
	Prompt   json.RawMessage `json:"prompt"`
	Response json.RawMessage `json:"response"`
	Reward   *float64        `json:"reward"`
	Metadata json.RawMessage `json:"metadata"`
}

// TripletRecord is a stored triplet with its place in the attempt.
type TripletRecord struct {
	RolloutID string  `json:"rollout_id"`
	AttemptID string  `json:"attempt_id"`
	Index     int     `json:"index"`
	Revision  int     `json:"revision"`
	SpanID    string  `json:"span_id"`
	Triplet   Triplet `json:"triplet"`
}

// MessageRecord is one LLM call as an OpenAI-format chat record; Body holds
// {"messages": [...], "tools": [...], "completion": {...}}.
type MessageRecord struct {
	RolloutID  string          `json:"rollout_id"`
	AttemptID  string          `json:"attempt_id"`
	TraceID    string          `json:"trace_id"`
	SpanID     string          `json:"span_id"`
	SequenceID int             `json:"sequence_id"`
	Body       json.RawMessage `json:"body"`
	Attributes json.RawMessage `json:"attributes"`
}
