package e2e

import (
	"encoding/json"
	"slices"
	"testing"
)

// The wire types below are deliberately independent of pkg/model: the tests
// check the JSON an Agent Lightning client receives, not our Go structs.

type page[T any] struct {
	Items  []T `json:"items"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

type wireSpanContext struct {
	TraceID  string `json:"trace_id"`
	SpanID   string `json:"span_id"`
	IsRemote bool   `json:"is_remote"`
}

type wireSpan struct {
	RolloutID  string  `json:"rollout_id"`
	AttemptID  string  `json:"attempt_id"`
	SequenceID int     `json:"sequence_id"`
	TraceID    string  `json:"trace_id"`
	SpanID     string  `json:"span_id"`
	ParentID   *string `json:"parent_id"`
	Name       string  `json:"name"`
	Status     struct {
		StatusCode  string  `json:"status_code"`
		Description *string `json:"description"`
	} `json:"status"`
	Attributes map[string]any   `json:"attributes"`
	StartTime  *float64         `json:"start_time"`
	EndTime    *float64         `json:"end_time"`
	Context    *wireSpanContext `json:"context"`
	Parent     *wireSpanContext `json:"parent"`
	Resource   struct {
		Attributes map[string]any `json:"attributes"`
		SchemaURL  string         `json:"schema_url"`
	} `json:"resource"`
}

type wireAttempt struct {
	RolloutID  string `json:"rollout_id"`
	AttemptID  string `json:"attempt_id"`
	SequenceID int    `json:"sequence_id"`
	Status     string `json:"status"`
}

type wireRollout struct {
	RolloutID string         `json:"rollout_id"`
	Status    string         `json:"status"`
	Metadata  map[string]any `json:"metadata"`
	Attempt   *wireAttempt   `json:"attempt"`
}

// spanKeys are the keys of Agent Lightning v0.3's Span model; every span the
// API returns carries all of them (nulls included, as Pydantic writes them).
var spanKeys = []string{
	"rollout_id", "attempt_id", "sequence_id", "trace_id", "span_id", "parent_id", "name", "status",
	"attributes", "events", "links", "start_time", "end_time", "context", "parent", "resource",
}

// querySpans calls POST /v1/agl/spans/search for one rollout (and attempt,
// when given) and also returns the raw items for key checks.
func querySpans(t *testing.T, c *collector, rolloutID, attemptID string) (page[wireSpan], []map[string]json.RawMessage) {
	t.Helper()
	req := map[string]any{"rollout_id": rolloutID}
	if attemptID != "" {
		req["attempt_id"] = attemptID
	}
	var raw page[map[string]json.RawMessage]
	postJSON(t, c.api("/v1/agl/spans/search"), req, &raw)
	spans := page[wireSpan]{Limit: raw.Limit, Offset: raw.Offset, Total: raw.Total}
	for _, item := range raw.Items {
		b, err := json.Marshal(item)
		if err != nil {
			t.Fatalf("re-encode span: %v", err)
		}
		var s wireSpan
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("decode span: %v\n%s", err, b)
		}
		spans.Items = append(spans.Items, s)
	}
	return spans, raw.Items
}

// waitForSpans polls until the attempt holds want spans and returns them in
// sequence order, checking the Agent Lightning span shape on the way.
func waitForSpans(t *testing.T, c *collector, rolloutID, attemptID string, want int) []wireSpan {
	t.Helper()
	var got page[wireSpan]
	var raw []map[string]json.RawMessage
	eventually(t, dataTimeout, func() error {
		got, raw = querySpans(t, c, rolloutID, attemptID)
		if got.Total < want {
			return notYet("rollout %s attempt %s has %d spans, want %d", rolloutID, attemptID, got.Total, want)
		}
		return nil
	})
	if got.Total != want || len(got.Items) != want {
		t.Fatalf("rollout %s attempt %s: total %d, %d items; want %d", rolloutID, attemptID, got.Total, len(got.Items), want)
	}
	for i, item := range raw {
		for _, k := range spanKeys {
			if _, ok := item[k]; !ok {
				t.Errorf("span %d lacks the Agent Lightning key %q: %v", i, k, item)
			}
		}
	}
	return got.Items
}

// queryRollouts calls POST /v1/agl/rollouts/search with rollout_id_in.
func queryRollouts(t *testing.T, c *collector, ids ...string) page[wireRollout] {
	t.Helper()
	var got page[wireRollout]
	postJSON(t, c.api("/v1/agl/rollouts/search"), map[string]any{"rollout_id_in": ids}, &got)
	return got
}

// requireRunningRollout checks that the rollout exists, is running and that
// its latest attempt is attemptID.
func requireRunningRollout(t *testing.T, c *collector, rolloutID, attemptID string) wireRollout {
	t.Helper()
	got := queryRollouts(t, c, rolloutID)
	if got.Total != 1 || len(got.Items) != 1 {
		t.Fatalf("rollouts search for %s: total %d, items %+v", rolloutID, got.Total, got.Items)
	}
	r := got.Items[0]
	if r.RolloutID != rolloutID || r.Status != "running" {
		t.Errorf("rollout = %s status %q, want %s running", r.RolloutID, r.Status, rolloutID)
	}
	if r.Attempt == nil || r.Attempt.AttemptID != attemptID {
		t.Errorf("rollout %s latest attempt = %+v, want %s", rolloutID, r.Attempt, attemptID)
	}
	return r
}

// requireSequence checks that spans carry sequence ids 1..n and the names
// in the given (arrival) order.
func requireSequence(t *testing.T, spans []wireSpan, names []string) {
	t.Helper()
	var gotNames []string
	for i, s := range spans {
		if s.SequenceID != i+1 {
			t.Errorf("span %d (%s) has sequence_id %d, want %d", i, s.Name, s.SequenceID, i+1)
		}
		gotNames = append(gotNames, s.Name)
	}
	if !slices.Equal(gotNames, names) {
		t.Errorf("span names in sequence order = %v, want arrival order %v", gotNames, names)
	}
}
