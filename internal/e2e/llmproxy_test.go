package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
)

// startProxyCollector runs the default configuration with the LLM proxy's
// upstream set to a vLLM mock on loopback.
func startProxyCollector(t *testing.T, mock http.Handler) *collector {
	t.Helper()
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	return startCollectorConfig(t, "collector.yaml", "LIGHTNING_DATA_DIR="+t.TempDir(),
		"LIGHTNING_LLM_UPSTREAM="+srv.URL+"/v1")
}

func postRawJSON(t *testing.T, url, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// vllmIDs asks a separate mock for the same call with vLLM's token-id
// fields turned on: the ids the proxy must have recorded.
func vllmIDs(t *testing.T, body string) (prompt, response []int) {
	t.Helper()
	srv := httptest.NewServer(llmmock.NewVLLM(llmmock.VLLMOptions{}))
	defer srv.Close()
	withIDs := strings.Replace(body, `{"model"`, `{"return_token_ids":true,"stream":false,"model"`, 1)
	withIDs = strings.Replace(withIDs, `"stream":true,`, ``, 1)
	status, _, b := postRawJSON(t, srv.URL+"/v1/chat/completions", withIDs)
	if status != http.StatusOK {
		t.Fatalf("direct mock: %d %s", status, b)
	}
	var r struct {
		PromptTokenIDs []int `json:"prompt_token_ids"`
		Choices        []struct {
			TokenIDs []int `json:"token_ids"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r.PromptTokenIDs, r.Choices[0].TokenIDs
}

// TestLLMProxyTripletsCarryExactTokens drives the default configuration's
// proxy the way an Agent Lightning v0.3 ProxyLLM agent does (a plain call,
// then a streamed tool call, under /rollout/{rid}/attempt/{aid}/v1) and
// reads the triplets: they carry exactly the ids vLLM returned.
func TestLLMProxyTripletsCarryExactTokens(t *testing.T) {
	requireBinary(t)
	c := startProxyCollector(t, llmmock.NewVLLM(llmmock.VLLMOptions{}))
	var started wireRollout
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": "2+2"}, &started)
	rid, aid := started.RolloutID, started.Attempt.AttemptID
	base := "http://" + c.ProxyAddr + "/rollout/" + rid + "/attempt/" + aid + "/v1"

	plain := `{"model":"qwen","messages":[{"role":"user","content":"What is 2 + 2?"}]}`
	status, _, b := postRawJSON(t, base+"/chat/completions", plain)
	if status != http.StatusOK || bytes.Contains(b, []byte(`"token_ids":[`)) {
		t.Fatalf("plain call: %d %s", status, b)
	}
	// D19: the answer comes once the span is stored, so it is readable at once.
	if spans, _ := querySpans(t, c, rid, aid); len(spans.Items) != 1 {
		t.Fatalf("span not stored before the answer: %d spans", len(spans.Items))
	}

	tools := `{"model":"qwen","stream":true,"tools":[{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}],` +
		`"messages":[{"role":"user","content":"add 2 and 2"}]}`
	status, hdr, b := postRawJSON(t, base+"/chat/completions", tools)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") ||
		!bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) || bytes.Contains(b, []byte("token_ids")) {
		t.Fatalf("streamed call: %d %s", status, b)
	}

	var updated map[string]any
	postJSON(t, c.api("/v1/agl/rollouts/"+rid+"/attempts/latest"), map[string]any{"status": "succeeded"}, &updated)
	var got struct {
		Items []wireTriplet `json:"items"`
	}
	eventually(t, 15*time.Second, func() error {
		resp, err := http.Get(c.api("/v1/lightning/rollouts/" + rid + "/triplets?attempt_id=" + aid))
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
	for i, body := range []string{plain, tools} {
		prompt, response := vllmIDs(t, body)
		tr := got.Items[i]
		if fmt.Sprint(tr.Prompt.TokenIDs) != fmt.Sprint(prompt) || fmt.Sprint(tr.Response.TokenIDs) != fmt.Sprint(response) {
			t.Fatalf("triplet %d: prompt %v response %v, want %v %v", i, tr.Prompt.TokenIDs, tr.Response.TokenIDs, prompt, response)
		}
		if tr.AttemptID != aid {
			t.Fatalf("triplet %d in attempt %s, want %s", i, tr.AttemptID, aid)
		}
	}
}

// TestLLMProxyAutomaticRollout: a call with no identity but a traceparent
// is filed by the store's identity policy under its trace's automatic
// rollout, as a child of the agent's span.
func TestLLMProxyAutomaticRollout(t *testing.T) {
	requireBinary(t)
	c := startProxyCollector(t, llmmock.NewVLLM(llmmock.VLLMOptions{}))
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.ProxyAddr+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	spans, raw := querySpans(t, c, "ro-4bf92f3577b34da6a3ce929d0e0e4736", "")
	if len(spans.Items) != 1 || !bytes.Contains(raw[0]["parent_id"], []byte("00f067aa0ba902b7")) {
		t.Fatalf("automatic rollout: %d spans %s", len(spans.Items), raw)
	}
}

// TestLLMProxyOnStorePort checks Agent Lightning v1.0's proxy routes on the
// store API's port: a call under /proxy/rollout/.../mode/train/openai/v1,
// pause (429 + Retry-After + X-Agl-Paused), state and resume.
func TestLLMProxyOnStorePort(t *testing.T) {
	requireBinary(t)
	c := startProxyCollector(t, llmmock.NewVLLM(llmmock.VLLMOptions{}))
	// The v1.0 routes serve the store's rollouts only.
	v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/rollouts", []any{map[string]any{"rollout_id": "ro-v1", "input": map[string]any{}}})
	call := c.api("/proxy/rollout/ro-v1/attempt/0/mode/train/openai/v1/chat/completions")
	body := `{"model":"qwen","messages":[{"role":"user","content":"hi"}]}`
	if status, _, b := postRawJSON(t, call, body); status != http.StatusOK {
		t.Fatalf("v1.0 route: %d %s", status, b)
	}
	waitForSpans(t, c, "ro-v1", "0", 1)

	if status, _, b := postRawJSON(t, c.api("/proxy/pause"), `{"retry_after_seconds":3,"reason":"update"}`); status != http.StatusOK ||
		!bytes.Contains(b, []byte(`"paused":true`)) {
		t.Fatalf("pause: %d %s", status, b)
	}
	status, hdr, b := postRawJSON(t, call, body)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "3" || hdr.Get("X-Agl-Paused") != "true" {
		t.Fatalf("paused call: %d %v %s", status, hdr, b)
	}
	// The proxy's own port shares the state.
	status, _, _ = postRawJSON(t, "http://"+c.ProxyAddr+"/v1/chat/completions", body)
	if status != http.StatusTooManyRequests {
		t.Fatalf("paused call on the proxy port: %d", status)
	}
	resp, err := http.Get(c.api("/proxy/state"))
	if err != nil {
		t.Fatal(err)
	}
	state, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(state, []byte(`"inflight":0`)) {
		t.Fatalf("state: %s", state)
	}
	if status, _, b := postRawJSON(t, c.api("/proxy/resume"), ``); status != http.StatusOK || !bytes.Contains(b, []byte(`"paused":false`)) {
		t.Fatalf("resume: %d %s", status, b)
	}
	if status, _, b := postRawJSON(t, call, body); status != http.StatusOK {
		t.Fatalf("after resume: %d %s", status, b)
	}
}

// TestLLMProxyV1DefaultProxy runs Agent Lightning v1.0's default_proxy
// (agl_v1 in testdata/agl-v1-proxy.yaml) on the store port: an unknown
// rollout is 404, nothing registered under the configured model is 503
// naming it (the any-model LIGHTNING_LLM_UPSTREAM does not count), and once
// the model is registered the upstream gets the configured model and the
// mode's temperature, whatever the client sent.
func TestLLMProxyV1DefaultProxy(t *testing.T) {
	requireBinary(t)
	trained := llmmock.NewVLLM(llmmock.VLLMOptions{})
	trainedSrv := httptest.NewServer(trained)
	t.Cleanup(trainedSrv.Close)
	other := llmmock.NewVLLM(llmmock.VLLMOptions{})
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)
	c := launch(t, t.TempDir(), launchSpec{configs: []string{testdataPath("agl-v1-proxy.yaml")},
		env: []string{"LIGHTNING_LLM_UPSTREAM=" + otherSrv.URL + "/v1"}}).collector
	v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/rollouts", []any{map[string]any{"rollout_id": "ro-f", "input": map[string]any{}}})
	route := func(rollout, mode string) string {
		return c.api("/proxy/rollout/" + rollout + "/attempt/0/mode/" + mode + "/openai/v1/chat/completions")
	}
	body := `{"model":"client-model","temperature":0.9,"messages":[{"role":"user","content":"hi"}]}`
	detail := func(b []byte) string {
		var d struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(b, &d)
		return d.Detail
	}

	if status, _, b := postRawJSON(t, route("nope", "train"), body); status != http.StatusNotFound || detail(b) != "Rollout not found: nope" {
		t.Fatalf("unknown rollout: %d %s", status, b)
	}
	status, _, b := postRawJSON(t, route("ro-f", "train"), body)
	if status != http.StatusServiceUnavailable || detail(b) != "No servers available for model 'trained-model'" {
		t.Fatalf("nothing registered: %d %s", status, b)
	}
	resp, err := http.Get(route("ro-f", "train"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}

	v1Must(t, c, http.StatusCreated, http.MethodPost, "/api/models",
		[]any{map[string]any{"model": "trained-model", "endpoint": trainedSrv.URL + "/v1", "version": 0}})
	// The proxy re-reads the registry at most once a second.
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, _, b = postRawJSON(t, route("ro-f", "val"), body)
		if status == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != http.StatusOK {
		t.Fatalf("registered: %d %s", status, b)
	}
	last := func() map[string]any {
		reqs := trained.Requests()
		if len(reqs) == 0 {
			t.Fatal("the registered endpoint received nothing")
		}
		var got map[string]any
		if err := json.Unmarshal(reqs[len(reqs)-1], &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := last(); got["model"] != "trained-model" || got["temperature"] != 0.3 || got["return_token_ids"] != true || got["logprobs"] != nil {
		t.Fatalf("val call upstream: %v", got)
	}
	if status, _, b := postRawJSON(t, route("ro-f", "train"), body); status != http.StatusOK {
		t.Fatalf("train: %d %s", status, b)
	}
	if got := last(); got["model"] != "trained-model" || got["temperature"] != 1.0 || got["logprobs"] != true {
		t.Fatalf("train call upstream: %v", got)
	}
	if n := len(other.Requests()); n != 0 {
		t.Fatalf("the any-model upstream got %d calls for the configured model", n)
	}
	// Both calls are recorded under the rollout, with the forced model.
	spans := waitForSpans(t, c, "ro-f", "0", 2)
	for _, sp := range spans {
		if sp.Attributes["gen_ai.request.model"] != "trained-model" {
			t.Fatalf("span records %v", sp.Attributes["gen_ai.request.model"])
		}
	}
}

// TestLLMProxyWithoutUpstream: the default configuration with
// LIGHTNING_LLM_UPSTREAM unset starts, and calls get 503 naming it.
func TestLLMProxyWithoutUpstream(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())
	status, _, b := postRawJSON(t, "http://"+c.ProxyAddr+"/v1/chat/completions", `{"model":"m","messages":[]}`)
	if status != http.StatusServiceUnavailable || !bytes.Contains(b, []byte("LIGHTNING_LLM_UPSTREAM")) {
		t.Fatalf("%d %s", status, b)
	}
}

// TestLLMProxyFailures runs the failure cases against the real binary: a
// client that disconnects mid-stream (the upstream stream is closed, the
// span is stored with an error status and the partial answer's ids), an
// upstream that answers 429 twice then succeeds (retried), malformed JSON
// (400), a body over the limit (413) and an upstream that is down (502).
func TestLLMProxyFailures(t *testing.T) {
	requireBinary(t)
	mock := llmmock.NewVLLM(llmmock.VLLMOptions{ChunkDelay: 40 * time.Millisecond, DelayModel: "slow",
		Options: llmmock.Options{Reply: strings.Repeat("word ", 50)}})
	c := startProxyCollector(t, mock)
	proxy := "http://" + c.ProxyAddr

	// Disconnect after three events.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, proxy+"/rollout/ro-cut/attempt/at-1/v1/chat/completions",
		strings.NewReader(`{"model":"slow","stream":true,"messages":[{"role":"user","content":"talk"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for events := 0; events < 3; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			events++
		}
	}
	cancel()
	resp.Body.Close()
	spans := waitForSpans(t, c, "ro-cut", "at-1", 1)
	_, raw := querySpans(t, c, "ro-cut", "at-1")
	var status struct {
		StatusCode string `json:"status_code"`
	}
	var attrs map[string]any
	_ = json.Unmarshal(raw[0]["status"], &status)
	_ = json.Unmarshal(raw[0]["attributes"], &attrs)
	ids, _ := attrs["response_token_ids"].([]any)
	if status.StatusCode != "ERROR" || attrs["error.type"] != "cancelled" || len(ids) == 0 || len(ids) >= 51 {
		t.Fatalf("cut stream span %s: status %+v, error.type %v, %d ids", spans[0].Name, status, attrs["error.type"], len(ids))
	}
	eventually(t, 5*time.Second, func() error {
		if mock.Cancelled() != 1 {
			return notYet("upstream streams cancelled: %d", mock.Cancelled())
		}
		return nil
	})

	// Malformed JSON and a body over the limit (20 MiB by default).
	if status, _, b := postRawJSON(t, proxy+"/v1/chat/completions", `{"model":`); status != http.StatusBadRequest ||
		!bytes.Contains(b, []byte("invalid_json")) {
		t.Fatalf("malformed JSON: %d %s", status, b)
	}
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 21<<20) + `"}]}`
	if status, _, b := postRawJSON(t, proxy+"/v1/chat/completions", big); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d %s", status, truncateMsg(string(b)))
	}
}

// TestLLMProxyRetriesAndUpstreamDown: 429 twice then success is retried and
// answered 200; an upstream that is down gives 502 in OpenAI's shape.
func TestLLMProxyRetriesAndUpstreamDown(t *testing.T) {
	requireBinary(t)
	mock := llmmock.NewVLLM(llmmock.VLLMOptions{FailFirst: 2, FailStatus: http.StatusTooManyRequests})
	c := startProxyCollector(t, mock)
	status, _, b := postRawJSON(t, "http://"+c.ProxyAddr+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if status != http.StatusOK || len(mock.Requests()) != 3 {
		t.Fatalf("after two 429s: %d %s (%d upstream requests)", status, b, len(mock.Requests()))
	}

	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	d := startCollectorConfig(t, "collector.yaml", "LIGHTNING_DATA_DIR="+t.TempDir(), "LIGHTNING_LLM_UPSTREAM="+url+"/v1")
	status, _, b = postRawJSON(t, "http://"+d.ProxyAddr+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if status != http.StatusBadGateway || json.Unmarshal(b, &e) != nil || e.Error.Code != "upstream_unavailable" {
		t.Fatalf("upstream down: %d %s", status, b)
	}
}
