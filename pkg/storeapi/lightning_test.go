package storeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestTripletsRoute(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	rolloutID, first := a.startRollout(map[string]any{"input": "x"})
	second := a.post("/rollouts/"+rolloutID+"/attempts", map[string]any{}).object(http.StatusCreated)
	secondID := dig(second, "attempt", "attempt_id").(string)

	rec := func(attempt string, idx int, reward *float64) model.TripletRecord {
		return model.TripletRecord{RolloutID: rolloutID, AttemptID: attempt, Index: idx, Revision: 1, SpanID: "span",
			Triplet: model.Triplet{
				Prompt:   json.RawMessage(`{"token_ids":[1,2],"raw_content":null,"image_urls":[],"messages":[{"role":"user","content":"hi"}]}`),
				Response: json.RawMessage(`{"token_ids":[3],"raw_content":null,"message":{"role":"assistant","content":"ho"}}`),
				Reward:   reward, Metadata: json.RawMessage(`{"response_id":"r","agent_name":"*"}`),
			}}
	}
	if err := a.store.ReplaceTriplets(ctx, rolloutID, first, 1, []model.TripletRecord{rec(first, 0, nil)}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.ReplaceTriplets(ctx, rolloutID, secondID, 1, []model.TripletRecord{rec(secondID, 1, model.Ptr(0.5)), rec(secondID, 0, nil)}); err != nil {
		t.Fatal(err)
	}

	items := a.get("/v1/lightning/rollouts/" + rolloutID + "/triplets").object(http.StatusOK)["items"].([]any)
	if len(items) != 2 || dig(items, 0, "attempt_id") != secondID || dig(items, 0, "index") != 0.0 || dig(items, 1, "reward") != 0.5 {
		t.Fatalf("latest attempt triplets: %v", items)
	}
	if dig(items, 0, "prompt", "token_ids", 1) != 2.0 || dig(items, 0, "response", "message", "content") != "ho" || dig(items, 0, "metadata", "response_id") != "r" {
		t.Fatalf("triplet shape: %v", items[0])
	}
	items = a.get("/v1/lightning/rollouts/" + rolloutID + "/triplets?attempt_id=" + first).object(http.StatusOK)["items"].([]any)
	if len(items) != 1 || dig(items, 0, "reward") != nil {
		t.Fatalf("first attempt: %v", items)
	}
	items = a.get("/v1/lightning/rollouts/" + rolloutID + "/triplets?attempt_id=all").object(http.StatusOK)["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("all attempts: %v", items)
	}
	items = a.get("/v1/lightning/rollouts/ro-missing/triplets").object(http.StatusOK)["items"].([]any)
	if len(items) != 0 {
		t.Fatalf("unknown rollout: %v", items)
	}
}

func TestMessagesRoute(t *testing.T) {
	a := newTestAPI(t)
	rolloutID, attemptID := a.startRollout(map[string]any{"input": "x"})
	err := a.store.AddMessages(context.Background(), []model.MessageRecord{{
		RolloutID: rolloutID, AttemptID: attemptID, TraceID: "t", SpanID: "s", SequenceID: 3,
		Body:       json.RawMessage(`{"messages":[{"role":"user","content":"hi"}],"tools":null,"completion":{"role":"assistant","content":"ho"}}`),
		Attributes: json.RawMessage(`{"gen_ai.request.model":"m"}`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	items := a.get("/v1/lightning/rollouts/" + rolloutID + "/messages?attempt_id=latest").object(http.StatusOK)["items"].([]any)
	if len(items) != 1 || dig(items, 0, "span_id") != "s" || dig(items, 0, "messages", 0, "content") != "hi" || dig(items, 0, "completion", "content") != "ho" {
		t.Fatalf("messages: %v", items)
	}
}
