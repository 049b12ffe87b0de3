package trainerextension

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

func TestPublishesTheProxyAsProxyLLM(t *testing.T) {
	fs := newFakeStore(t, "")
	ctx := context.Background()
	// A resource published earlier stays next to the proxy.
	_, err := fs.st.AddResources(ctx, model.NamedResources{
		"prompt": json.RawMessage(`{"resource_type":"prompt_template","template":"Q: {q}","engine":"f-string"}`),
	})
	require.NoError(t, err)

	cfg := createDefaultConfig().(*Config)
	cfg.ProxyLLM = ProxyLLMConfig{Endpoint: "http://localhost:4000/v1", Model: "qwen", SamplingParameters: map[string]any{"temperature": 0.7}}
	require.NoError(t, cfg.Validate())
	tr := start(t, cfg, fs)
	shutdown(t, tr)

	latest, err := fs.st.GetLatestResources(ctx)
	require.NoError(t, err)
	require.Contains(t, latest.Resources, "prompt")
	assert.JSONEq(t, `{"resource_type":"proxy_llm","endpoint":"http://localhost:4000/v1","model":"qwen","api_key":null,"sampling_parameters":{"temperature":0.7}}`,
		string(latest.Resources["main_llm"]))

	// A restart with the same settings publishes no new snapshot.
	fs.mux = http.NewServeMux() // a restarted server has no routes yet
	tr = start(t, cfg, fs)
	shutdown(t, tr)
	again, err := fs.st.GetLatestResources(ctx)
	require.NoError(t, err)
	assert.Equal(t, latest.ResourcesID, again.ResourcesID)
}

func TestProxyLLMNeedsAModel(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ProxyLLM.Endpoint = "http://localhost:4000/v1"
	require.ErrorContains(t, cfg.Validate(), "proxy_llm.model")
}
