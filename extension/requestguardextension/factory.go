package requestguardextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension/internal/metadata"
)

// NewFactory returns the factory of the requestguard extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config { return &Config{} }

func create(_ context.Context, set extension.Settings, _ component.Config) (extension.Extension, error) {
	return newGuard(set)
}
