package trainerextension

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-lightning/otelcol-lightning/extension/trainerextension/internal/metadata"
)

// NewFactory returns the factory of the trainer extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		Store:     defaultStoreExtension,
		Dispatch:  defaultDispatchConfig(),
		Algorithm: defaultAlgorithmConfig(),
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newTrainer(cfg.(*Config), set), nil
}
