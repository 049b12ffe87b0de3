package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

type wireTriplet struct {
	AttemptID string `json:"attempt_id"`
	Index     int    `json:"index"`
	Prompt    struct {
		TokenIDs []int            `json:"token_ids"`
		Messages []map[string]any `json:"messages"`
	} `json:"prompt"`
	Response struct {
		TokenIDs []int `json:"token_ids"`
	} `json:"response"`
	Reward   *float64 `json:"reward"`
	Metadata struct {
		ResponseID string `json:"response_id"`
		AgentName  string `json:"agent_name"`
	} `json:"metadata"`
}

// TestTripletsFromAgentRun runs an agent the way Agent Lightning's runner
// does (start a rollout, emit OpenLLMetry-style LLM spans with token ids and
// a reward span, mark the attempt succeeded) and reads the triplets back.
func TestTripletsFromAgentRun(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())
	var started wireRollout
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "2+2"}, &started)

	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(c.HTTPAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("agentlightning.rollout_id", started.RolloutID),
		attribute.String("agentlightning.attempt_id", started.Attempt.AttemptID))))
	tracer := tp.Tracer("e2e")
	ctx, agent := tracer.Start(context.Background(), "agent", trace.WithAttributes(attribute.String("agent.name", "solver")))
	for i, prompt := range [][]int64{{1, 2}, {1, 2, 7, 3}} {
		_, llm := tracer.Start(ctx, "openai.chat.completion", trace.WithAttributes(
			attribute.String("gen_ai.system", "openai"),
			attribute.String("gen_ai.response.id", fmt.Sprintf("chatcmpl-%d", i)),
			attribute.String("gen_ai.prompt.0.role", "user"),
			attribute.String("gen_ai.prompt.0.content", "2+2?"),
			attribute.String("gen_ai.completion.0.role", "assistant"),
			attribute.String("gen_ai.completion.0.content", "4"),
			attribute.Int64Slice("prompt_token_ids", prompt),
			attribute.Int64Slice("response_token_ids", []int64{int64(10 + i)}),
		))
		llm.End()
	}
	_, reward := tracer.Start(ctx, "agentlightning.annotation", trace.WithAttributes(
		attribute.String("agentlightning.reward.0.name", "primary"),
		attribute.Float64("agentlightning.reward.0.value", 1.0)))
	reward.End()
	agent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitForSpans(t, c, started.RolloutID, started.Attempt.AttemptID, 4)
	var updated map[string]any
	postJSON(t, c.api("/v1/agl/rollouts/"+started.RolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &updated)

	var got struct {
		Items []wireTriplet `json:"items"`
	}
	eventually(t, 15*time.Second, func() error {
		resp, err := http.Get(c.api("/v1/lightning/rollouts/" + started.RolloutID + "/triplets?attempt_id=latest"))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got.Items = nil
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			return err
		}
		if len(got.Items) != 2 {
			return notYet("%d triplets", len(got.Items))
		}
		return nil
	})
	first, second := got.Items[0], got.Items[1]
	if fmt.Sprint(first.Prompt.TokenIDs) != "[1 2]" || fmt.Sprint(second.Prompt.TokenIDs) != "[1 2 7 3]" || fmt.Sprint(second.Response.TokenIDs) != "[11]" {
		t.Fatalf("token ids: %+v %+v", first, second)
	}
	if first.Reward != nil || second.Reward == nil || *second.Reward != 1.0 {
		t.Fatalf("rewards: %v %v", first.Reward, second.Reward)
	}
	if second.Metadata.ResponseID != "chatcmpl-1" || second.Metadata.AgentName != "solver" || len(first.Prompt.Messages) != 1 {
		t.Fatalf("metadata or messages: %+v", second)
	}
	// Triplet spans go to the triplets table only.
	for _, s := range waitForSpans(t, c, started.RolloutID, started.Attempt.AttemptID, 4) {
		if s.Name == "agentlightning.triplet" {
			t.Fatalf("triplet span stored as a span")
		}
	}
}
