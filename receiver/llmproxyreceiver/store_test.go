package llmproxyreceiver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-lightning/otelcol-lightning/internal/llmmock"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
)

// fakeStore stands in for the lightningstore extension: a router onto its
// own server and, optionally, a model registry.
type fakeStore struct {
	component.StartFunc
	component.ShutdownFunc
	mux    *http.ServeMux
	models []llmmodels.Model
}

func (f *fakeStore) Handle(pattern string, h http.Handler) error {
	f.mux.Handle(pattern, h)
	return nil
}

type fakeRegistryStore struct{ *fakeStore }

func (f fakeRegistryStore) UpsertModels(_ context.Context, m []llmmodels.Model) error {
	f.models = append(f.models, m...)
	return nil
}
func (f fakeRegistryStore) DeleteModels(context.Context) error { f.models = nil; return nil }
func (f fakeRegistryStore) Models(context.Context) ([]llmmodels.Model, error) {
	return f.models, nil
}

type extHost map[component.ID]component.Component

func (h extHost) GetExtensions() map[component.ID]component.Component { return h }

func TestRegisteredModelsAndStorePort(t *testing.T) {
	m1, up1 := mockServer(t, llmmock.VLLMOptions{})
	m2, up2 := mockServer(t, llmmock.VLLMOptions{})
	store := &fakeStore{mux: http.NewServeMux(), models: []llmmodels.Model{
		{Name: "qwen", Endpoint: up1, Version: 3}, {Name: "qwen", Endpoint: up2, Version: 3},
	}}
	storeSrv := httptest.NewServer(store.mux)
	t.Cleanup(storeSrv.Close)
	id := component.MustNewID("lightningstore")
	env := startProxy(t, extHost{id: fakeRegistryStore{store}}, func(c *Config) { c.Store = id })

	// The v1.0 route on the store's port, routed to a registered endpoint.
	resp, b := postBody(t, storeSrv.URL+"/proxy/rollout/ro-1/attempt/0/mode/train/openai/v1/chat/completions",
		`{"model":"qwen","messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Equal(t, int64(1), m1.Calls()+m2.Calls())
	span, _ := lastSpan(t, env.sink)
	v, _ := span.Attributes().Get(attrWeightVersion)
	assert.Equal(t, int64(3), v.Int())

	// Models come from the registry.
	r, err := http.Get(env.url + "/v1/models")
	require.NoError(t, err)
	r.Body.Close()
	assert.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, []string{"qwen"}, env.rcv.knownModels(context.Background()))

	// A model nobody registered.
	resp, _ = postBody(t, env.url+"/v1/chat/completions", `{"model":"llama","messages":[]}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// Pause on the store's port pauses the proxy.
	resp, _ = postBody(t, storeSrv.URL+"/proxy/pause", `{}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = postBody(t, env.url+"/v1/chat/completions", `{"model":"qwen","messages":[]}`)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

func TestStoreWithoutRegistry(t *testing.T) {
	store := &fakeStore{mux: http.NewServeMux()}
	id := component.MustNewID("lightningstore")
	env := startProxy(t, extHost{id: store}, func(c *Config) { c.Store = id })
	assert.Nil(t, env.rcv.registry, "a store without a registry is only a router")
	resp, b := postBody(t, env.url+"/v1/chat/completions", chatBody)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
}

func TestStoreMissing(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Store = component.MustNewID("lightningstore")
	r, err := newProxyReceiver(receiverSettings(), cfg, nil)
	require.NoError(t, err)
	require.ErrorContains(t, r.Start(context.Background(), extHost{}), "not found")
	require.NoError(t, r.Shutdown(context.Background()))
}
