package requestguardextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension/internal/metadata"
)

// NewFactory returns the factory of the requestguard extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config { return &Config{HandshakeTimeout: 10 * time.Second} }

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newGuard(set, cfg.(*Config))
}
