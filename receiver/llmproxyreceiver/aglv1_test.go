package llmproxyreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// v1Store stands in for the lightningstore extension with everything the
// v1.0 routes use: a router, a model registry and a real (in-memory) store.
type v1Store struct {
	fakeRegistryStore
	core *store.Core
}

func (s v1Store) LightningStore() store.Store { return s.core }

type v1Env struct {
	*proxyEnv
	storeURL string
	rollout  string
	registry *fakeStore
	// trained is the endpoint registered under the configured model;
	// anyModel is a static upstream serving any model, which the forced
	// model must never reach.
	trained, anyModel *llmmock.VLLM
}

const aglModel = "Qwen/Qwen2.5-7B-Instruct"

// startV1 runs the proxy attached to a store holding one rollout, with
// aglModel registered, an any-model upstream and edit applied.
func startV1(t *testing.T, edit func(*Config)) *v1Env {
	t.Helper()
	trained, trainedURL := mockServer(t, llmmock.VLLMOptions{})
	anyModel, anyURL := mockServer(t, llmmock.VLLMOptions{})
	core := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	ro, err := core.StartRollout(context.Background(), store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)
	fs := &fakeStore{mux: http.NewServeMux(), models: []llmmodels.Model{{Name: aglModel, Endpoint: trainedURL, Version: 2}}}
	storeSrv := httptest.NewServer(fs.mux)
	t.Cleanup(storeSrv.Close)
	id := component.MustNewID("lightningstore")
	env := startProxy(t, extHost{id: v1Store{fakeRegistryStore{fs}, core}}, func(c *Config) {
		c.Store = id
		c.Upstreams = []UpstreamConfig{upstreamTo(anyURL)}
		c.AglV1.ModelName = aglModel
		if edit != nil {
			edit(c)
		}
	})
	return &v1Env{proxyEnv: env, storeURL: storeSrv.URL, rollout: ro.RolloutID, registry: fs, trained: trained, anyModel: anyModel}
}

func (e *v1Env) path(rollout, mode, api string) string {
	return "/proxy/rollout/" + rollout + "/attempt/0/mode/" + mode + "/openai/v1/" + api
}

// lastRequest is the last body an upstream mock received, decoded.
func lastRequest(t *testing.T, m *llmmock.VLLM) map[string]any {
	t.Helper()
	reqs := m.Requests()
	require.NotEmpty(t, reqs, "the upstream received nothing")
	var out map[string]any
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1], &out))
	return out
}

func detailOf(t *testing.T, b []byte) string {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	require.NoError(t, json.Unmarshal(b, &d), string(b))
	return d.Detail
}

func TestV1ForcesModelAndTemperature(t *testing.T) {
	env := startV1(t, nil)
	client := `{"model":"gpt-client","temperature":0.1,"logprobs":false,"top_logprobs":0,"max_tokens":16,` +
		`"messages":[{"role":"user","content":"hi"}]}`

	for _, base := range []string{env.url, env.storeURL} {
		resp, b := postBody(t, base+env.path(env.rollout, ModeTrain, apiChat), client)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		got := lastRequest(t, env.trained)
		assert.Equal(t, aglModel, got["model"], "the configured model, not the client's")
		assert.Equal(t, 1.0, got["temperature"], "train temperature")
		assert.Equal(t, true, got["return_token_ids"])
		assert.Equal(t, true, got["logprobs"], "train mode with include_log_probs overwrites the client's false")
		assert.Equal(t, 16.0, got["max_tokens"], "everything else passes through")
		assert.Empty(t, env.anyModel.Requests(), "the forced model only reaches its registered endpoints")

		// The client gets what v1.0 returns: the ids it was made to ask for.
		var answer map[string]any
		require.NoError(t, json.Unmarshal(b, &answer))
		assert.NotNil(t, answer["prompt_token_ids"], "return_token_ids was part of the request: kept")

		span, _ := lastSpan(t, env.sink)
		v, _ := span.Attributes().Get("gen_ai.request.model")
		assert.Equal(t, aglModel, v.Str(), "the span records the rewritten request")
		v, _ = span.Attributes().Get("gen_ai.request.temperature")
		assert.Equal(t, 1.0, v.Double())
		v, _ = span.Attributes().Get(attrWeightVersion)
		assert.Equal(t, int64(2), v.Int())
	}

	// Val: 0.7, and logprobs left as the client sent it.
	resp, b := postBody(t, env.url+env.path(env.rollout, ModeVal, apiChat), client)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	got := lastRequest(t, env.trained)
	assert.Equal(t, 0.7, got["temperature"])
	assert.Equal(t, false, got["logprobs"])
	assert.Equal(t, aglModel, got["model"])

	// Completions get logprobs: true in train mode too.
	resp, b = postBody(t, env.url+env.path(env.rollout, ModeTrain, apiCompletions), `{"model":"x","prompt":"2+2=","max_tokens":4}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	got = lastRequest(t, env.trained)
	assert.Equal(t, true, got["logprobs"])
	assert.Equal(t, aglModel, got["model"])
	assert.Equal(t, true, got["return_token_ids"])

	// The proxy's other routes keep the client's model: gpt-client is
	// served by the any-model upstream only.
	resp, b = postBody(t, env.url+"/v1/chat/completions", client)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	got = lastRequest(t, env.anyModel)
	assert.Equal(t, "gpt-client", got["model"])
	assert.Equal(t, 0.1, got["temperature"])
}

func TestV1WithoutLogProbs(t *testing.T) {
	env := startV1(t, func(c *Config) {
		c.AglV1.IncludeLogProbs = false
		c.AglV1.TrainTemperature = 0.5
	})
	resp, b := postBody(t, env.url+env.path(env.rollout, ModeTrain, apiChat), chatBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	got := lastRequest(t, env.trained)
	assert.Equal(t, 0.5, got["temperature"])
	_, asked := got["logprobs"]
	assert.False(t, asked, "no log-probs without include_log_probs, as in v1.0")
}

func TestV1WithoutModelNameKeepsTheClientsModel(t *testing.T) {
	env := startV1(t, func(c *Config) { c.AglV1.ModelName = "" })
	resp, b := postBody(t, env.url+env.path(env.rollout, ModeVal, apiChat),
		`{"model":"`+aglModel+`","temperature":0.2,"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	got := lastRequest(t, env.trained)
	assert.Equal(t, 0.2, got["temperature"], "nothing is forced without model_name")
}

func TestV1NoServersIs503NamingTheModel(t *testing.T) {
	env := startV1(t, nil)
	env.registry.models = nil
	// The registry is re-read at most once per registryRefresh.
	env.rcv.regMu.Lock()
	env.rcv.regFetched = env.rcv.regFetched.Add(-2 * registryRefresh)
	env.rcv.regMu.Unlock()
	resp, b := postBody(t, env.storeURL+env.path(env.rollout, ModeTrain, apiChat), chatBody)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
	assert.Equal(t, "No servers available for model '"+aglModel+"'", detailOf(t, b))
	assert.Empty(t, env.anyModel.Requests(), "an any-model upstream does not serve the forced model")
}

// TestV1OrderOfChecks sends requests failing several checks at once: each
// gets the answer of the first check it fails, in v1.0's order.
func TestV1OrderOfChecks(t *testing.T) {
	env := startV1(t, nil)
	_, _ = postBody(t, env.url+"/proxy/pause", `{"reason":"update"}`)
	noServers := func() {
		env.registry.models = nil
		env.rcv.regMu.Lock()
		env.rcv.regFetched = env.rcv.regFetched.Add(-2 * registryRefresh)
		env.rcv.regMu.Unlock()
	}
	cases := []struct {
		name, method, path, body string
		status                   int
		detail                   string
	}{
		{"GET is 405", http.MethodGet, env.path("nope", "bad", "models"), "", http.StatusMethodNotAllowed, "Method Not Allowed"},
		{"bad mode before the path", http.MethodPost, env.path("nope", "eval", "embeddings"), "{", http.StatusNotFound, `Unknown mode "eval": use train or val`},
		{"path before the rollout", http.MethodPost, env.path("nope", ModeTrain, "embeddings"), "{", http.StatusNotFound, `Unsupported path "embeddings": use chat/completions or completions`},
		{"responses are not v1.0's", http.MethodPost, env.path(env.rollout, ModeTrain, apiResponses), "{}", http.StatusNotFound, `Unsupported path "responses": use chat/completions or completions`},
		{"rollout before the body", http.MethodPost, env.path("nope", ModeTrain, apiChat), "{", http.StatusNotFound, "Rollout not found: nope"},
		{"body before the servers", http.MethodPost, env.path(env.rollout, ModeTrain, apiChat), "{", http.StatusBadRequest, ""},
		{"paused after the servers", http.MethodPost, env.path(env.rollout, ModeTrain, apiChat), chatBody, http.StatusTooManyRequests, ""},
	}
	run := func(name, method, path, body string, status int, detail string) {
		t.Run(name, func(t *testing.T) {
			for _, base := range []string{env.url, env.storeURL} {
				req, err := http.NewRequest(method, base+path, strings.NewReader(body))
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.Equal(t, status, resp.StatusCode, "%s: %s", base, b)
				if detail != "" {
					assert.Equal(t, detail, detailOf(t, b))
				}
				if status == http.StatusMethodNotAllowed {
					assert.Equal(t, http.MethodPost, resp.Header.Get("Allow"))
				}
			}
		})
	}
	for _, tc := range cases {
		run(tc.name, tc.method, tc.path, tc.body, tc.status, tc.detail)
	}
	noServers()
	run("servers before the pause", http.MethodPost, env.path(env.rollout, ModeTrain, apiChat), chatBody,
		http.StatusServiceUnavailable, "No servers available for model '"+aglModel+"'")
	assert.Empty(t, env.trained.Requests(), "no refused call reached the upstream")
	assert.Zero(t, env.rcv.pauseView().Inflight)
}

// Streaming is this proxy's extension (v1.0 answers 400): the forced body
// goes upstream and the stream is relayed.
func TestV1Stream(t *testing.T) {
	env := startV1(t, nil)
	events := readSSE(t, env.url+env.path(env.rollout, ModeVal, apiChat),
		`{"model":"x","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	require.NotEmpty(t, events)
	assert.Equal(t, "data: [DONE]", events[len(events)-1])
	got := lastRequest(t, env.trained)
	assert.Equal(t, aglModel, got["model"])
	assert.Equal(t, 0.7, got["temperature"])
	assert.Equal(t, true, got["stream"])
}

func TestV1RewriteKinds(t *testing.T) {
	a := AglV1Config{ModelName: "m", IncludeLogProbs: true, TrainTemperature: 1, ValTemperature: 0.7}
	body := []byte(`{"model":"c","stream":true,"messages":[]}`)
	decode := func(b []byte) map[string]json.RawMessage {
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &top))
		return top
	}
	out, top := a.rewrite(body, decode(body), apiChat, ModeTrain, KindOpenAI)
	assert.NotContains(t, string(out), "return_token_ids", "an OpenAI-kind server is not sent vLLM's field")
	assert.Equal(t, `"m"`, string(top["model"]))
	out, _ = a.rewrite(body, decode(body), apiChat, ModeTrain, KindSGLang)
	assert.NotContains(t, string(out), "return_token_ids", "SGLang streamed chat takes sglext instead")
	out, _ = a.rewrite(body, decode(body), apiCompletions, ModeTrain, KindSGLang)
	assert.Contains(t, string(out), `"return_token_ids":true`)
}

// failingStore is a store whose reads fail (a database down).
type failingStore struct{ store.Store }

func (failingStore) GetRollout(context.Context, string) (*model.Rollout, error) {
	return nil, errors.New("database is down")
}

type failingProvider struct{ *fakeStore }

func (failingProvider) LightningStore() store.Store { return failingStore{} }

func TestV1StoreErrorIs503(t *testing.T) {
	_, up := mockServer(t, llmmock.VLLMOptions{})
	id := component.MustNewID("lightningstore")
	env := startProxy(t, extHost{id: failingProvider{&fakeStore{mux: http.NewServeMux()}}}, func(c *Config) {
		c.Store = id
		c.Upstreams = []UpstreamConfig{upstreamTo(up)}
	})
	resp, b := postBody(t, env.url+"/proxy/rollout/ro-1/attempt/0/mode/train/openai/v1/chat/completions", chatBody)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
	assert.Contains(t, detailOf(t, b), "database is down")
}
