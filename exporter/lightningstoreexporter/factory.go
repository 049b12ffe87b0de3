package lightningstoreexporter // import "github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// NewFactory returns the factory of the lightningstore exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, metadata.TracesStability),
		exporter.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		TimeoutConfig: exporterhelper.NewDefaultTimeoutConfig(),
		// No queue and no retry unless configured: a write runs in the
		// receiver's request, which is answered once its spans are committed
		// (or answered "retry later"), so acknowledged means stored. A
		// sending_queue section turns on exporterhelper's queue (with its
		// defaults), e.g. on file_storage to keep acknowledging through a
		// store outage.
		QueueConfig: configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
		RetryConfig: func() configretry.BackOffConfig {
			c := configretry.NewDefaultBackOffConfig()
			c.Enabled = false
			return c
		}(),
		Store:           defaultStoreExtension,
		UnknownRollouts: otlpspan.UnknownCreate,
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	exp, err := newStoreExporter(c, set)
	if err != nil {
		return nil, err
	}
	return exporterhelper.NewTraces(ctx, set, cfg, exp.pushTraces, helperOptions(c, exp)...)
}

// createLogs stores the messages connector's records; see logs.go.
func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	exp, err := newStoreExporter(c, set)
	if err != nil {
		return nil, err
	}
	logs := newLogsExporter(exp)
	return exporterhelper.NewLogs(ctx, set, cfg, logs.pushLogs, helperOptions(c, exp)...)
}

// helperOptions are the exporterhelper settings both signals share.
func helperOptions(c *Config, exp *storeExporter) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(exp.start),
		exporterhelper.WithShutdown(exp.shutdown),
		// Conversion reads the data and never modifies it.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.RetryConfig),
	}
}
