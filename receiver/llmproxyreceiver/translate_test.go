package llmproxyreceiver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// sseEvents splits a stream into (event type, data) pairs.
func sseEvents(t *testing.T, events []string) (types []string, data []map[string]any) {
	t.Helper()
	for _, ev := range events {
		var typ string
		for _, line := range strings.Split(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				typ = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(v), &m), v)
				require.Equal(t, typ, m["type"])
				data = append(data, m)
			}
		}
		types = append(types, typ)
	}
	return types, data
}

func TestResponsesAPI(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))

	resp, b := postBody(t, env.url+"/rollout/ro-r/attempt/at-r/v1/responses",
		`{"model":"m","instructions":"Be brief.","input":"What is 2 + 2?"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var r struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Status string `json:"status"`
		Output []struct {
			Type    string `json:"type"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
		} `json:"output"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, "response", r.Object)
	assert.Equal(t, "completed", r.Status)
	require.Len(t, r.Output, 1)
	assert.Equal(t, llmmock.DefaultReply, r.Output[0].Content[0].Text)
	assert.Equal(t, len(replyIDs(llmmock.DefaultReply)), r.Usage.OutputTokens)
	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	assert.Equal(t, chatPromptIDs(), call.PromptTokenIDs)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)
	v, _ := span.Attributes().Get(attrClientAPI)
	assert.Equal(t, apiResponses, v.Str())

	// Streamed, with a function tool: the model calls it.
	events := readSSE(t, env.url+"/v1/responses", `{"model":"m","stream":true,"input":[{"role":"user","content":[{"type":"input_text","text":"weather in Paris"}]}],`+
		`"tools":[{"type":"function","name":"weather","parameters":{"type":"object"}}]}`)
	types, data := sseEvents(t, events)
	assert.Equal(t, []string{"response.created", "response.in_progress", "response.output_item.added"}, types[:3])
	assert.Equal(t, "response.completed", types[len(types)-1])
	done := data[len(data)-1]["response"].(map[string]any)
	item := done["output"].([]any)[0].(map[string]any)
	assert.Equal(t, "function_call", item["type"])
	assert.Equal(t, "weather", item["name"])
	assert.Equal(t, `{"query":"weather in Paris"}`, item["arguments"])
	var joined string
	for i, typ := range types {
		assert.EqualValues(t, i, data[i]["sequence_number"])
		if typ == "response.function_call_arguments.delta" {
			joined += data[i]["delta"].(string)
		}
	}
	assert.Equal(t, `{"query":"weather in Paris"}`, joined)

	// Function output goes back as a tool message.
	resp, b = postBody(t, env.url+"/v1/responses", `{"model":"m","input":[{"role":"user","content":"weather in Paris"},`+
		`{"type":"function_call","call_id":"c1","name":"weather","arguments":"{}"},{"type":"function_call_output","call_id":"c1","output":"sunny"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	span, res = lastSpan(t, env.sink)
	call, _ = genai.Parse(span, res)
	require.Len(t, call.Messages, 3)
	assert.Equal(t, "tool", call.Messages[2].Role)

	resp, b = postBody(t, env.url+"/v1/responses", `{"model":"m","input":"x","previous_response_id":"resp_1"}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "previous_response_id")
}

func TestMessagesAPI(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	tools := `"tools":[{"name":"calc","description":"adds","input_schema":{"type":"object"}}]`

	resp, b := postBody(t, env.url+"/v1/messages", `{"model":"m","max_tokens":64,"system":"Be brief.",`+tools+`,`+
		`"messages":[{"role":"user","content":"What is 2 + 2?"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var m struct {
		Type       string           `json:"type"`
		Role       string           `json:"role"`
		Content    []map[string]any `json:"content"`
		StopReason string           `json:"stop_reason"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, "message", m.Type)
	assert.Equal(t, "tool_use", m.StopReason)
	require.Len(t, m.Content, 1)
	assert.Equal(t, "tool_use", m.Content[0]["type"])
	assert.Equal(t, map[string]any{"query": "What is 2 + 2?"}, m.Content[0]["input"])

	// The tool result comes back; the streamed answer is text.
	body := `{"model":"m","max_tokens":64,"stream":true,` + tools + `,"messages":[{"role":"user","content":"What is 2 + 2?"},` +
		`{"role":"assistant","content":[{"type":"tool_use","id":"` + m.Content[0]["id"].(string) + `","name":"calc","input":{"a":2}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"` + m.Content[0]["id"].(string) + `","content":"4"}]}]}`
	types, data := sseEvents(t, readSSE(t, env.url+"/v1/messages", body))
	assert.Equal(t, "message_start", types[0])
	assert.Equal(t, "content_block_start", types[1])
	assert.Equal(t, []string{"content_block_stop", "message_delta", "message_stop"}, types[len(types)-3:])
	var text string
	for _, d := range data {
		if d["type"] == "content_block_delta" {
			text += d["delta"].(map[string]any)["text"].(string)
		}
	}
	assert.Equal(t, llmmock.DefaultReply, text)
	assert.Equal(t, "end_turn", data[len(data)-2]["delta"].(map[string]any)["stop_reason"])

	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.Len(t, call.Messages, 3)
	assert.Equal(t, "tool", call.Messages[2].Role)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)

	// Errors in Anthropic's shape.
	resp, b = postBody(t, env.url+"/v1/messages", `{"model":"m","max_tokens":1,"messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.JSONEq(t, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: must be a non-empty list"}}`, string(b))
	resp, b = postBody(t, env.url+"/v1/messages", `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"document"}]}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "not supported")
}
