package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector/internal/metadata"
)

// NewFactory returns the factory of the messages connector.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToLogs(createTracesToLogs, metadata.TracesToLogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		IncludeTools:   true,
		BodyFormat:     BodyFormatMap,
		SkipEmpty:      true,
		Store:          component.MustNewID("lightningstore"),
		DedupCacheSize: 16384,
	}
}

func createTracesToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	return newConnector(set, cfg.(*Config), next)
}
