package llmproxyreceiver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/receiver/llmproxyreceiver/internal/metadata"
)

var fixedNow = func() time.Time { return time.Unix(1767225600, 0) }

// mockServer starts a vLLM mock on loopback.
func mockServer(t *testing.T, opts llmmock.VLLMOptions) (*llmmock.VLLM, string) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	m := llmmock.NewVLLM(opts)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv.URL + "/v1"
}

type proxyEnv struct {
	url  string
	sink *consumertest.TracesSink
	rcv  *proxyReceiver
}

// startProxy runs the receiver on a free loopback port.
func startProxy(t *testing.T, host component.Host, edit func(*Config)) *proxyEnv {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Retry.InitialBackoff = time.Millisecond
	cfg.Retry.MaxBackoff = 5 * time.Millisecond
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, rcv.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	pr := rcv.(*proxyReceiver)
	return &proxyEnv{url: "http://" + pr.addr.String(), sink: sink, rcv: pr}
}

func upstreamTo(endpoint string, models ...string) UpstreamConfig {
	u := UpstreamConfig{Kind: KindVLLM, Models: models}
	u.Endpoint = endpoint
	return u
}

func withUpstreams(us ...UpstreamConfig) func(*Config) {
	return func(c *Config) { c.Upstreams = us }
}

func postBody(t *testing.T, url string, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// lastSpan returns the single span of the sink's last export.
func lastSpan(t *testing.T, sink *consumertest.TracesSink) (ptrace.Span, pcommon.Resource) {
	t.Helper()
	all := sink.AllTraces()
	require.NotEmpty(t, all, "no span was consumed")
	rs := all[len(all)-1].ResourceSpans().At(0)
	return rs.ScopeSpans().At(0).Spans().At(0), rs.Resource()
}

func ints(ids []int) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

const chatBody = `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2 + 2?"}]}`

// The prompt as the mock tokenizes it.
func chatPromptIDs() []int64 {
	return ints(llmmock.TokenIDs("system: Be brief.\nuser: What is 2 + 2?"))
}

func replyIDs(text string) []int64 {
	return append(ints(llmmock.TokenIDs(text)), llmmock.EOSTokenID)
}

func TestChatNonStreamIsTransparentAndCaptured(t *testing.T) {
	_, direct := mockServer(t, llmmock.VLLMOptions{})
	_, proxied := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(proxied)))

	_, want := postBody(t, direct+"/chat/completions", chatBody)
	resp, got := postBody(t, env.url+"/rollout/ro-1/attempt/at-1/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
	assert.Equal(t, string(want), string(got), "the agent sees exactly what vLLM answers without the proxy")

	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.NotNil(t, call)
	assert.Equal(t, chatPromptIDs(), call.PromptTokenIDs)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)
	var lps []map[string]any
	require.NoError(t, json.Unmarshal(call.Logprobs, &lps))
	require.Len(t, lps, len(call.ResponseTokenIDs))
	assert.Equal(t, "The ", lps[0]["token"])
	assert.Len(t, call.Messages, 2)
	require.Len(t, call.Choices, 1)
	assert.Equal(t, llmmock.DefaultReply, *call.Choices[0].Message.Content.Text)
	assert.Equal(t, "chatcmpl-mock-1", call.ResponseID)
	v, _ := res.Attributes().Get(attrRolloutID)
	assert.Equal(t, "ro-1", v.Str())
	v, _ = res.Attributes().Get(attrAttemptID)
	assert.Equal(t, "at-1", v.Str())
	v, _ = span.Attributes().Get(attrTokenCapture)
	assert.Equal(t, captureCaptured, v.Str())
	assert.Equal(t, ptrace.StatusCodeOk, span.Status().Code())
}

// readSSE returns a stream's events (their data lines) as read.
func readSSE(t *testing.T, url, body string) []string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out []string
	for _, ev := range strings.Split(string(b), "\n\n") {
		if ev != "" {
			out = append(out, ev)
		}
	}
	return out
}

func TestChatStreamIsTransparentAndAssembled(t *testing.T) {
	_, direct := mockServer(t, llmmock.VLLMOptions{})
	_, proxied := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(proxied)))
	body := `{"model":"m","stream":true,"n":2,"messages":[{"role":"user","content":"What is 2 + 2?"}]}`

	want := readSSE(t, direct+"/chat/completions", body)
	got := readSSE(t, env.url+"/v1/chat/completions", body)
	assert.Equal(t, want, got)
	assert.Equal(t, "data: [DONE]", got[len(got)-1])

	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.NotNil(t, call)
	assert.Equal(t, ints(llmmock.TokenIDs("user: What is 2 + 2?")), call.PromptTokenIDs)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)
	require.Len(t, call.Choices, 2)
	assert.Equal(t, llmmock.DefaultReply+" (2)", *call.Choices[1].Message.Content.Text)
	v, _ := span.Attributes().Get(attrChoiceTokenIDs)
	var perChoice [][]int64
	require.NoError(t, json.Unmarshal([]byte(v.Str()), &perChoice))
	assert.Equal(t, [][]int64{replyIDs(llmmock.DefaultReply), replyIDs(llmmock.DefaultReply + " (2)")}, perChoice)
	u, ok := span.Attributes().Get("gen_ai.usage.output_tokens")
	require.True(t, ok, "usage was asked for upstream")
	assert.Equal(t, int64(2*len(replyIDs(llmmock.DefaultReply))+1), u.Int())
	// No identity: the pipeline's identity policy files it (no labels here).
	_, has := res.Attributes().Get(attrRolloutID)
	assert.False(t, has)
}

func TestChatStreamToolCallSplitAcrossChunks(t *testing.T) {
	_, direct := mockServer(t, llmmock.VLLMOptions{})
	_, proxied := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(proxied)))
	body := `{"model":"m","stream":true,"stream_options":{"include_usage":true},"logprobs":true,` +
		`"tools":[{"type":"function","function":{"name":"search","parameters":{"type":"object"}}}],` +
		`"messages":[{"role":"user","content":"weather in Paris today"}]}`
	want := readSSE(t, direct+"/chat/completions", body)
	got := readSSE(t, env.url+"/v1/chat/completions", body)
	assert.Equal(t, want, got, "usage and log-probs the client asked for stay")
	require.Greater(t, len(got), 4, "arguments come in several chunks")

	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.NotNil(t, call)
	require.Len(t, call.Choices, 1)
	tc := call.Choices[0].Message.ToolCalls
	require.Len(t, tc, 1)
	assert.Equal(t, "search", tc[0].Function.Name)
	assert.Equal(t, `{"query":"weather in Paris today"}`, tc[0].Function.Arguments)
	assert.Equal(t, "tool_calls", call.Choices[0].FinishReason)
	assert.Equal(t, replyIDs(`{"query":"weather in Paris today"}`), call.ResponseTokenIDs)
	tools, _ := span.Attributes().Get(genai.AttrToolDefinitions)
	assert.Contains(t, tools.Str(), `"search"`)
}

func TestCompletionsStreamAndNot(t *testing.T) {
	_, direct := mockServer(t, llmmock.VLLMOptions{})
	_, proxied := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(proxied)))
	body := `{"model":"m","prompt":"Say hello"}`
	_, want := postBody(t, direct+"/completions", body)
	_, got := postBody(t, env.url+"/v1/completions", body)
	assert.Equal(t, string(want), string(got))
	span, res := lastSpan(t, env.sink)
	call, _ := genai.Parse(span, res)
	require.NotNil(t, call)
	assert.Equal(t, ints(llmmock.TokenIDs("Say hello")), call.PromptTokenIDs)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)
	lp, _ := span.Attributes().Get(genai.AttrLogprobsContent)
	assert.Contains(t, lp.Str(), `"logprob"`)

	stream := `{"model":"m","prompt":"Say hello","stream":true}`
	wantEv := readSSE(t, direct+"/completions", stream)
	gotEv := readSSE(t, env.url+"/v1/completions", stream)
	assert.Equal(t, wantEv, gotEv)
	span, res = lastSpan(t, env.sink)
	call, _ = genai.Parse(span, res)
	require.NotNil(t, call)
	assert.Equal(t, ints(llmmock.TokenIDs("Say hello")), call.PromptTokenIDs)
	assert.Equal(t, replyIDs(llmmock.DefaultReply), call.ResponseTokenIDs)
	op, _ := span.Attributes().Get("gen_ai.operation.name")
	assert.Equal(t, operationCompletion, op.Str())
}

func TestIdentityRoutes(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	cases := []struct {
		path             string
		headers          []string
		rollout, attempt string
		source, mode     string
	}{
		{"/rollout/ro-a/attempt/at-a/v1/chat/completions", nil, "ro-a", "at-a", sourceV03, ModeTrain},
		{"/rollout/ro-b/attempt/at-b/chat/completions", nil, "ro-b", "at-b", sourceV03, ModeTrain},
		{"/proxy/rollout/ro-c/attempt/0/mode/val/openai/v1/chat/completions", nil, "ro-c", "0", sourceV10, ModeVal},
		{"/sessions/team/s-1/v1/chat/completions", nil, "team/s-1", "team/s-1", sourceSession, ModeTrain},
		{"/v1/chat/completions", []string{"x-rollout-id", "ro-h", "x-attempt-id", "at-h"}, "ro-h", "at-h", sourceHeaders, ModeTrain},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, b := postBody(t, env.url+tc.path, chatBody, tc.headers...)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
			span, res := lastSpan(t, env.sink)
			v, _ := res.Attributes().Get(attrRolloutID)
			assert.Equal(t, tc.rollout, v.Str())
			v, _ = res.Attributes().Get(attrAttemptID)
			assert.Equal(t, tc.attempt, v.Str())
			v, _ = span.Attributes().Get(attrIdentitySource)
			assert.Equal(t, tc.source, v.Str())
			v, _ = span.Attributes().Get(attrMode)
			assert.Equal(t, tc.mode, v.Str())
			_, hasLogprobs := span.Attributes().Get(genai.AttrLogprobsContent)
			assert.Equal(t, tc.mode == ModeTrain, hasLogprobs, "log-probs are asked for in train mode only")
		})
	}

	t.Run("traceparent", func(t *testing.T) {
		resp, _ := postBody(t, env.url+"/v1/chat/completions", chatBody,
			"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		span, _ := lastSpan(t, env.sink)
		assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", span.TraceID().String())
		assert.Equal(t, "b7ad6b7169203331", span.ParentSpanID().String())
	})
}

func TestErrors(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, func(c *Config) {
		c.Upstreams = []UpstreamConfig{upstreamTo(up, "m")}
		c.MaxRequestBodySize = 4096
	})
	apiErr := func(b []byte) apiError {
		var e apiError
		require.NoError(t, json.Unmarshal(b, &e), string(b))
		return e
	}
	resp, b := postBody(t, env.url+"/v1/chat/completions", `{"model":"m","messages":[`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "invalid_json", apiErr(b).Error.Code)

	resp, b = postBody(t, env.url+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"`+strings.Repeat("x", 5000)+`"}]}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, "request_too_large", apiErr(b).Error.Code)

	resp, b = postBody(t, env.url+"/v1/chat/completions", `{"model":"other","messages":[]}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "model_not_found", apiErr(b).Error.Code)

	// The upstream's own 400 passes through in its own shape.
	resp, b = postBody(t, env.url+"/v1/chat/completions", `{"model":"m","messages":[]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(b), "messages must be a non-empty array")
	span, _ := lastSpan(t, env.sink)
	assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())

	resp, _ = postBody(t, env.url+"/v2/anything", `{}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestNoUpstreamNamesTheVariable(t *testing.T) {
	env := startProxy(t, nil, withUpstreams(upstreamTo("")))
	resp, b := postBody(t, env.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(b), "LIGHTNING_LLM_UPSTREAM")
}

func TestUpstreamDownIs502(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	down := srv.URL + "/v1"
	srv.Close()
	env := startProxy(t, nil, withUpstreams(upstreamTo(down)))
	resp, b := postBody(t, env.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	var e apiError
	require.NoError(t, json.Unmarshal(b, &e))
	assert.Equal(t, "upstream_unavailable", e.Error.Code)
	span, _ := lastSpan(t, env.sink)
	assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
	r, _ := span.Attributes().Get(attrRetries)
	assert.Equal(t, int64(5), r.Int(), "six attempts")
}

func TestUpstream429ThenSuccessIsRetried(t *testing.T) {
	m, up := mockServer(t, llmmock.VLLMOptions{FailFirst: 2, FailStatus: http.StatusTooManyRequests})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	resp, b := postBody(t, env.url+"/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Len(t, m.Requests(), 3)
	span, _ := lastSpan(t, env.sink)
	r, _ := span.Attributes().Get(attrRetries)
	assert.Equal(t, int64(2), r.Int())

	// Out of attempts: the last 503 goes to the client as it came.
	m2, up2 := mockServer(t, llmmock.VLLMOptions{FailFirst: 10, FailStatus: http.StatusServiceUnavailable})
	env2 := startProxy(t, nil, func(c *Config) { c.Upstreams = []UpstreamConfig{upstreamTo(up2)}; c.Retry.MaxAttempts = 2 })
	resp, b = postBody(t, env2.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(b), "overloaded")
	assert.Len(t, m2.Requests(), 2)
}

func TestClientDisconnectMidStream(t *testing.T) {
	m, up := mockServer(t, llmmock.VLLMOptions{ChunkDelay: 30 * time.Millisecond,
		Options: llmmock.Options{Reply: strings.Repeat("word ", 40)}})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.url+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	br := bufio.NewReader(resp.Body)
	for events := 0; events < 3; {
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	cancel()
	resp.Body.Close()

	require.Eventually(t, func() bool { return env.sink.SpanCount() == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return m.Cancelled() == 1 }, 5*time.Second, 10*time.Millisecond,
		"the upstream stream was closed")
	span, _ := lastSpan(t, env.sink)
	assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
	et, _ := span.Attributes().Get("error.type")
	assert.Equal(t, reasonCancelled, et.Str())
	ids, ok := span.Attributes().Get(genai.AttrResponseTokenIDs)
	require.True(t, ok, "the partial answer's ids are kept")
	assert.Greater(t, ids.Slice().Len(), 0)
	assert.Less(t, ids.Slice().Len(), 41)
	tc, _ := span.Attributes().Get(attrTokenCapture)
	assert.Equal(t, capturePartial, tc.Str())
}

func TestPauseResumeState(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	resp, b := postBody(t, env.url+"/proxy/pause", `{"retry_after_seconds":7,"reason":"weights"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"paused":true,"retry_after_seconds":7,"reason":"weights","inflight":0}`, string(b))

	resp, b = postBody(t, env.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))
	assert.Equal(t, "true", resp.Header.Get("X-Agl-Paused"))
	assert.Contains(t, string(b), "proxy_paused")
	resp, b = postBody(t, env.url+"/proxy/rollout/r/attempt/0/mode/train/openai/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.JSONEq(t, `{"error":"gateway paused","reason":"weights"}`, string(b))

	resp, b = postBody(t, env.url+"/proxy/resume", ``)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"paused":false,"retry_after_seconds":7,"reason":null,"inflight":0}`, string(b))
	resp, _ = postBody(t, env.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestPauseDrainsInflight(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{ChunkDelay: 20 * time.Millisecond})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	done := make(chan []string)
	go func() {
		done <- readSSE(t, env.url+"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	}()
	require.Eventually(t, func() bool { return env.rcv.inflight.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	resp, b := postBody(t, env.url+"/proxy/pause", `{}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `"inflight":1`)
	events := <-done
	assert.Equal(t, "data: [DONE]", events[len(events)-1], "the in-flight stream finished")
	resp, err := http.Get(env.url + "/proxy/state")
	require.NoError(t, err)
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.JSONEq(t, `{"paused":true,"retry_after_seconds":5,"reason":null,"inflight":0}`, string(state))
}

func TestStickyRoutingByRollout(t *testing.T) {
	m1, up1 := mockServer(t, llmmock.VLLMOptions{})
	m2, up2 := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up1, "m"), upstreamTo(up2, "m")))
	for i := 0; i < 5; i++ {
		resp, _ := postBody(t, env.url+"/rollout/ro-sticky/attempt/at-"+string(rune('a'+i))+"/v1/chat/completions", chatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.True(t, (m1.Calls() == 5 && m2.Calls() == 0) || (m1.Calls() == 0 && m2.Calls() == 5),
		"one rollout, one replica: %d / %d", m1.Calls(), m2.Calls())
	// Many rollouts spread over both.
	for i := 0; i < 20; i++ {
		resp, _ := postBody(t, env.url+"/rollout/ro-"+string(rune('a'+i))+"/attempt/a/v1/chat/completions", chatBody)
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	assert.Positive(t, m1.Calls())
	assert.Positive(t, m2.Calls())
}

func TestModels(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	env := startProxy(t, nil, withUpstreams(upstreamTo(up)))
	resp, err := http.Get(env.url + "/v1/models")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), llmmock.DefaultModel, "a proxy serving any model asks its upstream")

	env2 := startProxy(t, nil, withUpstreams(upstreamTo(up, "qwen", "llama")))
	resp, err = http.Get(env2.url + "/v1/models")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &list))
	require.Len(t, list.Data, 2)
	assert.Equal(t, "llama", list.Data[0].ID)
}

func TestOpenAIKindIsTextOnly(t *testing.T) {
	m, up := mockServer(t, llmmock.VLLMOptions{})
	u := upstreamTo(up)
	u.Kind = KindOpenAI
	u.APIKey = "sk-secret"
	env := startProxy(t, nil, withUpstreams(u))
	resp, _ := postBody(t, env.url+"/v1/chat/completions", chatBody, "Authorization", "Bearer client-key")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	reqs := m.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, chatBody, string(reqs[0]), "nothing injected for a hosted API")
	span, _ := lastSpan(t, env.sink)
	v, _ := span.Attributes().Get(attrTokenCapture)
	assert.Equal(t, captureUnsupported, v.Str())
}

func TestShutdownWithoutStart(t *testing.T) {
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type),
		createDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, rcv.Shutdown(context.Background()))
}

func TestSpanRefusedStillAnswers(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Upstreams = []UpstreamConfig{upstreamTo(up)}
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg,
		consumertest.NewErr(assert.AnError))
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	resp, b := postBody(t, "http://"+rcv.(*proxyReceiver).addr.String()+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Contains(b, []byte(llmmock.DefaultReply)))
}

func receiverSettings() receiver.Settings { return receivertest.NewNopSettings(metadata.Type) }
