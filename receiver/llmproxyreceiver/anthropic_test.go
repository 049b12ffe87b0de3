package llmproxyreceiver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

func anthropicUpstream(t *testing.T) (direct, proxied string) {
	t.Helper()
	opts := llmmock.Options{Now: fixedNow}
	d := httptest.NewServer(llmmock.NewAnthropic(opts, 0))
	p := httptest.NewServer(llmmock.NewAnthropic(opts, 0))
	t.Cleanup(d.Close)
	t.Cleanup(p.Close)
	return d.URL + "/v1", p.URL + "/v1"
}

func TestAnthropicUpstreamPassesThrough(t *testing.T) {
	direct, proxied := anthropicUpstream(t)
	u := upstreamTo(proxied, "claude")
	u.Kind, u.APIKey = KindAnthropic, "sk-ant"
	env := startProxy(t, nil, withUpstreams(u))
	tools := `"tools":[{"name":"calc","input_schema":{"type":"object"}}]`
	body := `{"model":"claude","max_tokens":64,` + tools + `,"messages":[{"role":"user","content":"What is 2 + 2?"}]}`

	// The proxy sends its own key; the answer is the upstream's, unchanged.
	_, want := postBody(t, direct+"/messages", body, "x-api-key", "k")
	resp, got := postBody(t, env.url+"/rollout/ro-a/attempt/at-a/v1/messages", body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
	assert.Equal(t, string(want), string(got))
	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.Len(t, call.Choices, 1)
	require.Len(t, call.Choices[0].Message.ToolCalls, 1)
	assert.Equal(t, `{"query":"What is 2 + 2?"}`, call.Choices[0].Message.ToolCalls[0].Function.Arguments)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	v, _ := span.Attributes().Get(attrTokenCapture)
	assert.Equal(t, captureUnsupported, v.Str())

	// Streamed: every event passes through as sent.
	stream := `{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`
	wantEv := streamWithKey(t, direct+"/messages", stream)
	gotEv := streamWithKey(t, env.url+"/v1/messages", stream)
	assert.Equal(t, wantEv, gotEv)
	assert.True(t, strings.HasPrefix(gotEv, "event: message_start"))
	assert.True(t, strings.HasSuffix(gotEv, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	span, res = lastSpan(t, env.sink)
	call, _ = genai.Parse(span, res)
	assert.Equal(t, llmmock.DefaultReply, *call.Choices[0].Message.Content.Text)
	assert.Equal(t, "stop", call.Choices[0].FinishReason)
	out, _ := span.Attributes().Get("gen_ai.usage.output_tokens")
	assert.Positive(t, out.Int())

	// An Anthropic upstream serves Messages only.
	resp, b := postBody(t, env.url+"/v1/chat/completions", `{"model":"claude","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "/v1/messages")
}

func TestAnthropicMockStreamsLikeTheAPI(t *testing.T) {
	srv := httptest.NewServer(llmmock.NewAnthropic(llmmock.Options{}, time.Millisecond))
	defer srv.Close()
	resp, b := postBody(t, srv.URL+"/v1/messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "x-api-key is required")
	var e map[string]any
	require.NoError(t, json.Unmarshal(b, &e))
	assert.Equal(t, "error", e["type"])

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/messages",
		strings.NewReader(`{"model":"c","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("x-api-key", "k")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer r.Body.Close()
	all, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	var types []string
	for _, ev := range strings.Split(string(all), "\n\n") {
		if typ, ok := strings.CutPrefix(strings.SplitN(ev, "\n", 2)[0], "event: "); ok {
			types = append(types, typ)
		}
	}
	// token-capture.md §7: message_start, (ping), per block start / deltas / stop, message_delta, message_stop.
	assert.Equal(t, []string{"message_start", "ping", "content_block_start"}, types[:3])
	assert.Equal(t, []string{"content_block_stop", "message_delta", "message_stop"}, types[len(types)-3:])
}

// streamWithKey reads a whole streamed answer, sending an x-api-key.
func streamWithKey(t *testing.T, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("x-api-key", "k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
