package rewardprocessor // import "github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-lightning/otelcol-lightning/processor/rewardprocessor/internal/metadata"
)

// rewardProcessor is the collector glue around a normalizer: it walks the
// batches, rewrites items in place, passes them on at once, and reports
// what it did.
type rewardProcessor struct {
	set       processor.Settings
	norm      *normalizer
	telemetry *metadata.TelemetryBuilder
}

func newRewardProcessor(cfg *Config, set processor.Settings) (*rewardProcessor, error) {
	norm, err := newNormalizer(cfg)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &rewardProcessor{set: set, norm: norm, telemetry: tb}, nil
}

func (p *rewardProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	t := &tally{logger: p.set.Logger}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				p.norm.span(span, t)
			}
		}
	}
	p.record(ctx, t)
	return td, nil
}

// record reports one batch's counts.
func (p *rewardProcessor) record(ctx context.Context, t *tally) {
	for src, n := range t.normalized {
		p.telemetry.ProcessorRewardDimensionsNormalized.Add(ctx, n,
			metric.WithAttributes(attribute.String("source", string(src))))
	}
	for k, n := range t.skipped {
		p.telemetry.ProcessorRewardValuesSkipped.Add(ctx, n,
			metric.WithAttributes(attribute.String("source", string(k.source)), attribute.String("reason", string(k.reason))))
	}
	if t.rewritten > 0 {
		p.telemetry.ProcessorRewardItemsRewritten.Add(ctx, t.rewritten)
	}
}

func (p *rewardProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}
