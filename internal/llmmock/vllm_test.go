package llmmock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The mock's wire format, checked against vLLM's as described in
// ../shared/reference/token-capture.md (§1–§3, §8).

func vllmServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(NewVLLM(VLLMOptions{Options: Options{Now: func() time.Time { return time.Unix(1, 0) }}}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func call(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return m
}

func TestVLLMChatTokenFields(t *testing.T) {
	url := vllmServer(t) + "/v1/chat/completions"
	// §2: fields that were not requested are present as null.
	_, off := call(t, url, `{"model":"m","messages":[{"role":"user","content":"2 + 2"}]}`)
	m := decode(t, off)
	choice := m["choices"].([]any)[0].(map[string]any)
	for key, v := range map[string]any{"prompt_token_ids": m["prompt_token_ids"], "token_ids": choice["token_ids"], "logprobs": choice["logprobs"]} {
		if v != nil {
			t.Errorf("%s = %v, want null when not requested", key, v)
		}
	}
	if _, ok := m["prompt_token_ids"]; !ok {
		t.Error("prompt_token_ids is absent, want null")
	}
	// §0: top-level prompt ids, per-choice completion ids, logprobs.content.
	_, on := call(t, url, `{"model":"m","return_token_ids":true,"logprobs":true,"messages":[{"role":"user","content":"2 + 2"}]}`)
	m = decode(t, on)
	choice = m["choices"].([]any)[0].(map[string]any)
	ids := choice["token_ids"].([]any)
	content := choice["logprobs"].(map[string]any)["content"].([]any)
	if len(m["prompt_token_ids"].([]any)) != 4 || len(ids) != len(content) || ids[len(ids)-1].(float64) != EOSTokenID {
		t.Fatalf("token fields: %s", on)
	}
	item := content[0].(map[string]any)
	if _, ok := item["bytes"]; !ok || item["top_logprobs"] == nil {
		t.Errorf("log-prob item %v lacks bytes or top_logprobs", item)
	}
	usage := m["usage"].(map[string]any)
	if int(usage["completion_tokens"].(float64)) != len(ids) {
		t.Errorf("usage %v does not count the %d ids", usage, len(ids))
	}
}

func events(body string) []string {
	var out []string
	for _, ev := range strings.Split(body, "\n\n") {
		if d, ok := strings.CutPrefix(ev, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestVLLMChatStream(t *testing.T) {
	url := vllmServer(t) + "/v1/chat/completions"
	_, body := call(t, url, `{"model":"m","stream":true,"n":2,"return_token_ids":true,"stream_options":{"include_usage":true},`+
		`"messages":[{"role":"user","content":"2 + 2"}]}`)
	evs := events(body)
	if evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("no [DONE]: %s", body)
	}
	// §3.1: a role chunk per choice, each repeating prompt_token_ids.
	for i := 0; i < 2; i++ {
		c := decode(t, evs[i])
		ch := c["choices"].([]any)[0].(map[string]any)
		if ch["index"].(float64) != float64(i) || ch["delta"].(map[string]any)["role"] != "assistant" || c["prompt_token_ids"] == nil {
			t.Fatalf("role chunk %d: %s", i, evs[i])
		}
	}
	// §3.2: one choice per chunk, interleaved; delta ids; chat chunks omit unset keys.
	second := decode(t, evs[2])
	if _, has := second["prompt_token_ids"]; has {
		t.Errorf("a delta chunk carries prompt_token_ids: %s", evs[2])
	}
	ch := second["choices"].([]any)[0].(map[string]any)
	if len(ch["token_ids"].([]any)) != 1 || decode(t, evs[3])["choices"].([]any)[0].(map[string]any)["index"].(float64) != 1 {
		t.Fatalf("delta chunks: %s / %s", evs[2], evs[3])
	}
	// §3.4: the usage chunk has no choices.
	usage := decode(t, evs[len(evs)-2])
	if len(usage["choices"].([]any)) != 0 || usage["usage"] == nil {
		t.Fatalf("usage chunk: %s", evs[len(evs)-2])
	}
	// Without the flag, chunks have no token_ids key at all.
	_, plain := call(t, url, `{"model":"m","stream":true,"messages":[{"role":"user","content":"2 + 2"}]}`)
	if strings.Contains(plain, "token_ids") {
		t.Errorf("ids without return_token_ids: %s", plain)
	}
}

func TestVLLMCompletionsStreamSendsNulls(t *testing.T) {
	url := vllmServer(t) + "/v1/completions"
	_, body := call(t, url, `{"model":"m","prompt":"say hi","stream":true,"return_token_ids":true,"logprobs":0}`)
	evs := events(body)
	first := decode(t, evs[0])["choices"].([]any)[0].(map[string]any)
	second := decode(t, evs[1])["choices"].([]any)[0].(map[string]any)
	// §0: prompt ids on the first chunk of each choice, delta ids on every chunk.
	if first["prompt_token_ids"] == nil || second["prompt_token_ids"] != nil || len(second["token_ids"].([]any)) != 1 {
		t.Fatalf("completions chunks: %s", body)
	}
	// §3: completions chunks send every key, nulls included.
	for _, key := range []string{"finish_reason", "stop_reason", "prompt_logprobs"} {
		if _, ok := second[key]; !ok {
			t.Errorf("completions chunk lacks %s", key)
		}
	}
	lp := second["logprobs"].(map[string]any)
	if len(lp["token_logprobs"].([]any)) != 1 || len(lp["tokens"].([]any)) != 1 {
		t.Errorf("completions log-probs: %v", lp)
	}
}

func TestVLLMErrors(t *testing.T) {
	url := vllmServer(t) + "/v1/chat/completions"
	for body, want := range map[string]string{
		`{"model":"m","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`: "stream=True",
		`{"model":"m","top_logprobs":2,"messages":[{"role":"user","content":"x"}]}`:                        "logprobs",
		`{"model":"m","messages":[`: "invalid JSON",
	} {
		status, b := call(t, url, body)
		e := decode(t, b)["error"].(map[string]any)
		// §8: vLLM's envelope, code = the HTTP status as an int.
		if status != http.StatusBadRequest || e["code"].(float64) != 400 || !strings.Contains(e["message"].(string), want) {
			t.Errorf("%s: %d %s", body, status, b)
		}
		if _, ok := e["param"]; !ok {
			t.Errorf("error without param: %s", b)
		}
	}
}
