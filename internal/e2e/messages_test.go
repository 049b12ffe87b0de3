package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/export"
)

// sendToolConversation emits one attempt of a tool-using agent as OTel GenAI
// (≥ 1.37) spans: a tool call, the answer after the tool result, both with
// token ids, and a reward.
func sendToolConversation(t *testing.T, c *collector, rolloutID, attemptID string) {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(c.HTTPAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	// A batch span processor, as agents use: the spans reach the collector
	// together when the provider shuts down, so the connector sees the
	// reward with the calls.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", "weather-agent"),
		attribute.String("agentlightning.rollout_id", rolloutID),
		attribute.String("agentlightning.attempt_id", attemptID))))
	tracer := tp.Tracer("e2e")
	ctx, agent := tracer.Start(context.Background(), "invoke_agent weather", trace.WithAttributes(
		attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "weather")))
	const tools = `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}]`
	calls := []struct {
		in, out          string
		prompt, response []int64
	}{
		{
			in:       `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]`,
			out:      `[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}],"finish_reason":"tool_call"}]`,
			prompt:   []int64{1, 2, 3},
			response: []int64{4, 5},
		},
		{
			in: `[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},` +
				`{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"location":"Paris"}}]},` +
				`{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy, 57°F"}]}]`,
			out:      `[{"role":"assistant","parts":[{"type":"text","content":"Rainy, 57°F."}],"finish_reason":"stop"}]`,
			prompt:   []int64{1, 2, 3, 4, 5, 6, 7},
			response: []int64{8, 9},
		},
	}
	for i, cl := range calls {
		_, span := tracer.Start(ctx, "chat qwen", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.provider.name", "openai"),
			attribute.String("gen_ai.request.model", "qwen"),
			attribute.String("gen_ai.response.id", fmt.Sprintf("chatcmpl-%d", i)),
			attribute.String("gen_ai.system_instructions", `[{"type":"text","content":"You report the weather."}]`),
			attribute.String("gen_ai.input.messages", cl.in),
			attribute.String("gen_ai.output.messages", cl.out),
			attribute.String("gen_ai.tool.definitions", tools),
			attribute.Int64Slice("prompt_token_ids", cl.prompt),
			attribute.Int64Slice("response_token_ids", cl.response),
		))
		span.End()
	}
	_, reward := tracer.Start(ctx, "agentlightning.annotation", trace.WithAttributes(
		attribute.String("agentlightning.reward.0.name", "primary"),
		attribute.Float64("agentlightning.reward.0.value", 1.0)))
	reward.End()
	agent.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// getItems reads a {"items": [...]} route.
func getItems(url string) ([]map[string]any, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Items, nil
}

func jsonLines(t *testing.T, b []byte) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		out = append(out, append(json.RawMessage{}, sc.Bytes()...))
	}
	return out
}

// TestMessagesAndExports follows the default pipeline from an agent's spans
// to the chat records of the messages API and the three dataset exports,
// over HTTP and from the export subcommand on the SQLite file.
func TestMessagesAndExports(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())
	var started wireRollout
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "Paris", "mode": "train"}, &started)
	sendToolConversation(t, c, started.RolloutID, started.Attempt.AttemptID)

	var msgs []map[string]any
	eventually(t, dataTimeout, func() error {
		var err error
		if msgs, err = getItems(c.api("/v1/lightning/rollouts/" + started.RolloutID + "/messages?attempt_id=latest")); err != nil {
			return err
		}
		if len(msgs) != 2 {
			return notYet("%d messages", len(msgs))
		}
		return nil
	})
	second, err := json.Marshal(map[string]any{"messages": msgs[1]["messages"], "tools": msgs[1]["tools"], "completion": msgs[1]["completion"]})
	if err != nil {
		t.Fatal(err)
	}
	wantSecond := `{"messages":[{"role":"system","content":"You report the weather."},{"role":"user","content":"Weather in Paris?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},` +
		`{"role":"tool","content":"rainy, 57°F","tool_call_id":"call_1"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"properties":{"location":{"type":"string"}},"type":"object"}}}],` +
		`"completion":{"role":"assistant","content":"Rainy, 57°F.","finish_reason":"stop"}}`
	if !jsonEqual(t, second, []byte(wantSecond)) {
		t.Fatalf("second message record:\n got %s\nwant %s", second, wantSecond)
	}
	if attrs, _ := msgs[1]["attributes"].(map[string]any); attrs["agentlightning.reward.0.value"] != 1.0 || attrs["gen_ai.response.id"] != "chatcmpl-1" {
		t.Fatalf("attributes of the last call: %v", msgs[1]["attributes"])
	}

	var updated map[string]any
	postJSON(t, c.api("/v1/agl/rollouts/"+started.RolloutID+"/attempts/latest"), map[string]any{"status": "succeeded"}, &updated)
	eventually(t, dataTimeout, func() error {
		items, err := getItems(c.api("/v1/lightning/rollouts/" + started.RolloutID + "/triplets"))
		if err != nil {
			return err
		}
		if len(items) != 2 {
			return notYet("%d triplets", len(items))
		}
		return nil
	})

	exportHTTP := func(query string) []json.RawMessage {
		t.Helper()
		resp, err := http.Get(c.api("/v1/lightning/export?" + query))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("export %s: %d %v %s", query, resp.StatusCode, err, body)
		}
		return jsonLines(t, body)
	}
	sft := exportHTTP("format=sft&status=succeeded&mode=train")
	if len(sft) != 1 {
		t.Fatalf("sft: %d lines", len(sft))
	}
	if err := export.CheckSFTLine(sft[0]); err != nil {
		t.Fatalf("sft line %s: %v", sft[0], err)
	}
	if n := len(exportHTTP("format=triplets")); n != 2 {
		t.Fatalf("triplets: %d lines", n)
	}
	rows := exportHTTP("format=trajectories&min_reward=1")
	if len(rows) != 1 {
		t.Fatalf("trajectories: %d rows", len(rows))
	}
	var row export.TrajectoryLine
	if err := json.Unmarshal(rows[0], &row); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(row.ResponseIDs) != "[4 5 6 7 8 9]" || fmt.Sprint(row.LossMask) != "[1 1 0 0 1 1]" || row.Reward == nil || *row.Reward != 1 {
		t.Fatalf("trajectory row: %s", rows[0])
	}

	// The export subcommand reads the same data from the database file.
	c.stop(t)
	cmd := exec.Command(binary, "export", "--path", filepath.Join(c.DataDir, "lightning.db"), "--format", "sft")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export subcommand: %v\n%s", err, stderr.String())
	}
	if cli := jsonLines(t, stdout.Bytes()); len(cli) != 1 || !jsonEqual(t, cli[0], sft[0]) {
		t.Fatalf("export subcommand output differs from the HTTP export:\n%s\n%s", stdout.String(), sft[0])
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
