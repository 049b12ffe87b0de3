package trainerextension

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// defaultStoreExtension is the id of the lightningstore extension, which
// owns the store in the standard configurations.
var defaultStoreExtension = component.MustNewID("lightningstore")

// Config of the trainer extension.
type Config struct {
	// Store is the id of the extension that owns the store (it must
	// implement store.Provider and storeapi.Router and be listed under
	// service.extensions). The trainer reads and writes rollouts through it
	// and serves its report on its HTTP server. Default: lightningstore.
	Store component.ID `mapstructure:"store"`

	// Dispatch says how queued rollouts reach agents (config_trainer.go).
	Dispatch DispatchConfig `mapstructure:"dispatch"`

	// Algorithm is the training algorithm the collector runs
	// (config_trainer.go).
	Algorithm AlgorithmConfig `mapstructure:"algorithm"`

	// ProxyLLM publishes the collector's LLM proxy as a proxy_llm resource
	// when the trainer starts (proxyllm.go). Default: nothing published.
	ProxyLLM ProxyLLMConfig `mapstructure:"proxy_llm"`

	_ struct{}
}

// Validate rejects configurations the extension cannot start with; the
// collector validates the dispatch and algorithm sections itself.
func (c *Config) Validate() error {
	if c.Store.Type().String() == "" {
		return errors.New("store: must name the extension that owns the store, e.g. lightningstore")
	}
	return c.ProxyLLM.validate()
}
