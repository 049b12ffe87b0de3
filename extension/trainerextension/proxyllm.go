package trainerextension

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// ProxyLLMConfig publishes the collector's LLM proxy (the llmproxy
// receiver) to runners as an Agent Lightning v0.3 ProxyLLM resource. A
// runner resolves it per attempt to {endpoint without /v1}/rollout/{rid}/
// attempt/{aid}/v1, so each model call lands in its attempt with exact
// token ids.
type ProxyLLMConfig struct {
	// Endpoint is the proxy's OpenAI base URL as runners reach it, such as
	// http://localhost:4000/v1. Empty (the default): nothing is published.
	Endpoint string `mapstructure:"endpoint"`
	// Model is the model name runners ask for (required with Endpoint).
	Model string `mapstructure:"model"`
	// Name is the resource's name. Default: main_llm.
	Name string `mapstructure:"name"`
	// SamplingParameters are the resource's sampling_parameters.
	SamplingParameters map[string]any `mapstructure:"sampling_parameters"`

	_ struct{}
}

func (c ProxyLLMConfig) validate() error {
	if c.Endpoint == "" {
		return nil
	}
	if c.Model == "" {
		return errors.New("proxy_llm.model: required with proxy_llm.endpoint")
	}
	_, err := c.resource()
	return err
}

func (c ProxyLLMConfig) name() string {
	if c.Name == "" {
		return "main_llm"
	}
	return c.Name
}

// resource is the normalised proxy_llm resource.
func (c ProxyLLMConfig) resource() (json.RawMessage, error) {
	sp := c.SamplingParameters
	if sp == nil {
		sp = map[string]any{}
	}
	b, err := json.Marshal(map[string]any{
		"resource_type": model.ResourceProxyLLM, "endpoint": c.Endpoint, "model": c.Model,
		"api_key": nil, "sampling_parameters": sp,
	})
	if err != nil {
		return nil, fmt.Errorf("proxy_llm: %w", err)
	}
	res, err := model.NormalizeResources(model.NamedResources{c.name(): b})
	if err != nil {
		return nil, fmt.Errorf("proxy_llm: %w", err)
	}
	return res[c.name()], nil
}

// publishProxyLLM makes the store's latest resources include the proxy:
// the latest snapshot plus this resource becomes a new snapshot, unless it
// already holds the same resource (a restart publishes nothing new).
func publishProxyLLM(ctx context.Context, s store.Store, c ProxyLLMConfig) (*model.ResourcesUpdate, error) {
	res, err := c.resource()
	if err != nil {
		return nil, err
	}
	latest, err := s.GetLatestResources(ctx)
	if err != nil {
		return nil, fmt.Errorf("proxy_llm: read the latest resources: %w", err)
	}
	named := model.NamedResources{}
	if latest != nil {
		if same(latest.Resources[c.name()], res) {
			return latest, nil
		}
		maps.Copy(named, latest.Resources)
	}
	named[c.name()] = res
	up, err := s.AddResources(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("proxy_llm: publish: %w", err)
	}
	return up, nil
}

// same compares two resources as JSON values.
func same(a, b json.RawMessage) bool {
	if a == nil {
		return false
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ab, _ := json.Marshal(x)
	bb, _ := json.Marshal(y)
	return bytes.Equal(ab, bb)
}
