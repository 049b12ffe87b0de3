package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestTripletsOfAttemptEndedAfterRestart: an agent's spans are stored, the
// collector stops (SIGTERM, or kill -9 as a crash or the OOM killer would),
// and the runner marks the attempt succeeded through the REST API of the
// restarted collector. The restarted processor never saw the attempt's
// spans; the store's event must still give the attempt its triplets, and a
// build made at the graceful shutdown from the same spans is not rewritten.
func TestTripletsOfAttemptEndedAfterRestart(t *testing.T) {
	requireBinary(t)
	for _, tc := range []struct {
		name string
		stop func(c *collector, t *testing.T)
	}{
		{name: "SIGTERM", stop: (*collector).stop},
		{name: "kill -9", stop: (*collector).kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			first := startCollector(t, dataDir)
			var started wireRollout
			postJSONStatus(t, first.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "2+2"}, &started)
			sendCallsWithOpenAgent(t, first, started.RolloutID, started.Attempt.AttemptID)
			waitForSpans(t, first, started.RolloutID, started.Attempt.AttemptID, 3)
			tc.stop(first, t)

			second := startCollector(t, dataDir)
			var updated map[string]any
			postJSON(t, second.api("/v1/agl/rollouts/"+started.RolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &updated)

			got := waitTriplets(t, second, started.RolloutID, 2)
			first0, second0 := got[0], got[1]
			if fmt.Sprint(first0.Prompt.TokenIDs) != "[1 2]" || fmt.Sprint(first0.Response.TokenIDs) != "[10]" ||
				fmt.Sprint(second0.Prompt.TokenIDs) != "[1 2 7 3]" || fmt.Sprint(second0.Response.TokenIDs) != "[11]" {
				t.Fatalf("token ids: %+v %+v", first0, second0)
			}
			if first0.Reward != nil || second0.Reward == nil || *second0.Reward != 1.0 {
				t.Fatalf("rewards: %v %v", first0.Reward, second0.Reward)
			}
			if second0.Metadata.ResponseID != "chatcmpl-1" {
				t.Fatalf("metadata: %+v", second0.Metadata)
			}
			// Whether built at the graceful shutdown or after the restart,
			// there is one revision: the rebuild from the same spans writes
			// nothing. A second write would land within a tick or two
			// (check_interval, 200 ms) of the event.
			time.Sleep(500 * time.Millisecond)
			for _, tr := range readTriplets(t, second, started.RolloutID) {
				if tr.Revision != 1 {
					t.Fatalf("revision %d, want 1: %+v", tr.Revision, tr)
				}
			}
		})
	}
}

type revisedTriplet struct {
	wireTriplet
	Revision int `json:"revision"`
}

func readTriplets(t *testing.T, c *collector, rolloutID string) []revisedTriplet {
	t.Helper()
	resp, err := http.Get(c.api("/v1/lightning/rollouts/" + rolloutID + "/triplets?attempt_id=latest"))
	if err != nil {
		t.Fatalf("read triplets: %v", err)
	}
	defer resp.Body.Close()
	var got struct {
		Items []revisedTriplet `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decode triplets: %v", err)
	}
	return got.Items
}

// waitTriplets waits until the latest attempt of the rollout has n triplets.
func waitTriplets(t *testing.T, c *collector, rolloutID string, n int) []revisedTriplet {
	t.Helper()
	var got []revisedTriplet
	eventually(t, 15*time.Second, func() error {
		got = readTriplets(t, c, rolloutID)
		if len(got) != n {
			return notYet("%d triplets", len(got))
		}
		return nil
	})
	return got
}

// sendCallsWithOpenAgent exports two LLM calls with token ids and a reward
// span, children of an agent span that has not ended (so no root settles
// and no timer builds the attempt before the collector stops).
func sendCallsWithOpenAgent(t *testing.T, c *collector, rolloutID, attemptID string) {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(newHTTPExporter(t, c)), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("agentlightning.rollout_id", rolloutID),
		attribute.String("agentlightning.attempt_id", attemptID))))
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
	_ = agent // never ended: its span is not exported
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTripletsOfAttemptEndedWhileNotFollowed: the attempt ends while no
// triplet processor follows the store — here a first collector runs without
// it in its pipelines, as a collector killed between the runner's
// update_attempt and the build would leave things. The next collector finds
// the ended attempt without triplets at start (completion.resume_window)
// and builds it.
func TestTripletsOfAttemptEndedWhileNotFollowed(t *testing.T) {
	requireBinary(t)
	dataDir := t.TempDir()
	first := spawn(t, freePorts(t, 6), []string{"--config", filepath.Join(configDir, "collector.yaml"),
		"--set=service::pipelines::traces::processors=[memory_limiter,reward]",
		"--set=service::pipelines::logs/genai_events::processors=[memory_limiter,reward]",
	}, "LIGHTNING_DATA_DIR="+dataDir)
	first.waitReady(t)
	var started wireRollout
	postJSONStatus(t, first.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "2+2"}, &started)
	sendCallsWithOpenAgent(t, first, started.RolloutID, started.Attempt.AttemptID)
	waitForSpans(t, first, started.RolloutID, started.Attempt.AttemptID, 3)
	var updated map[string]any
	postJSON(t, first.api("/v1/agl/rollouts/"+started.RolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &updated)
	if got := readTriplets(t, first, started.RolloutID); len(got) != 0 {
		t.Fatalf("built without a triplet processor: %+v", got)
	}
	first.kill(t)

	second := startCollector(t, dataDir)
	got := waitTriplets(t, second, started.RolloutID, 2)
	if fmt.Sprint(got[0].Prompt.TokenIDs) != "[1 2]" || fmt.Sprint(got[1].Prompt.TokenIDs) != "[1 2 7 3]" ||
		fmt.Sprint(got[1].Response.TokenIDs) != "[11]" || got[1].Reward == nil || *got[1].Reward != 1.0 || got[0].Revision != 1 {
		t.Fatalf("triplets: %+v", got)
	}
}
