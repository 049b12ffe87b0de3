package tripletprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/tracetree"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadata"
)

// NewFactory returns the factory of the triplet processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Store: component.MustNewID("lightningstore"),
		Completion: CompletionConfig{
			Settle:        2 * time.Second,
			IdleTimeout:   30 * time.Second,
			MaxDuration:   10 * time.Minute,
			Retention:     time.Minute,
			ResumeWindow:  time.Hour,
			CheckInterval: 200 * time.Millisecond,
		},
		Limits:                LimitsConfig{MaxSpansPerAttempt: 10000, MaxBufferedSpans: 200000, MaxBufferedMiB: 64},
		RewardMatch:           tracetree.FirstOccurrence,
		Discount:              0.99,
		RepairHierarchy:       true,
		ExcludeRewardSubtrees: true,
		DedupPromptTokenIDs:   true,
		HonorRewardLinks:      true,
	}
}

func createTraces(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	return newProcessor(set, cfg.(*Config), next)
}

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	return newLogsProcessor(set, cfg.(*Config), next), nil
}
