package tripletprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// logsProcessor collects the GenAI events of log records, by the span they
// belong to, for the traces instance of the same processor id, and passes
// the logs on unchanged.
type logsProcessor struct {
	id     component.ID
	next   consumer.Logs
	events *eventStore
}

func newLogsProcessor(set processor.Settings, cfg *Config, next consumer.Logs) *logsProcessor {
	return &logsProcessor{id: set.ID, next: next, events: acquireEvents(set.ID, cfg.Limits)}
}

func (p *logsProcessor) Start(context.Context, component.Host) error { return nil }

func (p *logsProcessor) Shutdown(context.Context) error {
	if p.events != nil {
		releaseEvents(p.id)
		p.events = nil
	}
	return nil
}

func (p *logsProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (p *logsProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	bySpan := genai.EventsBySpan(ld)
	if err := p.next.ConsumeLogs(ctx, ld); err != nil {
		return err
	}
	if len(bySpan) > 0 {
		events := make(map[string][]genai.Event, len(bySpan))
		for id, evs := range bySpan {
			events[spanHex(id)] = evs
		}
		p.events.add(events)
	}
	return nil
}
