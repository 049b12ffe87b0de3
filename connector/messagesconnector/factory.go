package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"context"
	"time"

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
		connector.WithLogsToLogs(createLogsToLogs, metadata.LogsToLogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		IncludeTools:   true,
		BodyFormat:     BodyFormatMap,
		SkipEmpty:      true,
		Store:          component.MustNewID("lightningstore"),
		DedupCacheSize: 16384,
		LogEventsWait:  5 * time.Second,
	}
}

func createTracesToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	return newConnector(set, cfg.(*Config), next, false)
}

// createLogsToLogs is the side that takes GenAI log events (see joiner).
func createLogsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	c, err := newConnector(set, cfg.(*Config), next, true)
	if err != nil {
		return nil, err
	}
	return &logsConnector{messagesConnector: c}, nil
}
