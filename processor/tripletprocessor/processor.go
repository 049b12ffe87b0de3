package tripletprocessor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadata"
)

type tripletProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	next      consumer.Traces
	resolver  *otlpspan.Resolver // set by Start, from the store extension's identity policy
	builder   *builder
	buf       *buffer
	telemetry *metadata.TelemetryBuilder

	id          component.ID
	events      *eventStore
	unsubscribe func()
	stop        chan struct{}
	wg          sync.WaitGroup

	reportedBytes atomic.Int64 // buffer size last added to the buffered_bytes metric
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*tripletProcessor, error) {
	events := acquireEvents(set.ID, cfg.Limits)
	b, err := newBuilder(cfg, events)
	if err != nil {
		releaseEvents(set.ID)
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &tripletProcessor{
		cfg: cfg, logger: set.Logger, next: next, builder: b,
		buf: newBuffer(*cfg, time.Now), telemetry: tb, id: set.ID, events: events,
	}
	events.setListener(p.buf.markSpansDirty)
	return p, nil
}

// Capabilities: the processor reads spans but never changes them.
func (p *tripletProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start takes the identity policy from the store extension, subscribes to
// its attempt events and starts the completion ticker.
func (p *tripletProcessor) Start(_ context.Context, host component.Host) error {
	policy, notifier, err := findStore(host, p.cfg.Store)
	if err != nil {
		return err
	}
	if p.resolver, err = otlpspan.NewResolver(policy); err != nil {
		return fmt.Errorf("identity policy of extension %s: %w", p.cfg.Store, err)
	}
	unsubscribe := []func(){notifier.SubscribeAttempts(p.onAttemptEvent)}
	if spans, ok := notifier.(store.SpanNotifier); ok {
		unsubscribe = append(unsubscribe, spans.SubscribeSpans(p.onStoredSpans))
	}
	p.unsubscribe = func() {
		for _, u := range unsubscribe {
			u()
		}
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go p.run()
	return nil
}

// findStore returns the identity policy and the attempt events of the
// store extension id: the extension reports them itself, or its store does.
func findStore(host component.Host, id component.ID) (otlpspan.Config, store.AttemptNotifier, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return otlpspan.Config{}, nil, fmt.Errorf("extension %s not found; is it listed under service.extensions?", id)
	}
	identity, ok := ext.(otlpspan.IdentityProvider)
	if !ok {
		return otlpspan.Config{}, nil, fmt.Errorf("extension %s does not provide the identity policy; store must name a lightningstore extension", id)
	}
	if notifier, ok := ext.(store.AttemptNotifier); ok {
		return identity.IdentityPolicy(), notifier, nil
	}
	provider, ok := ext.(store.Provider)
	if !ok || provider.LightningStore() == nil {
		return otlpspan.Config{}, nil, fmt.Errorf("extension %s does not provide a Lightning store", id)
	}
	notifier, ok := provider.LightningStore().(store.AttemptNotifier)
	if !ok {
		return otlpspan.Config{}, nil, fmt.Errorf("the store of extension %s does not report attempt events", id)
	}
	return identity.IdentityPolicy(), notifier, nil
}

// onStoredSpans keeps the spans written through the store API (such as the
// reward span an Agent Lightning runner adds over REST once its agent
// returns), which never pass through the pipeline.
func (p *tripletProcessor) onStoredSpans(spans []model.Span) {
	p.keep(context.Background(), spans)
}

func (p *tripletProcessor) onAttemptEvent(e store.AttemptEvent) {
	if e.Status.Ended() {
		p.buf.markStoreEnded(attemptKey{e.RolloutID, e.AttemptID})
	}
}

// Shutdown builds the triplets of every attempt still open, so that nothing
// the pipeline accepted is lost, then stops.
func (p *tripletProcessor) Shutdown(ctx context.Context) error {
	if p.unsubscribe != nil {
		p.unsubscribe()
		p.unsubscribe = nil
	}
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
		p.flush(ctx, true)
	}
	p.telemetry.Shutdown()
	if p.events != nil {
		p.events.setListener(nil)
		releaseEvents(p.id)
		p.events = nil
	}
	return nil
}

// ConsumeTraces passes spans on at once and keeps a copy per attempt.
func (p *tripletProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	items, _ := p.resolver.Convert(td)
	if err := p.next.ConsumeTraces(ctx, td); err != nil {
		return err
	}
	spans := make([]model.Span, len(items))
	for i := range items {
		spans[i] = items[i].Span
	}
	p.keep(ctx, spans)
	return nil
}

// keep buffers copies of spans by attempt.
func (p *tripletProcessor) keep(ctx context.Context, spans []model.Span) {
	groups := map[attemptKey][]model.Span{}
	var order []attemptKey
	for _, s := range spans {
		if s.Name == tripletSpanName {
			continue
		}
		k := attemptKey{s.RolloutID, s.AttemptID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range order {
		dropped, added := p.buf.add(k, groups[k])
		p.telemetry.ProcessorTripletBufferedSpans.Add(ctx, int64(added))
		if dropped > 0 {
			p.telemetry.ProcessorTripletSpansDropped.Add(ctx, int64(dropped), reason("attempt_limit"))
		}
	}
	p.reportBytes(ctx)
}

// reportBytes moves the buffered_bytes metric to the buffer's current size;
// the swap keeps concurrent callers from adding the same change twice.
func (p *tripletProcessor) reportBytes(ctx context.Context) {
	now := int64(p.buf.heapBytes())
	if delta := now - p.reportedBytes.Swap(now); delta != 0 {
		p.telemetry.ProcessorTripletBufferedBytes.Add(ctx, delta)
	}
}

func (p *tripletProcessor) run() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Completion.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.flush(context.Background(), false)
		}
	}
}

// flush builds and sends the triplets of every attempt that is due.
func (p *tripletProcessor) flush(ctx context.Context, all bool) {
	jobs, freed, evicted := p.buf.due(all)
	if freed > 0 {
		p.telemetry.ProcessorTripletBufferedSpans.Add(ctx, -int64(freed))
		p.reportBytes(ctx)
	}
	if evicted > 0 {
		p.logger.Warn("triplet buffer over its limit: attempts completed early or forgotten", zap.Int("attempts", evicted))
	}
	for _, j := range jobs {
		p.complete(ctx, j)
	}
}

func (p *tripletProcessor) complete(ctx context.Context, j job) {
	p.telemetry.ProcessorTripletAttemptsCompleted.Add(ctx, 1, metric.WithAttributes(attribute.String("trigger", j.trigger)))
	if j.late {
		p.telemetry.ProcessorTripletAttemptsRecomputed.Add(ctx, 1)
	}
	triplets, err := p.builder.build(j.spans)
	if err != nil {
		p.fail(ctx, j, "build", err)
		return
	}
	if len(triplets) == 0 {
		return
	}
	td, err := emit(j, triplets)
	if err != nil {
		p.fail(ctx, j, "encode", err)
		return
	}
	if err := p.next.ConsumeTraces(ctx, td); err != nil {
		// Back-pressure (a full exporter queue) must not lose the attempt's
		// triplets: build them again, with the next revision, on a later tick.
		p.buf.retry(j.key)
		p.fail(ctx, j, "downstream", err)
		return
	}
	p.telemetry.ProcessorTripletTripletsEmitted.Add(ctx, int64(len(triplets)))
}

func (p *tripletProcessor) fail(ctx context.Context, j job, why string, err error) {
	p.telemetry.ProcessorTripletBuildFailures.Add(ctx, 1, reason(why))
	p.logger.Warn("could not produce the triplets of an attempt", zap.String("rollout_id", j.key.rollout),
		zap.String("attempt_id", j.key.attempt), zap.String("stage", why), zap.Error(err))
}

func reason(r string) metric.AddOption {
	return metric.WithAttributes(attribute.String("reason", r))
}
